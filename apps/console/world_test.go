package console_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/console"
	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/blob"
	"mercato/platform/db/dbtest"
	"mercato/platform/devservices"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/merchants"
	"mercato/tenants/staff"
)

// world is the demo marketplace behind the console, served by the real middleware chain.
type world struct {
	t         *testing.T
	app       *fiber.App
	f         *dbtest.Fixture
	ids       *identity.Service
	mail      *identity.CaptureMailer
	staff     *staff.Service
	merchants *merchants.Service
	dir       *tenants.Directory
	catalog   *catalog.Service
	inventory *inventory.Service
	blob      *blob.Store
	clock     *clock
	baseHost  string               // "localhost:<port>"
	URL       string               // http://localhost:<port>, when listening
	tenant    map[string]uuid.UUID // slug → id
	merchant  map[string]uuid.UUID // handle → id
	users     map[string]uuid.UUID // e-mail → staff user id
	member    map[string]uuid.UUID // "slug/e-mail" → first membership id
}

type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

var flashKey = []byte("0123456789abcdef0123456789abcdef-console")

// newWorld builds the console over a fresh demo database. With listen, it also serves on a
// loopback port, for the browser.
func newWorld(t *testing.T, listen bool) *world {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, f: f, mail: &identity.CaptureMailer{}, clock: &clock{}, baseHost: "localhost:8080",
		tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{}, users: map[string]uuid.UUID{}, member: map[string]uuid.UUID{}}
	var ln net.Listener
	if listen {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		w.baseHost = fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port)
		w.URL = "http://" + w.baseHost
	}
	ids, err := identity.New(f.App, identity.Config{SecretKey: strings.Repeat("k", 40), Issuer: "http://" + w.baseHost, Mailer: w.mail})
	if err != nil {
		t.Fatal(err)
	}
	w.ids = ids
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.merchants = merchants.NewService(f.App, tenants.NewPlanPolicy(pol), audit.Recorder{})
	w.staff = staff.NewService(f.App, staff.Config{Accounts: ids, Audit: audit.Recorder{}, Mailer: w.mail,
		SetPasswordURL: "http://" + w.baseHost + "/console/set-password", ConsoleURL: "http://" + w.baseHost + "/console", Now: w.clock.Now,
		Seats: tenants.NewPlanPolicy(pol)})
	w.dir = tenants.NewDirectory(f.Platform, "localhost")

	w.app = httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(w.app); err != nil {
		t.Fatal(err)
	}
	w.app.Use(console.Prefix, identity.Authenticate(ids, identity.StaffCookie))
	w.catalog = catalog.NewService(f.App, pol, audit.Recorder{})
	w.inventory = inventory.NewService(f.App, audit.Recorder{})
	w.blob = mediaStore(t)
	if err := console.Routes(w.app, console.Deps{
		Identity: ids, Enforcer: enf, Tenants: tenants.NewService(f.App, "localhost"), Merchants: w.merchants, Staff: w.staff,
		DB: f.App, Mailer: w.mail, FlashKey: flashKey, BaseHost: w.baseHost, Log: slog.New(slog.DiscardHandler),
		Catalog: w.catalog, Inventory: w.inventory, Blob: w.blob,
	}); err != nil {
		t.Fatal(err)
	}
	if listen {
		go func() { _ = w.app.Listener(ln) }()
		t.Cleanup(func() { _ = w.app.ShutdownWithTimeout(5 * time.Second) })
	}
	w.reload()
	return w
}

