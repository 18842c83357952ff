package orders_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// The logistics slice's entry points move merchant orders and the order follows: lamp shipped
// in two parcels (partially fulfilled, then fulfilled), the chair in one, each delivered;
// every step is on the timeline, over-shipping and another merchant's line are refused.
func TestFulfilmentAndDelivery(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	o := must(fx.s.Checkout(shopperCtx(w.shopper), lumen, w.input())).Order
	var lampMO, chairMO orders.MerchantOrder
	for _, mo := range o.Merchants {
		if mo.MerchantID == w.lampMID {
			lampMO = mo
		} else {
			chairMO = mo
		}
	}
	lampLine, chairLine := lampMO.Lines[0].ID, chairMO.Lines[0].ID
	inTenant := func(fn func(tx bun.IDB) error) error { return fx.f.App.WithTenant(staff(), lumen, fn) }

	// Not paid yet: nothing ships.
	err := inTenant(func(tx bun.IDB) error {
		_, err := fx.s.RecordFulfilment(staff(), tx, lumen, lampMO.ID, map[uuid.UUID]int{lampLine: 1})
		return err
	})
	if !errors.Is(err, orders.ErrTransition) {
		t.Fatalf("fulfil an unpaid merchant order: %v", err)
	}
	if err := fx.s.MarkPaid(staff(), lumen, o.ID, "pi_1"); err != nil {
		t.Fatal(err)
	}
	step := func(name string, fn func(tx bun.IDB) error, wantOrder string) {
		t.Helper()
		if err := inTenant(fn); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := must(fx.s.Get(staff(), lumen, o.ID)); got.Status != wantOrder {
			t.Fatalf("after %s the order is %s, want %s", name, got.Status, wantOrder)
		}
	}
	fulfil := func(mo, line uuid.UUID, n int, want string) func(tx bun.IDB) error {
		return func(tx bun.IDB) error {
			got, err := fx.s.RecordFulfilment(staff(), tx, lumen, mo, map[uuid.UUID]int{line: n})
			if err == nil && got.Status != want {
				t.Errorf("merchant order is %s, want %s", got.Status, want)
			}
			return err
		}
	}
	step("first lamp", fulfil(lampMO.ID, lampLine, 1, orders.StatusPartiallyFulfilled), orders.StatusPartiallyFulfilled)
	for _, bad := range []struct {
		mo, line uuid.UUID
		n        int
		want     error
	}{
		{lampMO.ID, lampLine, 2, orders.ErrOverFulfil},
		{lampMO.ID, chairLine, 1, orders.ErrLineNotFound},
		{lampMO.ID, lampLine, 0, orders.ErrBadQuantity},
		{uuid.New(), lampLine, 1, orders.ErrMerchantOrderNotFound},
	} {
		err := inTenant(func(tx bun.IDB) error {
			_, err := fx.s.RecordFulfilment(staff(), tx, lumen, bad.mo, map[uuid.UUID]int{bad.line: bad.n})
			return err
		})
		if !errors.Is(err, bad.want) {
			t.Errorf("fulfil %+v: %v, want %v", bad, err, bad.want)
		}
	}
	step("second lamp", fulfil(lampMO.ID, lampLine, 1, orders.StatusFulfilled), orders.StatusPartiallyFulfilled)
	step("chair", fulfil(chairMO.ID, chairLine, 1, orders.StatusFulfilled), orders.StatusFulfilled)
	step("lamp delivered", func(tx bun.IDB) error { return fx.s.RecordDelivered(staff(), tx, lumen, lampMO.ID) }, orders.StatusFulfilled)
	step("chair delivered", func(tx bun.IDB) error { return fx.s.RecordDelivered(staff(), tx, lumen, chairMO.ID) }, orders.StatusCompleted)
	step("chair delivered again", func(tx bun.IDB) error { return fx.s.RecordDelivered(staff(), tx, lumen, chairMO.ID) }, orders.StatusCompleted)

	got := must(fx.s.Get(staff(), lumen, o.ID))
	var trail []string
	for _, e := range got.Events {
		trail = append(trail, e.From+"→"+e.To)
	}
	// placed; paid ×2 merchant + order; lamp partial + order partial; lamp fulfilled; chair
	// fulfilled + order fulfilled; lamp completed; chair completed + order completed.
	if len(got.Events) != 12 {
		t.Errorf("%d events: %v", len(got.Events), trail)
	}
	for _, mo := range got.Merchants {
		if mo.Status != orders.StatusCompleted || mo.DeliveredAt == nil || mo.Lines[0].FulfilledQty != mo.Lines[0].Quantity {
			t.Errorf("merchant order %+v", mo)
		}
	}
}

