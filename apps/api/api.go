// Package api assembles the HTTP side of Mercato: the middleware chain from platform/httpx,
// health and metrics, the OpenAPI document and its reference page, and every slice's routes.
// The route table below is the one place to see what the server answers.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/platform/webhooksout"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/inventory"
	"mercato/tenants/merchants"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
	"mercato/tenants/search"
	"mercato/tenants/staff"
)

// Check is one dependency readiness depends on; nil error means it answers.
type Check func(ctx context.Context) error

// Deps is what the server needs; apps/mercato builds it.
type Deps struct {
	Log       *slog.Logger
	DB        *db.DB
	Identity  *identity.Service
	Enforcer  *authz.Enforcer
	Tenants   *tenants.Service
	Directory *tenants.Directory
	Merchants *merchants.Service
	Staff     *staff.Service
	Inventory *inventory.Service
	Catalog   *catalog.Service
	Webhooks  *webhooksout.Service
	Limiter   *httpx.RateLimiter
	CORS      fiber.Handler
	Metrics   *prometheus.Registry
	Limits    *RateLimits // nil: DefaultRateLimits
	HTTPS     bool        // served over TLS (behind the proxy): adds Strict-Transport-Security
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Portals mount the server-rendered areas (storefront by host, /admin, /console); apps/mercato
	// supplies them because only it may import apps/*. The storefront comes first: on a
	// tenant's host it answers "/", on the platform's host it steps aside.
	Portals   []func(app *fiber.App, rateLimit RateLimitFunc) error
	Checks    map[string]Check // readiness: postgres, migrations, redis, minio
	Version   string
	BodyLimit int

	// Cart is the shoppers' cart API; Promotions the staff coupons and flash sales.
	Cart       *cart.Service
	Promotions *promotions.Service
	// Orders is checkout, the shoppers' and staff's orders, shipping and tax rates.
	Orders *orders.Service
	// Fulfillment is shipments and tracking, and the inbound carrier webhooks.
	Fulfillment *fulfillment.Service
	// Search is the storefront's public product search (/v1/storefront/search).
	Search *search.Service
}

// RateLimits are the per-caller limits of /v1. Anonymous callers are counted by address,
// everyone else by credential; the flood limit runs before authentication so bad credentials
// cost no lookup.
type RateLimits struct {
	Flood, Authenticated, Anonymous httpx.Limit
}

// DefaultRateLimits are the production limits.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Flood:         httpx.Limit{Rate: 200, Per: time.Second, Burst: 400},
		Authenticated: httpx.Limit{Rate: 50, Per: time.Second, Burst: 100},
		Anonymous:     httpx.Limit{Rate: 20, Per: time.Second, Burst: 40},
	}
}

