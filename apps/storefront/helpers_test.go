package storefront_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/apps/demo"
	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/merchants"
	"mercato/tenants/search"
)

// world is the demo marketplace served by the storefront through the real middleware chain,
// with the platform's own "/" behind it, as apps/api mounts them.
type world struct {
	t         testing.TB
	app       *fiber.App
	f         *dbtest.Fixture
	ids       *identity.Service
	mail      *identity.CaptureMailer
	dir       *tenants.Directory
	merchants *merchants.Service
	tenant    map[string]uuid.UUID // slug → id
}

var flashKey = []byte("storefront-test-flash-key-0123456789")

func newWorld(t testing.TB) *world {
	t.Helper()
	return newWorldAt(t, "localhost")
}

// newWorldAt serves the stores at {slug}.{baseHost}.
func newWorldAt(t testing.TB, baseHost string) *world {
	t.Helper()
	return newWorldWith(t, baseHost, nil)
}

// newWorldWith also rate-limits the stores' forms with formLimit; opts change the storefront's
// dependencies further (a blob store, say) before it is mounted.
func newWorldWith(t testing.TB, baseHost string, formLimit fiber.Handler, opts ...func(*storefront.Deps, *dbtest.Fixture)) *world {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	mail := &identity.CaptureMailer{}
	ids, err := identity.New(f.App, identity.Config{
		SecretKey: strings.Repeat("s", 40), Issuer: "http://localhost:8080", Mailer: mail,
		// Every request of a test comes from one address: lock by e-mail only.
		Lockout: identity.LockoutPolicy{Threshold: 3, IPThreshold: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, f: f, ids: ids, mail: mail, dir: tenants.NewDirectory(f.Platform, baseHost),
		merchants: merchants.NewService(f.App, tenants.NewPlanPolicy(pol), audit.Recorder{}), tenant: map[string]uuid.UUID{}}
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(app); err != nil {
		t.Fatal(err)
	}
	deps := storefront.Deps{
		Identity: ids, Tenants: tenants.NewService(f.App, baseHost), Merchants: w.merchants,
		FlashKey: flashKey, BaseHost: baseHost, Log: slog.New(slog.DiscardHandler), FormLimit: formLimit,
		Search: search.NewService(f.App),
	}
	for _, o := range opts {
		o(&deps, f)
	}
	if err := storefront.Routes(app, deps); err != nil {
		t.Fatal(err)
	}
	// The platform's own handlers, which must keep answering on the platform's host.
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/docs") })
	app.Get("/v1/ping", func(c *fiber.Ctx) error { return c.SendString("pong") })
	w.app = app
	page, err := w.dir.List(ctx, tenants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		w.tenant[tn.Slug] = tn.ID
	}
	return w
}

// serve starts the app on a free loopback port and returns the port.
func (w *world) serve() string {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	go func() { _ = w.app.Listener(ln) }()
	w.t.Cleanup(func() { _ = w.app.ShutdownWithTimeout(5 * time.Second) })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func (w *world) suspend(slug string) {
	w.t.Helper()
	if _, err := w.dir.Suspend(scope.WithActor(context.Background(), "system:test"), w.tenant[slug]); err != nil {
		w.t.Fatal(err)
	}
}

// client is one browser at one host: it keeps its cookies and the CSRF token of the last page.
type client struct {
	w    *world
	host string
	jar  *cookiejar.Jar
	csrf string
	lang string // Accept-Language; "" sends none
}

func (w *world) client(host string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{w: w, host: host, jar: jar}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) location() string { return r.header.Get("Location") }

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

func (cl *client) url(path string) *url.URL {
	return &url.URL{Scheme: "http", Host: hostOnly(cl.host), Path: path}
}

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		return strings.ToLower(h[:i])
	}
	return strings.ToLower(h)
}

func (cl *client) do(req *http.Request) response {
	cl.w.t.Helper()
	req.Host = cl.host
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if cl.lang != "" {
		req.Header.Set("Accept-Language", cl.lang)
	}
	for _, c := range cl.jar.Cookies(cl.url("/")) {
		req.AddCookie(c)
	}
	resp, err := cl.w.app.Test(req, 30_000)
	if err != nil {
		cl.w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	cl.jar.SetCookies(cl.url("/"), resp.Cookies())
	if m := csrfRE.FindStringSubmatch(string(b)); m != nil {
		cl.csrf = html.UnescapeString(m[1])
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (cl *client) get(path string) response {
	cl.w.t.Helper()
	return cl.do(httptest.NewRequest("GET", path, nil))
}

// post sends a form with the CSRF token of the last page, unless the form sets _csrf itself.
func (cl *client) post(path string, form url.Values) response {
	cl.w.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", cl.csrf)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return cl.do(req)
}

// cookie is the value of the named cookie the client holds, "" for none.
func (cl *client) cookie(name string) string {
	for _, c := range cl.jar.Cookies(cl.url("/")) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (cl *client) setCookie(name, value string) {
	cl.jar.SetCookies(cl.url("/"), []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

const shopCookie = "mercato_shop"

// signIn signs the client in as a demo shopper and returns the session cookie.
func (cl *client) signIn(email, password string) string {
	cl.w.t.Helper()
	cl.get("/account/sign-in")
	r := cl.post("/account/sign-in", url.Values{"email": {email}, "password": {password}})
	if r.status != fiber.StatusSeeOther {
		cl.w.t.Fatalf("sign in %s at %s: %d\n%s", email, cl.host, r.status, r.body)
	}
	return cl.cookie(shopCookie)
}

// mustContain fails unless body holds every want.
func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(body, u) {
			t.Errorf("%s: should not contain %q", what, u)
		}
	}
}

// fieldError is the error shown beside a field, "" for none.
func fieldError(body, field string) string {
	re := regexp.MustCompile(`<p class="field-error" id="f-` + regexp.QuoteMeta(strings.ReplaceAll(field, "_", "-")) + `-error"><span class="visually-hidden">[^<]*</span>([^<]*)</p>`)
	if m := re.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// fieldValue is the value of an input as rendered, "" for none.
func fieldValue(body, field string) string {
	re := regexp.MustCompile(`<input[^>]* id="f-` + regexp.QuoteMeta(strings.ReplaceAll(field, "_", "-")) + `"[^>]*?(?: value="([^"]*)")?>`)
	if m := re.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// flashOf is the flash message on a page, "" for none.
func flashOf(body string) string {
	re := regexp.MustCompile(`<div class="flash flash-\w+"><span class="flash-icon" aria-hidden="true"></span><p>([^<]*)</p></div>`)
	if m := re.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// doCrossSite posts a form the way a browser posts one from another site.
func (cl *client) doCrossSite(path string, form url.Values) response {
	cl.w.t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return cl.do(req)
}
