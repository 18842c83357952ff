// Package console serves /console, where tenant staff run their marketplace and merchant staff
// run their store: sign-in, the overview, merchants, staff and roles, API keys, the audit log
// and the tenant's settings. Pages are server-rendered with platform/web; every page decides
// access with the Casbin role of the person's membership in the tenant they are working in.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/blob"
	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/platform/webhooksout"
	"mercato/tenants"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/inventory"
	"mercato/tenants/merchants"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
	"mercato/tenants/staff"
)

//go:embed ui
var uiFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console"

// Deps is what the console needs; apps/mercato builds it.
type Deps struct {
	Identity  *identity.Service
	Enforcer  *authz.Enforcer
	Tenants   *tenants.Service
	Merchants *merchants.Service
	Staff     *staff.Service
	DB        *db.DB          // the tenant's audit log is read inside db.WithTenant
	Mailer    identity.Mailer // merchant invitations
	FlashKey  []byte          // at least 32 bytes; also keys the signed "current tenant" cookie
	// BaseHost is the platform's domain with any port ("localhost:8080"): a tenant's storefront
	// is at {slug}.{BaseHost} unless StorefrontURL says otherwise.
	BaseHost string
	// StorefrontURL is the scheme and host of a tenant's storefront, without a trailing slash
	// ("https://lumen-goods.test"); nil means "http://{slug}.{BaseHost}".
	StorefrontURL func(t tenants.Tenant) string
	SecureCookies bool
	Log           *slog.Logger
	// Webhooks manages outbound webhook endpoints; nil hides their pages.
	Webhooks *webhooksout.Service
	// Fulfillment ships merchant orders and shows their tracking; nil hides the fulfil pages.
	Fulfillment *fulfillment.Service
	// Catalog, Inventory and Blob serve the product pages (list, editor, images, CSV,
	// moderation, stock); a nil Catalog hides them, a nil Blob refuses image uploads.
	Catalog   *catalog.Service
	Inventory *inventory.Service
	Blob      *blob.Store
	// Promotions serves the coupons and flash sales page; nil hides it.
	Promotions *promotions.Service
	// Orders serves the orders pages and the shipping and tax rates page; nil hides them.
	Orders *orders.Service
}

// handlers holds the console's dependencies and renderer.
type handlers struct {
	Deps
	r         *web.Renderer
	tenantKey []byte // signs the current-tenant cookie
}

// Routes registers every console page under /console. Mount identity.Authenticate(ids,
// identity.StaffCookie) in front of it; Routes checks CSRF itself (identity.RequireCSRF) so that
// a stale form gets a page rather than problem+json.
func Routes(app fiber.Router, d Deps) error {
	if d.Identity == nil || d.Enforcer == nil || d.Tenants == nil || d.Merchants == nil || d.Staff == nil || d.DB == nil || d.Mailer == nil {
		return errors.New("console: identity, enforcer, tenants, merchants, staff, db and mailer are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(uiFS, "ui")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	r, err := web.New(sub, web.Options{
		Brand: "Mercato Console", Home: Prefix, FlashKey: d.FlashKey, SecureCookies: d.SecureCookies,
		LocalePath: Prefix + "/locale", SignOutPath: Prefix + "/logout", ThemePath: Prefix + "/theme.css",
	})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	mac := hmac.New(sha256.New, d.FlashKey)
	mac.Write([]byte("mercato-console-tenant"))
	h := &handlers{Deps: d, r: r, tenantKey: mac.Sum(nil)}

	g := app.Group(Prefix, h.csrf(identity.RequireCSRF(d.Identity)))
	g.Get("/theme.css", web.ThemeCSS(h.theme))
	g.Post("/locale", h.public(r.SetLocale))

	g.Get("/login", h.public(h.loginPage))
	g.Post("/login", h.public(h.login))
	g.Post("/login/totp", h.public(h.loginTOTP))
	g.Post("/logout", h.public(h.logout))
	g.Post("/logout-everywhere", h.public(h.logoutEverywhere))
	g.Get("/set-password", h.public(h.setPasswordPage))
	g.Post("/set-password", h.public(h.setPassword))
	g.Get("/switch", h.signedIn(h.switchPage))
	g.Post("/switch", h.signedIn(h.switchTenant))

	for _, p := range h.pages() {
		switch p.method {
		case fiber.MethodGet:
			g.Get(p.path, h.tenantPage(p))
		default:
			g.Post(p.path, h.tenantPage(p))
		}
	}
	g.Use(func(c *fiber.Ctx) error { return r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound}) })
	return nil
}

