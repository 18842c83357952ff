// Package storefront serves the shopper pages of every tenant, found by the request's Host:
// the store's themed home page, search, category and product pages and product images,
// shopper accounts (sign up, sign in, password reset), the "sell with us" application and the
// acceptance of merchant invitations.
package storefront

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/blob"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/merchants"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
	"mercato/tenants/search"
)

//go:embed ui
var uiFS embed.FS

// Deps is what the storefront needs; apps/api builds it.
type Deps struct {
	Identity  *identity.Service
	Tenants   *tenants.Service
	Merchants *merchants.Service
	FlashKey  []byte       // at least 32 bytes; signs flash cookies
	BaseHost  string       // the platform's own host ("localhost" in dev); {slug}.{BaseHost} are stores
	HTTPS     bool         // served over HTTPS: Secure cookies and https:// links in mail
	Log       *slog.Logger // nil: discard
	// FormLimit, when set, runs before every form post a store receives (sign-up and sign-in
	// hash passwords, applications write rows): httpx.RateLimit with a per-address limit.
	FormLimit  fiber.Handler
	Search     *search.Service     // browse pages: home's featured products, /search, /c/, /p/
	Catalog    *catalog.Service    // the catalog's own reads and writes, for pages that need them
	Promotions *promotions.Service // flash sales (product page, cart); nil shows none
	Blob       *blob.Store         // product images under /media/; nil answers 404

	// Cart serves /cart and the navigation's cart count; nil: the store has no cart.
	Cart *cart.Service
	// Orders serves /checkout and the shopper's orders under /account/orders; nil (or no
	// Cart): the store takes no orders.
	Orders *orders.Service
	// Fulfillment shows an order's parcels and their tracking timeline; nil shows none.
	Fulfillment *fulfillment.Service
}

// retryAfterSuspended is what a suspended store's 503 tells clients: suspensions last until
// an operator lifts them, so an hour is as good a guess as any and keeps crawlers polite.
const retryAfterSuspended = time.Hour

// storefront holds the renderer and the services every handler uses.
type storefront struct {
	d Deps
	r *web.Renderer
}

// visit is what the storefront knows about a request on a store's host: the tenant, who is
// calling and the host as the browser sent it (for links in mail).
type visit struct {
	tenant     tenants.Tenant
	host       string
	principal  identity.Principal
	shopper    *identity.Shopper // the signed-in shopper; nil for guests
	guestToken string            // the guest session's token, handed over on sign-in
}

type visitKey struct{}

func visitOf(c *fiber.Ctx) *visit {
	v, _ := c.Locals(visitKey{}).(*visit)
	return v
}

