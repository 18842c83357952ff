package cart_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/promotions"
)

type fixture struct {
	f        *dbtest.Fixture
	s        *cart.Service
	cat      *catalog.Service
	inv      *inventory.Service
	promo    *promotions.Service
	tenant   map[string]uuid.UUID // by slug
	merchant map[string]uuid.UUID // by handle
	location map[uuid.UUID]uuid.UUID
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := staff()
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{f: f, cat: catalog.NewService(f.App, pol, audit.Recorder{}), inv: inventory.NewService(f.App, audit.Recorder{}),
		promo: promotions.NewService(f.App, audit.Recorder{}), tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{},
		location: map[uuid.UUID]uuid.UUID{}}
	fx.s = cart.NewService(f.App, fx.cat, fx.promo)
	var rows []struct {
		Slug, Handle string
		TenantID, ID uuid.UUID
	}
	if err := f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT t.slug, m.handle, t.id AS tenant_id, m.id FROM merchants m JOIN tenants t ON t.id = m.tenant_id").Scan(ctx, &rows)
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		fx.tenant[r.Slug], fx.merchant[r.Handle] = r.TenantID, r.ID
	}
	return fx
}

func staff() context.Context { return scope.WithActor(context.Background(), "user:tenant-staff") }

// product is a live product with one variant priced at amount and stock units in stock.
type product struct {
	tenant, id, variant uuid.UUID
}

