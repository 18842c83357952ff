package httpx_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/httpx"
)

const listedOrigin = "https://shop.example.com"

func corsApp(t *testing.T) *fiber.App {
	t.Helper()
	cors, err := httpx.CORS([]string{listedOrigin, "HTTP://Localhost:8080/", "https://console.example.com:443"})
	if err != nil {
		t.Fatal(err)
	}
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler)})
	app.Use("/v1", cors)
	app.Get("/v1/things", func(c *fiber.Ctx) error { return c.SendString("things") })
	app.Post("/v1/things", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusCreated) })
	return app
}

func TestCORS(t *testing.T) {
	app := corsApp(t)
	for _, tc := range []struct {
		name, method, origin, requestMethod string
		status                              int
		reflected                           bool // ACAO = origin and ACAC = true; else no Access-Control-* at all
	}{
		{"listed origin", "GET", listedOrigin, "", 200, true},
		{"listed origin, configured with upper case and slash", "GET", "http://localhost:8080", "", 200, true},
		{"listed origin, configured with default port", "POST", "https://console.example.com", "", 201, true},
		{"foreign origin proceeds unreflected", "GET", "https://evil.example", "", 200, false},
		{"foreign origin sharing a suffix", "GET", "https://shop.example.com.evil.example", "", 200, false},
		{"listed host, other scheme", "GET", "http://shop.example.com", "", 200, false},
		{"listed host, other port", "GET", "https://shop.example.com:8443", "", 200, false},
		{"null origin", "GET", "null", "", 200, false},
		{"no origin", "GET", "", "", 200, false},
		{"preflight from listed origin", "OPTIONS", listedOrigin, "DELETE", 204, true},
		{"preflight from foreign origin", "OPTIONS", "https://evil.example", "POST", 204, false},
		{"preflight from null origin", "OPTIONS", "null", "POST", 204, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/v1/things", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.requestMethod != "" {
				req.Header.Set("Access-Control-Request-Method", tc.requestMethod)
				req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
			}
			req.Header.Set("Cookie", "session=s")
			resp, _, _ := do(t, app, req)
			h := resp.Header
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %q lacks Origin", h.Values("Vary"))
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers missing: %v", h)
			}
			if !tc.reflected {
				for name := range h {
					if strings.HasPrefix(strings.ToLower(name), "access-control-") {
						t.Errorf("%s: %q given to an origin that is not listed", name, h.Get(name))
					}
				}
				return
			}
			if h.Get("Access-Control-Allow-Origin") != tc.origin || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("ACAO %q ACAC %q, want %q and true", h.Get("Access-Control-Allow-Origin"),
					h.Get("Access-Control-Allow-Credentials"), tc.origin)
			}
			if tc.method != "OPTIONS" {
				if !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
					t.Errorf("Expose-Headers %q lacks Retry-After", h.Get("Access-Control-Expose-Headers"))
				}
				return
			}
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
					t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
				}
			}
			for _, name := range []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "X-Tenant-ID", "X-CSRF-Token"} {
				if !strings.Contains(h.Get("Access-Control-Allow-Headers"), name) {
					t.Errorf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), name)
				}
			}
			if h.Get("Access-Control-Max-Age") == "" {
				t.Error("no Access-Control-Max-Age")
			}
		})
	}
}

func TestCORSRefusesUnsafeConfiguration(t *testing.T) {
	for _, o := range []string{"*", "null", "https://*.example.com", "shop.example.com", "ftp://shop.example.com",
		"https://shop.example.com/app", "https://user@shop.example.com", "https://shop.example.com?x", "https://"} {
		if _, err := httpx.CORS([]string{listedOrigin, o}); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
}