// Merchant staff see only orders with one of their merchant orders, and only their part of it.
func TestMerchantScope(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	o := must(fx.s.Checkout(shopperCtx(w.shopper), lumen, w.input())).Order
	// A second order with only the chair.
	other := fx.shoppers(t, "lumen", 1)[0]
	if err := fx.carts.Add(shopperCtx(other), lumen, cartOwner(other), w.chair, 1); err != nil {
		t.Fatal(err)
	}
	in := w.input()
	in.Owner, in.CouponCode = cartOwner(other), ""
	chairOnly := must(fx.s.Checkout(shopperCtx(other), lumen, in)).Order

	lampStaff := merchantStaff(w.lampMID)
	got := must(fx.s.Get(lampStaff, lumen, o.ID))
	if len(got.Merchants) != 1 || got.Merchants[0].MerchantID != w.lampMID || got.TotalMinor != 5413 {
		t.Errorf("lamp merchant's view of the two-merchant order: %d merchant orders, total %d", len(got.Merchants), got.TotalMinor)
	}
	if _, err := fx.s.Get(lampStaff, lumen, chairOnly.ID); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("lamp merchant reads the chair-only order: %v", err)
	}
	page := must(fx.s.List(lampStaff, lumen, orders.ListFilter{}))
	if len(page.Items) != 1 || page.Items[0].ID != o.ID || page.Items[0].TotalMinor != 5413 {
		t.Errorf("lamp merchant's list: %+v", page.Items)
	}
	if _, err := fx.s.Cancel(lampStaff, lumen, o.ID, ""); !errors.Is(err, orders.ErrTenantOnly) {
		t.Errorf("merchant staff cancel: %v", err)
	}
	all := must(fx.s.List(staff(), lumen, orders.ListFilter{Sort: "total_asc"}))
	if len(all.Items) != 2 || all.Items[0].ID != chairOnly.ID || all.Items[1].TotalMinor != 18728 {
		t.Errorf("tenant staff list by total: %+v", all.Items)
	}
	// Paging: one per page, by total descending.
	p1 := must(fx.s.List(staff(), lumen, orders.ListFilter{Sort: "total_desc", PageParams: httpx.PageParams{Limit: 1}}))
	p2 := must(fx.s.List(staff(), lumen, orders.ListFilter{Sort: "total_desc", PageParams: httpx.PageParams{Limit: 1, Cursor: p1.NextCursor}}))
	if len(p1.Items) != 1 || p1.Items[0].ID != o.ID || len(p2.Items) != 1 || p2.Items[0].ID != chairOnly.ID || p2.NextCursor != "" {
		t.Errorf("pages: %+v / %+v", p1, p2)
	}
	// Shoppers: their own only.
	mine := must(fx.s.ShopperOrders(shopperCtx(other), lumen, orders.Shopper{ShopperID: other}, httpx.PageParams{}))
	if len(mine.Items) != 1 || mine.Items[0].ID != chairOnly.ID {
		t.Errorf("shopper's list: %+v", mine.Items)
	}
	if _, err := fx.s.ShopperOrder(shopperCtx(other), lumen, orders.Shopper{ShopperID: other}, o.ID); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("shopper reads another's order: %v", err)
	}
	if _, err := fx.s.Get(shopperCtx(other), lumen, o.ID); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("shopper reads another's order through the staff route: %v", err)
	}
	if _, err := fx.s.Cancel(shopperCtx(other), lumen, o.ID, ""); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("shopper cancels another's order: %v", err)
	}
	// Another tenant sees none of it.
	panda := fx.tenant["panda"]
	if _, err := fx.s.Get(staff(), panda, o.ID); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("panda reads lumen's order: %v", err)
	}
	if p := must(fx.s.List(staff(), panda, orders.ListFilter{})); len(p.Items) != 0 {
		t.Errorf("panda's list: %+v", p.Items)
	}
}

