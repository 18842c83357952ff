package console_test

import (
	"regexp"
	"strings"
	"testing"

	"mercato/apps/demo"
	"mercato/platform/web/browsertest"
)

// TestTenantJourneyInBrowser is a tenant owner's morning in the console, then a merchant's look
// at its own store: sign in, the overview, approve an application (after the confirmation
// dialog), invite a merchant and see the link, add a staff member, create an API key (shown
// once) and revoke it, find all of that in the audit log, switch to Chinese once; then
// Northwind's owner signs in and sees only Northwind. Every page passes the accessibility smoke
// check and logs no console errors under the real CSP.
func TestTenantJourneyInBrowser(t *testing.T) {
	w := newWorld(t, true)
	b := browsertest.New(t)
	page := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	// Anonymous: the console sends to its sign-in page.
	if st := b.Visit(w.URL + "/console"); st != 200 || !strings.Contains(b.URL(), "/console/login?next=%2Fconsole") {
		t.Fatalf("anonymous visit: %d %s", st, b.URL())
	}
	if got := b.Text("h1"); got != "Sign in to the console" {
		t.Errorf("login h1 %q", got)
	}
	page("console-login-en")
	b.Fill("#f-email", "owner@lumen-goods.test")
	b.Fill("#f-password", "not the password")
	if st := b.Submit("#sign-in"); st != 422 || !strings.Contains(b.Text(".form-summary"), "The email or password is not right.") {
		t.Errorf("wrong password: %d", st)
	}
	page("")
	b.Fill("#f-password", demo.Password)
	if st := b.Submit("#sign-in"); st != 200 || !strings.HasSuffix(b.URL(), "/console") {
		t.Fatalf("sign in: %d %s", st, b.URL())
	}

	// The overview.
	if got := b.Text("h1"); got != "Overview" {
		t.Errorf("overview h1 %q", got)
	}
	for sel, want := range map[string]string{
		".page-head p":  "Lumen Goods · Starter plan",
		"#stat-total":   "4",
		"#stat-pending": "1",
		".brand-name":   "Lumen Goods",
	} {
		if got := b.Text(sel); got != want {
			t.Errorf("overview %s: %q, want %q", sel, got, want)
		}
	}
	if b.Count("figure.chart") != 1 {
		t.Error("no chart of merchants by status")
	}
	page("console-overview-en")

	// Approve the pending application, after the dialog.
	b.Submit("#review-pending")
	if !strings.Contains(b.URL(), "/console/merchants?status=pending") || b.Count("#merchants tbody tr") != 1 {
		t.Fatalf("pending applications: %s, %d rows", b.URL(), b.Count("#merchants tbody tr"))
	}
	page("")
	b.Click(`tr[data-handle="paper-lantern"] button.approve`)
	b.WaitVisible("#confirm-dialog")
	if got := b.Text("#confirm-dialog-text"); got != "Approve Paper Lantern Co.? Their store opens at once." {
		t.Errorf("confirm text %q", got)
	}
	b.CheckA11y()
	b.ScreenshotViewport("console-approve-confirm-en")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if got := b.Text(".flash"); got != "Paper Lantern Co. is approved." {
		t.Errorf("approve flash %q", got)
	}
	page("")

	// Invite a merchant: the link is shown.
	b.Visit(w.URL + "/console/merchants")
	b.Fill("#f-email", "maker@example.com")
	b.Fill("#f-merchant-name", "Maker Studio")
	b.Submit("#send-invite")
	flash := b.Text(".flash")
	if !regexp.MustCompile(`^Invitation sent to maker@example\.com\. Their link: http://lumen\.localhost:\d+/merchant-invitations/[A-Za-z0-9_-]{43}$`).MatchString(flash) {
		t.Errorf("invite flash %q", flash)
	}
	if got := b.Text(`tr[data-handle="paper-lantern"] td:nth-child(3)`); got != "Active" {
		t.Errorf("paper lantern is %q", got)
	}
	page("console-merchants-en")

	// Add a staff member to Northwind.
	b.Visit(w.URL + "/console/staff")
	b.Fill("#f-email", "nina@example.com")
	b.Select("#f-role", "merchant_staff")
	b.Select("#f-merchant-id", w.merchant["northwind-lighting"].String())
	b.Submit("#add-member-submit")
	if got := b.Text(".flash"); got != "nina@example.com is added. We emailed them a link to choose a password." {
		t.Errorf("add member flash %q", got)
	}
	if got := b.Text(`tr[data-email="nina@example.com"] td:nth-child(3)`); got != "Northwind Lighting" {
		t.Errorf("nina's store %q", got)
	}
	page("console-staff-en")

	// On a phone the tables become cards and nothing scrolls sideways.
	b.Viewport(390, 844)
	b.Visit(w.URL + "/console/merchants")
	var layout struct {
		Display  string
		Overflow bool
	}
	b.Eval(`({display: getComputedStyle(document.querySelector("#merchants tbody tr")).display,
		overflow: document.documentElement.scrollWidth > window.innerWidth})`, &layout)
	if layout.Display != "block" || layout.Overflow {
		t.Errorf("phone layout: rows display %q, page wider than the screen: %v", layout.Display, layout.Overflow)
	}
	page("console-merchants-mobile-en")
	b.Viewport(1280, 900)

	// An API key, shown once, then revoked.
	b.Visit(w.URL + "/console/api-keys")
	page("")
	b.Fill("#f-name", "Warehouse sync")
	b.Click("#scope-products-read")
	b.Click("#scope-orders-write")
	if st := b.Submit("#create-key-submit"); st != 200 {
		t.Fatalf("create key: %d", st)
	}
	var secret string
	b.Eval(`document.querySelector("#api-key-secret").value`, &secret)
	if !strings.HasPrefix(secret, "mk_") || len(secret) < 100 {
		t.Errorf("the key shown: %q", secret)
	}
	if got := b.Text("h1"); got != "Your new API key" {
		t.Errorf("created h1 %q", got)
	}
	page("console-api-key-created-en")
	b.Submit("#done")
	if strings.Contains(b.Text("#keys"), secret) {
		t.Error("the list shows the secret")
	}
	b.Click(`tr[data-name="Warehouse sync"] button.revoke`)
	b.WaitVisible("#confirm-dialog")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if got := b.Text(".flash"); got != "Warehouse sync is revoked." {
		t.Errorf("revoke flash %q", got)
	}
	page("")

	// The audit log has all of it, newest first, by name.
	b.Visit(w.URL + "/console/audit")
	var actions []string
	b.Eval(`Array.from(document.querySelectorAll("#entries tbody tr")).map(r => r.dataset.action)`, &actions)
	want := []string{"api_key.revoke", "api_key.create", "staff.add", "merchant.invite", "merchant.approve"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audit actions %v, want %v", actions, want)
	}
	if got := b.Text(`#entries tbody tr:last-child td:nth-child(2)`); got != "Lars Lumen <owner@lumen-goods.test>" {
		t.Errorf("actor %q", got)
	}
	b.Submit("#verify")
	if got := b.Text("#verify-result"); got != "The log is intact: 5 entries checked." {
		t.Errorf("verify %q", got)
	}
	page("console-audit-en")

	// The pages around it: a merchant's page with its decision form, the settings, the account.
	b.Visit(w.URL + "/console/merchants/" + w.merchant["glowworks"].String())
	if got := b.Text("h1"); got != "Glowworks" || b.Count("#reactivate") != 1 {
		t.Errorf("merchant page: %q", got)
	}
	page("")
	b.Visit(w.URL + "/console/settings")
	b.Fill("#f-primary", "teal")
	if st := b.Submit("#save-settings"); st != 422 || !strings.Contains(b.Text("#f-primary-error"), "Enter a colour like #1f6feb.") {
		t.Errorf("bad colour: %d", st)
	}
	page("console-settings-en")
	b.Visit(w.URL + "/console/account")
	page("")

	// Once in Chinese.
	b.Visit(w.URL + "/console")
	if st := b.Submit(`.locale-switch button[value="zh-CN"]`); st != 200 || b.Attr("html", "lang") != "zh-CN" {
		t.Fatalf("switch to zh-CN: %d", st)
	}
	for sel, want := range map[string]string{"h1": "概览", ".skip-link": "跳到主要内容", `.site-nav a[href="/console/staff"]`: "员工"} {
		if got := b.Text(sel); got != want {
			t.Errorf("zh-CN %s: %q, want %q", sel, got, want)
		}
	}
	page("console-overview-zh-CN")
	b.Submit(`.locale-switch button[value="en"]`)

	// Northwind's owner sees Northwind only.
	b.Submit(`.account button[type="submit"]`)
	if got := b.Text(".flash"); got != "You are signed out." {
		t.Errorf("sign out flash %q", got)
	}
	b.Fill("#f-email", "owner@northwind.test")
	b.Fill("#f-password", demo.Password)
	b.Submit("#sign-in")
	if got := b.Text("#store-title"); got != "Northwind Lighting" {
		t.Errorf("merchant overview store %q", got)
	}
	if got := b.Text("#merchant-status .badge"); got != "Active" {
		t.Errorf("merchant status %q", got)
	}
	var body string
	b.Eval(`document.body.innerText`, &body)
	for _, other := range []string{"Oak & Ash", "Paper Lantern", "Glowworks", "Maker Studio"} {
		if strings.Contains(body, other) {
			t.Errorf("Northwind's owner sees %q", other)
		}
	}
	if b.Count(`.site-nav a[href="/console/merchants"]`) != 0 || b.Count(`.site-nav a[href="/console/audit"]`) != 0 {
		t.Error("Northwind's owner is offered tenant pages")
	}
	page("console-merchant-overview-en")
	b.Visit(w.URL + "/console/staff")
	var members []string
	b.Eval(`Array.from(document.querySelectorAll("#members tbody tr")).map(r => r.dataset.email)`, &members)
	if strings.Join(members, " ") != "owner@northwind.test nina@example.com packer@northwind.test" {
		t.Errorf("Northwind's staff page lists %v", members)
	}
	page("")
	b.Submit(`.account button[type="submit"]`)

	// Nina follows the link in her mail, chooses a password and is in Northwind's console.
	link := setPasswordLink.FindString(w.lastMail("nina@example.com").Text)
	if st := b.Visit(w.URL + link); st != 200 || b.Text("h1") != "Choose your password" {
		t.Fatalf("set-password page: %d", st)
	}
	page("console-set-password-en")
	b.Fill("#f-password", "lanterns and lamps")
	b.Fill("#f-confirm", "lanterns and lamps")
	b.Submit("#save-password")
	if got := b.Text(".flash"); got != "Your password is set. Sign in to continue." {
		t.Errorf("set password flash %q", got)
	}
	var email string
	b.Eval(`document.querySelector("#f-email").value`, &email)
	if email != "nina@example.com" {
		t.Errorf("the sign-in form is not filled in with %q", email)
	}
	b.Fill("#f-password", "lanterns and lamps")
	b.Submit("#sign-in")
	if got := b.Text("#store-title"); got != "Northwind Lighting" {
		t.Errorf("nina's overview: %q", got)
	}
	page("")
}