// Routes registers the storefront on app. It must come before any other route for "/"
// (the platform's own home page): on a store's host the storefront answers, and on the
// platform's host (BaseHost, localhost, an IP address) every storefront handler passes the
// request on with c.Next(), so the platform's handlers take it.
//
// On a store's host the chain is: tenant by Host (unknown: 404 page; suspended: 503 page and
// no writes) → branding → form rate limit → shopper authentication → CSRF → guest session →
// page. Paths the storefront does not own (/v1, /assets, /admin, ...) are left to their
// handlers; only when nothing answers them does a browser get the store's 404 page instead
// of problem+json.
func Routes(app fiber.Router, d Deps) error {
	if d.Identity == nil || d.Tenants == nil || d.Merchants == nil || d.Search == nil {
		return errors.New("storefront: Identity, Tenants, Merchants and Search are required")
	}
	if d.BaseHost == "" {
		return errors.New("storefront: BaseHost is required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.BaseHost = strings.ToLower(d.BaseHost)
	ui, err := fs.Sub(uiFS, "ui")
	if err != nil {
		return fmt.Errorf("storefront: %w", err)
	}
	r, err := web.New(ui, web.Options{
		Brand:         "Mercato",
		FlashKey:      d.FlashKey,
		SecureCookies: d.HTTPS,
		SignOutPath:   "/account/sign-out",
	})
	if err != nil {
		return fmt.Errorf("storefront: %w", err)
	}
	s := &storefront{d: d, r: r}

	app.Use(s.gate)
	if d.FormLimit != nil {
		app.Use(s.only(func(c *fiber.Ctx) error {
			if c.Method() != fiber.MethodPost {
				return c.Next()
			}
			return d.FormLimit(c)
		}))
	}
	app.Use(s.only(identity.Authenticate(d.Identity, identity.ShopperCookie)))
	app.Use(s.only(identity.RequireCSRF(d.Identity)))
	app.Use(s.only(s.session))

	app.Get("/theme.css", s.page(func(c *fiber.Ctx, v *visit) error { return themeHandler(v.tenant)(c) }))
	app.Post("/locale", s.page(func(c *fiber.Ctx, _ *visit) error { return s.r.SetLocale(c) }))
	app.Get("/", s.page(s.home))

	app.Get("/account/sign-up", s.page(s.signUpForm))
	app.Post("/account/sign-up", s.page(s.signUp))
	app.Get("/account/sign-in", s.page(s.signInForm))
	app.Post("/account/sign-in", s.page(s.signIn))
	app.Post("/account/sign-out", s.page(s.signOut))
	app.Get("/account", s.page(s.account))
	app.Get("/account/password-reset", s.page(s.resetRequestForm))
	app.Post("/account/password-reset", s.page(s.resetRequest))
	app.Get("/account/password-reset/:token", s.page(s.resetForm))
	app.Post("/account/password-reset/:token", s.page(s.reset))

	app.Get("/sell", s.page(s.sellForm))
	app.Post("/sell", s.page(s.sell))
	app.Get("/sell/thanks", s.page(s.sellThanks))
	app.Get("/merchant-invitations/accepted", s.page(s.invitationAccepted))
	app.Get("/merchant-invitations/:token", s.page(s.invitationForm))
	app.Post("/merchant-invitations/:token", s.page(s.acceptInvitation))

	app.Get("/search", s.page(s.searchPage))
	app.Get("/c/:slug", s.page(s.categoryPage))
	app.Get("/p/:slug", s.page(s.productPage))
	app.Get("/media/*", s.page(s.media))
	s.cartRoutes(app)
	s.checkoutRoutes(app)
	s.trackingRoutes(app)
	return nil
}

// page adapts a storefront handler: on the platform's host there is no visit, and the
// request goes on to the next route.
func (s *storefront) page(h func(c *fiber.Ctx, v *visit) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v := visitOf(c)
		if v == nil {
			return c.Next()
		}
		return h(c, v)
	}
}

// only runs middleware h for storefront requests and skips it for everything else.
func (s *storefront) only(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if visitOf(c) == nil {
			return c.Next()
		}
		return h(c)
	}
}

