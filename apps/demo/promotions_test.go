package demo_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/promotions"
)

// The demo's promotions: every store has the welcome coupon, Lumen a running flash sale of the
// black arc lamp at 59.00, and a second load adds nothing.
func TestDemoPromotions(t *testing.T) {
	f := dbtest.New(t)
	ctx := scope.WithActor(t.Context(), "system:seed")
	policies, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	promo := promotions.NewService(f.App, audit.Recorder{})
	deps := demo.CatalogDeps{Platform: f.Platform, DB: f.App, Blob: media(t),
		Catalog: catalog.NewService(f.App, policies, audit.Recorder{}), Inventory: inventory.NewService(f.App, audit.Recorder{}), Promotions: promo}
	count := func() (coupons, sales int) {
		t.Helper()
		if err := f.Platform.Do(ctx, "test.promotions", func(tx bun.IDB) error {
			if err := tx.NewRaw("SELECT count(*) FROM coupons WHERE code = ?", demo.Coupon).Scan(ctx, &coupons); err != nil {
				return err
			}
			return tx.NewRaw("SELECT count(*) FROM flash_sales").Scan(ctx, &sales)
		}); err != nil {
			t.Fatal(err)
		}
		return coupons, sales
	}
	for range 2 {
		if err := demo.Load(ctx, f.Platform); err != nil {
			t.Fatal(err)
		}
		if err := demo.LoadCatalog(ctx, deps); err != nil {
			t.Fatal(err)
		}
		if c, s := count(); c != len(demo.Tenants) || s != 1 {
			t.Fatalf("%d welcome coupons and %d flash sales, want %d and 1", c, s, len(demo.Tenants))
		}
	}
	var lumen, lamp uuid.UUID
	if err := f.Platform.Do(ctx, "test.ids", func(tx bun.IDB) error {
		if err := tx.NewRaw("SELECT id FROM tenants WHERE slug = 'lumen'").Scan(ctx, &lumen); err != nil {
			return err
		}
		return tx.NewRaw("SELECT id FROM variants WHERE sku = ?", demo.FlashSKU).Scan(ctx, &lamp)
	}); err != nil {
		t.Fatal(err)
	}
	prices, err := promo.FlashPrices(ctx, lumen, []uuid.UUID{lamp}, "USD")
	if err != nil || prices[lamp].PriceMinor != 5900 || prices[lamp].Remaining != 10 {
		t.Errorf("the lamp's flash price: %v %+v", err, prices)
	}
}