func (fx *fixture) product(t *testing.T, tenant, merchant, slug, currency, amount string, stock int) product {
	t.Helper()
	ctx := staff()
	tid, mid := fx.tenant[tenant], fx.merchant[merchant]
	c, err := fx.cat.CreateCategory(ctx, tid, catalog.CategoryInput{Slug: slug + "-cat", Name: map[string]string{"en": "Things"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fx.cat.CreateProduct(ctx, tid, catalog.ProductInput{MerchantID: mid, Slug: slug, CategoryID: &c.ID,
		Translations: map[string]catalog.Translation{"en": {Title: "EN " + slug}, "zh-CN": {Title: "中文 " + slug}},
		Images:       []catalog.Image{{Key: "img/" + slug + ".jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	w := 500
	v, err := fx.cat.AddVariant(ctx, tid, p.ID, catalog.VariantInput{SKU: slug + "-1", WeightGrams: &w})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.cat.SetPrice(ctx, tid, p.ID, v.ID, catalog.PriceInput{Currency: currency, Amount: amount}); err != nil {
		t.Fatal(err)
	}
	if got, err := fx.cat.Submit(ctx, tid, p.ID); err != nil {
		t.Fatal(err)
	} else if got.Status == catalog.StatusPendingReview {
		if _, err := fx.cat.Moderate(ctx, tid, p.ID, "approve", ""); err != nil {
			t.Fatal(err)
		}
	}
	pr := product{tenant: tid, id: p.ID, variant: v.ID}
	fx.stock(t, pr, mid, stock)
	return pr
}

// stock changes the variant's stock by delta at its merchant's one location.
func (fx *fixture) stock(t *testing.T, p product, merchant uuid.UUID, delta int) {
	t.Helper()
	loc, ok := fx.location[merchant]
	if !ok {
		l, err := fx.inv.CreateLocation(staff(), p.tenant, inventory.NewLocation{MerchantID: merchant, Name: "Main"})
		if err != nil {
			t.Fatal(err)
		}
		loc, fx.location[merchant] = l.ID, l.ID
	}
	if delta == 0 {
		return
	}
	reason := inventory.ReasonReceived
	if delta < 0 {
		reason = inventory.ReasonDamaged
	}
	if _, _, err := fx.inv.Adjust(staff(), p.tenant, inventory.NewAdjustment{VariantID: p.variant, LocationID: loc, Delta: delta, Reason: reason}); err != nil {
		t.Fatal(err)
	}
}

// shopper returns a demo shopper's id.
func (fx *fixture) shopper(t *testing.T, tenant, email string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := fx.f.App.WithTenant(staff(), fx.tenant[tenant], func(tx bun.IDB) error {
		return tx.NewRaw("SELECT id FROM shoppers WHERE email = ?", email).Scan(staff(), &id)
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// guest opens a guest session (what the storefront does for a visitor) and returns its id.
func (fx *fixture) guest(t *testing.T, tenant string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := fx.f.App.WithTenant(staff(), fx.tenant[tenant], func(tx bun.IDB) error {
		return tx.NewRaw(`INSERT INTO shopper_sessions (tenant_id, token_hash, created_at, last_seen_at, expires_at)
			VALUES (?, sha256(gen_random_uuid()::text::bytea), now(), now(), now() + interval '1 day') RETURNING id`, fx.tenant[tenant]).Scan(staff(), &id)
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func isFault(err error, kind fault.Kind) bool {
	e := fault.As(err)
	return e != nil && e.Kind == kind
}

// Adding, grouping by merchant, subtotals, and the limits: 1–99 per line, not above stock,
// variants that cannot be bought refused; a refused add leaves the cart as it was.
func TestAddViewAndLimits(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	lamp := fx.product(t, "lumen", "northwind-lighting", "lamp", "USD", "25.00", 5)
	stool := fx.product(t, "lumen", "oak-and-ash", "stool", "USD", "80.00", 3)
	bulk := fx.product(t, "lumen", "oak-and-ash", "screws", "USD", "0.10", 500)
	me := cart.Owner{ShopperID: fx.shopper(t, "lumen", "ava@example.com")}
	ctx := context.Background()

	empty, err := fx.s.View(ctx, lumen, me, "en")
	if err != nil || empty.ID != uuid.Nil || len(empty.Lines) != 0 || empty.Currency != "USD" {
		t.Fatalf("empty cart: %v %+v", err, empty)
	}
	// The stool first: groups are ordered by merchant name, not by when they were added.
	if err := fx.s.Add(ctx, lumen, me, stool.variant, 1); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := fx.s.Add(ctx, lumen, me, lamp.variant, 1); err != nil {
			t.Fatal(err)
		}
	}
	v, err := fx.s.View(ctx, lumen, me, "zh-CN")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Lines) != 2 || len(v.Groups) != 2 || v.Count != 3 || v.SubtotalMinor != 2*2500+8000 || v.Problems() {
		t.Fatalf("view: %+v", v)
	}
	g0, g1 := v.Groups[0], v.Groups[1]
	if g0.MerchantName != "Northwind Lighting" || g0.SubtotalMinor != 5000 || g0.WeightGrams != 1000 || len(g0.Lines) != 1 ||
		g0.Lines[0].Quantity != 2 || g0.Lines[0].Title != "中文 lamp" || g0.Lines[0].ImageKey != "img/lamp.jpg" || g0.Lines[0].Available != 5 {
		t.Errorf("first group: %+v", g0)
	}
	if g1.MerchantName != "Oak & Ash Furniture" || g1.SubtotalMinor != 8000 || g1.Lines[0].UnitPriceMinor != 8000 || g1.Lines[0].FlashSaleID != nil {
		t.Errorf("second group: %+v", g1)
	}
	if n, err := fx.s.Count(ctx, lumen, me); err != nil || n != 3 {
		t.Errorf("count: %d %v", n, err)
	}

	// Refusals; the cart is unchanged after each.
	draft, err := fx.cat.CreateProduct(staff(), lumen, catalog.ProductInput{MerchantID: fx.merchant["oak-and-ash"], Slug: "draft-chair"})
	if err != nil {
		t.Fatal(err)
	}
	dv, err := fx.cat.AddVariant(staff(), lumen, draft.ID, catalog.VariantInput{SKU: "DRAFT-1"})
	if err != nil {
		t.Fatal(err)
	}
	soldOut := fx.product(t, "lumen", "oak-and-ash", "sold-out", "USD", "5.00", 0)
	for name, tc := range map[string]struct {
		variant uuid.UUID
		qty     int
		ok      func(error) bool
	}{
		"4 more lamps than the 5 in stock": {lamp.variant, 4, func(err error) bool { return errors.Is(err, cart.ErrNotEnoughStock) }},
		"quantity 0":                       {lamp.variant, 0, func(err error) bool { return isFault(err, fault.Invalid) }},
		"quantity 100":                     {bulk.variant, 100, func(err error) bool { return isFault(err, fault.Invalid) }},
		"unknown variant":                  {uuid.New(), 1, func(err error) bool { return errors.Is(err, cart.ErrVariantNotFound) }},
		"draft product":                    {dv.ID, 1, func(err error) bool { return errors.Is(err, cart.ErrUnavailable) }},
		"out of stock":                     {soldOut.variant, 1, func(err error) bool { return errors.Is(err, cart.ErrOutOfStock) }},
	} {
		if err := fx.s.Add(ctx, lumen, me, tc.variant, tc.qty); !tc.ok(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// 60 + 40 screws would make a line of 100.
	if err := fx.s.Add(ctx, lumen, me, bulk.variant, 60); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Add(ctx, lumen, me, bulk.variant, 40); !isFault(err, fault.Invalid) {
		t.Errorf("a line of 100: %v", err)
	}
	if err := fx.s.Add(ctx, lumen, me, bulk.variant, 39); err != nil {
		t.Errorf("a line of 99: %v", err)
	}
	v, err = fx.s.View(ctx, lumen, me, "en")
	if err != nil || v.Count != 3+99 || len(v.Lines) != 3 || v.SubtotalMinor != 13000+99*10 {
		t.Fatalf("after refusals: %v count %d lines %d subtotal %d", err, v.Count, len(v.Lines), v.SubtotalMinor)
	}

	// SetQuantity within stock, above stock, 0 removes; Remove of an unknown line.
	lampLine := v.Groups[0].Lines[0].ID
	if err := fx.s.SetQuantity(ctx, lumen, me, lampLine, 5); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.SetQuantity(ctx, lumen, me, lampLine, 6); !errors.Is(err, cart.ErrNotEnoughStock) {
		t.Errorf("set 6 of 5 in stock: %v", err)
	}
	if err := fx.s.SetQuantity(ctx, lumen, me, lampLine, 0); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Remove(ctx, lumen, me, lampLine); !errors.Is(err, cart.ErrLineNotFound) {
		t.Errorf("remove a removed line: %v", err)
	}
	if v, _ = fx.s.View(ctx, lumen, me, "en"); len(v.Lines) != 2 {
		t.Errorf("%d lines after removing the lamp, want 2", len(v.Lines))
	}

	// Clear, as checkout does in its transaction.
	if err := fx.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error { return fx.s.Clear(ctx, tx, lumen, v.ID) }); err != nil {
		t.Fatal(err)
	}
	if v, _ = fx.s.View(ctx, lumen, me, "en"); len(v.Lines) != 0 || v.Count != 0 {
		t.Errorf("cleared cart: %+v", v)
	}
}

// A cart holds at most 100 lines.
func TestMaxLines(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	base := fx.product(t, "lumen", "oak-and-ash", "bolt", "USD", "1.00", 0)
	m := fx.merchant["oak-and-ash"]
	// 100 more variants of the same product, priced and stocked, written directly for speed.
	var ids []uuid.UUID
	err := fx.f.Platform.Do(staff(), "test.variants", func(tx bun.IDB) error {
		if err := tx.NewRaw(`INSERT INTO variants (tenant_id, product_id, merchant_id, sku)
			SELECT ?, ?, ?, 'BOLT-' || n FROM generate_series(1, 101) n RETURNING id`, lumen, base.id, m).Scan(staff(), &ids); err != nil {
			return err
		}
		if _, err := tx.NewRaw(`INSERT INTO variant_prices (tenant_id, variant_id, merchant_id, currency, amount_minor)
			SELECT ?, id, merchant_id, 'USD', 100 FROM variants WHERE tenant_id = ? AND sku LIKE 'BOLT-%'`, lumen, lumen).Exec(staff()); err != nil {
			return err
		}
		_, err := tx.NewRaw(`INSERT INTO inventory_levels (tenant_id, variant_id, location_id, merchant_id, on_hand)
			SELECT ?, id, ?, merchant_id, 10 FROM variants WHERE tenant_id = ? AND sku LIKE 'BOLT-%'`, lumen, fx.location[m], lumen).Exec(staff())
		return err
	})
	if err != nil || len(ids) != 101 {
		t.Fatalf("variants: %v %d", err, len(ids))
	}
	me := cart.Owner{ShopperID: fx.shopper(t, "lumen", "liam@example.com")}
	for i, id := range ids[:100] {
		if err := fx.s.Add(context.Background(), lumen, me, id, 1); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	if err := fx.s.Add(context.Background(), lumen, me, ids[100], 1); !errors.Is(err, cart.ErrCartFull) {
		t.Errorf("line 101: %v", err)
	}
	// More of a variant already in the cart is no new line.
	if err := fx.s.Add(context.Background(), lumen, me, ids[0], 2); err != nil {
		t.Errorf("more of line 1: %v", err)
	}
	if v, err := fx.s.View(context.Background(), lumen, me, "en"); err != nil || len(v.Lines) != 100 || v.Count != 102 {
		t.Errorf("full cart: %v %d lines, %d units", err, len(v.Lines), v.Count)
	}
}

// Every view re-prices and re-checks: a price change, a flash sale, a stock drop, stock gone
// and an archived product each show on the line, and subtotals follow.
func TestRevalidation(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	nw, oak := fx.merchant["northwind-lighting"], fx.merchant["oak-and-ash"]
	lamp := fx.product(t, "lumen", "northwind-lighting", "lamp", "USD", "25.00", 5)
	stool := fx.product(t, "lumen", "oak-and-ash", "stool", "USD", "80.00", 3)
	chair := fx.product(t, "lumen", "oak-and-ash", "chair", "USD", "120.00", 2)
	me := cart.Owner{GuestSessionID: fx.guest(t, "lumen")}
	ctx := context.Background()
	for _, p := range []product{lamp, stool, chair} {
		if err := fx.s.Add(ctx, lumen, me, p.variant, 2); err != nil {
			t.Fatal(err)
		}
	}
	line := func(v cart.View, variant uuid.UUID) cart.Line {
		for _, l := range v.Lines {
			if l.VariantID == variant {
				return l
			}
		}
		t.Fatalf("no line for %s", variant)
		return cart.Line{}
	}

	// The lamp's price goes up to 30.00.
	if _, err := fx.cat.SetPrice(staff(), lumen, lamp.id, lamp.variant, catalog.PriceInput{Currency: "USD", Amount: "30.00"}); err != nil {
		t.Fatal(err)
	}
	// The stool goes on a flash sale at 50.00.
	sale, err := fx.promo.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: stool.variant, Price: "50", Quantity: 10,
		EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// One chair is damaged: 1 left for a line of 2.
	fx.stock(t, chair, oak, -1)
	v, err := fx.s.View(ctx, lumen, me, "en")
	if err != nil {
		t.Fatal(err)
	}
	if l := line(v, lamp.variant); l.Problem != cart.ProblemPriceChanged || l.UnitPriceMinor != 3000 || l.ListPriceMinor != 3000 || l.Quantity != 2 {
		t.Errorf("lamp after a price rise: %+v", l)
	}
	if l := line(v, stool.variant); l.Problem != cart.ProblemPriceChanged || l.UnitPriceMinor != 5000 || l.ListPriceMinor != 8000 ||
		l.FlashSaleID == nil || *l.FlashSaleID != sale.ID {
		t.Errorf("stool on flash sale: %+v", l)
	}
	if l := line(v, chair.variant); l.Problem != cart.ProblemQuantityReduced || l.Quantity != 1 || l.Available != 1 {
		t.Errorf("chair with 1 left: %+v", l)
	}
	if want := int64(2*3000 + 2*5000 + 1*12000); v.SubtotalMinor != want {
		t.Errorf("subtotal %d, want %d", v.SubtotalMinor, want)
	}

	// Setting the quantity takes the new price as seen.
	if err := fx.s.SetQuantity(ctx, lumen, me, line(v, lamp.variant).ID, 2); err != nil {
		t.Fatal(err)
	}
	// The last chair goes; the lamp's product is archived.
	fx.stock(t, chair, oak, -1)
	if _, err := fx.cat.Archive(staff(), lumen, lamp.id); err != nil {
		t.Fatal(err)
	}
	v, err = fx.s.View(ctx, lumen, me, "en")
	if err != nil {
		t.Fatal(err)
	}
	if l := line(v, lamp.variant); l.Problem != cart.ProblemUnavailable || l.Buyable() {
		t.Errorf("archived lamp: %+v", l)
	}
	if l := line(v, chair.variant); l.Problem != cart.ProblemOutOfStock || l.Buyable() {
		t.Errorf("chair out of stock: %+v", l)
	}
	if v.SubtotalMinor != 2*5000 || v.Groups[0].MerchantID != nw || v.Groups[0].SubtotalMinor != 0 || v.Groups[1].SubtotalMinor != 10000 {
		t.Errorf("only the stool counts: subtotal %d groups %+v", v.SubtotalMinor, v.Groups)
	}
	// The stool's units above the shopper limit of a sale get the regular price: a sale of 1 unit
	// left cannot price a line of 2.
	if _, err := fx.promo.DeactivateFlashSale(staff(), lumen, sale.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.promo.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: stool.variant, Price: "50", Quantity: 1,
		EndsAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if v, err = fx.s.View(ctx, lumen, me, "en"); err != nil || line(v, stool.variant).UnitPriceMinor != 8000 || line(v, stool.variant).FlashSaleID != nil {
		t.Errorf("a line larger than the sale's units: %v %+v", err, line(v, stool.variant))
	}
}

// Signing in merges the guest's cart into the shopper's: quantities added and capped at 99,
// new lines taken, the guest cart gone.
func TestMergeGuest(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	lamp := fx.product(t, "lumen", "northwind-lighting", "lamp", "USD", "25.00", 500)
	stool := fx.product(t, "lumen", "oak-and-ash", "stool", "USD", "80.00", 3)
	ctx := context.Background()
	shopperID := fx.shopper(t, "lumen", "mia@example.com")
	me, guest := cart.Owner{ShopperID: shopperID}, cart.Owner{GuestSessionID: fx.guest(t, "lumen")}
	if err := fx.s.Add(ctx, lumen, me, lamp.variant, 98); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Add(ctx, lumen, guest, lamp.variant, 2); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Add(ctx, lumen, guest, stool.variant, 1); err != nil {
		t.Fatal(err)
	}
	merge := func(guestSession uuid.UUID) error {
		return fx.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
			return fx.s.MergeGuest(ctx, tx, lumen, guestSession, shopperID)
		})
	}
	if err := merge(guest.GuestSessionID); err != nil {
		t.Fatal(err)
	}
	v, err := fx.s.View(ctx, lumen, me, "en")
	if err != nil {
		t.Fatal(err)
	}
	got := map[uuid.UUID]int{}
	for _, l := range v.Lines {
		got[l.VariantID] = l.Quantity
	}
	if len(got) != 2 || got[lamp.variant] != 99 || got[stool.variant] != 1 {
		t.Errorf("merged cart: %v", got)
	}
	if gv, err := fx.s.View(ctx, lumen, guest, "en"); err != nil || gv.ID != uuid.Nil || len(gv.Lines) != 0 {
		t.Errorf("guest cart after merge: %v %+v", err, gv)
	}
	// A guest without a cart merges nothing, without error.
	if err := merge(fx.guest(t, "lumen")); err != nil {
		t.Errorf("merge of an empty guest: %v", err)
	}
	// A shopper without a cart gets the guest's.
	other := fx.shopper(t, "lumen", "liam@example.com")
	g2 := cart.Owner{GuestSessionID: fx.guest(t, "lumen")}
	if err := fx.s.Add(ctx, lumen, g2, stool.variant, 3); err != nil {
		t.Fatal(err)
	}
	if err := fx.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
		return fx.s.MergeGuest(ctx, tx, lumen, g2.GuestSessionID, other)
	}); err != nil {
		t.Fatal(err)
	}
	if v, err := fx.s.View(ctx, lumen, cart.Owner{ShopperID: other}, "en"); err != nil || v.Count != 3 {
		t.Errorf("new shopper cart from a guest: %v %+v", err, v)
	}
}

// Carts are their owner's: another shopper's line ids, and any id of another tenant, answer
// not found, and change nothing.
func TestIsolation(t *testing.T) {
	fx := setup(t)
	lumen, panda := fx.tenant["lumen"], fx.tenant["panda"]
	lamp := fx.product(t, "lumen", "northwind-lighting", "lamp", "USD", "25.00", 5)
	tea := fx.product(t, "panda", "xiangyun-tea", "tea", "CNY", "88", 5)
	ctx := context.Background()
	ava := cart.Owner{ShopperID: fx.shopper(t, "lumen", "ava@example.com")}
	liam := cart.Owner{ShopperID: fx.shopper(t, "lumen", "liam@example.com")}
	wang := cart.Owner{ShopperID: fx.shopper(t, "panda", "wang.fang@example.com")}
	if err := fx.s.Add(ctx, lumen, ava, lamp.variant, 2); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Add(ctx, panda, wang, tea.variant, 1); err != nil {
		t.Fatal(err)
	}
	v, err := fx.s.View(ctx, lumen, ava, "en")
	if err != nil || len(v.Lines) != 1 {
		t.Fatal(err)
	}
	avaLine := v.Lines[0].ID
	pv, err := fx.s.View(ctx, panda, wang, "en")
	if err != nil || len(pv.Lines) != 1 || pv.Currency != "CNY" {
		t.Fatal(err, pv)
	}
	wangLine := pv.Lines[0].ID

	leaks := 0
	for name, err := range map[string]error{
		"liam sets ava's line":           fx.s.SetQuantity(ctx, lumen, liam, avaLine, 1),
		"liam removes ava's line":        fx.s.Remove(ctx, lumen, liam, avaLine),
		"ava sets wang's line (panda)":   fx.s.SetQuantity(ctx, lumen, ava, wangLine, 1),
		"ava removes wang's line":        fx.s.Remove(ctx, lumen, ava, wangLine),
		"wang removes ava's line":        fx.s.Remove(ctx, panda, wang, avaLine),
		"ava's id in panda":              fx.s.Remove(ctx, panda, ava, avaLine),
		"lumen's variant added in panda": fx.s.Add(ctx, panda, wang, lamp.variant, 1),
		"panda's variant added in lumen": fx.s.Add(ctx, lumen, ava, tea.variant, 1),
	} {
		if !errors.Is(err, cart.ErrLineNotFound) && !errors.Is(err, cart.ErrVariantNotFound) {
			leaks++
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	// Nothing moved.
	if v, _ := fx.s.View(ctx, lumen, ava, "en"); v.Count != 2 {
		t.Errorf("ava's cart: %+v", v)
	}
	if v, _ := fx.s.View(ctx, panda, wang, "en"); v.Count != 1 {
		t.Errorf("wang's cart: %+v", v)
	}
	if v, _ := fx.s.View(ctx, panda, ava, "en"); len(v.Lines) != 0 {
		t.Errorf("ava's shopper id in panda sees lines: %+v", v)
	}
	if _, err := fx.s.View(ctx, lumen, cart.Owner{}, "en"); !errors.Is(err, cart.ErrNoOwner) {
		t.Errorf("no owner: %v", err)
	}
	t.Logf("8 cross-owner and cross-tenant cart calls, %d leaks", leaks)
}
