package console_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/console"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
	"mercato/tenants/search/searchtest"
)

// withOrders serves w's console again with the orders service, as apps/mercato wires it, and
// places two lumen orders: one with both shops' items, one with Oak & Ash's only.
// With listen, the console is served on a loopback port for the browser.
func withOrders(t *testing.T, w *world, listen bool) (s *orders.Service, both, oakOnly orders.Order) {
	t.Helper()
	ctx := scope.WithActor(t.Context(), "system:test")
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	promos := promotions.NewService(w.f.App, audit.Recorder{})
	carts := cart.NewService(w.f.App, catalog.NewService(w.f.App, pol, audit.Recorder{}), promos)
	s = orders.NewService(w.f.App, orders.Config{Audit: audit.Recorder{}, Inventory: inventory.NewService(w.f.App, audit.Recorder{}),
		Carts: carts, Promos: promos, Fees: func(_ string, lines []orders.FeeLine) ([]orders.LineFees, error) {
			out := make([]orders.LineFees, len(lines))
			for i, l := range lines { // a flat 10% commission, so the page has one to show
				out[i] = orders.LineFees{CommissionMinor: l.NetMinor / 10, PayableMinor: l.NetMinor - l.NetMinor/10}
			}
			return out, nil
		}})
	var ln net.Listener
	if listen {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		w.baseHost = fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port)
		w.URL = "http://" + w.baseHost
	}
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(app); err != nil {
		t.Fatal(err)
	}
	app.Use(console.Prefix, identity.Authenticate(w.ids, identity.StaffCookie))
	if err := console.Routes(app, console.Deps{
		Identity: w.ids, Enforcer: enf, Tenants: tenants.NewService(w.f.App, "localhost"), Merchants: w.merchants, Staff: w.staff,
		DB: w.f.App, Mailer: w.mail, FlashKey: flashKey, BaseHost: w.baseHost, Log: slog.New(slog.DiscardHandler), Orders: s,
	}); err != nil {
		t.Fatal(err)
	}
	w.app = app
	if listen {
		go func() { _ = app.Listener(ln) }()
		t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	}

	ids, err := searchtest.Seed(ctx, w.f.Platform, searchtest.Catalog{Tenant: "lumen", Products: []searchtest.Product{
		{Merchant: "northwind-lighting", Slug: "desk-lamp", Titles: map[string]string{"en": "Desk lamp"},
			Variants: []searchtest.Variant{{SKU: "DL-1", Prices: map[string]int64{"USD": 2500}, Stock: 5}}},
		{Merchant: "oak-and-ash", Slug: "oak-stool", Titles: map[string]string{"en": "Oak stool"},
			Variants: []searchtest.Variant{{SKU: "OS-1", Prices: map[string]int64{"USD": 8000}, Stock: 5}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	lumen := w.tenant["lumen"]
	var shoppers []uuid.UUID
	if err := w.f.Platform.Do(ctx, "test.shoppers", func(tx bun.IDB) error {
		return tx.NewRaw(`INSERT INTO shoppers (tenant_id, email) VALUES (?0, 'one@shop.test'), (?0, 'two@shop.test') RETURNING id`, lumen).Scan(ctx, &shoppers)
	}); err != nil {
		t.Fatal(err)
	}
	place := func(shopper uuid.UUID, email string, skus ...string) orders.Order {
		t.Helper()
		owner := cart.Owner{ShopperID: shopper}
		for _, sku := range skus {
			if err := carts.Add(ctx, lumen, owner, ids.Variants[sku], 1); err != nil {
				t.Fatal(err)
			}
		}
		p, err := s.Checkout(ctx, lumen, orders.CheckoutInput{Owner: owner, Email: email,
			Address: orders.Address{Name: "Ada", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"}})
		if err != nil {
			t.Fatal(err)
		}
		return p.Order
	}
	both = place(shoppers[0], "one@shop.test", "DL-1", "OS-1")
	oakOnly = place(shoppers[1], "two@shop.test", "OS-1")
	return s, both, oakOnly
}

// The orders pages: the list filters by status and e-mail, sorts by total and pages; an
// order's page shows its merchant orders, lines, commission and timeline and cancels after a
// confirmation; merchant staff see only their part and cannot cancel; other ids are 404.
func TestOrdersPages(t *testing.T) {
	w := newWorld(t, false)
	_, both, oakOnly := withOrders(t, w, false)
	owner := w.signIn("owner@lumen-goods.test")

	r := w.get(owner, "/console/orders")
	if r.status != http.StatusOK {
		t.Fatalf("orders: %d %s", r.status, excerpt(r.body))
	}
	if nav := navOf(r.body); !strings.Contains(nav, "Orders") || !strings.Contains(nav, "Shipping & tax") {
		t.Errorf("navigation: %q", nav)
	}
	for _, want := range []string{both.Number, oakOnly.Number, "one@shop.test", "$105.00", "$80.00", "Awaiting payment"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("orders list lacks %q", want)
		}
	}
	if leaked := leakedKeys(r.body); len(leaked) > 0 {
		t.Errorf("untranslated keys: %v", leaked)
	}
	// Sorted by total, ascending: the $80.00 order first; one per page.
	r = w.get(owner, "/console/orders?sort=total&dir=asc&limit=1")
	if i, j := strings.Index(r.body, oakOnly.Number), strings.Index(r.body, both.Number); i < 0 || j < 0 || i > j {
		t.Errorf("sorted by total: %d %d", i, j)
	}
	r = w.get(owner, "/console/orders?q=two@shop.test")
	if !strings.Contains(r.body, oakOnly.Number) || strings.Contains(r.body, both.Number) {
		t.Errorf("filtered by e-mail: %s", excerpt(text(r.body)))
	}
	r = w.get(owner, "/console/orders?status=paid")
	if strings.Contains(r.body, both.Number) || !strings.Contains(r.body, "No orders match") {
		t.Errorf("filtered by status: %s", excerpt(text(r.body)))
	}

	// The order's page.
	r = w.get(owner, "/console/orders/"+both.ID.String())
	for _, want := range []string{"Northwind Lighting", "Oak &amp; Ash Furniture", "Desk lamp", "DL-1", `id="order-total"><strong>$105.00`,
		`id="order-commission">$10.50`, "Timeline", "1 Main St", `id="cancel-order"`, "data-confirm"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}
	if leaked := leakedKeys(r.body); len(leaked) > 0 {
		t.Errorf("untranslated keys on the order page: %v", leaked)
	}

	// Northwind's owner: only the order with a lamp, and only the lamp's part; no cancelling.
	nw := w.signIn("owner@northwind.test")
	r = w.get(nw, "/console/orders")
	if !strings.Contains(r.body, both.Number) || strings.Contains(r.body, oakOnly.Number) || !strings.Contains(r.body, "$25.00") {
		t.Errorf("merchant's list: %s", excerpt(text(r.body)))
	}
	r = w.get(nw, "/console/orders/"+both.ID.String())
	if r.status != 200 || strings.Contains(r.body, "Oak &amp; Ash") || strings.Contains(r.body, `id="cancel-order"`) {
		t.Errorf("merchant's order page: %d", r.status)
	}
	if r := w.get(nw, "/console/orders/"+oakOnly.ID.String()); r.status != http.StatusNotFound {
		t.Errorf("another merchant's order: %d", r.status)
	}
	if r := w.post(nw, "/console/orders/"+both.ID.String()+"/cancel", nil); r.status != http.StatusForbidden {
		t.Errorf("merchant cancels: %d", r.status)
	}
	if r := w.get(owner, "/console/orders/"+uuid.NewString()); r.status != http.StatusNotFound {
		t.Errorf("unknown order: %d", r.status)
	}

	// Cancel: the result shows on the order's page; a second cancel is refused with a reason.
	r = w.follow(owner, w.post(owner, "/console/orders/"+both.ID.String()+"/cancel", nil))
	if got := flashOf(r.body); got != "The order is cancelled." || !strings.Contains(r.body, "Cancelled") {
		t.Errorf("after cancelling: %q", got)
	}
	r = w.follow(owner, w.post(owner, "/console/orders/"+both.ID.String()+"/cancel", nil))
	if got := flashOf(r.body); !strings.HasPrefix(got, "This order can no longer be cancelled") {
		t.Errorf("second cancel: %q", got)
	}
}

// The shipping and tax page: merchant staff add flat and weight-based rates for their store
// (errors beside the fields, what was typed kept) and delete them; tenant staff read every
// store's rates and manage tax rates; merchant staff see no tax rates.
func TestShippingPage(t *testing.T) {
	w := newWorld(t, false)
	withOrders(t, w, false)
	nw := w.signIn("owner@northwind.test")
	r := w.get(nw, "/console/shipping")
	if r.status != 200 || !strings.Contains(r.body, "No shipping rates") || strings.Contains(r.body, `id="new-tax"`) {
		t.Fatalf("merchant's shipping page: %d %s", r.status, excerpt(text(r.body)))
	}
	r = w.post(nw, "/console/shipping/rates", url.Values{"name": {"Parcel"}, "currency": {"USD"}, "kind": {"weight"}, "brackets": {"500: 4.50\n100: 3"}})
	if r.status != http.StatusUnprocessableEntity || promoFieldError(r.body, "f-brackets") != "One line per bracket, grams: price, with weights going up." ||
		!strings.Contains(r.body, `value="Parcel"`) {
		t.Errorf("bad brackets: %d %q", r.status, promoFieldError(r.body, "f-brackets"))
	}
	r = w.post(nw, "/console/shipping/rates", url.Values{"name": {"Standard"}, "currency": {"USD"}, "kind": {"flat"}, "flat": {"5.999"}})
	if r.status != http.StatusUnprocessableEntity || promoFieldError(r.body, "f-flat") != "Enter an amount, such as 5.00." {
		t.Errorf("bad flat price: %d %q", r.status, promoFieldError(r.body, "f-flat"))
	}
	r = w.follow(nw, w.post(nw, "/console/shipping/rates", url.Values{"name": {"Standard"}, "currency": {"USD"}, "kind": {"flat"}, "flat": {"5"}, "free_over": {"100"}}))
	if got := flashOf(r.body); got != "The shipping rate Standard is added." || !strings.Contains(rowOf(r.body, "data-rate", "Standard"), "$5.00") {
		t.Errorf("created flat rate: %q %q", got, rowOf(r.body, "data-rate", "Standard"))
	}
	r = w.follow(nw, w.post(nw, "/console/shipping/rates", url.Values{"name": {"Parcel"}, "currency": {"USD"}, "kind": {"weight"}, "brackets": {"500: 4.50\n2000: 9"}}))
	if row := rowOf(r.body, "data-rate", "Parcel"); !strings.Contains(row, "up to 500 g: $4.50") || !strings.Contains(row, "up to 2,000 g: $9.00") {
		t.Errorf("weight rate row: %q", row)
	}
	if leaked := leakedKeys(r.body); len(leaked) > 0 {
		t.Errorf("untranslated keys: %v", leaked)
	}

	// The tenant's owner reads every store's rates and manages tax.
	owner := w.signIn("owner@lumen-goods.test")
	r = w.get(owner, "/console/shipping")
	if row := rowOf(r.body, "data-rate", "Standard"); !strings.Contains(row, "Northwind Lighting") || strings.Contains(r.body, `id="new-rate"`) {
		t.Errorf("tenant's view of the rates: %q", row)
	}
	r = w.post(owner, "/console/shipping/tax-rates", url.Values{"country": {"USA"}, "name": {"Sales tax"}, "rate": {"8.255"}})
	if r.status != http.StatusUnprocessableEntity || promoFieldError(r.body, "f-rate") != "Enter a percentage from 0 to 100, such as 8.25." ||
		!strings.Contains(r.body, `value="USA"`) {
		t.Errorf("bad tax rate: %d", r.status)
	}
	r = w.follow(owner, w.post(owner, "/console/shipping/tax-rates", url.Values{"country": {"us"}, "region": {"ca"}, "name": {"California"}, "rate": {"8.25"}, "inclusive": {"on"}}))
	if row := rowOf(r.body, "data-tax", "US-CA"); !strings.Contains(row, "8.25%") || !strings.Contains(row, "Include tax") {
		t.Errorf("tax row: %q (%q)", row, flashOf(r.body))
	}
	r = w.post(owner, "/console/shipping/tax-rates", url.Values{"country": {"US"}, "region": {"CA"}, "name": {"Again"}, "rate": {"1"}})
	if promoFieldError(r.body, "f-country") != "This country and region have a tax rate already." {
		t.Errorf("duplicate tax rate: %d %q", r.status, promoFieldError(r.body, "f-country"))
	}
	// Merchant staff may not touch tax rates.
	if r := w.post(nw, "/console/shipping/tax-rates", url.Values{"country": {"US"}, "name": {"X"}, "rate": {"1"}}); r.status != http.StatusForbidden {
		t.Errorf("merchant adds a tax rate: %d", r.status)
	}
}