// The expiry job cancels unpaid orders past their expiry, puts the stock back and leaves
// paid and younger orders alone; a second run finds nothing.
func TestExpireUnpaid(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	// The stale order uses the coupon and a flash-sale chair: cancelling it gives both back.
	sale := must(fx.promos.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: w.chair, Price: "99.00", Quantity: 3,
		PerShopperLimit: 1, EndsAt: time.Now().Add(2 * time.Hour)}))
	stale := must(fx.s.Checkout(shopperCtx(w.shopper), lumen, w.input())).Order
	if c := must(fx.promos.GetCoupon(staff(), lumen, w.coupon.ID)); c.Used != 1 {
		t.Fatalf("coupon used %d after checkout, want 1", c.Used)
	}
	if f := must(fx.promos.GetFlashSale(staff(), lumen, sale.ID)); f.Sold != 1 {
		t.Fatalf("flash sold %d after checkout, want 1", f.Sold)
	}
	buyer := fx.shoppers(t, "lumen", 1)[0]
	if err := fx.carts.Add(shopperCtx(buyer), lumen, cartOwner(buyer), w.lamp, 1); err != nil {
		t.Fatal(err)
	}
	in := w.input()
	in.Owner, in.CouponCode = cartOwner(buyer), ""
	paid := must(fx.s.Checkout(shopperCtx(buyer), lumen, in)).Order
	if err := fx.s.MarkPaid(staff(), lumen, paid.ID, "pi_paid"); err != nil {
		t.Fatal(err)
	}
	if lv := fx.level(t, "lumen", w.lamp); lv.Reserved != 2 || lv.OnHand != 4 {
		t.Fatalf("lamp before expiry: %+v", lv)
	}

	// Too early: nothing happens.
	if n, err := fx.s.ExpireUnpaid(staff(), fx.f.Platform, time.Now(), 10); err != nil || n != 0 {
		t.Fatalf("expire now: %d %v", n, err)
	}
	later := time.Now().Add(orders.ReservationTTL + time.Minute)
	// Inventory's own sweep at that time leaves the order's stock held: the order goes first.
	if n, err := inventory.ExpireDue(staff(), fx.f.Platform, later, 100); err != nil || n != 0 {
		t.Fatalf("inventory sweep before the order's: %d %v", n, err)
	}
	if n, err := fx.s.ExpireUnpaid(staff(), fx.f.Platform, later, 10); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	got := must(fx.s.Get(staff(), lumen, stale.ID))
	last := got.Events[len(got.Events)-1]
	if got.Status != orders.StatusCancelled || got.CancelledAt == nil || last.To != orders.StatusCancelled || last.Actor != "system:orders.expire" {
		t.Errorf("expired order: %s, last event %+v", got.Status, last)
	}
	for _, mo := range got.Merchants {
		if mo.Status != orders.StatusCancelled {
			t.Errorf("merchant order %s is %s", mo.ID, mo.Status)
		}
	}
	if lv := fx.level(t, "lumen", w.lamp); lv.Reserved != 0 || lv.OnHand != 4 || lv.Available != 4 {
		t.Errorf("lamp after expiry: %+v", lv)
	}
	if lv := fx.level(t, "lumen", w.chair); lv.Reserved != 0 || lv.Available != 2 {
		t.Errorf("chair after expiry: %+v", lv)
	}
	rs := must(fx.inv.Reservations(staff(), lumen, "order:"+stale.ID.String()))
	for _, r := range rs {
		if r.Status != inventory.StatusReleased {
			t.Errorf("reservation %s is %s", r.ID, r.Status)
		}
	}
	if p := must(fx.s.Get(staff(), lumen, paid.ID)); p.Status != orders.StatusPaid {
		t.Errorf("the paid order became %s", p.Status)
	}
	if n, err := fx.s.ExpireUnpaid(staff(), fx.f.Platform, later, 10); err != nil || n != 0 {
		t.Errorf("second sweep: %d %v", n, err)
	}
	if c := must(fx.promos.GetCoupon(staff(), lumen, w.coupon.ID)); c.Used != 0 {
		t.Errorf("coupon used %d after the order expired, want 0", c.Used)
	}
	if f := must(fx.promos.GetFlashSale(staff(), lumen, sale.ID)); f.Sold != 0 {
		t.Errorf("flash sold %d after the order expired, want 0", f.Sold)
	}
	// The shopper's per-shopper flash limit forgets the cancelled claim: they may buy again.
	if err := fx.carts.Add(shopperCtx(w.shopper), lumen, w.owner, w.chair, 1); err != nil {
		t.Fatal(err)
	}
	in2 := w.input()
	in2.CouponCode = ""
	again := must(fx.s.Checkout(shopperCtx(w.shopper), lumen, in2)).Order
	if f := must(fx.promos.GetFlashSale(staff(), lumen, sale.ID)); f.Sold != 1 || again.TotalMinor == 0 {
		t.Errorf("flash sold %d after buying again, want 1", f.Sold)
	}
	// A payment arriving after the cancellation is refused (the payments slice refunds it).
	if err := fx.s.MarkPaid(staff(), lumen, stale.ID, "pi_late"); !errors.Is(err, orders.ErrTransition) {
		t.Errorf("late payment: %v", err)
	}
}