// mediaStore is the bucket product images go to: the MinIO the project starts on loopback
// (built once into .bin, shared by every test package), never a stand-in.
func mediaStore(t *testing.T) *blob.Store {
	t.Helper()
	root, err := devservices.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	svc, err := devservices.Ensure(ctx, devservices.Options{Root: root, MinIO: true, Detach: true})
	if err != nil {
		t.Fatalf("devservices: %v", err)
	}
	store, err := blob.Open(blob.Options{Endpoint: svc.MinIOEndpoint, AccessKey: svc.MinIOAccessKey, SecretKey: svc.MinIOSecretKey, Bucket: "mercato-media"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// reload reads the ids of tenants, merchants, staff and memberships as the platform sees them.
func (w *world) reload() {
	w.t.Helper()
	ctx := context.Background()
	err := w.f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		var rows []struct {
			Kind, Key string
			ID        uuid.UUID
		}
		if err := tx.NewRaw(`
			SELECT 'tenant' AS kind, slug AS key, id FROM tenants
			UNION ALL SELECT 'merchant', handle, id FROM merchants
			UNION ALL SELECT 'user', email, id FROM staff_users
			UNION ALL (SELECT 'member', t.slug || '/' || u.email, m.id FROM memberships m
			  JOIN tenants t ON t.id = m.tenant_id JOIN staff_users u ON u.id = m.user_id ORDER BY m.id DESC)`).Scan(ctx, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			switch r.Kind {
			case "tenant":
				w.tenant[r.Key] = r.ID
			case "merchant":
				w.merchant[r.Key] = r.ID
			case "user":
				w.users[r.Key] = r.ID
			case "member":
				w.member[r.Key] = r.ID
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// who is a signed-in browser: its cookies and the CSRF token of its session.
type who struct {
	name    string
	cookies map[string]string
	csrf    string
}

var anonymous = &who{name: "anonymous", cookies: map[string]string{}}

// signIn signs email in with the demo password, as the login form would.
func (w *world) signIn(email string) *who {
	w.t.Helper()
	res, err := w.ids.LoginStaff(context.Background(), identity.StaffLogin{Email: email, Password: demo.Password, IP: "10.0.0.1"})
	if err != nil {
		w.t.Fatalf("sign in %s: %v", email, err)
	}
	if res.Step != identity.StepDone {
		w.t.Fatalf("sign in %s: step %s", email, res.Step)
	}
	return &who{name: email, cookies: map[string]string{w.ids.CookieName(identity.StaffCookie): res.Token},
		csrf: w.ids.CSRFToken(res.Session.ID)}
}

// response is what the console answered.
type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

// get and post send a request as u; post adds the CSRF token unless the form has one.
func (w *world) get(u *who, path string) response {
	w.t.Helper()
	return w.send(u, http.MethodGet, path, nil)
}

func (w *world) post(u *who, path string, form url.Values) response {
	w.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["_csrf"]; !set && u.csrf != "" {
		form.Set("_csrf", u.csrf)
	}
	return w.send(u, http.MethodPost, path, form)
}

func (w *world) send(u *who, method, path string, form url.Values) response {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	req.Host = w.baseHost
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var cookies []string
	for k, v := range u.cookies {
		cookies = append(cookies, k+"="+v)
	}
	if len(cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	resp, err := w.app.Test(req, 30_000)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	// The browser keeps what the response set (flash, current tenant, session).
	for _, c := range resp.Cookies() {
		if u == anonymous {
			break
		}
		if c.MaxAge < 0 || c.Value == "" {
			delete(u.cookies, c.Name)
		} else {
			u.cookies[c.Name] = c.Value
		}
	}
	return response{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

// follow GETs where a redirect points, as the same browser.
func (w *world) follow(u *who, r response) response {
	w.t.Helper()
	if r.status != http.StatusSeeOther {
		w.t.Fatalf("want a 303, got %d: %s", r.status, excerpt(r.body))
	}
	return w.get(u, r.location)
}

// text is the visible text of an HTML fragment, roughly: tags dropped, entities decoded,
// whitespace collapsed.
func text(html string) string {
	html = regexp.MustCompile(`(?s)<head>.*?</head>`).ReplaceAllString(html, " ")
	html = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(html, " ")
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`)
	return strings.Join(strings.Fields(r.Replace(html)), " ")
}

// flashOf is the flash message on a page.
func flashOf(html string) string {
	m := regexp.MustCompile(`(?s)<div class="flash flash-(?:success|error)">.*?<p>(.*?)</p>`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return text(m[1])
}

func excerpt(s string) string {
	s = text(s)
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// totp computes the current RFC 6238 code for a base32 secret, as an authenticator app would.
func totp(secret string, at time.Time) string {
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	o := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[o:o+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1_000_000)
}

// asStaff is a service context of a signed-in person, for arranging data in tests.
func (w *world) asStaff(email, merchantHandle string) context.Context {
	ctx := scope.WithActor(context.Background(), scope.Actor("user:"+w.users[email].String()))
	if merchantHandle != "" {
		ctx = scope.WithMerchant(ctx, w.merchant[merchantHandle])
	}
	return ctx
}

var setPasswordLink = regexp.MustCompile(`/console/set-password\?token=([A-Za-z0-9_.-]+)`)

// lastMail is the newest message to address.
func (w *world) lastMail(to string) identity.Message {
	w.t.Helper()
	msgs := w.mail.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			return msgs[i]
		}
	}
	w.t.Fatalf("no mail to %s", to)
	return identity.Message{}
}

// rawKeys finds catalogue keys that leaked into a page untranslated (code elements excepted:
// they show action names on purpose).
var rawKey = regexp.MustCompile(`\b(console|merchants|staff|apikeys|audit|settings|role|status|nav|overview|products|moderation|inventory)\.[a-z_]+(\.[a-z_]+)*\b`)

func leakedKeys(html string) []string {
	html = regexp.MustCompile(`(?s)<code[^>]*>.*?</code>`).ReplaceAllString(html, "")
	html = regexp.MustCompile(`(?s)<head>.*?</head>`).ReplaceAllString(html, "")
	html = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllStringFunc(html, func(tag string) string {
		// attributes that show text: aria-label, data-confirm, placeholder, title
		var keep []string
		for _, m := range regexp.MustCompile(`(?:aria-label|data-confirm|placeholder|title)="([^"]*)"`).FindAllStringSubmatch(tag, -1) {
			keep = append(keep, m[1])
		}
		return " " + strings.Join(keep, " ") + " "
	})
	return rawKey.FindAllString(html, -1)
}