// ownedPath reports whether the storefront answers path on a store's host.
func ownedPath(p string) bool {
	switch p {
	case "/", "/theme.css", "/locale", "/account", "/sell", "/search", "/cart", "/checkout":
		return true
	}
	for _, prefix := range []string{"/account/", "/sell/", "/merchant-invitations/", "/c/", "/p/", "/media/", "/cart/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// platformHost reports whether host (lower case, no port) is the platform's own rather than a
// store's: the base host, localhost or an IP address.
func (s *storefront) platformHost(host string) bool {
	if host == "" || host == s.d.BaseHost || host == "localhost" {
		return true
	}
	_, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil
}

// gate finds the store a request is for and turns every error below it into an HTML page.
func (s *storefront) gate(c *fiber.Ctx) error {
	// A copy: Fiber reuses the header's bytes after the request, and the host is kept (in the
	// tenants' host cache, in links in mail).
	hostPort := strings.ToLower(strings.Clone(c.Hostname()))
	host := hostOnly(hostPort)
	if s.platformHost(host) {
		return c.Next()
	}
	if !ownedPath(c.Path()) {
		err := c.Next()
		if wantsHTML(c) && isNotFound(err) {
			return s.notFoundElsewhere(c, host)
		}
		return err
	}
	ctx := c.UserContext()
	t, err := s.d.Tenants.ResolveHost(ctx, host)
	switch {
	case errors.Is(err, tenants.ErrNotFound):
		return s.noStore(c, hostPort)
	case errors.Is(err, tenants.ErrSuspended):
		return s.unavailable(c, t)
	case err != nil:
		return s.fail(c, err)
	}
	c.Locals(visitKey{}, &visit{tenant: t, host: hostPort})
	c.SetUserContext(scope.WithTenant(ctx, t.ID))
	web.SetBranding(c, branding(t))
	if err := c.Next(); err != nil {
		return s.fail(c, err)
	}
	return nil
}

// session runs after authentication: forms get the session's CSRF token (or, for a visitor
// without a session, one made from their visit cookie), a visitor's first posted form starts
// their guest session (so a cart can belong to it), and the header shows who is signed in.
// Forms posted without a session and without their visit's token are refused like a bad CSRF
// token.
func (s *storefront) session(c *fiber.Ctx) error {
	v := visitOf(c)
	ctx := c.UserContext()
	p := identity.PrincipalFrom(ctx)
	switch p.Kind {
	case identity.KindGuest:
		v.guestToken = strings.Clone(c.Cookies(s.d.Identity.CookieName(identity.ShopperCookie)))
	case identity.KindShopper:
		sh, err := s.d.Identity.Shopper(ctx, v.tenant.ID, p.ShopperID)
		if err != nil {
			return fmt.Errorf("storefront session: %w", err)
		}
		v.shopper = &sh
		name := sh.Name
		if name == "" {
			name = sh.Email
		}
		web.SetPrincipal(c, name)
	case identity.KindAnonymous:
		if c.Method() == fiber.MethodHead {
			return c.Next()
		}
		// The theme and images are fetched by every page and by bots: they need no visit.
		if c.Path() == "/theme.css" || strings.HasPrefix(c.Path(), "/media/") {
			return c.Next()
		}
		// Reading pages writes nothing: a visitor without a session gets a visit cookie (a
		// random nonce, no row) and its forms a CSRF token made from it. The first form they
		// post, with that token, starts their guest session, so crawlers create no rows.
		if c.Method() != fiber.MethodGet {
			if !s.d.Identity.CheckVisitForm(c) {
				return identity.ErrCSRF
			}
			sess, token, err := s.d.Identity.StartGuestSession(ctx, v.tenant.ID)
			if err != nil {
				return fmt.Errorf("storefront session: %w", err)
			}
			s.d.Identity.SetSessionCookie(c, identity.ShopperCookie, token, sess)
			p = identity.Principal{Kind: identity.KindGuest, SessionID: sess.ID, TenantID: v.tenant.ID}
			c.SetUserContext(scope.WithActor(identity.WithPrincipal(ctx, p), p.Actor()))
			v.guestToken = token
			break
		}
		web.SetCSRFToken(c, s.d.Identity.VisitCSRFToken(s.d.Identity.Visit(c)))
	}
	v.principal = p
	if p.SessionID != uuid.Nil {
		web.SetCSRFToken(c, s.d.Identity.CSRFToken(p.SessionID))
	}
	nav := []web.NavItem{{Label: "nav.home", Path: "/"}, {Label: "storefront.nav.search", Path: "/search"}, {Label: "storefront.nav.sell", Path: "/sell"}}
	if v.shopper != nil {
		nav = append(nav, web.NavItem{Label: "nav.account", Path: "/account"})
	} else {
		// "/account" rather than the sign-in page, so the item is the current one on every
		// account page (sign up, password reset); /account sends a guest on to sign in.
		nav = append(nav, web.NavItem{Label: "auth.sign_in", Path: "/account"})
	}
	if s.d.Cart != nil {
		item, err := s.cartNav(c, v)
		if err != nil {
			return fmt.Errorf("storefront session: %w", err)
		}
		nav = append(nav, item)
	}
	web.SetNav(c, nav)
	return c.Next()
}

// branding is the tenant's name, theme and default locale for the layout.
func branding(t tenants.Tenant) web.Branding {
	return web.Branding{Name: t.Name, Theme: themeOf(t), DefaultLocale: t.DefaultLocale}
}

// themeOf reads the tenant's theme JSON: {"primary", "accent", "logo_url"} ("logo" is read
// too, for themes written before the key had its final name). The renderer drops a logo that
// is not a path on this site and the stylesheet drops colours that are not #rrggbb.
func themeOf(t tenants.Tenant) web.Theme {
	logo := t.Theme["logo_url"]
	if logo == "" {
		logo = t.Theme["logo"]
	}
	return web.Theme{Primary: t.Theme["primary"], Accent: t.Theme["accent"], LogoURL: logo}
}

func themeHandler(t tenants.Tenant) fiber.Handler {
	theme := themeOf(t)
	return web.ThemeCSS(func(*fiber.Ctx) (web.Theme, error) { return theme, nil })
}

// noStore answers a host no tenant owns; its page's locale switch works, like everyone's.
func (s *storefront) noStore(c *fiber.Ctx, host string) error {
	if c.Path() == "/locale" && c.Method() == fiber.MethodPost && c.Get("Sec-Fetch-Site") != "cross-site" {
		return s.r.SetLocale(c)
	}
	return s.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound,
		Title: "storefront.no_store.title", Message: s.r.T(c, "storefront.no_store.text", host)})
}

