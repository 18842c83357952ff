package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

var errWidgetMissing = fault.New(fault.NotFound, "widget_not_found", "widget not found")

func newApp(t *testing.T) *fiber.App {
	t.Helper()
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1024})
	app.Get("/fiber/missing", func(*fiber.Ctx) error { return errWidgetMissing })
	app.Get("/fiber/secret", func(*fiber.Ctx) error { return errors.New("pq: password authentication failed for user secret") })
	app.Get("/fiber/panic", func(*fiber.Ctx) error { panic("boom") })
	app.Post("/fiber/echo", func(c *fiber.Ctx) error { return c.Send(c.Body()) })
	api := httpx.NewAPI(app, "test", "1", "")
	type in struct {
		ID   string `path:"id"`
		Body struct {
			Name string `json:"name" minLength:"1"`
		}
	}
	type out struct{ Body struct{ Name string } }
	httpx.Register(api, huma.Operation{OperationID: "put-widget", Method: http.MethodPut, Path: "/v1/widgets/{id}"},
		func(_ context.Context, i *in) (*out, error) {
			switch i.ID {
			case "missing":
				return nil, errWidgetMissing
			case "broken":
				return nil, errors.New("dial tcp 10.0.0.7:5432: connection refused")
			case "wrapped":
				return nil, errors.Join(errors.New("context"), fault.Fields(map[string]string{"body.name": "taken"}))
			}
			o := &out{}
			o.Body.Name = i.Body.Name
			return o, nil
		})
	return app
}

type problem struct {
	Type, Title, Detail, Code, RequestID string
	Status                               int
	Errors                               []fault.FieldError
}

func do(t *testing.T, app *fiber.App, req *http.Request) (*http.Response, problem, string) {
	t.Helper()
	resp, err := app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	var p problem
	if strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("problem body %q: %v", b, err)
		}
		var raw map[string]any
		_ = json.Unmarshal(b, &raw)
		p.RequestID, _ = raw["request_id"].(string)
	}
	return resp, p, string(b)
}

func TestErrorsAreProblems(t *testing.T) {
	app := newApp(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, mustNotContain     string
	}{
		{"domain error from fiber", "GET", "/fiber/missing", "", 404, "widget_not_found", ""},
		{"domain error from huma", "PUT", "/v1/widgets/missing", `{"name":"a"}`, 404, "widget_not_found", ""},
		{"internal error hidden (fiber)", "GET", "/fiber/secret", "", 500, "", "password"},
		{"internal error hidden (huma)", "PUT", "/v1/widgets/broken", `{"name":"a"}`, 500, "", "10.0.0.7"},
		{"panic recovered", "GET", "/fiber/panic", "", 500, "", "boom"},
		{"wrapped field errors", "PUT", "/v1/widgets/wrapped", `{"name":"a"}`, 400, "invalid_input", ""},
		{"validation", "PUT", "/v1/widgets/x", `{"name":""}`, 422, "", ""},
		{"unknown field rejected", "PUT", "/v1/widgets/x", `{"name":"a","tenant_id":"x"}`, 422, "", ""},
		{"malformed json", "PUT", "/v1/widgets/x", `{"name":`, 400, "", ""},
		{"no route", "GET", "/nowhere", "", 404, "", ""},
		{"wrong method", "DELETE", "/fiber/missing", "", 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, p, raw := do(t, app, req)
			if resp.StatusCode != tc.status || p.Status != tc.status {
				t.Fatalf("status %d, problem status %d, want %d: %s", resp.StatusCode, p.Status, tc.status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("content type %q", ct)
			}
			if p.Title == "" {
				t.Errorf("problem without title: %s", raw)
			}
			if tc.code != "" && p.Code != tc.code {
				t.Errorf("code %q, want %q", p.Code, tc.code)
			}
			if tc.mustNotContain != "" && strings.Contains(raw, tc.mustNotContain) {
				t.Errorf("internal detail leaked: %s", raw)
			}
			if tc.status == 500 && (p.RequestID == "" || p.RequestID != resp.Header.Get(httpx.RequestIDHeader)) {
				t.Errorf("500 must carry the request id of the X-Request-ID header: %s", raw)
			}
		})
	}
}

