package storefront_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
	"mercato/tenants/search/searchtest"
)

// checkoutWorld is the cart world with orders mounted, shipping rates for both lumen shops and
// a US tax rate.
type checkoutWorld struct {
	*cartWorld
	orders *orders.Service
	rates  map[string]orders.ShippingRate // by merchant handle
}

func newCheckoutWorld(t *testing.T) *checkoutWorld {
	t.Helper()
	cw := &cartWorld{}
	w := &checkoutWorld{cartWorld: cw, rates: map[string]orders.ShippingRate{}}
	cw.world = newWorldWith(t, "localhost", nil, func(d *storefront.Deps, f *dbtest.Fixture) {
		pol, err := authz.NewPolicies(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cw.cat = catalog.NewService(f.App, pol, audit.Recorder{})
		cw.promo = promotions.NewService(f.App, audit.Recorder{})
		carts := cart.NewService(f.App, cw.cat, cw.promo)
		w.orders = orders.NewService(f.App, orders.Config{Audit: audit.Recorder{}, Inventory: inventory.NewService(f.App, audit.Recorder{}),
			Carts: carts, Promos: cw.promo, Fees: merchantTakesAll})
		d.Catalog, d.Promotions, d.Cart, d.Orders = cw.cat, cw.promo, carts, w.orders
	})
	cw.ids = map[string]searchtest.IDs{}
	ctx := scope.WithActor(context.Background(), "system:test")
	for _, c := range cartCatalog {
		ids, err := searchtest.Seed(ctx, cw.f.Platform, c)
		if err != nil {
			t.Fatal(err)
		}
		cw.ids[c.Tenant] = ids
	}
	lumen := cw.ids["lumen"]
	for handle, in := range map[string]orders.ShippingRateInput{
		"northwind-lighting": {Name: "Standard", Currency: "USD", Kind: orders.RateFlat, FlatMinor: 500},
		"oak-and-ash":        {Name: "Freight", Currency: "USD", Kind: orders.RateFlat, FlatMinor: 1500},
	} {
		in.MerchantID = lumen.Merchants[handle]
		r, err := w.orders.CreateShippingRate(ctx, lumen.Tenant, in)
		if err != nil {
			t.Fatal(err)
		}
		w.rates[handle] = r
	}
	if _, err := w.orders.CreateTaxRate(ctx, lumen.Tenant, orders.TaxRateInput{Country: "US", Name: "Sales tax", RateBP: 1000}); err != nil {
		t.Fatal(err)
	}
	return w
}

// merchantTakesAll is a fee splitter without commission or fee: the pages do not show them.
func merchantTakesAll(_ string, lines []orders.FeeLine) ([]orders.LineFees, error) {
	out := make([]orders.LineFees, len(lines))
	for i, l := range lines {
		out[i] = orders.LineFees{PayableMinor: l.NetMinor}
	}
	return out, nil
}

var orderPathRE = regexp.MustCompile(`^/account/orders/([0-9a-f-]{36})$`)

// The checkout page: totals per shop and in sum, shipping choices, a form that keeps what was
// typed and shows each error beside its field, "Place order" → the order page showing
// "awaiting payment" with its timeline; the order list; the cart emptied; other visitors and
// Chinese.
func TestCheckoutPages(t *testing.T) {
	w := newCheckoutWorld(t)
	lumen := w.ids["lumen"]
	cl := w.client("lumen.localhost")
	if r := cl.get("/checkout"); r.status != 303 || r.location() != "/cart" {
		t.Fatalf("checkout with an empty cart: %d %s", r.status, r.location())
	}
	cl.get("/cart") // a page with the session's CSRF token
	for v, q := range map[uuid.UUID]string{lumen.Variants["DL-BLK"]: "2", lumen.Variants["OS-1"]: "1"} {
		if r := cl.post("/cart/lines", url.Values{"variant_id": {v.String()}, "quantity": {q}}); r.status != 303 {
			t.Fatalf("add to cart: %d", r.status)
		}
	}
	r := cl.get("/checkout")
	if r.status != 200 {
		t.Fatalf("checkout: %d %s", r.status, r.body)
	}
	// 2 × 25.00 + 80.00 = 130.00; shipping 5.00 + 15.00; 10% tax on goods and shipping: 15.00.
	mustContain(t, "checkout", r.body, "Sold by Northwind Lighting", "Sold by Oak &amp; Ash Furniture", "Standard", "Freight",
		`id="subtotal">$130.00`, `id="shipping">$20.00`, `id="tax">$15.00`, `id="total"><strong>$165.00`,
		"$60.50", "$104.50", `id="place-order"`, `name="shipping.`+lumen.Merchants["oak-and-ash"].String()+`"`)

	// Bad fields: kept as typed, each error beside its field, nothing placed.
	form := url.Values{"email": {"ada@"}, "address.name": {"Ada Shopper"}, "address.line1": {""}, "address.city": {"Springfield"},
		"address.postal_code": {"!"}, "address.country": {"USA"}, "coupon_code": {""}, "action": {"place"},
		"shipping." + lumen.Merchants["northwind-lighting"].String(): {w.rates["northwind-lighting"].ID.String()},
		"shipping." + lumen.Merchants["oak-and-ash"].String():        {w.rates["oak-and-ash"].ID.String()}}
	r = cl.post("/checkout", form)
	if r.status != 422 {
		t.Fatalf("bad checkout: %d", r.status)
	}
	for field, want := range map[string]string{
		"email": "Enter a valid e-mail address.", "address.line1": "Fill this in.",
		"address.postal_code": "Enter a postal code: 2 to 12 letters, digits, spaces or dashes.",
		"address.country":     "Enter a two-letter country code, such as US.",
	} {
		if got := fieldError(r.body, strings.ReplaceAll(field, ".", "-")); got != want {
			t.Errorf("error beside %s: %q, want %q", field, got, want)
		}
	}
	if got := fieldValue(r.body, "address-name"); got != "Ada Shopper" {
		t.Errorf("name kept as %q", got)
	}
	if got := fieldValue(r.body, "email"); got != "ada@" {
		t.Errorf("email kept as %q", got)
	}
	// A coupon that does not exist: shown beside the coupon field.
	form.Set("email", "ada@example.com")
	form.Set("address.line1", "1 Main St")
	form.Set("address.postal_code", "94105")
	form.Set("address.country", "US")
	form.Set("coupon_code", "NOPE")
	r = cl.post("/checkout", form)
	if r.status != 422 || fieldError(r.body, "coupon-code") == "" {
		t.Errorf("unknown coupon: %d, error %q", r.status, fieldError(r.body, "coupon-code"))
	}

	// Place it.
	form.Set("coupon_code", "")
	r = cl.post("/checkout", form)
	m := orderPathRE.FindStringSubmatch(r.location())
	if r.status != 303 || m == nil {
		t.Fatalf("place order: %d %s\n%s", r.status, r.location(), r.body)
	}
	r = cl.get(r.location())
	if r.status != 200 {
		t.Fatalf("order page: %d", r.status)
	}
	mustContain(t, "order page", r.body, "Thank you! Order M-", `id="awaiting-payment"`, "Awaiting payment", "Order placed",
		`id="total"><strong>$165.00`, "Sold by Northwind Lighting", "Shipping: Freight", "1 Main St", "Timeline")
	if got := navBadge(r.body); got != "" {
		t.Errorf("cart badge after checkout: %q", got)
	}
	r = cl.get("/account/orders")
	mustContain(t, "orders list", r.body, `href="/account/orders/`+m[1]+`"`, "Awaiting payment", "$165.00")

	// Another visitor cannot see it; an unknown id is not found.
	other := w.client("lumen.localhost")
	other.get("/")
	if r := other.get("/account/orders/" + m[1]); r.status != 404 {
		t.Errorf("another visitor's view of the order: %d", r.status)
	}
	if r := other.get("/account/orders"); !strings.Contains(r.body, "No orders yet") {
		t.Errorf("another visitor's orders: %s", r.body)
	}
	// The order in Chinese.
	cl.lang = "zh-CN"
	mustContain(t, "order in Chinese", cl.get("/account/orders/"+m[1]).body, "待付款", "订单动态")
}
