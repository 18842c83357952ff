// Package admin is the operators' portal under /admin: sign-in with a second factor, the
// dashboard, the tenant directory (create, suspend, reactivate, export, delete), plans, the
// audit log viewer, the job queues (asynqmon) and, in dev, the captured mail. Pages are
// rendered on the server with platform/web; every page is decided by the operator's platform
// role through Casbin.
package admin

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/mail"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/promotions"
)

//go:embed ui
var uiFS embed.FS

// Prefix is where the portal is mounted.
const Prefix = "/admin"

// Deps is what the portal needs; apps/api builds it.
type Deps struct {
	Identity  *identity.Service
	Enforcer  *authz.Enforcer
	Directory *tenants.Directory
	Tenants   *tenants.Service
	Platform  *db.Platform // the audit log is read through its audited Do
	FlashKey  []byte       // at least 32 bytes; signs flash cookies
	Log       *slog.Logger

	// Storefront links on the tenant page: StorefrontURL when set, else
	// http(s)://{slug}.{BaseHost}[:PublicPort]/.
	BaseHost      string
	PublicPort    string // "" for the scheme's default port
	SecureCookies bool   // served over HTTPS: Secure cookies and https storefront links
	StorefrontURL func(slug string) string

	Now func() time.Time // nil: time.Now

	// Queues is the jobs' Redis (jobs.Redis(cfg.RedisURL)): asynqmon at /admin/queues and the
	// dashboard's queue card. nil: neither.
	Queues asynq.RedisConnOpt
	// DevMail lists what dev's capturing SMTP server kept (mail.Capture.Messages), shown at
	// /admin/dev/mail. nil (production): those pages are 404 and not in the navigation.
	DevMail func() []mail.Captured
	// Promotions makes platform-funded coupons from a tenant's page (coupons.go). nil: the
	// section is not shown.
	Promotions *promotions.Service
}

// portal holds the handlers' dependencies.
type portal struct {
	Deps
	r      *web.Renderer
	queues *queueMonitor // nil without Deps.Queues
}

// Routes registers every page under /admin on router. The caller mounts
// identity.Authenticate(ids, identity.StaffCookie) and identity.RequireCSRF(ids) in front of
// it (as for every cookie area) and web.Assets once for all portals.
func Routes(router fiber.Router, d Deps) error {
	if d.Identity == nil || d.Enforcer == nil || d.Directory == nil || d.Tenants == nil || d.Platform == nil {
		return errors.New("admin: Identity, Enforcer, Directory, Tenants and Platform are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.StorefrontURL == nil {
		scheme, port := "http", ""
		if d.SecureCookies {
			scheme = "https"
		}
		if d.PublicPort != "" {
			port = ":" + d.PublicPort
		}
		base := d.BaseHost
		d.StorefrontURL = func(slug string) string { return scheme + "://" + slug + "." + base + port + "/" }
	}
	sub, err := fs.Sub(uiFS, "ui")
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	nav := []web.NavItem{
		{Label: "nav.dashboard", Path: Prefix},
		{Label: "nav.tenants", Path: Prefix + "/tenants"},
		{Label: "admin.nav.plans", Path: Prefix + "/plans"},
		{Label: "nav.audit", Path: Prefix + "/audit"},
	}
	if d.Queues != nil {
		nav = append(nav, web.NavItem{Label: "admin.nav.queues", Path: QueuesPath})
	}
	if d.DevMail != nil {
		nav = append(nav, web.NavItem{Label: "admin.nav.dev_mail", Path: DevMailPath})
	}
	r, err := web.New(sub, web.Options{
		Brand:         "Mercato Admin",
		Home:          Prefix,
		FlashKey:      d.FlashKey,
		SecureCookies: d.SecureCookies,
		LocalePath:    Prefix + "/locale",
		SignOutPath:   Prefix + "/logout",
		Now:           d.Now,
		Nav:           nav,
	})
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	a := &portal{Deps: d, r: r}
	if d.Queues != nil {
		if a.queues, err = newQueueMonitor(d.Queues); err != nil {
			return fmt.Errorf("admin: %w", err)
		}
	}

	g := router.Group(Prefix, a.session)
	g.Get("/login", a.loginPage)
	g.Post("/login", a.login)
	g.Get("/login/code", a.backToLogin)
	g.Post("/login/code", a.loginCode)
	g.Get("/login/enroll", a.backToLogin)
	g.Post("/login/enroll", a.loginEnroll)
	g.Post("/logout", a.logout)
	g.Post("/logout/everywhere", a.logoutEverywhere)
	g.Post("/locale", a.setLocale)

	const dash, tn, pl, au = Prefix, Prefix + "/tenants", Prefix + "/plans", Prefix + "/audit"
	read, write, del := authz.ActionRead, authz.ActionWrite, authz.ActionDelete
	g.Get("/", a.allow(dash, read, a.dashboard))
	g.Get("/tenants", a.allow(tn, read, a.tenantList))
	g.Get("/tenants/new", a.allow(tn, write, a.tenantNew))
	g.Post("/tenants", a.allow(tn, write, a.tenantCreate))
	g.Get("/tenants/:id", a.allow(tn, read, a.tenantShow))
	g.Post("/tenants/:id/suspend", a.allow(tn, write, a.tenantSuspend))
	g.Post("/tenants/:id/reactivate", a.allow(tn, write, a.tenantReactivate))
	g.Get("/tenants/:id/export", a.allow(tn, read, a.tenantExport))
	if d.Promotions != nil {
		g.Post("/tenants/:id/coupons", a.allow(tn, write, a.couponCreate))
	}
	g.Get("/tenants/:id/delete", a.allow(tn, del, a.tenantDeletePage))
	g.Post("/tenants/:id/delete", a.allow(tn, del, a.tenantDelete))
	g.Get("/plans", a.allow(pl, read, a.plans))
	g.Get("/audit", a.allow(au, read, a.auditLog))
	g.Get("/audit/verify", a.allow(au, read, a.auditVerify))
	if a.queues != nil {
		// asynqmon's API changes tasks with POST and DELETE: each request is decided by its method.
		g.All("/queues", a.allowMethod(QueuesPath, a.queuesUI))
		g.All("/queues/*", a.allowMethod(QueuesPath, a.queuesUI))
	}
	if d.DevMail != nil {
		const dm = DevMailPath
		g.Get("/dev/mail", a.allow(dm, read, a.devMailList))
		g.Get("/dev/mail/:id", a.allow(dm, read, a.devMailShow))
		g.Get("/dev/mail/:id/html", a.allow(dm, read, a.devMailHTML))
		g.Get("/dev/mail/:id/raw", a.allow(dm, read, a.devMailRaw))
	}
	g.All("/*", a.allow(dash, read, func(c *fiber.Ctx, _ identity.Principal) error {
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
	}))
	return nil
}

// session tells the renderer who is signed in and gives their forms the CSRF token. Only
// operators see the navigation: anyone else gets the sign-in page or "not allowed".
func (a *portal) session(c *fiber.Ctx) error {
	p := identity.PrincipalFrom(c.UserContext())
	if p.Kind == identity.KindStaff {
		web.SetCSRFToken(c, a.Identity.CSRFToken(p.SessionID))
		name := "—"
		if u, err := a.Identity.Staff(c.UserContext(), p.UserID); err == nil {
			name = u.Name
			if name == "" {
				name = u.Email
			}
		}
		web.SetPrincipal(c, name)
	}
	if p.PlatformRole == "" {
		web.SetNav(c, []web.NavItem{})
	}
	c.Set("X-Robots-Tag", "noindex")
	return c.Next()
}

// handler is a page handler that knows the operator.
type handler func(c *fiber.Ctx, p identity.Principal) error

// allow decides a page: anonymous callers go to the sign-in page (coming back here after a
// GET), staff without a platform role and operators whose role does not allow action on
// object get the 403 page.
func (a *portal) allow(object, action string, h handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := identity.PrincipalFrom(c.UserContext())
		if !p.Authenticated() {
			to := Prefix + "/login"
			if c.Method() == fiber.MethodGet {
				to += "?next=" + url.QueryEscape(web.SafePath(c.OriginalURL(), Prefix))
			}
			return c.Redirect(to, fiber.StatusSeeOther)
		}
		if p.Kind != identity.KindStaff || p.PlatformRole == "" {
			return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden})
		}
		ok, err := a.Enforcer.EnforceRole(p.PlatformRole, authz.PlatformDomain, object, action)
		if err != nil {
			a.Log.WarnContext(c.UserContext(), "admin: authorization failed", "role", p.PlatformRole, "object", object,
				"error", err.Error(), "request_id", scope.RequestIDFrom(c.UserContext()))
		}
		if err != nil || !ok {
			return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden})
		}
		return h(c, p)
	}
}

