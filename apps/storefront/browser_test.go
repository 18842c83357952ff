package storefront_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"mercato/platform/scope"
	"mercato/platform/web/browsertest"
)

// TestShopperJourneyInBrowser walks a shopper through the storefront in Chromium, on store
// hosts resolved the way production resolves them ({slug}.localhost): the themed home page,
// signing up, out and in, the account page, applying to sell, resetting a forgotten password,
// accepting a merchant invitation; a Chinese store in Chinese by
// default, switched to English; a suspended store's unavailable page; the home page on a
// phone. Every page passes the accessibility smoke check with no console errors.
func TestShopperJourneyInBrowser(t *testing.T) {
	w := newWorld(t)
	port := w.serve()
	lumen := "http://lumen.localhost:" + port
	b := browsertest.New(t)
	// A browser that prefers a language the stores do not offer, so each store's own default
	// decides (a browser asking for English or Chinese gets that instead).
	b.Do("accept-language", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "fr-FR,fr;q=0.9"}})
		return err
	}))
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	// The themed home page.
	if st := b.Visit(lumen + "/"); st != 200 {
		t.Fatalf("home: %d", st)
	}
	if got := b.Text("h1"); got != "Welcome to Lumen Goods" {
		t.Errorf("h1 %q", got)
	}
	var primary string
	b.Eval(`getComputedStyle(document.querySelector("#welcome-title + p + p + .actions .btn-primary")).backgroundColor`, &primary)
	if primary != "rgb(31, 111, 235)" {
		t.Errorf("primary button %q, want the tenant's #1f6feb", primary)
	}
	if n := b.Count("#shops [role=listitem]"); n != 2 {
		t.Errorf("%d shops on the home page, want 2", n)
	}
	check("storefront-home-en")

	// Sign up: a mistake first, then right.
	b.Submit(`.actions a[href="/account/sign-up"]`)
	check("storefront-sign-up-en")
	b.Fill("#f-name", "Ada Shopper")
	b.Fill("#f-email", "ada")
	b.Fill("#f-password", "short")
	if st := b.Submit("#sign-up"); st != 422 {
		t.Errorf("invalid sign-up: %d", st)
	}
	if got := b.Text("#f-email-error"); !strings.Contains(got, "Enter an email address") {
		t.Errorf("email error %q", got)
	}
	if got := b.Attr("#f-password", "value"); got != "" {
		t.Errorf("the password came back in the page: %q", got)
	}
	check("")
	b.Fill("#f-email", "ada@example.com")
	b.Fill("#f-password", "correct horse battery")
	if st := b.Submit("#sign-up"); st != 200 || !strings.HasSuffix(b.URL(), "/account") {
		t.Fatalf("sign-up ended on %d %s", st, b.URL())
	}
	if got := b.Text(".flash"); got != "Welcome to Lumen Goods! Your account is ready." {
		t.Errorf("flash %q", got)
	}
	if got := b.Text("#profile-email"); got != "ada@example.com" {
		t.Errorf("account e-mail %q", got)
	}
	check("storefront-account-en")

	// Sign out from the header, then sign in again.
	b.Submit(".account button[type=submit]")
	if got := b.Text(".flash"); got != "You are signed out." {
		t.Errorf("flash after sign-out %q", got)
	}
	b.Submit(`.site-nav a[href="/account"]`)
	check("")
	b.Fill("#f-email", "ada@example.com")
	b.Fill("#f-password", "correct horse battery")
	b.Submit("#sign-in")
	if got := b.Text(".flash"); got != "Welcome back, Ada Shopper." {
		t.Errorf("flash after sign-in %q", got)
	}
	b.Submit(`.site-nav a[href="/account"]`)
	if got := b.Text("#profile-name"); got != "Ada Shopper" {
		t.Errorf("account name %q", got)
	}
	check("")

	// Apply to sell.
	b.Submit(`.site-nav a[href="/sell"]`)
	if got := b.Attr("#f-contact-email", "value"); got != "ada@example.com" {
		t.Errorf("contact e-mail not filled in from the account: %q", got)
	}
	check("storefront-sell-en")
	b.Fill("#f-store-name", "Ada's Lamps")
	b.Fill("#f-handle", "adas-lamps")
	b.Fill("#f-description", "Lamps made from driftwood.")
	if st := b.Submit("#apply"); st != 200 || !strings.Contains(b.URL(), "/sell/thanks") {
		t.Fatalf("application ended on %d %s", st, b.URL())
	}
	if got := b.Text("h1"); got != "Thank you for applying" {
		t.Errorf("thank-you h1 %q", got)
	}
	if got := b.Text("#application-status"); got != "Pending review" {
		t.Errorf("status %q", got)
	}
	check("storefront-sell-thanks-en")

	// Forgotten password: the mailed link sets a new one.
	b.Visit(lumen + "/account/password-reset")
	check("")
	b.Fill("#f-email", "ada@example.com")
	b.Submit("#send-reset")
	if got := b.Text(".flash"); !strings.HasPrefix(got, "If an account uses that address") {
		t.Errorf("flash after asking for a reset %q", got)
	}
	msgs := w.mail.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want the reset mail", len(msgs))
	}
	link := regexp.MustCompile(`http://\S+/account/password-reset/\S+`).FindString(msgs[0].Text)
	if !strings.HasPrefix(link, lumen+"/account/password-reset/") {
		t.Fatalf("reset link %q is not on this store's host", link)
	}
	b.Visit(link)
	check("")
	b.Fill("#f-password", "a new lamp-lit password")
	b.Submit("#save-password")
	if !strings.Contains(b.URL(), "/account/sign-in") || !strings.HasPrefix(b.Text(".flash"), "Your password is changed") {
		t.Errorf("after the reset: %s %q", b.URL(), b.Text(".flash"))
	}
	check("")

	// An invited merchant opens their shop.
	token, _, err := w.merchants.Invite(scope.WithActor(context.Background(), "user:test"), w.tenant["lumen"], "lena@lantern.test", "Lantern Works")
	if err != nil {
		t.Fatal(err)
	}
	b.Visit(lumen + "/merchant-invitations/" + token)
	if got := b.Attr("#f-handle", "value"); got != "lantern-works" {
		t.Errorf("suggested handle %q", got)
	}
	check("storefront-invitation-en")
	b.Fill("#f-name", "Lena Lantern")
	b.Fill("#f-password", "lanterns all night")
	b.Submit("#accept")
	if got := b.Text("h1"); got != "Your shop is open" {
		t.Errorf("after accepting: h1 %q", got)
	}
	check("")

	// A Chinese store is in Chinese by default; the switcher turns it into English.
	panda := "http://panda.localhost:" + port
	b.Visit(panda + "/")
	if lang := b.Attr("html", "lang"); lang != "zh-CN" {
		t.Errorf("panda in %q by default, want zh-CN", lang)
	}
	if got := b.Text("h1"); got != "欢迎光临熊猫市集 Panda Market" {
		t.Errorf("panda h1 %q", got)
	}
	if b.Count(".account-name") != 0 {
		t.Error("signed in at lumen shows as signed in at panda")
	}
	check("storefront-home-zh-CN")
	if st := b.Submit(`.locale-switch button[value="en"]`); st != 200 {
		t.Fatalf("switch to English: %d", st)
	}
	if lang := b.Attr("html", "lang"); lang != "en" || b.Text("h1") != "Welcome to 熊猫市集 Panda Market" {
		t.Errorf("after switching: lang %q, h1 %q", lang, b.Text("h1"))
	}
	check("")

	// A suspended store says so.
	w.suspend("nordic")
	if st := b.Visit("http://nordic.localhost:" + port + "/"); st != 503 {
		t.Errorf("suspended store: %d, want 503", st)
	}
	if got := b.Text("h1"); got != "This store is unavailable" {
		t.Errorf("suspended store h1 %q", got)
	}
	check("storefront-unavailable-en")

	// On a phone the home page fits the screen.
	b.Viewport(390, 844)
	b.Visit(lumen + "/")
	var overflow bool
	b.Eval(`document.documentElement.scrollWidth > window.innerWidth`, &overflow)
	if overflow {
		t.Error("the home page is wider than a phone's screen")
	}
	check("storefront-home-mobile-en")
}
