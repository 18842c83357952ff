package console_test

import (
	"strings"
	"testing"

	"mercato/apps/demo"
	"mercato/platform/web/browsertest"
)

// TestOrdersInBrowser: a tenant owner sorts the orders by total, opens one with two shops'
// merchant orders and cancels it after the confirmation dialog; then on the shipping and tax
// page adds a tax rate. Every page passes the accessibility smoke check with no console errors.
func TestOrdersInBrowser(t *testing.T) {
	w := newWorld(t, false)
	_, both, _ := withOrders(t, w, true)
	b := browsertest.New(t)
	page := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	b.Visit(w.URL + "/console/orders")
	b.Fill("#f-email", "owner@lumen-goods.test")
	b.Fill("#f-password", demo.Password)
	if st := b.Submit("#sign-in"); st != 200 || !strings.HasSuffix(b.URL(), "/console/orders") {
		t.Fatalf("sign in: %d %s", st, b.URL())
	}
	if n := b.Count("#orders tbody tr"); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
	page("console-orders")
	b.Submit(`#orders thead a[href*="sort=total"]`)
	if got := b.Text("#orders tbody tr:first-child td:nth-child(5)"); got != "$80.00" {
		t.Errorf("cheapest first: %q", got)
	}

	// The two-shop order, cancelled after the dialog.
	b.Visit(w.URL + "/console/orders/" + both.ID.String())
	if n := b.Count(`section[id^="merchant-order-"]`); n != 2 {
		t.Errorf("%d merchant orders, want 2", n)
	}
	page("console-order")
	b.Click("#cancel-order")
	b.WaitVisible("#confirm-dialog")
	if got := b.Text("#confirm-dialog-text"); !strings.HasPrefix(got, "Cancel order "+both.Number+"?") {
		t.Errorf("confirm text %q", got)
	}
	b.CheckA11y()
	b.ScreenshotViewport("console-order-cancel-confirm")
	if st := b.Submit(`#confirm-dialog button[value="ok"]`); st != 200 {
		t.Fatalf("cancel: %d", st)
	}
	if got := b.Text(".flash"); got != "The order is cancelled." {
		t.Errorf("flash %q", got)
	}
	if got := b.Text("#order-status"); got != "Cancelled" {
		t.Errorf("status %q", got)
	}
	page("")

	// Shipping and tax: a tax rate for California, prices including it.
	b.Visit(w.URL + "/console/shipping")
	b.Fill("#f-country", "US")
	b.Fill("#f-region", "CA")
	b.Fill("#f-name", "California")
	b.Fill("#f-rate", "7.25")
	b.Click("#f-inclusive")
	if st := b.Submit("#create-tax"); st != 200 {
		t.Fatalf("add tax rate: %d", st)
	}
	if got := b.Text(`tr[data-tax="US-CA"]`); !strings.Contains(got, "7.25%") {
		t.Errorf("tax row %q", got)
	}
	page("console-shipping")
}
