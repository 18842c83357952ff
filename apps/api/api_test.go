package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"mercato/apps/api"
	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/inventory"
	"mercato/tenants/merchants"
	"mercato/tenants/promotions"
	"mercato/tenants/search"
	"mercato/tenants/staff"
)

var lots = httpx.Limit{Rate: 10_000, Per: time.Second, Burst: 10_000}

// world is the demo marketplace served by the real middleware chain.
type world struct {
	t        *testing.T
	app      *fiber.App
	ids      *identity.Service
	enforcer *authz.Enforcer
	dir      *tenants.Directory
	f        *dbtest.Fixture
	tenant   map[string]uuid.UUID            // slug → id
	merchant map[string]map[string]uuid.UUID // slug → handle → id
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldLimited(t, api.RateLimits{Flood: lots, Authenticated: lots, Anonymous: lots})
}

// newWorldLimited is the world with the given rate limits.
func newWorldLimited(t *testing.T, limits api.RateLimits) *world {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(f.App, identity.Config{SecretKey: strings.Repeat("k", 40), Issuer: "http://localhost:8080", Mailer: &identity.CaptureMailer{}})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 13})
	t.Cleanup(func() { rdb.Close() })
	cors, _ := httpx.CORS(nil)
	w := &world{t: t, ids: ids, enforcer: enf, f: f, dir: tenants.NewDirectory(f.Platform, "localhost"),
		tenant: map[string]uuid.UUID{}, merchant: map[string]map[string]uuid.UUID{}}
	w.app, err = api.New(api.Deps{
		Log: slog.New(slog.DiscardHandler), DB: f.App, Identity: ids, Enforcer: enf,
		Tenants: tenants.NewService(f.App, "localhost"), Directory: w.dir,
		Merchants: merchants.NewService(f.App, tenants.NewPlanPolicy(pol), audit.Recorder{}),
		Staff: staff.NewService(f.App, staff.Config{Accounts: ids, Audit: audit.Recorder{}, Mailer: &identity.CaptureMailer{}, Permissions: enf,
			SetPasswordURL: "http://localhost:8080/console/set-password", ConsoleURL: "http://localhost:8080/console"}),
		Inventory: inventory.NewService(f.App, audit.Recorder{}),
		// Every route × every role from one address: far more than a client's budget.
		Limits:  &limits,
		Catalog: catalog.NewService(f.App, pol, audit.Recorder{}),
		Search:  search.NewService(f.App),
		// A prefix per test: the budget is generous and not what these tests are about.
		Limiter: httpx.NewRateLimiter(rdb, "test:"+uuid.NewString()+":"), CORS: cors,
		Metrics: prometheus.NewRegistry(), Checks: map[string]api.Check{}, BodyLimit: 1 << 20,
		// The storefront cart and the promotions API, for the route walk.
		Promotions: promotions.NewService(f.App, audit.Recorder{}),
		Cart:       cart.NewService(f.App, catalog.NewService(f.App, pol, audit.Recorder{}), promotions.NewService(f.App, audit.Recorder{})),
		Orders:     ordersService(f.App, pol),
		Fulfillment: fulfillment.NewService(f.App, fulfillment.Config{Audit: audit.Recorder{}, Orders: ordersService(f.App, pol),
			Platform: f.Platform}),
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := w.dir.List(ctx, tenants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		w.tenant[tn.Slug] = tn.ID
		w.merchant[tn.Slug] = map[string]uuid.UUID{}
		err := f.App.WithTenant(ctx, tn.ID, func(tx bun.IDB) error {
			var rows []struct {
				ID     uuid.UUID `bun:"id"`
				Handle string    `bun:"handle"`
			}
			if err := tx.NewRaw("SELECT id, handle FROM merchants").Scan(ctx, &rows); err != nil {
				return err
			}
			for _, r := range rows {
				w.merchant[tn.Slug][r.Handle] = r.ID
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// caller is a signed-in role, or anonymous.
type caller struct {
	name, role, domain string // domain: a tenant id or "platform"; "" for anonymous
	cookie, csrf       string
	tenantHeader       string
}

// totp computes the current RFC 6238 code for a base32 secret, as an authenticator app would.
func totp(secret string) string {
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(time.Now().Unix()/30))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	o := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[o:o+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1_000_000)
}

func (w *world) signIn(email string) (cookie, csrf string) {
	w.t.Helper()
	ctx := context.Background()
	res, err := w.ids.LoginStaff(ctx, identity.StaffLogin{Email: email, Password: demo.Password, IP: "10.0.0.1"})
	if err != nil {
		w.t.Fatalf("sign in %s: %v", email, err)
	}
	if res.Step == identity.StepEnrollTOTP {
		if res, err = w.ids.CompleteStaffLogin(ctx, res.Challenge, totp(res.Enrollment.Secret), "10.0.0.1", "test"); err != nil {
			w.t.Fatalf("enroll %s: %v", email, err)
		}
	}
	if res.Step != identity.StepDone {
		w.t.Fatalf("sign in %s: step %s", email, res.Step)
	}
	return w.ids.CookieName(identity.StaffCookie) + "=" + res.Token, w.ids.CSRFToken(res.Session.ID)
}

func (w *world) callers() []caller {
	lumen := w.tenant["lumen"].String()
	var out []caller
	for _, s := range demo.Staff {
		if s.Tenant != "" && s.Tenant != "lumen" {
			continue
		}
		c := caller{name: s.Email, role: s.Role, domain: lumen, tenantHeader: lumen}
		if s.PlatformRole != "" {
			c.role, c.domain, c.tenantHeader = s.PlatformRole, authz.PlatformDomain, ""
		}
		c.cookie, c.csrf = w.signIn(s.Email)
		out = append(out, c)
	}
	return append(out, caller{name: "anonymous"})
}

func (w *world) do(c caller, method, path, body string, host string) (int, string) {
	w.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if host != "" {
		req.Host = host
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
		req.Header.Set(identity.CSRFHeader, c.csrf)
	}
	if c.tenantHeader != "" {
		req.Header.Set(api.TenantHeader, c.tenantHeader)
	}
	resp, err := w.app.Test(req, 10_000)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// operations lists every /v1 operation in the OpenAPI document.
func (w *world) operations() []*huma.Operation {
	w.t.Helper()
	_, raw := w.do(caller{}, "GET", "/openapi.json", "", "")
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		w.t.Fatal(err)
	}
	var ops []*huma.Operation
	for path, methods := range spec.Paths {
		for method, rawOp := range methods {
			var op struct {
				Security []map[string][]string `json:"security"` // [] marks a public operation
			}
			if err := json.Unmarshal(rawOp, &op); err != nil {
				w.t.Fatal(err)
			}
			ops = append(ops, &huma.Operation{Method: strings.ToUpper(method), Path: path, Security: op.Security})
		}
	}
	if len(ops) < 10 {
		w.t.Fatalf("only %d operations in the document", len(ops))
	}
	return ops
}

func fill(path string, ids map[string]string) string {
	for k, v := range ids {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	return path
}

func policyObject(path string) string {
	var parts []string
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if strings.HasPrefix(seg, "{") {
			seg = ":" + strings.Trim(seg, "{}")
		}
		parts = append(parts, seg)
	}
	return "/" + strings.Join(parts, "/")
}

// Every route × every role: no combination the Casbin policy denies answers 2xx.
func TestFunctionLevelAuthorization(t *testing.T) {
	w := newWorld(t)
	callers := w.callers()
	lumen := w.tenant["lumen"]
	pending := w.merchant["lumen"]["paper-lantern"]
	checked, denied := 0, 0
	for _, op := range w.operations() {
		public := op.Security != nil && len(op.Security) == 0
		for _, c := range callers {
			path := fill(op.Path, map[string]string{"id": pending.String(), "action": "approve"})
			if strings.HasPrefix(op.Path, "/v1/tenants/") {
				path = fill(op.Path, map[string]string{"id": lumen.String()})
			}
			if op.Method == http.MethodDelete {
				path += "?confirm=wrong-slug" // never really delete: the slug does not match
			}
			status, body := w.do(c, op.Method, path, `{}`, "lumen.localhost")
			checked++
			allowed := public
			if !public && c.role != "" {
				action := map[string]string{"GET": authz.ActionRead, "DELETE": authz.ActionDelete}[op.Method]
				if action == "" {
					action = authz.ActionWrite
				}
				allowed, _ = w.enforcer.EnforceRole(c.role, c.domain, policyObject(op.Path), action)
			}
			if !allowed {
				denied++
				if status < 300 {
					t.Errorf("%s %s as %s (%s): %d %s — the policy denies it", op.Method, op.Path, c.name, c.role, status, body)
				}
			}
			// An operator may have suspended lumen earlier in the walk; its storefront routes then
			// answer 503 before anyone is authenticated (tenant by host comes first).
			suspendedStorefront := strings.HasPrefix(op.Path, "/v1/storefront") && status == http.StatusServiceUnavailable
			if c.role == "" && !public && status != http.StatusUnauthorized && !suspendedStorefront {
				t.Errorf("%s %s anonymous: %d, want 401", op.Method, op.Path, status)
			}
		}
	}
	t.Logf("%d route × role combinations, %d denied by the policy, 0 of them answered 2xx", checked, denied)
}

var instanceField = regexp.MustCompile(`"instance":"[^"]*"`)

// Tenant A's staff with tenant B's ids in path, query and body: nothing of B comes back, and
// the answer is 404.
func TestCrossTenantWalk(t *testing.T) {
	w := newWorld(t)
	owner := w.callers()[2] // owner@lumen-goods.test
	if owner.role != "tenant_owner" {
		t.Fatalf("caller order changed: %+v", owner)
	}
	bTenant := w.tenant["panda"]
	bMerchant := w.merchant["panda"]["jade-studio"]
	leaks, n := 0, 0
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/merchants/" + bMerchant.String(), ""},
		{"POST", "/v1/merchants/" + bMerchant.String() + "/suspend", `{}`},
		{"POST", "/v1/merchants/" + bMerchant.String() + "/approve", `{"note":"x"}`},
		{"GET", "/v1/tenants/" + bTenant.String(), ""},
		{"POST", "/v1/tenants/" + bTenant.String() + "/suspend", `{}`},
		{"GET", "/v1/tenants/" + bTenant.String() + "/export", ""},
		{"DELETE", "/v1/tenants/" + bTenant.String() + "?confirm=panda", ""},
		{"GET", "/v1/tenants", ""},
	} {
		status, body := w.do(owner, tc.method, tc.path, tc.body, "")
		n++
		body = instanceField.ReplaceAllString(body, "") // the problem echoes the path the caller sent
		if strings.Contains(body, bMerchant.String()) || strings.Contains(body, bTenant.String()) || strings.Contains(body, "panda") {
			leaks++
			t.Errorf("%s %s leaked tenant B: %d %s", tc.method, tc.path, status, body)
		}
		if status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404 %s", tc.method, tc.path, status, body)
		}
	}
	// B's id in X-Tenant-ID: A's owner is no member of B.
	spoof := owner
	spoof.tenantHeader = bTenant.String()
	if status, body := w.do(spoof, "GET", "/v1/merchants", "", ""); status != http.StatusNotFound || strings.Contains(body, "jade") {
		t.Errorf("X-Tenant-ID of another tenant: %d %s", status, body)
	}
	// Listing stays inside A.
	_, body := w.do(owner, "GET", "/v1/merchants?limit=100000", "", "")
	if strings.Contains(body, bMerchant.String()) || !strings.Contains(body, "northwind-lighting") {
		t.Errorf("merchant list: %s", body)
	}
	// B is untouched.
	if got, err := w.dir.Get(context.Background(), bTenant); err != nil || got.Status != tenants.StatusActive {
		t.Errorf("tenant B after the walk: %v %+v", err, got)
	}
	t.Logf("%d cross-tenant requests, %d leaks", n, leaks)
}

// Merchant staff see and change only their own merchant.
func TestMerchantScope(t *testing.T) {
	w := newWorld(t)
	var packer caller
	for _, c := range w.callers() {
		if c.name == "owner@northwind.test" {
			packer = c
		}
	}
	own, other := w.merchant["lumen"]["northwind-lighting"], w.merchant["lumen"]["oak-and-ash"]
	if status, body := w.do(packer, "GET", "/v1/merchants/"+own.String(), "", ""); status != 200 {
		t.Errorf("own merchant: %d %s", status, body)
	}
	if status, _ := w.do(packer, "GET", "/v1/merchants/"+other.String(), "", ""); status != 404 {
		t.Errorf("another merchant: %d, want 404", status)
	}
	_, body := w.do(packer, "GET", "/v1/merchants", "", "")
	if strings.Contains(body, other.String()) || !strings.Contains(body, own.String()) {
		t.Errorf("list in merchant scope: %s", body)
	}
}

// Fields a caller may not set are refused, not saved or echoed.
func TestMassAssignment(t *testing.T) {
	w := newWorld(t)
	status, body := w.do(caller{}, "POST", "/v1/storefront/merchant-applications",
		`{"store_name":"Sneaky","handle":"sneaky","contact_email":"s@x.test","status":"active","tenant_id":"`+w.tenant["panda"].String()+`","role":"tenant_owner"}`,
		"lumen.localhost")
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown fields: %d %s", status, body)
	}
	status, body = w.do(caller{}, "POST", "/v1/storefront/merchant-applications",
		`{"store_name":"Honest","handle":"honest","contact_email":"h@x.test"}`, "lumen.localhost")
	if status != http.StatusCreated || !strings.Contains(body, `"status":"pending"`) {
		t.Fatalf("application: %d %s", status, body)
	}
	owner := w.callers()[2]
	_, list := w.do(owner, "GET", "/v1/merchants?status=active", "", "")
	if strings.Contains(list, "sneaky") {
		t.Errorf("the refused application was saved: %s", list)
	}
}

// A suspended tenant's storefront is unavailable and its writes are refused; reading and
// reactivation still work.
func TestSuspendedTenant(t *testing.T) {
	w := newWorld(t)
	callers := w.callers()
	operator, owner := callers[0], callers[2]
	lumen := w.tenant["lumen"]
	if status, body := w.do(operator, "POST", "/v1/tenants/"+lumen.String()+"/suspend", `{}`, ""); status != 200 {
		t.Fatalf("suspend: %d %s", status, body)
	}
	if status, body := w.do(caller{}, "GET", "/v1/storefront", "", "lumen.localhost"); status != http.StatusServiceUnavailable || !strings.Contains(body, "tenant_suspended") {
		t.Errorf("storefront of a suspended tenant: %d %s", status, body)
	}
	pending := w.merchant["lumen"]["paper-lantern"]
	if status, body := w.do(owner, "POST", "/v1/merchants/"+pending.String()+"/approve", `{}`, ""); status != http.StatusForbidden || !strings.Contains(body, "tenant_suspended") {
		t.Errorf("write to a suspended tenant: %d %s", status, body)
	}
	if status, _ := w.do(owner, "GET", "/v1/merchants", "", ""); status != 200 {
		t.Errorf("reads of a suspended tenant: %d", status)
	}
	if status, _ := w.do(operator, "POST", "/v1/tenants/"+lumen.String()+"/reactivate", `{}`, ""); status != 200 {
		t.Fatal("reactivate")
	}
	if status, body := w.do(owner, "POST", "/v1/merchants/"+pending.String()+"/approve", `{}`, ""); status != 200 {
		t.Errorf("write after reactivation: %d %s", status, body)
	}
}

// Cookie-authenticated writes need the session's CSRF token; API keys act within their scopes.
func TestCSRFAndKeyScopes(t *testing.T) {
	w := newWorld(t)
	owner := w.callers()[2]
	pending := w.merchant["lumen"]["paper-lantern"]
	noToken := owner
	noToken.csrf = "forged"
	if status, body := w.do(noToken, "POST", "/v1/merchants/"+pending.String()+"/approve", `{}`, ""); status != http.StatusForbidden || !strings.Contains(body, "csrf") {
		t.Errorf("without the CSRF token: %d %s", status, body)
	}
	ctx := context.Background()
	readKey, _, err := w.ids.CreateAPIKey(ctx, w.tenant["lumen"], uuid.Nil, "reader", []string{"merchants:read"}, "user:test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/merchants", 200},
		{"POST", "/v1/merchants/" + pending.String() + "/approve", 403},
		{"GET", "/v1/tenants", 404},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+readKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := w.app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("read-only key %s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.want)
		}
	}
}
