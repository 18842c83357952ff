package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// ordersService is checkout and orders wired like apps/mercato wires them, with a fee
// splitter that gives the merchant everything (fees are not what the route tests are about).
func ordersService(d *db.DB, pol *authz.Policies) *orders.Service {
	promos := promotions.NewService(d, audit.Recorder{})
	return orders.NewService(d, orders.Config{Audit: audit.Recorder{}, Inventory: inventory.NewService(d, audit.Recorder{}),
		Carts: cart.NewService(d, catalog.NewService(d, pol, audit.Recorder{}), promos), Promos: promos,
		Fees: func(_ string, lines []orders.FeeLine) ([]orders.LineFees, error) {
			out := make([]orders.LineFees, len(lines))
			for i, l := range lines {
				out[i] = orders.LineFees{PayableMinor: l.NetMinor}
			}
			return out, nil
		}})
}

// seedOrder writes an order with one merchant order and line, a shipping rate of that merchant
// and a tax rate straight into tenant slug, and returns their ids.
type seeded struct{ order, merchantOrder, line, rate, tax uuid.UUID }

func (w *world) seedOrder(slug, handle, country string) seeded {
	w.t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	s := seeded{order: uuid.Must(uuid.NewV7()), merchantOrder: uuid.Must(uuid.NewV7()), line: uuid.Must(uuid.NewV7()),
		rate: uuid.Must(uuid.NewV7()), tax: uuid.Must(uuid.NewV7())}
	t, m := w.tenant[slug], w.merchant[slug][handle]
	err := w.f.App.WithTenant(ctx, t, func(tx bun.IDB) error {
		for _, q := range []string{
			`INSERT INTO orders (tenant_id, id, number, shopper_key, email, currency, address, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, expires_at)
			 VALUES (?0, ?1, 'M-' || ?1::text, 'email:x@example.com', 'x@example.com', 'USD', '{}', 1000, 0, 0, 0, 1000, now() + interval '30 minutes')`,
			`INSERT INTO merchant_orders (tenant_id, id, order_id, merchant_id, currency, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor)
			 VALUES (?0, ?2, ?1, ?3, 'USD', 1000, 0, 0, 0, 1000)`,
			`INSERT INTO order_lines (tenant_id, id, order_id, merchant_order_id, merchant_id, variant_id, product_id, quantity, unit_price_minor, list_price_minor, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor)
			 VALUES (?0, ?4, ?1, ?2, ?3, ?4, ?4, 1, 1000, 1000, 1000, 0, 0, 0, 1000)`,
			`INSERT INTO shipping_rates (tenant_id, id, merchant_id, name, currency, kind, flat_minor) VALUES (?0, ?5, ?3, 'Standard', 'USD', 'flat', 500)`,
			`INSERT INTO tax_rates (tenant_id, id, country, name, rate_bp) VALUES (?0, ?6, ?7, 'VAT', 1000)`,
		} {
			if _, err := tx.ExecContext(ctx, q, t, s.order, s.merchantOrder, m, s.line, s.rate, s.tax, country); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// shopperCaller signs a new shopper up at tenant slug.
func (w *world) shopperCaller(slug string) (caller, uuid.UUID) {
	w.t.Helper()
	auth, err := w.ids.SignUpShopper(context.Background(), w.tenant[slug], identity.ShopperSignUp{
		Email: uuid.NewString()[:8] + "@shopper.test", Password: "correct horse battery staple", Name: "Shopper"})
	if err != nil {
		w.t.Fatal(err)
	}
	return caller{name: "shopper", role: "shopper", domain: w.tenant[slug].String(),
		cookie: w.ids.CookieName(identity.ShopperCookie) + "=" + auth.Token, csrf: w.ids.CSRFToken(auth.Session.ID)}, auth.Shopper.ID
}

// Order, shipping-rate and tax-rate routes with another tenant's ids, and with another
// merchant's, answer 404 and show nothing of them; shoppers see only their own orders.
func TestOrderRoutesCrossTenantAndMerchant(t *testing.T) {
	w := newWorld(t)
	var owner, northwind caller
	for _, c := range w.callers() {
		switch c.name {
		case "owner@lumen-goods.test":
			owner = c
		case "owner@northwind.test":
			northwind = c
		}
	}
	if owner.role != "tenant_owner" || northwind.role != "merchant_owner" {
		t.Fatalf("callers changed: %+v %+v", owner, northwind)
	}
	b := w.seedOrder("panda", "jade-studio", "CN")          // tenant B
	oak := w.seedOrder("lumen", "oak-and-ash", "US")        // another merchant of tenant A
	own := w.seedOrder("lumen", "northwind-lighting", "GB") // northwind's own

	walk := func(who caller, host string, target seeded, foreign ...string) int {
		t.Helper()
		n := 0
		for _, tc := range []struct{ method, path, body string }{
			{"GET", "/v1/orders/" + target.order.String(), ""},
			{"GET", "/v1/orders/" + target.order.String() + "/merchant-orders/" + target.merchantOrder.String(), ""},
			{"POST", "/v1/orders/" + target.order.String() + "/cancel", `{}`},
			{"PUT", "/v1/shipping-rates/" + target.rate.String(), `{"name":"Mine","currency":"USD","kind":"flat","flat_minor":1}`},
			{"DELETE", "/v1/shipping-rates/" + target.rate.String(), ""},
			{"PUT", "/v1/tax-rates/" + target.tax.String(), `{"country":"US","name":"Mine","rate_bp":1}`},
			{"DELETE", "/v1/tax-rates/" + target.tax.String(), ""},
			{"GET", "/v1/storefront/orders/" + target.order.String(), ""},
		} {
			status, body := w.do(who, tc.method, tc.path, tc.body, host)
			allowed, _ := w.enforcer.EnforceRole(who.role, who.domain, tc.path, actionFor(tc.method))
			n++
			body = instanceField.ReplaceAllString(body, "")
			for _, f := range foreign {
				if strings.Contains(body, f) {
					t.Errorf("%s %s as %s leaked %s: %d %s", tc.method, tc.path, who.name, f, status, body)
				}
			}
			// Shopper cookies authenticate only storefront routes; elsewhere a shopper is anonymous.
			unauthenticated := who.role == "shopper" && !strings.HasPrefix(tc.path, "/v1/storefront") && status == http.StatusUnauthorized
			if allowed && status != http.StatusNotFound && !unauthenticated {
				t.Errorf("%s %s as %s: %d, want 404 %s", tc.method, tc.path, who.name, status, body)
			}
			if !allowed && status < 400 {
				t.Errorf("%s %s as %s: %d, the policy denies it", tc.method, tc.path, who.name, status)
			}
		}
		return n
	}
	n := walk(owner, "", b, b.order.String(), b.merchantOrder.String(), "jade")
	n += walk(northwind, "", oak, oak.order.String(), oak.merchantOrder.String())
	shopper, _ := w.shopperCaller("lumen")
	n += walk(shopper, "lumen.localhost", oak, oak.order.String())
	n += walk(shopper, "lumen.localhost", b, b.order.String())

	// Lists stay inside the caller's scope.
	_, body := w.do(owner, "GET", "/v1/orders?limit=100", "", "")
	if strings.Contains(body, b.order.String()) || !strings.Contains(body, oak.order.String()) {
		t.Errorf("tenant owner's list: %s", body)
	}
	_, body = w.do(northwind, "GET", "/v1/orders", "", "")
	if strings.Contains(body, oak.order.String()) || !strings.Contains(body, own.order.String()) {
		t.Errorf("merchant's list: %s", body)
	}
	if status, body := w.do(northwind, "GET", "/v1/orders/"+own.order.String(), "", ""); status != 200 || strings.Contains(body, oak.merchantOrder.String()) {
		t.Errorf("merchant's own order: %d %s", status, body)
	}
	_, body = w.do(northwind, "GET", "/v1/shipping-rates", "", "")
	if strings.Contains(body, oak.rate.String()) || !strings.Contains(body, own.rate.String()) {
		t.Errorf("merchant's shipping rates: %s", body)
	}
	_, body = w.do(shopper, "GET", "/v1/storefront/orders", "", "lumen.localhost")
	if !strings.Contains(body, `"items":[]`) {
		t.Errorf("a new shopper's orders: %s", body)
	}
	// Nothing was cancelled or deleted.
	for _, s := range []seeded{b, oak} {
		var status string
		var rates int
		slug := "panda"
		if s == oak {
			slug = "lumen"
		}
		if err := w.f.App.WithTenant(context.Background(), w.tenant[slug], func(tx bun.IDB) error {
			if err := tx.NewRaw("SELECT status FROM orders WHERE id = ?", s.order).Scan(context.Background(), &status); err != nil {
				return err
			}
			return tx.NewRaw("SELECT count(*) FROM shipping_rates WHERE id = ?", s.rate).Scan(context.Background(), &rates)
		}); err != nil {
			t.Fatal(err)
		}
		if status != orders.StatusPendingPayment || rates != 1 {
			t.Errorf("%s's order is %s, rate rows %d", slug, status, rates)
		}
	}
	t.Logf("%d cross-tenant and cross-merchant order requests, 0 leaks", n)
}

// POST /v1/storefront/checkout with an Idempotency-Key places one order however often it is
// sent: the retry gets the first answer (Idempotent-Replayed), the same key with another body
// is refused (422), and only one order exists.
func TestCheckoutIdempotency(t *testing.T) {
	w := newWorld(t)
	ctx := scope.WithActor(context.Background(), "system:test")
	lumen := w.tenant["lumen"]
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.NewService(w.f.App, pol, audit.Recorder{})
	inv := inventory.NewService(w.f.App, audit.Recorder{})
	c, err := cat.CreateCategory(ctx, lumen, catalog.CategoryInput{Slug: "idem-cat", Name: map[string]string{"en": "Lamps"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cat.CreateProduct(ctx, lumen, catalog.ProductInput{MerchantID: w.merchant["lumen"]["northwind-lighting"], Slug: "idem-lamp",
		CategoryID: &c.ID, Translations: map[string]catalog.Translation{"en": {Title: "Lamp"}}, Images: []catalog.Image{{Key: "img/l.jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cat.AddVariant(ctx, lumen, p.ID, catalog.VariantInput{SKU: "IDEM-1"})
	if err == nil {
		_, err = cat.SetPrice(ctx, lumen, p.ID, v.ID, catalog.PriceInput{Currency: "USD", Amount: "10.00"})
	}
	if err == nil {
		p, err = cat.Submit(ctx, lumen, p.ID)
	}
	if err == nil && p.Status == catalog.StatusPendingReview {
		_, err = cat.Moderate(ctx, lumen, p.ID, "approve", "")
	}
	if err != nil {
		t.Fatal(err)
	}
	loc, err := inv.CreateLocation(ctx, lumen, inventory.NewLocation{MerchantID: p.MerchantID, Name: "Main"})
	if err == nil {
		_, _, err = inv.Adjust(ctx, lumen, inventory.NewAdjustment{VariantID: v.ID, LocationID: loc.ID, Delta: 5, Reason: inventory.ReasonReceived})
	}
	if err != nil {
		t.Fatal(err)
	}
	shopper, shopperID := w.shopperCaller("lumen")
	carts := cart.NewService(w.f.App, cat, promotions.NewService(w.f.App, audit.Recorder{}))
	if err := carts.Add(ctx, lumen, cart.Owner{ShopperID: shopperID}, v.ID, 2); err != nil {
		t.Fatal(err)
	}
	body := `{"email":"ada@example.com","address":{"name":"Ada","line1":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"}}`
	post := func(key, body string) (int, string, http.Header) {
		t.Helper()
		req := newRequest("POST", "/v1/storefront/checkout", body, "lumen.localhost", shopper)
		req.Header.Set("Idempotency-Key", key)
		resp, err := w.app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(resp.Body), resp.Header
	}
	status, first, _ := post("checkout-1", body)
	if status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", status, first)
	}
	var placed struct {
		Order struct {
			ID         uuid.UUID `json:"id"`
			Status     string    `json:"status"`
			TotalMinor int64     `json:"total_minor"`
		} `json:"order"`
	}
	if err := json.Unmarshal([]byte(first), &placed); err != nil || placed.Order.Status != "pending_payment" || placed.Order.TotalMinor != 2000 {
		t.Fatalf("placed: %v %s", err, first)
	}
	status, again, h := post("checkout-1", body)
	if status != http.StatusCreated || again != first || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %s %v", status, again, h)
	}
	if status, resp, _ := post("checkout-1", strings.Replace(body, "Ada", "Eve", 1)); status != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: %d %s", status, resp)
	}
	// A new key finds the cart empty: the first checkout cleared it.
	if status, resp, _ := post("checkout-2", body); status != http.StatusUnprocessableEntity || !strings.Contains(resp, "cart_empty") {
		t.Errorf("second checkout: %d %s", status, resp)
	}
	var n int
	if err := w.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT count(*) FROM orders").Scan(ctx, &n)
	}); err != nil || n != 1 {
		t.Errorf("%d orders, want 1 (%v)", n, err)
	}
	// The shopper's order page through the API.
	if status, resp := w.do(shopper, "GET", "/v1/storefront/orders/"+placed.Order.ID.String(), "", "lumen.localhost"); status != 200 || !strings.Contains(resp, `"events"`) {
		t.Errorf("my order: %d %s", status, resp)
	}
	// Staff cancel it; a second cancel is an invalid transition: 409, and the timeline has both
	// the placing and the cancelling.
	var owner caller
	for _, c := range w.callers() {
		if c.name == "owner@lumen-goods.test" {
			owner = c
		}
	}
	if status, resp := w.do(owner, "POST", "/v1/orders/"+placed.Order.ID.String()+"/cancel", `{"note":"out of stock"}`, ""); status != 200 || !strings.Contains(resp, `"status":"cancelled"`) {
		t.Errorf("cancel: %d %s", status, resp)
	}
	if status, resp := w.do(owner, "POST", "/v1/orders/"+placed.Order.ID.String()+"/cancel", `{}`, ""); status != http.StatusConflict || !strings.Contains(resp, "invalid_transition") {
		t.Errorf("cancel again: %d %s", status, resp)
	}
	if _, resp := w.do(shopper, "GET", "/v1/storefront/orders/"+placed.Order.ID.String(), "", "lumen.localhost"); !strings.Contains(resp, `"note":"out of stock"`) {
		t.Errorf("the shopper's timeline lacks the cancellation: %s", resp)
	}
}

func actionFor(method string) string {
	switch method {
	case http.MethodGet:
		return authz.ActionRead
	case http.MethodDelete:
		return authz.ActionDelete
	}
	return authz.ActionWrite
}

func newRequest(method, path, body, host string, c caller) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Host = host
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
		req.Header.Set(identity.CSRFHeader, c.csrf)
	}
	return req
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
