// Package api assembles the HTTP side of Mercato: the middleware chain from platform/httpx,
// health and metrics, the OpenAPI document and its reference page, and every slice's routes.
// The route table below is the one place to see what the server answers.
package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mercato/platform/db"
	"mercato/platform/httpx"
	"mercato/tenants"
)

// Check is one dependency readiness depends on; nil error means it answers.
type Check func(ctx context.Context) error

// Deps is what the server needs; apps/mercato builds it.
type Deps struct {
	Log       *slog.Logger
	DB        *db.DB
	Tenants   *tenants.Service
	Metrics   *prometheus.Registry
	Checks    map[string]Check // readiness: postgres, migrations, redis, minio
	Version   string
	BodyLimit int
}

// New returns the Fiber app with every route mounted.
func New(d Deps) *fiber.App {
	app := httpx.New(httpx.Options{Log: d.Log, BodyLimit: d.BodyLimit, Metrics: d.Metrics})

	app.Get("/livez", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", readyz(d.Checks))
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{})))
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/docs") })

	// Storefront routes find their tenant by Host before anything else runs.
	app.Use("/v1/storefront", tenants.ByHost(d.Tenants))
	// POSTs that carry an Idempotency-Key run once per caller and key.
	app.Use("/v1", httpx.Idempotency(d.DB, 24*time.Hour))

	v1 := httpx.NewAPI(app, "Mercato API", d.Version,
		"Multi-tenant marketplace platform. Errors are RFC 9457 problem+json; lists are cursor-paginated; "+
			"POST accepts an Idempotency-Key header.")
	tenants.Routes(v1, d.Tenants)

	app.Get("/docs", docsPage(v1))
	return app
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
