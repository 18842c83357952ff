package storefront_test

import (
	"strings"
	"testing"

	"mercato/platform/web/browsertest"
)

// TestCheckoutJourneyInBrowser is the shopper journey of issue 4 in Chromium: search → product
// → add two shops' products → checkout (a mistake shown beside its field, then right) → the
// order page awaiting payment, with a screenshot of each step. Every page passes the
// accessibility smoke check with no console errors.
func TestCheckoutJourneyInBrowser(t *testing.T) {
	w := newCheckoutWorld(t)
	port := w.serve()
	lumen := "http://lumen.localhost:" + port
	b := browsertest.New(t)
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	// Search.
	if st := b.Visit(lumen + "/"); st != 200 {
		t.Fatalf("home: %d", st)
	}
	b.Fill("#search-q", "lamp")
	if st := b.Submit(`form[role=search] button[type=submit]`); st != 200 {
		t.Fatalf("search: %d", st)
	}
	if n := b.Count(`.product-card a[href="/p/desk-lamp"]`); n == 0 {
		t.Fatalf("the desk lamp is not among the results: %s", b.Text("main"))
	}
	check("journey-1-search")

	// Product, then add two lamps.
	if st := b.Submit(`.product-card a[href="/p/desk-lamp"]`); st != 200 {
		t.Fatalf("product: %d", st)
	}
	check("journey-2-product")
	b.Fill("#quantity", "2")
	if st := b.Submit("#add-to-cart button[type=submit]"); st != 200 || !strings.HasSuffix(b.URL(), "/cart") {
		t.Fatalf("add the lamp: %d %s", st, b.URL())
	}
	// The other shop's stool.
	b.Visit(lumen + "/p/oak-stool")
	if st := b.Submit("#add-to-cart button[type=submit]"); st != 200 {
		t.Fatalf("add the stool: %d", st)
	}
	if n := b.Count("section.merchant-group"); n != 2 {
		t.Errorf("%d shops in the cart, want 2", n)
	}
	check("journey-3-cart")

	// Checkout: totals per shop and in sum.
	if st := b.Submit("#checkout"); st != 200 || !strings.HasSuffix(b.URL(), "/checkout") {
		t.Fatalf("checkout: %d %s", st, b.URL())
	}
	if got := b.Text("#total"); got != "$165.00" {
		t.Errorf("total %q, want $165.00", got)
	}
	if n := b.Count(".parcel-total"); n != 2 {
		t.Errorf("%d shop totals, want 2", n)
	}
	b.Fill("#f-email", "ada@example.com")
	b.Fill("#f-address-name", "Ada Shopper")
	b.Fill("#f-address-line1", "1 Market St")
	b.Fill("#f-address-city", "San Francisco")
	b.Fill("#f-address-postal-code", "!")
	check("journey-4-checkout")
	if st := b.Submit("#place-order"); st != 422 {
		t.Errorf("a bad postal code: %d", st)
	}
	if got := b.Text("#f-address-postal-code-error"); !strings.Contains(got, "Enter a postal code") {
		t.Errorf("postal code error %q", got)
	}
	if got := b.Attr("#f-address-line1", "value"); got != "1 Market St" {
		t.Errorf("address kept as %q", got)
	}
	check("")
	b.Fill("#f-address-postal-code", "94105")
	if st := b.Submit("#place-order"); st != 200 || !strings.Contains(b.URL(), "/account/orders/") {
		t.Fatalf("place order: %d %s", st, b.URL())
	}

	// The order, awaiting payment.
	if got := b.Text("#order-status"); got != "Awaiting payment" {
		t.Errorf("status %q", got)
	}
	if got := b.Text("#awaiting-payment"); !strings.Contains(got, "Awaiting payment") || !strings.Contains(got, "Your items are held for you until") {
		t.Errorf("awaiting notice %q", got)
	}
	if got := b.Text("#total"); got != "$165.00" {
		t.Errorf("order total %q", got)
	}
	if n := b.Count("#timeline li"); n != 1 {
		t.Errorf("%d timeline entries, want 1", n)
	}
	check("journey-5-order-awaiting-payment")
}