// allowMethod is allow with the action the request's method asks for (actionOf).
func (a *portal) allowMethod(object string, h handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return a.allow(object, actionOf(c.Method()), h)(c)
	}
}

// can reports whether the operator may do action on object, to show or hide a button; the
// handler behind the button decides again.
func (a *portal) can(p identity.Principal, object, action string) bool {
	ok, err := a.Enforcer.EnforceRole(p.PlatformRole, authz.PlatformDomain, object, action)
	return err == nil && ok
}

// fail renders err as an HTML error page: a portal never answers problem+json. Internal
// errors are logged with the request id the page shows.
func (a *portal) fail(c *fiber.Ctx, err error) error {
	de := fault.As(err)
	if de == nil || de.Kind == fault.Internal {
		a.Log.ErrorContext(c.UserContext(), "admin: internal error", "error", err.Error(), "path", c.Path(),
			"request_id", scope.RequestIDFrom(c.UserContext()))
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusInternalServerError})
	}
	switch de.Kind {
	case fault.NotFound:
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
	case fault.Forbidden:
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden})
	case fault.Unavailable:
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusServiceUnavailable})
	case fault.Unauthenticated:
		return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
	case fault.RateLimited:
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusTooManyRequests,
			Title: "admin.error.429.title", Message: "admin.error.429.text"})
	case fault.Invalid, fault.TooLarge:
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusBadRequest,
			Title: "admin.error.400.title", Message: "admin.error.400.text"})
	}
	return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusConflict, // Conflict, Unprocessable
		Title: "admin.error.409.title", Message: "admin.error.409.text"})
}

// tenantID reads the :id of a tenant route; anything that is not a UUID is a page that
// does not exist.
func tenantID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, tenants.ErrNotFound
	}
	return id, nil
}

// setLocale is the footer's language switcher.
func (a *portal) setLocale(c *fiber.Ctx) error {
	if err := a.r.SetLocale(c); err != nil {
		return a.fail(c, err)
	}
	return nil
}

// nextPath keeps a post-sign-in destination inside the portal.
func nextPath(next string) string {
	p := web.SafePath(next, Prefix)
	if p != Prefix && !strings.HasPrefix(p, Prefix+"/") && !strings.HasPrefix(p, Prefix+"?") {
		return Prefix
	}
	if strings.HasPrefix(p, Prefix+"/login") || strings.HasPrefix(p, Prefix+"/logout") {
		return Prefix
	}
	return p
}