// page is one route of the tenant area: who may open it and what it does.
type page struct {
	method, path string
	// object is the console object the role must hold for action, and capability the /v1
	// object of the same capability: roles.csv gives every tenant role "/console/*", so the
	// capability line decides (tenant staff may not touch staff or keys), and the console
	// never allows what the API would refuse.
	object, capability, action string
	tenantWide                 bool // refused in a merchant scope (tenant decisions)
	handle                     func(c *fiber.Ctx, s *session) error
}

func (h *handlers) pages() []page {
	const read, write, del = authz.ActionRead, authz.ActionWrite, authz.ActionDelete
	get := func(path, object, capability string, tenantWide bool, fn func(*fiber.Ctx, *session) error) page {
		return page{fiber.MethodGet, path, object, capability, read, tenantWide, fn}
	}
	post := func(path, object, capability, action string, tenantWide bool, fn func(*fiber.Ctx, *session) error) page {
		return page{fiber.MethodPost, path, object, capability, action, tenantWide, fn}
	}
	pages := []page{
		get("/", "/console", "", false, h.overview),
		get("/account", "/console/account", "", false, h.account),
		get("/merchants", "/console/merchants", "/v1/merchants", false, h.merchantsPage),
		post("/merchants/invite", "/console/merchants", "/v1/merchants", write, true, h.inviteMerchant),
		get("/merchants/:id", "/console/merchants", "/v1/merchants", false, h.merchantPage),
		post("/merchants/:id/:action", "/console/merchants", "/v1/merchants", write, true, h.decideMerchant),
		get("/staff", "/console/staff", "/v1/staff", false, h.staffPage),
		post("/staff", "/console/staff", "/v1/staff", write, false, h.addStaff),
		post("/staff/:id/role", "/console/staff", "/v1/staff", write, false, h.changeRole),
		post("/staff/:id/resend", "/console/staff", "/v1/staff", write, false, h.resendInvitation),
		post("/staff/:id/remove", "/console/staff", "/v1/staff", del, false, h.removeStaff),
		get("/api-keys", "/console/api-keys", "/v1/api-keys", false, h.keysPage),
		post("/api-keys", "/console/api-keys", "/v1/api-keys", write, false, h.createKey),
		post("/api-keys/:id/revoke", "/console/api-keys", "/v1/api-keys", del, false, h.revokeKey),
		get("/audit", "/console/audit", "/v1/audit", true, h.auditPage),
		get("/audit/verify", "/console/audit", "/v1/audit", true, h.verifyAudit),
		get("/settings", "/console/settings", "/v1/tenants", true, h.settingsPage),
		post("/settings", "/console/settings", "/v1/tenants", write, true, h.saveSettings),
	}
	if h.Webhooks != nil {
		pages = append(pages, h.webhookPages()...)
	}
	if h.Fulfillment != nil {
		pages = append(pages, h.fulfilmentPages()...)
	}
	if h.Catalog != nil && h.Inventory != nil {
		pages = append(pages, h.productPages()...)
		pages = append(pages, h.moderationPages()...)
		pages = append(pages, h.inventoryPages()...)
	}
	if h.Promotions != nil {
		pages = append(pages, h.promotionPages()...)
	}
	if h.Orders != nil {
		pages = append(pages, h.orderPages()...)
		pages = append(pages, h.shippingPages()...)
	}
	return pages
}

// session is who is working, and where, for one request of the tenant area.
type session struct {
	p           identity.Principal
	user        identity.StaffUser
	member      identity.Membership   // the membership the person works in now
	memberships []identity.Membership // all of theirs, in every tenant
	tenant      tenants.Tenant
}

// merchantScope reports whether the person works for one merchant.
func (s *session) merchantScope() bool { return s.member.MerchantID != uuid.Nil }

// allowed asks the policy whether the person's role may do action on object here. A role the
// enforcer does not know (a custom role) is simply not allowed.
func (h *handlers) allowed(s *session, object, action string) bool {
	ok, err := h.Enforcer.EnforceRole(s.member.Role, s.member.TenantID.String(), object, action)
	return err == nil && ok
}

