package identity_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/identity"
)

// A visit: the cookie is made once and kept (host-only __Host- over HTTPS); its CSRF token
// checks for that visit only, and an empty, overlong or foreign visit never passes.
func TestVisit(t *testing.T) {
	for _, secure := range []bool{false, true} {
		svc, err := identity.New(nil, identity.Config{SecretKey: testSecret, Issuer: testIssuer, SecureCookies: secure, Mailer: &identity.CaptureMailer{}})
		if err != nil {
			t.Fatal(err)
		}
		app := fiber.New()
		app.Get("/", func(c *fiber.Ctx) error { return c.SendString(svc.VisitCSRFToken(svc.Visit(c))) })
		app.Post("/", func(c *fiber.Ctx) error {
			if !svc.CheckVisitForm(c) {
				return c.SendStatus(http.StatusForbidden)
			}
			return c.SendStatus(http.StatusNoContent)
		})
		resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		token, cookie := string(body), resp.Header.Get("Set-Cookie")
		wantName := "mercato_visit="
		if secure {
			wantName = "__Host-mercato_visit="
		}
		attrs := strings.ToLower(cookie)
		if !strings.HasPrefix(cookie, wantName) || !strings.Contains(attrs, "httponly") || strings.Contains(attrs, "domain=") ||
			strings.Contains(attrs, "; secure") != secure {
			t.Errorf("secure=%v: visit cookie %q", secure, cookie)
		}
		pair := strings.SplitN(strings.SplitN(cookie, ";", 2)[0], "=", 2)
		post := func(cookie, form string) int {
			req := httptest.NewRequest("POST", "/", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode
		}
		other := svc.VisitCSRFToken("another-visit")
		for _, tc := range []struct {
			name, cookie, form string
			want               int
		}{
			{"its own token", pair[0] + "=" + pair[1], "_csrf=" + token, http.StatusNoContent},
			{"another visit's token", pair[0] + "=" + pair[1], "_csrf=" + other, http.StatusForbidden},
			{"no cookie", "", "_csrf=" + token, http.StatusForbidden},
			{"no token", pair[0] + "=" + pair[1], "", http.StatusForbidden},
			{"overlong visit", pair[0] + "=" + strings.Repeat("x", 200), "_csrf=" + svc.VisitCSRFToken(strings.Repeat("x", 200)), http.StatusForbidden},
		} {
			if got := post(tc.cookie, tc.form); got != tc.want {
				t.Errorf("secure=%v %s: %d, want %d", secure, tc.name, got, tc.want)
			}
		}
	}
}
