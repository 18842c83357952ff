package admin_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/apps/admin"
	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/promotions"
)

var flashKey = []byte("admin-test-flash-key-0123456789abcdef")

// world is the demo platform served by an app assembled like apps/api: the httpx chain,
// storefront host resolution on /v1, staff authentication and CSRF on /admin, the assets.
type world struct {
	t      *testing.T
	f      *dbtest.Fixture
	app    *fiber.App
	ids    *identity.Service
	dir    *tenants.Directory
	svc    *tenants.Service
	promos *promotions.Service
	tenant map[string]uuid.UUID // demo slug -> id
}

// newWorld builds the world; port is the storefront links' port ("" for none); opts change
// the portal's Deps (queues, dev mail) before it is mounted.
func newWorld(t *testing.T, port string, opts ...func(*admin.Deps)) *world {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(f.App, identity.Config{SecretKey: strings.Repeat("s", 40), Issuer: "http://localhost",
		Mailer: &identity.CaptureMailer{},
		// Three failures lock an e-mail, so the lock is quick to reach; addresses are not the
		// subject here (every test request comes from the same one).
		Lockout: identity.LockoutPolicy{Threshold: 3, IPThreshold: 10_000}})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, f: f, ids: ids, dir: tenants.NewDirectory(f.Platform, "localhost"),
		svc: tenants.NewService(f.App, "localhost"), tenant: map[string]uuid.UUID{}}
	w.app = httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	w.app.Use(func(c *fiber.Ctx) error { // what apps/api does for audit entries
		if ip, err := netip.ParseAddr(c.IP()); err == nil {
			c.SetUserContext(audit.WithIP(c.UserContext(), ip))
		}
		return c.Next()
	})
	w.app.Use("/v1/storefront", tenants.ByHost(w.svc))
	tenants.Routes(httpx.NewAPI(w.app, "test", "0", ""), w.svc)
	if err := web.Assets(w.app); err != nil {
		t.Fatal(err)
	}
	w.app.Use(admin.Prefix, identity.Authenticate(ids, identity.StaffCookie), identity.RequireCSRF(ids))
	w.promos = promotions.NewService(f.App, audit.Recorder{})
	deps := admin.Deps{Identity: ids, Enforcer: enf, Directory: w.dir, Tenants: w.svc,
		Platform: f.Platform, FlashKey: flashKey, BaseHost: "localhost", PublicPort: port, Promotions: w.promos}
	for _, o := range opts {
		o(&deps)
	}
	if err := admin.Routes(w.app, deps); err != nil {
		t.Fatal(err)
	}
	page, err := w.dir.List(ctx, tenants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		w.tenant[tn.Slug] = tn.ID
	}
	return w
}

// totpAt computes the RFC 6238 code of a base32 secret at t, as an authenticator app would.
func totpAt(secret string, t time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.ReplaceAll(secret, " ", "")))
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	o := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[o:o+4])&0x7fffffff)%1_000_000)
}

// client is a browser without JavaScript: a cookie jar over app.Test that does not follow
// redirects.
type client struct {
	w       *world
	cookies map[string]string
	csrf    string
	lang    string
}

func (w *world) anonymous() *client { return &client{w: w, cookies: map[string]string{}} }

// signIn signs a demo staff user in through identity (enrolling a platform user's
// authenticator on the way) and returns a client holding the session.
func (w *world) signIn(email string) *client {
	w.t.Helper()
	ctx := context.Background()
	res, err := w.ids.LoginStaff(ctx, identity.StaffLogin{Email: email, Password: demo.Password, IP: "10.0.0.1"})
	if err != nil {
		w.t.Fatalf("sign in %s: %v", email, err)
	}
	if res.Step == identity.StepEnrollTOTP {
		if res, err = w.ids.CompleteStaffLogin(ctx, res.Challenge, totpAt(res.Enrollment.Secret, time.Now()), "10.0.0.1", "test"); err != nil {
			w.t.Fatalf("enroll %s: %v", email, err)
		}
	}
	if res.Step != identity.StepDone {
		w.t.Fatalf("sign in %s: step %s", email, res.Step)
	}
	c := w.anonymous()
	c.cookies[w.ids.CookieName(identity.StaffCookie)] = res.Token
	c.csrf = w.ids.CSRFToken(res.Session.ID)
	return c
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) location() string { return r.header.Get("Location") }

func (c *client) get(path string) response {
	c.w.t.Helper()
	return c.do("GET", path, nil, nil)
}

// post sends a form with the client's CSRF token.
func (c *client) post(path string, form url.Values) response {
	c.w.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if c.csrf != "" && !form.Has("_csrf") {
		form.Set("_csrf", c.csrf)
	}
	return c.do("POST", path, form, nil)
}

func (c *client) do(method, path string, form url.Values, header http.Header) response {
	c.w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if c.lang != "" {
		req.AddCookie(&http.Cookie{Name: web.LocaleCookie, Value: c.lang})
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.w.app.Test(req, 30_000)
	if err != nil {
		c.w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Value == "" || ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// follow GETs where a redirect points.
func (c *client) follow(r response) response {
	c.w.t.Helper()
	if r.status != fiber.StatusSeeOther {
		c.w.t.Fatalf("want a 303, got %d: %s", r.status, abbreviate(r.body))
	}
	return c.get(r.location())
}

var (
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE  = regexp.MustCompile(`\s+`)
	rawKeyRE = regexp.MustCompile(`\b(admin|auth|form|nav|status|action)\.[a-z_]+\.?[a-z_]*\b`)
)

// text is the visible text of an HTML page (tags dropped, entities decoded, spaces folded).
func text(s string) string {
	s = regexp.MustCompile(`(?s)<(script|style|title)[^>]*>.*?</(script|style|title)>`).ReplaceAllString(s, " ")
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(s, " ")), " "))
}

// element returns the inner HTML of the first element with id, up to the first closing tag
// of its kind (enough for the pages' elements, which do not nest their own tag).
func element(page, id string) string {
	m := regexp.MustCompile(`<(\w+)[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindStringSubmatchIndex(page)
	if m == nil {
		return ""
	}
	rest := page[m[1]:]
	end := strings.Index(rest, "</"+page[m[2]:m[3]]+">")
	if end < 0 {
		return ""
	}
	return html.UnescapeString(rest[:end])
}

// inputValue is the value of the named input (hidden or not).
func inputValue(page, name string) string {
	re := regexp.MustCompile(`<input[^>]*name="` + regexp.QuoteMeta(name) + `"[^>]*value="([^"]*)"`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// checkPage fails on what every page must get right: one h1, no message key shown as text.
func checkPage(t *testing.T, what string, r response) {
	t.Helper()
	if n := strings.Count(r.body, "<h1"); n != 1 {
		t.Errorf("%s: %d <h1> elements, want 1", what, n)
	}
	if k := rawKeyRE.FindString(text(r.body)); k != "" {
		t.Errorf("%s: untranslated message key %q on the page", what, k)
	}
}

func abbreviate(s string) string {
	s = text(s)
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