// may is allowed for a page's console object and its capability. The console object is
// asked as a route is (a form POST writes); the capability with the page's own action, which
// for removals is delete, as the API's DELETE routes are.
func (h *handlers) may(s *session, object, capability, action string, tenantWide bool) bool {
	if tenantWide && s.merchantScope() {
		return false
	}
	routeAction := action
	if action == authz.ActionDelete {
		routeAction = authz.ActionWrite
	}
	if !h.allowed(s, object, routeAction) {
		return false
	}
	return capability == "" || h.allowed(s, capability, action)
}

// public wraps pages anyone may open: it gives forms the CSRF token of a signed-in visitor.
func (h *handlers) public(fn fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := identity.PrincipalFrom(c.UserContext())
		if p.Kind == identity.KindStaff {
			web.SetCSRFToken(c, h.Identity.CSRFToken(p.SessionID))
		}
		return h.fail(c, fn(c))
	}
}

// signedIn wraps pages that need a staff session but no tenant yet.
func (h *handlers) signedIn(fn func(c *fiber.Ctx, s *session) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		s, redirect, err := h.begin(c)
		if err != nil || redirect {
			return h.fail(c, err)
		}
		return h.fail(c, fn(c, s))
	}
}

// begin reads the staff session and memberships. It answers the request itself (redirect is
// true) when the visitor must sign in or belongs in /admin.
func (h *handlers) begin(c *fiber.Ctx) (*session, bool, error) {
	ctx := c.UserContext()
	p := identity.PrincipalFrom(ctx)
	if p.Kind != identity.KindStaff {
		return nil, true, h.toLogin(c)
	}
	web.SetCSRFToken(c, h.Identity.CSRFToken(p.SessionID))
	user, err := h.Identity.Staff(ctx, p.UserID)
	if err != nil {
		return nil, false, err
	}
	web.SetPrincipal(c, displayName(user))
	ms, err := h.Identity.Memberships(ctx, p.UserID)
	if err != nil {
		return nil, false, err
	}
	if len(ms) == 0 && p.PlatformRole != "" {
		return nil, true, c.Redirect("/admin", fiber.StatusSeeOther)
	}
	return &session{p: p, user: user, memberships: ms}, false, nil
}

func displayName(u identity.StaffUser) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// toLogin sends an anonymous visitor to sign in, and back here afterwards.
func (h *handlers) toLogin(c *fiber.Ctx) error {
	next := web.SafePath(c.OriginalURL(), Prefix)
	if c.Method() != fiber.MethodGet {
		next = Prefix
	}
	return c.Redirect(Prefix+"/login?next="+url.QueryEscape(next), fiber.StatusSeeOther)
}

// tenantPage wraps a page of the tenant area: signed in, working in a tenant (the one the
// current-tenant cookie names, or the only one), allowed by the policy; the request's context
// carries the tenant and, for merchant staff, the merchant scope.
func (h *handlers) tenantPage(p page) fiber.Handler {
	return func(c *fiber.Ctx) error {
		s, redirect, err := h.begin(c)
		if err != nil || redirect {
			return h.fail(c, err)
		}
		m, ok := h.currentMembership(c, s)
		if !ok {
			if len(s.memberships) == 0 {
				return h.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden, Title: "console.no_access.title", Message: "console.no_access.text"})
			}
			return c.Redirect(Prefix+"/switch?next="+url.QueryEscape(web.SafePath(c.OriginalURL(), Prefix)), fiber.StatusSeeOther)
		}
		s.member = m
		ctx := scope.WithTenant(c.UserContext(), m.TenantID)
		if m.MerchantID != uuid.Nil {
			ctx = scope.WithMerchant(ctx, m.MerchantID)
		}
		c.SetUserContext(ctx)
		if s.tenant, err = h.Tenants.Get(ctx, m.TenantID); err != nil {
			return h.fail(c, err)
		}
		theme := themeOf(s.tenant)
		web.SetBranding(c, web.Branding{Name: s.tenant.Name, Theme: theme, DefaultLocale: s.tenant.DefaultLocale})
		web.SetNav(c, h.nav(s))
		if !h.may(s, p.object, p.capability, p.action, p.tenantWide) {
			return h.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden})
		}
		if p.method != fiber.MethodGet && s.tenant.Status != tenants.StatusActive {
			return h.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden, Title: "console.suspended.title", Message: "console.suspended.text"})
		}
		return h.fail(c, p.handle(c, s))
	}
}

