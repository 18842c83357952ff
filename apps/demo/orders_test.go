package demo_test

import (
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/billing/fees"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// The demo's orders: each lands in the state the demo names, through checkout, payment and
// the manual carrier, so every state a shopper or merchant meets is there to click; the
// welcome coupon is used once per order that kept it; a second load places nothing.
func TestDemoOrdersInEveryState(t *testing.T) {
	f := dbtest.New(t)
	ctx := scope.WithActor(t.Context(), "system:seed")
	policies, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.NewService(f.App, policies, audit.Recorder{})
	promo := promotions.NewService(f.App, audit.Recorder{})
	inv := inventory.NewService(f.App, audit.Recorder{})
	carts := cart.NewService(f.App, cat, promo)
	ords := orders.NewService(f.App, orders.Config{Audit: audit.Recorder{}, Inventory: inv, Carts: carts, Promos: promo, Fees: fees.ForOrders})
	deps := demo.OrderDeps{Platform: f.Platform, DB: f.App, Orders: ords, Carts: carts,
		Fulfillment: fulfillment.NewService(f.App, fulfillment.Config{Audit: audit.Recorder{}, Orders: ords, Platform: f.Platform})}
	type tally struct{ orders, shipments, delivered, couponUses, carts int }
	count := func() (map[string]int, tally) {
		t.Helper()
		byStatus := map[string]int{}
		var n tally
		if err := f.Platform.Do(ctx, "test.orders", func(tx bun.IDB) error {
			var rows []struct {
				Slug   string `bun:"slug"`
				Status string `bun:"status"`
				N      int    `bun:"n"`
			}
			if err := tx.NewRaw(`SELECT t.slug, o.status, count(*) AS n FROM orders o JOIN tenants t ON t.id = o.tenant_id
				GROUP BY 1, 2`).Scan(ctx, &rows); err != nil {
				return err
			}
			for _, r := range rows {
				byStatus[r.Slug+"/"+r.Status] += r.N
				n.orders += r.N
			}
			return tx.NewRaw(`SELECT (SELECT count(*) FROM shipments),
				(SELECT count(*) FROM shipments WHERE status = 'delivered'),
				(SELECT coalesce(sum(used), 0) FROM coupons WHERE code = ?),
				(SELECT count(*) FROM cart_lines)`, demo.Coupon).Scan(ctx, &n.shipments, &n.delivered, &n.couponUses, &n.carts)
		}); err != nil {
			t.Fatal(err)
		}
		return byStatus, n
	}
	load := func() {
		t.Helper()
		if err := demo.Load(ctx, f.Platform); err != nil {
			t.Fatal(err)
		}
		if err := demo.LoadCatalog(ctx, demo.CatalogDeps{Platform: f.Platform, DB: f.App, Blob: media(t), Catalog: cat,
			Inventory: inv, Promotions: promo}); err != nil {
			t.Fatal(err)
		}
		if err := demo.LoadOrders(ctx, deps); err != nil {
			t.Fatal(err)
		}
	}
	load()
	byStatus, first := count()

	want := map[string]int{}
	states := map[string]bool{}
	wantShipments, wantDelivered, wantCoupon := 0, 0, 0
	for _, o := range demo.Orders {
		want[o.Tenant+"/"+o.State]++
		states[o.State] = true
		merchants := map[string]bool{}
		for _, it := range o.Items {
			merchants[merchantOf(t, it.SKU)] = true
		}
		switch o.State {
		case orders.StatusCompleted:
			wantShipments += len(merchants)
			wantDelivered += len(merchants)
		case orders.StatusFulfilled:
			wantShipments += len(merchants)
		case orders.StatusPartiallyFulfilled:
			wantShipments++
		}
		if o.Coupon != "" && o.State != orders.StatusCancelled {
			wantCoupon++
		}
	}
	for _, s := range []string{orders.StatusPendingPayment, orders.StatusPaid, orders.StatusPartiallyFulfilled,
		orders.StatusFulfilled, orders.StatusCompleted, orders.StatusCancelled} {
		if !states[s] {
			t.Errorf("no demo order is %s", s)
		}
	}
	if !equal(byStatus, want) {
		t.Errorf("orders by tenant and status:\n got  %v\n want %v", byStatus, want)
	}
	if first.shipments != wantShipments || first.delivered != wantDelivered || first.couponUses != wantCoupon || first.carts != 0 {
		t.Errorf("after the load %+v, want %d shipments, %d delivered, %d coupon uses, empty carts",
			first, wantShipments, wantDelivered, wantCoupon)
	}

	load()
	if again, n := count(); !equal(again, byStatus) || n != first {
		t.Errorf("second load changed the orders: %v %+v, first %v %+v", again, n, byStatus, first)
	}

	// Once the unpaid orders are past their time, the next load cancels them (before the
	// worker would) and places fresh ones, so the demo always has an order awaiting payment.
	if err := f.Platform.Do(ctx, "test.age_orders", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "UPDATE orders SET expires_at = now() - interval '1 minute' WHERE status = 'pending_payment'")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	load()
	after, _ := count()
	for _, slug := range []string{"lumen", "panda"} {
		if after[slug+"/pending_payment"] != want[slug+"/pending_payment"] ||
			after[slug+"/cancelled"] != want[slug+"/cancelled"]+want[slug+"/pending_payment"] {
			t.Errorf("%s after the unpaid orders expired and the demo loaded again: %v", slug, after)
		}
	}
	if after["lumen/completed"] != want["lumen/completed"] || after["nordic/paid"] != want["nordic/paid"] {
		t.Errorf("the reload placed more than the unpaid orders: %v", after)
	}
}

// merchantOf is the demo merchant selling the SKU.
func merchantOf(t *testing.T, sku string) string {
	t.Helper()
	for _, c := range demo.Catalogs {
		for _, p := range c.Products {
			for _, v := range append([]string{""}, p.Values...) {
				s := p.Slug
				if v != "" {
					s += "-" + v
				}
				if strings.ToUpper(s) == sku {
					return p.Merchant
				}
			}
		}
	}
	t.Fatalf("no demo product has SKU %s", sku)
	return ""
}
