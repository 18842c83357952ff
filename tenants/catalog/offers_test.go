package catalog_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
)

// Offers is what carts and checkout price from: one row per existing variant of the tenant,
// stock summed over the merchant's locations, and Buyable false for each reason a shopper may
// not buy it now.
func TestOffers(t *testing.T) {
	fx := setup(t)
	ctx := merchantCtx(fx.m1)
	p := fx.listable(t, ctx, fx.lumen, fx.m1, "offer-lamp", "USD", "25.00")
	if got, err := fx.s.Submit(ctx, fx.lumen, p.ID); err != nil {
		t.Fatal(err)
	} else if got.Status == catalog.StatusPendingReview {
		if _, err := fx.s.Moderate(staff(), fx.lumen, p.ID, "approve", ""); err != nil {
			t.Fatal(err)
		}
	}
	p, err := fx.s.GetProduct(staff(), fx.lumen, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Variants[0].ID
	draft := fx.listable(t, ctx, fx.lumen, fx.m1, "draft-lamp", "USD", "9.99")
	draft, err = fx.s.GetProduct(staff(), fx.lumen, draft.ID)
	if err != nil {
		t.Fatal(err)
	}
	tea := fx.listable(t, staff(), fx.panda, fx.pandaShop, "tea", "CNY", "88")
	tea, err = fx.s.GetProduct(staff(), fx.panda, tea.ID)
	if err != nil {
		t.Fatal(err)
	}

	inv := inventory.NewService(fx.f.App, audit.Recorder{})
	for i, n := range []int{3, 4} {
		loc, err := inv.CreateLocation(staff(), fx.lumen, inventory.NewLocation{MerchantID: fx.m1, Name: []string{"Oslo", "Bergen"}[i]})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := inv.Adjust(staff(), fx.lumen, inventory.NewAdjustment{VariantID: v, LocationID: loc.ID, Delta: n, Reason: inventory.ReasonReceived}); err != nil {
			t.Fatal(err)
		}
	}

	missing := uuid.New()
	offers, err := fx.s.Offers(staff(), fx.lumen, []uuid.UUID{v, draft.Variants[0].ID, tea.Variants[0].ID, missing}, "usd")
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 2 {
		t.Fatalf("%d offers, want 2 (panda's variant and an unknown id are absent): %+v", len(offers), offers)
	}
	o := offers[v]
	if !o.Buyable || o.PriceMinor != 2500 || o.Currency != "USD" || o.Available != 7 || o.Title["en"] != "Desk lamp" ||
		o.ImageKey != "tenants/x/lamp.jpg" || o.MerchantID != fx.m1 || o.MerchantName != "Northwind Lighting" ||
		o.ProductSlug != "offer-lamp" || o.SKU != "offer-lamp-1" || o.ProductID != p.ID {
		t.Errorf("live offer: %+v", o)
	}
	if d := offers[draft.Variants[0].ID]; d.Buyable || d.PriceMinor != 999 {
		t.Errorf("draft product's offer: buyable %v price %d", d.Buyable, d.PriceMinor)
	}

	// No price in EUR: present, not buyable.
	eur, err := fx.s.Offers(staff(), fx.lumen, []uuid.UUID{v}, "EUR")
	if err != nil || eur[v].Buyable || eur[v].PriceMinor != 0 || eur[v].Available != 7 {
		t.Errorf("offer in a currency without a price: %v %+v", err, eur[v])
	}

	// A suspended merchant's variant is not buyable; reinstated, it is again.
	setMerchant := func(status string) {
		t.Helper()
		if err := fx.f.Platform.Do(staff(), "test.merchant_status", func(tx bun.IDB) error {
			_, err := tx.ExecContext(staff(), "UPDATE merchants SET status = ? WHERE id = ?", status, fx.m1)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	setMerchant("suspended")
	if got, err := fx.s.Offers(staff(), fx.lumen, []uuid.UUID{v}, "USD"); err != nil || got[v].Buyable {
		t.Errorf("suspended merchant's offer: %v buyable %v", err, got[v].Buyable)
	}
	setMerchant("active")

	// An archived variant is not buyable.
	archived := "archived"
	if _, err := fx.s.UpdateVariant(ctx, fx.lumen, p.ID, v, catalog.VariantPatch{Status: &archived}); err != nil {
		t.Fatal(err)
	}
	if got, err := fx.s.Offers(staff(), fx.lumen, []uuid.UUID{v}, "USD"); err != nil || got[v].Buyable {
		t.Errorf("archived variant's offer: %v buyable %v", err, got[v].Buyable)
	}

	// As the other tenant, lumen's variant does not exist.
	if got, err := fx.s.Offers(staff(), fx.panda, []uuid.UUID{v}, "USD"); err != nil || len(got) != 0 {
		t.Errorf("lumen's variant read as panda: %v %+v", err, got)
	}
	if got, err := fx.s.Offers(staff(), fx.lumen, nil, "USD"); err != nil || len(got) != 0 {
		t.Errorf("no variants: %v %+v", err, got)
	}
}