// nav lists the pages the person may open: no link leads to a refusal.
func (h *handlers) nav(s *session) []web.NavItem {
	items := []web.NavItem{{Label: "nav.overview", Path: Prefix}}
	for _, it := range []struct {
		label, path, capability string
		tenantWide              bool
	}{
		{"nav.merchants", "/merchants", "/v1/merchants", true},
		{"nav.products", "/products", "/v1/products", false},
		{"nav.moderation", "/moderation", "/v1/products", true},
		{"nav.staff", "/staff", "/v1/staff", false},
		{"nav.api_keys", "/api-keys", "/v1/api-keys", false},
		{"nav.webhooks", "/webhooks", "/v1/webhooks", false},
		{"nav.promotions", "/promotions", "/v1/promotions", false},
		{"nav.orders", "/orders", "/v1/orders", false},
		{"nav.shipping", "/shipping", "/v1/shipping-rates", false},
		{"nav.audit", "/audit", "/v1/audit", true},
		{"nav.settings", "/settings", "/v1/tenants", true},
	} {
		if (it.path == "/orders" || it.path == "/shipping") && h.Orders == nil {
			continue
		}
		if it.path == "/webhooks" && h.Webhooks == nil || it.path == "/promotions" && h.Promotions == nil || (it.path == "/products" || it.path == "/moderation") && (h.Catalog == nil || h.Inventory == nil) {
			continue
		}
		if h.may(s, Prefix+it.path, it.capability, authz.ActionRead, it.tenantWide) {
			items = append(items, web.NavItem{Label: it.label, Path: Prefix + it.path})
		}
	}
	return append(items, web.NavItem{Label: "nav.account", Path: Prefix + "/account"})
}

func themeOf(t tenants.Tenant) web.Theme {
	return web.Theme{Primary: t.Theme["primary"], Accent: t.Theme["accent"], LogoURL: t.Theme["logo_url"]}
}

// theme serves the current tenant's colours to its staff; nobody else gets any.
func (h *handlers) theme(c *fiber.Ctx) (web.Theme, error) {
	p := identity.PrincipalFrom(c.UserContext())
	if p.Kind != identity.KindStaff {
		return web.Theme{}, nil
	}
	ms, err := h.Identity.Memberships(c.UserContext(), p.UserID)
	if err != nil {
		return web.Theme{}, err
	}
	m, ok := h.currentMembership(c, &session{p: p, memberships: ms})
	if !ok {
		return web.Theme{}, nil
	}
	t, err := h.Tenants.Get(c.UserContext(), m.TenantID)
	if err != nil {
		return web.Theme{}, nil
	}
	return themeOf(t), nil
}

// The current-tenant cookie names the membership a person works in when they have several:
// "<tenant>.<merchant or nil uuid>.<mac>", the MAC binding it to the user. It is only a
// preference; every request checks it against the person's memberships.
const tenantCookie = "mercato_console_tenant"