// unavailable answers every request to a suspended store: its theme still loads (the page
// below uses it) and its locale switch still works, nothing else is read or written.
func (s *storefront) unavailable(c *fiber.Ctx, t tenants.Tenant) error {
	web.SetBranding(c, branding(t))
	switch {
	case c.Path() == "/theme.css" && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead):
		return themeHandler(t)(c)
	case c.Path() == "/locale" && c.Method() == fiber.MethodPost && c.Get("Sec-Fetch-Site") != "cross-site":
		// A language cookie is all this writes, so it needs no session to protect it.
		return s.r.SetLocale(c)
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retryAfterSuspended/time.Second)))
	return s.r.RenderError(c, web.ErrorPage{Status: fiber.StatusServiceUnavailable,
		Title: "storefront.unavailable.title", Message: "storefront.unavailable.text"})
}

// notFoundElsewhere gives a browser the store's 404 page for a path nobody answered.
func (s *storefront) notFoundElsewhere(c *fiber.Ctx, host string) error {
	t, err := s.d.Tenants.ResolveHost(c.UserContext(), host)
	if err == nil || errors.Is(err, tenants.ErrSuspended) {
		web.SetBranding(c, branding(t))
	}
	return s.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
}

// fail renders err as an HTML error page with the status the API would give it. Internal
// errors are logged with the request id the page shows; their text never reaches the page.
func (s *storefront) fail(c *fiber.Ctx, err error) error {
	page := web.ErrorPage{Status: fiber.StatusInternalServerError}
	var fe *fiber.Error
	de := fault.As(err)
	switch {
	case de != nil && de.Kind != fault.Internal:
		page.Status = httpx.StatusOf(de.Kind)
		switch {
		case errors.Is(err, identity.ErrCSRF):
			page.Title, page.Message = "storefront.error.csrf.title", "storefront.error.csrf.text"
		case page.Status == fiber.StatusTooManyRequests:
			page.Title, page.Message = "storefront.error.busy.title", "storefront.error.busy.text"
			if c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
				c.Set(fiber.HeaderRetryAfter, "1")
			}
		case page.Status == fiber.StatusUnauthorized:
			page.Title, page.Message = "storefront.error.unauthenticated.title", "storefront.error.unauthenticated.text"
		case page.Status < 500 && page.Status != fiber.StatusNotFound && page.Status != fiber.StatusForbidden:
			page.Title, page.Message = "storefront.error.request.title", "storefront.error.request.text"
		}
	case errors.As(err, &fe) && fe.Code < 500:
		page.Status = fe.Code
		if fe.Code != fiber.StatusNotFound && fe.Code != fiber.StatusForbidden {
			page.Title, page.Message = "storefront.error.request.title", "storefront.error.request.text"
		}
	default:
		s.d.Log.ErrorContext(c.UserContext(), "storefront: internal error", "error", err.Error(),
			"request_id", scope.RequestIDFrom(c.UserContext()), "path", c.Path())
	}
	return s.r.RenderError(c, page)
}

func isNotFound(err error) bool {
	var fe *fiber.Error
	return errors.As(err, &fe) && fe.Code == fiber.StatusNotFound
}

// wantsHTML reports whether the client asked for HTML by name, as browsers do; API clients
// and tools that send no Accept header keep the API's problem+json.
func wantsHTML(c *fiber.Ctx) bool { return strings.Contains(c.Get(fiber.HeaderAccept), "text/html") }

// hostOnly drops a port from a lower-case host ("lumen.localhost:8080", "[::1]:80").
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end > 0 {
			return h[:end+1]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}
