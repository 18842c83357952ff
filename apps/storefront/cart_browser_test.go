package storefront_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"mercato/platform/scope"
	"mercato/platform/web/browsertest"
	"mercato/tenants/promotions"
)

// TestCartInBrowser: from the product page's "add to cart" to the cart in Chromium: two shops'
// lines grouped with their subtotals, the count in the navigation, a quantity above stock
// refused beside its line, a coupon previewed, and the cart on a phone. Every page passes the
// accessibility smoke check with no console errors.
func TestCartInBrowser(t *testing.T) {
	w := newCartWorld(t)
	port := w.serve()
	lumen := "http://lumen.localhost:" + port
	if _, err := w.promo.CreateCoupon(scope.WithActor(context.Background(), "user:test"), w.ids["lumen"].Tenant,
		promotions.CouponInput{Code: "WELCOME10", Kind: promotions.KindPercentage, Percent: "10", EndsAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t)
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	if st := b.Visit(lumen + "/p/desk-lamp"); st != 200 {
		t.Fatalf("product page: %d", st)
	}
	b.Fill("#quantity", "2")
	if st := b.Submit("#add-to-cart button[type=submit]"); st != 200 || !strings.HasSuffix(b.URL(), "/cart") {
		t.Fatalf("add to cart ended on %d %s", st, b.URL())
	}
	if got := b.Text(".flash p"); got != "Added to your cart." {
		t.Errorf("flash %q", got)
	}
	b.Visit(lumen + "/p/oak-stool")
	b.Submit("#add-to-cart button[type=submit]")
	if n := b.Count("section.merchant-group"); n != 2 {
		t.Errorf("%d merchant groups, want 2", n)
	}
	if got := b.Text("#subtotal"); got != "$130.00" {
		t.Errorf("subtotal %q", got)
	}
	if got := b.Text(`.site-nav a[href="/cart"] .nav-badge`); got != "3" {
		t.Errorf("nav badge %q", got)
	}
	check("storefront-cart")

	// The quantity field stops at the stock (the server refuses more too: TestCartPage).
	if got := b.Attr("tbody tr:first-child input[name=quantity]", "max"); got != "5" {
		t.Errorf("quantity max %q, want the 5 in stock", got)
	}
	b.Fill("tbody tr:first-child input[name=quantity]", "3")
	if st := b.Submit("tbody tr:first-child form.actions button[type=submit]"); st != 200 {
		t.Errorf("set 3 lamps: %d", st)
	}
	if got := b.Text("#subtotal"); got != "$155.00" {
		t.Errorf("subtotal after 3 lamps %q", got)
	}

	// The coupon preview.
	b.Fill("#coupon", "welcome10")
	b.Submit("#coupon-form button[type=submit]")
	if got := b.Text("#discount"); got != "−$15.50" {
		t.Errorf("discount %q", got)
	}
	if got := b.Text("#total"); got != "$139.50" {
		t.Errorf("total %q", got)
	}
	if got := b.Attr("#checkout", "href"); got != "/checkout?coupon=WELCOME10" {
		t.Errorf("checkout link %q", got)
	}
	check("storefront-cart-coupon")

	b.Viewport(390, 844)
	b.Visit(lumen + "/cart")
	check("storefront-cart-phone")
}
