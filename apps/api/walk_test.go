package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/api"
	"mercato/platform/audit"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/promotions"
	"mercato/tenants/search/searchtest"
)

// commercePrefixes are the catalog, inventory, cart, promotion, order and shipping routes the
// isolation walk covers: every operation of the API document under them is called.
var commercePrefixes = []string{"/v1/products", "/v1/inventory", "/v1/storefront/cart", "/v1/storefront/checkout",
	"/v1/storefront/orders", "/v1/promotions", "/v1/orders", "/v1/shipping-rates", "/v1/tax-rates", "/v1/shipments"}

// foreignObjects are one tenant's (or merchant's) objects of every kind the routes name.
type foreignObjects struct {
	category, product, variant, location, order, merchantOrder, line, rate, tax, coupon, sale, shipment, cartLine, merchant uuid.UUID
	// marks are strings only the other side's data carries (titles, SKU, codes, numbers,
	// names): one in an answer is a leak, whatever ids the caller sent.
	marks []string
}

// params fills the path parameters of a commerce route with the foreign objects' ids; ok is
// false for a parameter the walk does not know, so a new route cannot slip past it.
func (o foreignObjects) params(path string) (map[string]string, bool) {
	var ids map[string]string
	switch {
	case strings.HasPrefix(path, "/v1/products/categories/"):
		ids = map[string]string{"id": o.category.String()}
	case strings.HasPrefix(path, "/v1/products/"):
		ids = map[string]string{"id": o.product.String(), "variant": o.variant.String(), "action": "approve"}
	case strings.HasPrefix(path, "/v1/inventory/"):
		ids = map[string]string{"variant_id": o.variant.String(), "id": o.location.String()}
	case strings.HasPrefix(path, "/v1/orders/"), strings.HasPrefix(path, "/v1/storefront/orders/"):
		ids = map[string]string{"id": o.order.String(), "merchant_order_id": o.merchantOrder.String()}
	case strings.HasPrefix(path, "/v1/storefront/cart/lines/"):
		ids = map[string]string{"id": o.cartLine.String()}
	case strings.HasPrefix(path, "/v1/promotions/coupons/"):
		ids = map[string]string{"id": o.coupon.String()}
	case strings.HasPrefix(path, "/v1/promotions/flash-sales/"):
		ids = map[string]string{"id": o.sale.String()}
	case strings.HasPrefix(path, "/v1/shipments/"):
		ids = map[string]string{"id": o.shipment.String()}
	case strings.HasPrefix(path, "/v1/shipping-rates/"):
		ids = map[string]string{"id": o.rate.String()}
	case strings.HasPrefix(path, "/v1/tax-rates/"):
		ids = map[string]string{"id": o.tax.String()}
	}
	filled := fill(path, ids)
	return ids, !strings.Contains(filled, "{")
}

// body is the request body a route is called with: the foreign objects' ids wherever the
// route takes one in its body, with valid values for the rest, so the call gets past
// validation to the lookup; "{}" where the path alone names the object.
func (o foreignObjects) body(method, path string) string {
	ends := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var b map[string]any
	switch method + " " + path {
	case "POST /v1/products":
		b = map[string]any{"merchant_id": o.merchant, "slug": "walk-" + uuid.NewString()[:8], "category_id": o.category,
			"translations": map[string]any{"en": map[string]string{"title": "Walk"}}}
	case "POST /v1/inventory/locations":
		b = map[string]any{"merchant_id": o.merchant, "name": "Walk"}
	case "POST /v1/inventory/adjustments":
		b = map[string]any{"variant_id": o.variant, "location_id": o.location, "delta": 1, "reason": "received"}
	case "POST /v1/shipments":
		b = map[string]any{"merchant_order_id": o.merchantOrder, "carrier": "manual", "tracking_number": "WALK-0001",
			"lines": []map[string]any{{"order_line_id": o.line, "quantity": 1}}}
	case "POST /v1/storefront/cart/lines":
		b = map[string]any{"variant_id": o.variant, "quantity": 1}
	case "POST /v1/promotions/coupons":
		b = map[string]any{"code": "WALK" + strings.ToUpper(uuid.NewString()[:4]), "kind": "percentage", "percent": "5",
			"merchant_id": o.merchant, "funded_by": "merchant", "ends_at": ends}
	case "POST /v1/promotions/flash-sales":
		b = map[string]any{"variant_id": o.variant, "price": "1.00", "quantity": 1, "ends_at": ends}
	case "POST /v1/shipping-rates":
		b = map[string]any{"merchant_id": o.merchant, "name": "Walk", "currency": "USD", "kind": "flat", "flat_minor": 1}
	case "PUT /v1/shipping-rates/{id}":
		b = map[string]any{"name": "Walk", "currency": "USD", "kind": "flat", "flat_minor": 1}
	case "PUT /v1/tax-rates/{id}":
		b = map[string]any{"country": "US", "name": "Walk", "rate_bp": 1}
	case "PUT /v1/products/{id}/variants/{variant}/prices":
		b = map[string]any{"currency": "USD", "amount": "1.00"}
	case "POST /v1/products/{id}/variants":
		b = map[string]any{"sku": "WALK-" + strings.ToUpper(uuid.NewString()[:6])}
	case "POST /v1/shipments/{id}/events":
		b = map[string]any{"status": "delivered"}
	case "PATCH /v1/storefront/cart/lines/{id}":
		b = map[string]any{"quantity": 2}
	default:
		return "{}"
	}
	raw, _ := json.Marshal(b)
	return string(raw)
}