// New returns the Fiber app with every route mounted. The request path, in order: request id,
// recover, access log, security headers, body limit (httpx.New) → CORS → flood limit →
// tenant by Host (storefront) → authentication → rate limit → CSRF → idempotency →
// authorization (huma middleware: Casbin role or API key scope, tenant scope, suspended
// tenants) → handler.
func New(d Deps) (*fiber.App, error) {
	app := httpx.New(httpx.Options{Log: d.Log, BodyLimit: d.BodyLimit, Metrics: d.Metrics, TrustedProxies: d.TrustedProxies,
		HTTPS: d.HTTPS})
	limits := DefaultRateLimits()
	if d.Limits != nil {
		limits = *d.Limits
	}
	fallbacks := prometheus.NewCounter(prometheus.CounterOpts{Name: "mercato_ratelimit_fallbacks_total",
		Help: "Requests let through unlimited because Redis did not answer."})
	d.Metrics.MustRegister(fallbacks)

	app.Get("/livez", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", readyz(d.Checks))
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{})))
	app.Use(withClientIP)
	if err := web.Assets(app); err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	limit := func(key string, l httpx.Limit) fiber.Handler {
		return httpx.RateLimit(d.Limiter, func(c *fiber.Ctx) (string, httpx.Limit, bool) {
			return key + ":ip:" + c.IP(), l, c.Method() != fiber.MethodGet
		}, d.Log, fallbacks)
	}
	for _, mount := range d.Portals {
		if err := mount(app, limit); err != nil {
			return nil, err
		}
	}
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/docs") })
	// Carriers sign their webhooks; the signature is the credential, so no session applies.
	// The flood limit does: a signature is checked only after the body is read.
	app.Use("/webhooks", httpx.RateLimit(d.Limiter, func(c *fiber.Ctx) (string, httpx.Limit, bool) {
		return "flood:ip:" + c.IP(), limits.Flood, true
	}, d.Log, fallbacks))
	fulfillment.WebhookRoute(app, d.Fulfillment)

	app.Use("/v1", d.CORS)
	app.Use("/v1", httpx.RateLimit(d.Limiter, func(c *fiber.Ctx) (string, httpx.Limit, bool) {
		return "flood:ip:" + c.IP(), limits.Flood, true
	}, d.Log, fallbacks))
	app.Use("/v1/storefront", tenants.ByHost(d.Tenants))
	app.Use("/v1", authenticate(d.Identity))
	app.Use("/v1", httpx.RateLimit(d.Limiter, httpx.ActorOrIP(limits.Authenticated, limits.Anonymous), d.Log, fallbacks))
	app.Use("/v1", identity.RequireCSRF(d.Identity))
	app.Use("/v1", httpx.Idempotency(d.DB, 24*time.Hour))
	identity.Routes(app, d.Identity)

	v1 := httpx.NewAPI(app, "Mercato API", d.Version,
		"Multi-tenant marketplace platform. Errors are RFC 9457 problem+json; lists are cursor-paginated; "+
			"POST accepts an Idempotency-Key header. Staff send X-Tenant-ID to choose the tenant they work in.")
	v1.UseMiddleware((&access{enforcer: d.Enforcer, ids: d.Identity, tenants: d.Tenants, customRoles: d.Staff}).middleware())
	tenants.Routes(v1, d.Tenants)
	tenants.OperatorRoutes(v1, d.Directory)
	merchants.Routes(v1, d.Merchants)
	merchants.StorefrontRoutes(v1, d.Merchants)
	staff.Routes(v1, d.Staff)
	staff.RoleRoutes(v1, d.Staff)
	inventory.Routes(v1, d.Inventory)
	catalog.Routes(v1, d.Catalog)
	search.Routes(v1, d.Search)
	promotions.Routes(v1, d.Promotions)
	cart.Routes(v1, d.Cart)
	orders.Routes(v1, d.Orders)
	orders.StorefrontRoutes(v1, d.Orders)
	fulfillment.Routes(v1, d.Fulfillment)
	webhooksout.Routes(v1, d.Webhooks)

	app.Get("/docs", docsPage(v1))
	return app, nil
}

// RateLimitFunc makes a per-IP limit for a portal's form posts (GETs are not counted).
type RateLimitFunc func(key string, l httpx.Limit) fiber.Handler

// authenticate reads bearer credentials everywhere under /v1, and the session cookie of the
// area: shoppers on storefront routes, staff elsewhere.
func authenticate(ids *identity.Service) fiber.Handler {
	staff, shopper := identity.Authenticate(ids, identity.StaffCookie), identity.Authenticate(ids, identity.ShopperCookie)
	return func(c *fiber.Ctx) error {
		if strings.HasPrefix(c.Path(), "/v1/storefront") {
			return shopper(c)
		}
		return staff(c)
	}
}

// withClientIP records the caller's address for audit entries.
func withClientIP(c *fiber.Ctx) error {
	if ip, err := netip.ParseAddr(c.IP()); err == nil {
		c.SetUserContext(audit.WithIP(c.UserContext(), ip))
	}
	return c.Next()
}

// readyz answers 200 only when every check passes, each within two seconds.
func readyz(checks map[string]Check) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		results := make(map[string]string, len(checks))
		ready := true
		for name, check := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := "ok"
				if err := check(ctx); err != nil {
					res = err.Error()
				}
				mu.Lock()
				defer mu.Unlock()
				results[name] = res
				ready = ready && res == "ok"
			}()
		}
		wg.Wait()
		status, word := fiber.StatusOK, "ready"
		if !ready {
			status, word = fiber.StatusServiceUnavailable, "not ready"
		}
		return c.Status(status).JSON(fiber.Map{"status": word, "checks": results})
	}
}

// openAPI is what the docs page needs of the API; an interface keeps the page testable.
type openAPI interface{ OpenAPI() *huma.OpenAPI }