// The body limit is enforced while reading the request, before any handler: test it over a
// real socket, as a client meets it.
func TestBodyOverLimitIs413(t *testing.T) {
	app := newApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { _ = app.Shutdown() })
	url := "http://" + ln.Addr().String() + "/fiber/echo"
	resp, err := http.Post(url, "text/plain", strings.NewReader(strings.Repeat("x", 2048)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("over the limit: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var p struct {
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal(b, &p)
	if p.RequestID == "" || p.RequestID != resp.Header.Get(httpx.RequestIDHeader) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a refused body must still carry a request id and security headers: %v %s", resp.Header, b)
	}
	resp, err = http.Post(url, "text/plain", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("under the limit: %d", resp.StatusCode)
	}
}

func TestRequestIDAndSecurityHeaders(t *testing.T) {
	app := newApp(t)
	req := httptest.NewRequest("GET", "/fiber/missing", nil)
	req.Header.Set(httpx.RequestIDHeader, "lb-abc-12345678")
	resp, p, _ := do(t, app, req)
	if got := resp.Header.Get(httpx.RequestIDHeader); got != "lb-abc-12345678" || p.RequestID != got {
		t.Errorf("well-formed inbound id not kept: header %q, problem %q", got, p.RequestID)
	}
	req = httptest.NewRequest("GET", "/fiber/missing", nil)
	req.Header.Set(httpx.RequestIDHeader, "<script>")
	resp, _, _ = do(t, app, req)
	if got := resp.Header.Get(httpx.RequestIDHeader); got == "<script>" || uuid.Validate(got) != nil {
		t.Errorf("malformed inbound id must be replaced by a uuid, got %q", got)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "strict-origin-when-cross-origin",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("no Content-Security-Policy")
	}
}

func TestPageParams(t *testing.T) {
	for limit, want := range map[int]int{0: 20, -5: 20, 1: 1, 100: 100, 100000: 100} {
		if got := (httpx.PageParams{Limit: limit}).Size(); got != want {
			t.Errorf("limit %d: size %d, want %d", limit, got, want)
		}
	}
	rows := []int{1, 2, 3, 4}
	p := httpx.PageOf(rows, httpx.PageParams{Limit: 3}, func(i int) any { return i })
	if len(p.Items) != 3 || p.NextCursor == "" {
		t.Fatalf("page of 4 rows with limit 3: %+v", p)
	}
	var key int
	if first, err := httpx.DecodeCursor(p.NextCursor, &key); first || err != nil || key != 3 {
		t.Errorf("cursor round trip: first=%v err=%v key=%d", first, err, key)
	}
	if last := httpx.PageOf(rows[:2], httpx.PageParams{Limit: 3}, func(i int) any { return i }); last.NextCursor != "" {
		t.Error("last page must have no cursor")
	}
	if _, err := httpx.DecodeCursor("!!not-base64", &key); !errors.Is(err, httpx.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	if empty := httpx.PageOf[int](nil, httpx.PageParams{}, nil); empty.Items == nil {
		t.Error("an empty page must encode items as [] not null")
	}
}

// idemApp counts how often the handler really ran.
func idemApp(t *testing.T, tenant uuid.UUID) (*fiber.App, *atomic.Int64, *dbtest.Fixture) {
	t.Helper()
	f := dbtest.New(t)
	var runs atomic.Int64
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	app.Use(func(c *fiber.Ctx) error {
		ctx := scope.WithActor(c.UserContext(), scope.Actor("apikey:"+c.Get("X-Test-Key")))
		if tenant != uuid.Nil {
			ctx = scope.WithTenant(ctx, tenant)
		}
		c.SetUserContext(ctx)
		return c.Next()
	})
	app.Use(httpx.Idempotency(f.App, time.Hour))
	app.Post("/orders", func(c *fiber.Ctx) error {
		n := runs.Add(1)
		time.Sleep(20 * time.Millisecond)
		if string(c.Body()) == "fail" {
			return errors.New("database on fire")
		}
		return c.Status(201).JSON(fiber.Map{"order": n, "body": string(c.Body())})
	})
	return app, &runs, f
}

func post(t *testing.T, app *fiber.App, key, principal, body string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
	if key != "" {
		req.Header.Set(httpx.IdempotencyHeader, key)
	}
	req.Header.Set("X-Test-Key", principal)
	resp, _, raw := do(t, app, req)
	return resp, raw
}

func TestIdempotencyReplaysTheFirstResponse(t *testing.T) {
	tenant := uuid.Must(uuid.NewV7())
	app, runs, _ := idemApp(t, tenant)
	first, body1 := post(t, app, "k1", "a", `{"x":1}`)
	again, body2 := post(t, app, "k1", "a", `{"x":1}`)
	if first.StatusCode != 201 || again.StatusCode != 201 || body1 != body2 {
		t.Fatalf("replay differs: %d %s / %d %s", first.StatusCode, body1, again.StatusCode, body2)
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || runs.Load() != 1 {
		t.Errorf("handler ran %d times, replay header %q", runs.Load(), again.Header.Get("Idempotent-Replayed"))
	}
	// Another caller with the same key is a different request.
	if other, _ := post(t, app, "k1", "b", `{"x":1}`); other.StatusCode != 201 || other.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another principal's key was replayed")
	}
	// Same key, different body: refused, nothing run.
	before := runs.Load()
	if mis, raw := post(t, app, "k1", "a", `{"x":2}`); mis.StatusCode != 422 || !strings.Contains(raw, "idempotency_key_reused") {
		t.Errorf("reuse with another body: %d %s", mis.StatusCode, raw)
	}
	if runs.Load() != before {
		t.Error("a refused request ran the handler")
	}
	// No key: runs every time.
	post(t, app, "", "a", `{}`)
	post(t, app, "", "a", `{}`)
	if runs.Load() != before+2 {
		t.Errorf("requests without a key must run each time")
	}
	if tooLong, _ := post(t, app, strings.Repeat("k", 256), "a", `{}`); tooLong.StatusCode != 400 {
		t.Errorf("256-character key: %d, want 400", tooLong.StatusCode)
	}
}

func TestIdempotencyConcurrentDuplicatesRunOnce(t *testing.T) {
	app, runs, _ := idemApp(t, uuid.Must(uuid.NewV7()))
	var wg sync.WaitGroup
	var ok, inProgress, other atomic.Int64
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := post(t, app, "same", "a", `{"x":1}`)
			switch resp.StatusCode {
			case 201:
				ok.Add(1)
			case 409:
				inProgress.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 || other.Load() != 0 || ok.Load()+inProgress.Load() != 20 {
		t.Errorf("handler ran %d times; 201=%d 409=%d other=%d", runs.Load(), ok.Load(), inProgress.Load(), other.Load())
	}
}

func TestIdempotencyForgetsServerErrors(t *testing.T) {
	app, runs, _ := idemApp(t, uuid.Nil) // platform scope: no tenant
	if r, _ := post(t, app, "k", "a", "fail"); r.StatusCode != 500 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if r, _ := post(t, app, "k", "a", "fail"); r.StatusCode != 500 || runs.Load() != 2 {
		t.Errorf("a 5xx answer must not be replayed: ran %d times", runs.Load())
	}
}

func TestIdempotencyKeysAreTenantScopedAndPurged(t *testing.T) {
	tenant := uuid.Must(uuid.NewV7())
	app, _, f := idemApp(t, tenant)
	post(t, app, "k", "a", `{}`)
	ctx := context.Background()
	count := func(id uuid.UUID) (n int) {
		t.Helper()
		if err := f.App.WithTenant(ctx, id, func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM idempotency_keys").Scan(ctx, &n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(tenant) != 1 || count(uuid.Must(uuid.NewV7())) != 0 {
		t.Fatalf("record not stored under its tenant only")
	}
	err := f.Platform.Do(ctx, "test.expire", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := httpx.PurgeIdempotencyKeys(scope.WithActor(ctx, "system:test"), f.Platform)
	if err != nil || n != 1 || count(tenant) != 0 {
		t.Errorf("purge removed %d (err %v), %d left", n, err, count(tenant))
	}
}

// X-Forwarded-For counts only from a trusted proxy.
func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	for _, tc := range []struct {
		trusted []string
		want    string
	}{
		{nil, "0.0.0.0"},                  // app.Test's peer; the header is ignored
		{[]string{"10.9.9.9"}, "0.0.0.0"}, // the peer is not that proxy
		{[]string{"0.0.0.0"}, "203.0.113.7"},
	} {
		app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1024, TrustedProxies: tc.trusted})
		app.Get("/ip", func(c *fiber.Ctx) error { return c.SendString(c.IP()) })
		req := httptest.NewRequest("GET", "/ip", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != tc.want {
			t.Errorf("trusted %v: IP %q, want %q", tc.trusted, b, tc.want)
		}
	}
}
