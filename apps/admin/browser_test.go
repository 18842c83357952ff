package admin_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/apps/demo"
	"mercato/platform/web/browsertest"
)

// TestOperatorJourneyInBrowser is the operator's journey in Chromium: sign in and set up the
// authenticator from the key on the page, look at the dashboard, create Harbor Books, open
// it, suspend it (accepting the confirmation) and see its storefront refused by the same
// server, reactivate it, find both changes in the audit log, switch to Chinese and sign out.
// Every page passes the accessibility smoke check without console errors.
func TestOperatorJourneyInBrowser(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	w := newWorld(t, port)
	// Chromium asks the storefront host for a favicon when it shows the JSON answer; the
	// storefront portal serves one, this test app has none.
	w.app.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	go func() { _ = w.app.Listener(ln) }()
	t.Cleanup(func() { _ = w.app.ShutdownWithTimeout(5 * time.Second) })
	base := "http://127.0.0.1:" + port
	b := browsertest.New(t)
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	// Sign in: the portal sends an anonymous visitor to the sign-in page and back.
	if st := b.Visit(base + "/admin/tenants"); st != 200 || !strings.Contains(b.URL(), "/admin/login?next=") {
		t.Fatalf("anonymous visit: %d at %s", st, b.URL())
	}
	if got := b.Text("h1"); got != "Operator sign-in" {
		t.Errorf("login h1 %q", got)
	}
	check("admin-login-en")
	b.Fill("#f-email", "operator@mercato.test")
	b.Fill("#f-password", "wrong password")
	if st := b.Submit("#sign-in"); st != 422 || b.Attr("#f-email", "value") != "operator@mercato.test" {
		t.Errorf("wrong password: %d, e-mail %q", st, b.Attr("#f-email", "value"))
	}
	if got := b.Text(".form-summary"); !strings.Contains(got, "The email or password is not right.") {
		t.Errorf("wrong password summary %q", got)
	}
	b.Fill("#f-password", demo.Password)
	if st := b.Submit("#sign-in"); st != 200 || b.Text("h1") != "Set up your authenticator" {
		t.Fatalf("password step: %d, h1 %q", st, b.Text("h1"))
	}
	secret := strings.ReplaceAll(b.Text("#totp-secret"), " ", "")
	if len(secret) != 32 {
		t.Fatalf("secret on the page: %q", secret)
	}
	check("admin-enroll-en")
	b.Fill("#f-code", totpAt(secret, time.Now()))
	if st := b.Submit("#verify-code"); st != 200 || !strings.HasSuffix(b.URL(), "/admin/tenants") {
		t.Fatalf("code step: %d at %s", st, b.URL())
	}

	// The dashboard.
	b.Visit(base + "/admin")
	if got := b.Text("h1"); got != "Dashboard" {
		t.Errorf("dashboard h1 %q", got)
	}
	if got := b.Text("#stat-total"); got != "3" {
		t.Errorf("tenants on the dashboard: %q", got)
	}
	if n := b.Count("figure.chart svg.chart-plot"); n != 2 {
		t.Errorf("%d charts", n)
	}
	check("admin-dashboard-en")

	// Create Harbor Books: a mistake first, then right.
	b.Submit(`.page-head a[href="/admin/tenants/new"]`)
	b.Fill("#f-name", "Harbor Books")
	b.Fill("#f-slug", "Harbor!")
	if st := b.Submit("#create-tenant"); st != 422 {
		t.Errorf("bad slug: %d", st)
	}
	if got := b.Text("#f-slug-error"); !strings.Contains(got, "Use 3–40 characters") {
		t.Errorf("slug error %q", got)
	}
	if got := b.Attr("#f-name", "value"); got != "Harbor Books" {
		t.Errorf("name not kept: %q", got)
	}
	b.CheckA11y()
	b.Fill("#f-slug", "harbor")
	b.Select("#f-plan", "growth")
	if st := b.Submit("#create-tenant"); st != 200 {
		t.Fatalf("create: %d", st)
	}
	if got := b.Text(".flash-region .flash"); got != "“Harbor Books” is created and open." {
		t.Errorf("flash %q", got)
	}

	// Find it in the directory and open it.
	b.Visit(base + "/admin/tenants?sort=name&dir=asc")
	if got := b.Text("#tenants tbody tr:first-child .cell-main"); got != "Harbor Books" {
		t.Errorf("first by name: %q", got)
	}
	check("admin-tenants-en")
	b.Submit(`#tenants a.cell-main[href^="/admin/tenants/"]`)
	if got := b.Text("h1"); got != "Harbor Books" {
		t.Fatalf("tenant page h1 %q", got)
	}
	tenantURL := b.URL()
	storefront := "http://harbor.localhost:" + port + "/"
	if got := b.Attr("#storefront-link", "href"); got != storefront {
		t.Errorf("storefront link %q, want %q", got, storefront)
	}
	check("admin-tenant-en")

	// Suspend, accepting the confirmation.
	b.Click("#suspend")
	b.WaitVisible("#confirm-dialog")
	if got := b.Text("#confirm-dialog-text"); !strings.HasPrefix(got, "Suspend “Harbor Books”?") {
		t.Errorf("confirmation %q", got)
	}
	if st := b.Submit(`#confirm-dialog button[value="ok"]`); st != 200 {
		t.Fatalf("suspend: %d", st)
	}
	if got := b.Text(".flash-region .flash"); !strings.HasPrefix(got, "“Harbor Books” is suspended.") {
		t.Errorf("suspend flash %q", got)
	}
	if got := b.Text(".page-head .badge"); got != "Suspended" {
		t.Errorf("status badge %q", got)
	}
	b.CheckA11y()
	if st := b.Visit(storefront + "v1/storefront"); st != 503 {
		t.Errorf("storefront of the suspended tenant: %d, want 503", st)
	}

	// Reactivate: the storefront answers again.
	b.Visit(tenantURL)
	b.Click("#reactivate")
	b.WaitVisible("#confirm-dialog")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if got := b.Text(".flash-region .flash"); !strings.HasPrefix(got, "“Harbor Books” is active again.") {
		t.Errorf("reactivate flash %q", got)
	}
	if st := b.Visit(storefront + "v1/storefront"); st != 200 {
		t.Errorf("storefront after reactivation: %d", st)
	}

	// The audit log has both changes, by the operator.
	b.Visit(base + "/admin/audit")
	var actions []string
	b.Eval(`Array.from(document.querySelectorAll("#audit-entries a.action")).map((a) => a.textContent)`, &actions)
	for _, want := range []string{"tenant.create", "tenant.suspend", "tenant.reactivate"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit log lacks %s: %v", want, actions)
		}
	}
	b.Submit(`#audit-entries a.action[href*="action=tenant.suspend"]`)
	if n := b.Count("#audit-entries tbody > tr"); n != 1 || !strings.Contains(b.Text("#audit-entries"), "Olivia Operator") {
		t.Errorf("filtered by tenant.suspend: %d rows", n)
	}
	b.Visit(base + "/admin/audit")
	check("admin-audit-en")
	b.Submit("#verify-chain")
	if got := b.Text("#verify-status"); got != "Intact" {
		t.Errorf("chain check %q", got)
	}
	b.CheckA11y()

	// Chinese, once.
	b.Visit(base + "/admin")
	if st := b.Submit(`.locale-switch button[value="zh-CN"]`); st != 200 || b.Attr("html", "lang") != "zh-CN" {
		t.Fatalf("switch to zh-CN: %d, lang %q", st, b.Attr("html", "lang"))
	}
	if got := b.Text("#stat-total"); got != "4" {
		t.Errorf("tenants after creating Harbor: %q", got)
	}
	if got := b.Text(".stats .stat:first-child .stat-label"); got != "租户总数" {
		t.Errorf("zh-CN stat label %q", got)
	}
	check("admin-dashboard-zh-CN")

	// On a phone nothing scrolls sideways.
	b.Viewport(390, 844)
	for _, page := range []string{base + "/admin", base + "/admin/tenants", tenantURL, base + "/admin/audit"} {
		b.Visit(page)
		var wide bool
		b.Eval(`document.documentElement.scrollWidth > window.innerWidth`, &wide)
		if wide {
			t.Errorf("%s is wider than a phone", page)
		}
	}
	b.Viewport(1280, 900)

	// Sign out.
	if st := b.Submit(".account button"); st != 200 || !strings.Contains(b.URL(), "/admin/login") {
		t.Fatalf("sign out: %d at %s", st, b.URL())
	}
	if got := b.Text(".flash-region .flash"); got != "您已退出登录。" {
		t.Errorf("sign-out flash %q", got)
	}
	if b.Visit(base + "/admin"); !strings.Contains(b.URL(), "/admin/login") {
		t.Errorf("after signing out /admin shows %s", b.URL())
	}
	b.AssertNoConsoleErrors()
}