// seedForeign makes one of everything in tenant slug, for merchant handle.
func (w *world) seedForeign(slug, handle, sku string) foreignObjects {
	w.t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	tid := w.tenant[slug]
	currency := map[string]string{"lumen": "USD", "panda": "CNY"}[slug]
	cat, err := searchtest.Seed(ctx, w.f.Platform, searchtest.Catalog{Tenant: slug,
		Categories: []searchtest.Category{{Slug: "walk-" + strings.ToLower(sku), Name: map[string]string{"en": "Walk"}}},
		Products: []searchtest.Product{{Merchant: handle, Slug: "walk-" + strings.ToLower(sku), Category: "walk-" + strings.ToLower(sku),
			Titles:   map[string]string{"en": "Walk " + sku},
			Variants: []searchtest.Variant{{SKU: sku, Prices: map[string]int64{currency: 5000}, Stock: 5}}}}})
	if err != nil {
		w.t.Fatal(err)
	}
	ord := w.seedOrder(slug, handle, "CN")
	o := foreignObjects{category: cat.Categories["walk-"+strings.ToLower(sku)], product: cat.Products["walk-"+strings.ToLower(sku)],
		variant: cat.Variants[sku], order: ord.order, merchantOrder: ord.merchantOrder, line: ord.line, rate: ord.rate, tax: ord.tax,
		merchant: w.merchant[slug][handle], shipment: uuid.Must(uuid.NewV7())}
	staff := scope.WithActor(context.Background(), "user:tenant-staff")
	promos := promotions.NewService(w.f.App, audit.Recorder{})
	c, err := promos.CreateCoupon(staff, tid, promotions.CouponInput{Code: "WALK-" + sku, Kind: promotions.KindPercentage, Percent: "5",
		EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := promos.CreateFlashSale(staff, tid, promotions.FlashSaleInput{VariantID: o.variant, Price: "1.00", Quantity: 2,
		EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		w.t.Fatal(err)
	}
	o.coupon, o.sale = c.ID, s.ID
	o.marks = []string{"Walk " + sku, sku, c.Code, "TRACK" + sku, "M-" + ord.order.String()}
	_, shopper := w.shopperCaller(slug)
	err = w.f.App.WithTenant(ctx, tid, func(tx bun.IDB) error {
		if err := tx.NewRaw("SELECT id FROM stock_locations WHERE merchant_id = ? AND is_default", o.merchant).Scan(ctx, &o.location); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipments (tenant_id, id, order_id, merchant_order_id, merchant_id, carrier, tracking_number, created_by)
			VALUES (?, ?, ?, ?, ?, 'manual', ?, 'system:test')`, tid, o.shipment, o.order, o.merchantOrder, o.merchant, "TRACK"+sku); err != nil {
			return err
		}
		var cartID uuid.UUID
		if err := tx.NewRaw(`INSERT INTO carts (tenant_id, shopper_id) VALUES (?, ?) RETURNING id`, tid, shopper).
			Scan(ctx, &cartID); err != nil {
			return err
		}
		return tx.NewRaw(`INSERT INTO cart_lines (tenant_id, cart_id, variant_id, quantity, seen_price_minor) VALUES (?, ?, ?, 1, 5000) RETURNING id`,
			tid, cartID, o.variant).Scan(ctx, &o.cartLine)
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

// Isolation (TESTING.md): every catalog, inventory, cart, promotion, order and shipping route
// of the API document, called by tenant A's owner (and A's shoppers on A's host) with tenant
// B's ids in path and body, and by one of A's merchants with another A merchant's: nothing of
// the other side comes back, nothing is allowed to succeed but listing one's own, and nothing
// of theirs changes.
func TestCommerceRouteWalk(t *testing.T) {
	w := newWorld(t)
	staffOf := map[string]caller{}
	for _, c := range w.callers() {
		staffOf[c.name] = c
	}
	owner, northwind := staffOf["owner@lumen-goods.test"], staffOf["owner@northwind.test"]
	shopper, _ := w.shopperCaller("lumen")
	pandaObjs := w.seedForeign("panda", "jade-studio", "WALK-JADE")
	oakObjs := w.seedForeign("lumen", "oak-and-ash", "WALK-OAK")
	audited := func(slug string) (n int) {
		t.Helper()
		if err := w.f.Platform.Do(context.Background(), "test.audit", func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM audit_entries WHERE tenant_id = ?", w.tenant[slug]).Scan(context.Background(), &n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pandaBefore := audited("panda")

	leaks, calls, routes := 0, 0, 0
	walk := func(who caller, host string, target foreignObjects, merchantOnly bool) {
		t.Helper()
		for _, op := range w.operations() {
			if !hasAnyPrefix(op.Path, commercePrefixes) {
				continue
			}
			storefront := strings.HasPrefix(op.Path, "/v1/storefront/")
			if storefront != (who.role == "shopper") {
				continue
			}
			ids, ok := target.params(op.Path)
			if !ok {
				t.Errorf("%s %s: the walk has no foreign id for its parameters", op.Method, op.Path)
				continue
			}
			// Categories and tax rates are the tenant's, not a merchant's: a merchant of the same
			// tenant may read them.
			if merchantOnly && (strings.HasPrefix(op.Path, "/v1/products/categories") || strings.HasPrefix(op.Path, "/v1/tax-rates")) {
				continue
			}
			routes++
			path := fill(op.Path, ids)
			status, body := w.do(who, op.Method, path, target.body(op.Method, op.Path), host)
			calls++
			for _, f := range target.marks {
				if strings.Contains(body, f) {
					leaks++
					t.Errorf("%s %s as %s leaked %s: %d %s", op.Method, path, who.name, f, status, body)
				}
			}
			// Only listing one's own, or creating one's own from a body naming another's objects
			// (which must then not have used them: the leak check and the state check below),
			// may succeed; nothing addressed by another's id in the path may.
			if status < 300 && strings.Contains(op.Path, "{") {
				t.Errorf("%s %s as %s: %d on another's object %s", op.Method, path, who.name, status, body)
			}
			if status < 300 && op.Method != http.MethodGet {
				t.Errorf("%s %s as %s: %d with another's ids in the body %s", op.Method, path, who.name, status, body)
			}
		}
	}
	walk(owner, "", pandaObjs, false)
	walk(shopper, "lumen.localhost", pandaObjs, false)
	walk(northwind, "", oakObjs, true)

	if after := audited("panda"); after != pandaBefore {
		t.Errorf("tenant B's audit chain grew from %d to %d entries during the walk", pandaBefore, after)
	}
	// B's objects are as they were.
	var state struct {
		Product, Order string
		Coupon, Sale   bool
		Lines, Ships   int
	}
	if err := w.f.App.WithTenant(context.Background(), w.tenant["panda"], func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT (SELECT status FROM products WHERE id = ?0), (SELECT status FROM orders WHERE id = ?1),
			(SELECT active FROM coupons WHERE id = ?2), (SELECT active FROM flash_sales WHERE id = ?3),
			(SELECT count(*) FROM cart_lines WHERE id = ?4), (SELECT count(*) FROM shipments WHERE id = ?5)`,
			pandaObjs.product, pandaObjs.order, pandaObjs.coupon, pandaObjs.sale, pandaObjs.cartLine, pandaObjs.shipment).
			Scan(context.Background(), &state.Product, &state.Order, &state.Coupon, &state.Sale, &state.Lines, &state.Ships)
	}); err != nil {
		t.Fatal(err)
	}
	if state.Product != "active" || state.Order != "pending_payment" || !state.Coupon || !state.Sale || state.Lines != 1 || state.Ships != 1 {
		t.Errorf("tenant B after the walk: %+v", state)
	}
	if routes < 40 {
		t.Errorf("only %d route calls: the walk is not reaching the commerce routes", routes)
	}
	t.Logf("%d calls over the commerce routes with another tenant's or merchant's ids, %d leaks", calls, leaks)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// The inbound carrier webhook is public (its signature is the credential) but not unlimited:
// one address flooding it with bad signatures is refused with 429 and Retry-After once past the
// flood budget, before any signature is checked.
func TestCarrierWebhookFloodLimit(t *testing.T) {
	w := newWorldLimited(t, api.RateLimits{Flood: httpx.Limit{Rate: 1, Per: time.Minute, Burst: 3}, Authenticated: lots, Anonymous: lots})
	var statuses []int
	for range 5 {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/carriers/generic_http", strings.NewReader(`{"tracking_number":"X"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := w.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if statuses[0] == http.StatusTooManyRequests || statuses[4] != http.StatusTooManyRequests {
		t.Errorf("statuses %v: want the first answered (refused signature) and the flood refused", statuses)
	}
}