func (h *handlers) tenantMAC(userID uuid.UUID, m identity.Membership) string {
	mac := hmac.New(sha256.New, h.tenantKey)
	mac.Write(userID[:])
	mac.Write(m.TenantID[:])
	mac.Write(m.MerchantID[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

func (h *handlers) setCurrent(c *fiber.Ctx, userID uuid.UUID, m identity.Membership) {
	c.Cookie(&fiber.Cookie{Name: tenantCookie, Value: m.TenantID.String() + "." + m.MerchantID.String() + "." + h.tenantMAC(userID, m),
		Path: Prefix, MaxAge: int((30 * 24 * time.Hour).Seconds()), Secure: h.SecureCookies, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

func (h *handlers) clearCurrent(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: tenantCookie, Value: "", Path: Prefix, MaxAge: -1, Expires: time.Unix(1, 0),
		Secure: h.SecureCookies, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

// currentMembership is the membership the cookie names, if it is still the person's; else
// their only one.
func (h *handlers) currentMembership(c *fiber.Ctx, s *session) (identity.Membership, bool) {
	if raw := c.Cookies(tenantCookie); raw != "" {
		parts := strings.Split(raw, ".")
		if len(parts) == 3 {
			t, err1 := uuid.Parse(parts[0])
			m, err2 := uuid.Parse(parts[1])
			want := identity.Membership{TenantID: t, MerchantID: m}
			if err1 == nil && err2 == nil && hmac.Equal([]byte(parts[2]), []byte(h.tenantMAC(s.p.UserID, want))) {
				for _, ms := range s.memberships {
					if ms.TenantID == t && ms.MerchantID == m {
						return ms, true
					}
				}
			}
		}
	}
	if len(s.memberships) == 1 {
		return s.memberships[0], true
	}
	return identity.Membership{}, false
}

// fail turns an error from a handler into a page: 404 for what is absent or not the caller's
// (another tenant's ids look absent), 403 for what their role forbids, a sign-in for an ended
// session, and a logged 500 for anything else. nil passes through.
func (h *handlers) fail(c *fiber.Ctx, err error) error {
	if err == nil {
		return nil
	}
	status := fiber.StatusInternalServerError
	if fe := fault.As(err); fe != nil {
		switch fe.Kind {
		case fault.NotFound:
			status = fiber.StatusNotFound
		case fault.Forbidden:
			status = fiber.StatusForbidden
		case fault.Unauthenticated:
			return h.toLogin(c)
		case fault.Unavailable:
			status = fiber.StatusServiceUnavailable
		case fault.Invalid, fault.Conflict, fault.Unprocessable:
			// A fixable error that reached here came from a form without a page of its own:
			// say so where the person came from.
			h.r.Flash(c, web.FlashError, h.message(c, err))
			if c.Method() == fiber.MethodGet {
				return c.Redirect(Prefix, fiber.StatusSeeOther)
			}
			return c.Redirect(h.back(c, sectionOf(c.Path())), fiber.StatusSeeOther)
		}
	}
	if status == fiber.StatusInternalServerError {
		h.Log.ErrorContext(c.UserContext(), "console", "error", err.Error(), "path", c.Path(),
			"request_id", scope.RequestIDFrom(c.UserContext()))
	}
	return h.r.RenderError(c, web.ErrorPage{Status: status})
}

// csrf runs identity.RequireCSRF and answers a refused form with a page that says to reload.
func (h *handlers) csrf(check fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := check(c)
		if errors.Is(err, identity.ErrCSRF) {
			return h.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden, Title: "console.csrf.title", Message: "console.csrf.text"})
		}
		return err
	}
}

// message is the person-facing text of a domain error: a console message for its code when
// there is one ("console.error.<code>"), else the error's own message.
func (h *handlers) message(c *fiber.Ctx, err error) string {
	fe := fault.As(err)
	if fe == nil {
		return "form.failed"
	}
	key := "console.error." + fe.Code
	if h.r.T(c, key) != key {
		return key
	}
	return fe.Message
}

// form is web.FormFrom with the console's messages: the form-level error by code, and field
// errors by field where the console has its own wording (slices speak English to the API).
func (h *handlers) form(c *fiber.Ctx, err error, values map[string]string) web.Form {
	f := web.FormFrom(err, values)
	if err == nil {
		return f
	}
	if _, ok := f.Errors[""]; ok {
		f.Errors[""] = h.message(c, err)
	}
	for name, msg := range f.Errors {
		if name == "" || h.r.T(c, msg) != msg { // already a catalogue key (theme.colour_invalid)
			continue
		}
		if key := "console.field." + name; h.r.T(c, key) != key {
			f.Errors[name] = key
		}
	}
	return f
}

// back is where a form returns to: its "next" field when it is a console path, else fallback.
func (h *handlers) back(c *fiber.Ctx, fallback string) string {
	next := web.SafePath(c.FormValue("next"), "")
	if next == "" || !(next == Prefix || strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, Prefix+"?")) {
		return fallback
	}
	return strings.Clone(next)
}

// sectionOf is the page a form belongs to: "/console/staff/x/role" → "/console/staff".
func sectionOf(path string) string {
	rest, ok := strings.CutPrefix(path, Prefix+"/")
	if !ok {
		return Prefix
	}
	section, _, _ := strings.Cut(rest, "/")
	return Prefix + "/" + section
}

// actor is the audit name of the signed-in person.
func actor(ctx context.Context) string { return string(scope.ActorFrom(ctx)) }

// paramID reads a uuid path parameter; a malformed one is as absent as an unknown one.
func paramID(c *fiber.Ctx, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params(name))
	if err != nil {
		return uuid.Nil, errNotFound
	}
	return id, nil
}

var errNotFound = fault.New(fault.NotFound, "not_found", "not found")

func faultFields(location, message string) error {
	return fault.Fields(map[string]string{location: message})
}

func urlEscape(s string) string { return url.QueryEscape(s) }
