package orders_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/tenants/cart"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// twoMerchants is a lumen cart with a lamp from Northwind (2 × 25.00, 800 g each, flat
// shipping 5.00 free over 100.00) and a chair from Oak & Ash (1 × 120.00, 3 kg, weight
// brackets 8.00 up to 1 kg and 15.00 up to 5 kg), US tax 8.25% exclusive, and a 10% coupon.
type twoMerchants struct {
	lamp, chair       uuid.UUID
	flat, heavy       orders.ShippingRate
	coupon            promotions.Coupon
	shopper           uuid.UUID
	owner             cart.Owner
	lampMID, chairMID uuid.UUID
}

func (fx fixture) twoMerchants(t *testing.T) twoMerchants {
	t.Helper()
	lumen := fx.tenant["lumen"]
	w := twoMerchants{lampMID: fx.merchant["northwind-lighting"], chairMID: fx.merchant["oak-and-ash"]}
	w.lamp = fx.variant(t, "lumen", "northwind-lighting", "brass-lamp", "USD", "25.00", 800, 5)
	w.chair = fx.variant(t, "lumen", "oak-and-ash", "oak-chair", "USD", "120.00", 3000, 2)
	free := int64(10000)
	w.flat = must(fx.s.CreateShippingRate(merchantStaff(w.lampMID), lumen, orders.ShippingRateInput{Name: "Standard", Currency: "USD",
		Kind: orders.RateFlat, FlatMinor: 500, FreeOverMinor: &free}))
	w.heavy = must(fx.s.CreateShippingRate(merchantStaff(w.chairMID), lumen, orders.ShippingRateInput{Name: "Freight", Currency: "USD",
		Kind: orders.RateWeight, Brackets: []orders.Bracket{{UpToGrams: 1000, PriceMinor: 800}, {UpToGrams: 5000, PriceMinor: 1500}}}))
	must(fx.s.CreateTaxRate(staff(), lumen, orders.TaxRateInput{Country: "US", Name: "Sales tax", RateBP: 825}))
	limit := 5
	w.coupon = must(fx.promos.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "TENOFF", Kind: promotions.KindPercentage,
		Percent: "10", EndsAt: time.Now().Add(time.Hour), UsageLimit: &limit}))
	w.shopper = fx.shoppers(t, "lumen", 1)[0]
	w.owner = cart.Owner{ShopperID: w.shopper}
	if err := fx.carts.Add(shopperCtx(w.shopper), lumen, w.owner, w.lamp, 2); err != nil {
		t.Fatal(err)
	}
	if err := fx.carts.Add(shopperCtx(w.shopper), lumen, w.owner, w.chair, 1); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w twoMerchants) input() orders.CheckoutInput {
	return orders.CheckoutInput{Owner: w.owner, Email: "Ada@Example.com", Address: address(), CouponCode: "tenoff",
		Shipping: map[uuid.UUID]uuid.UUID{w.lampMID: w.flat.ID, w.chairMID: w.heavy.ID}}
}

// The happy path: one order split into two merchant orders with frozen prices, discount and
// its funding, shipping, tax and fee shares; stock held with an expiry; the coupon used once;
// the cart empty; the timeline and the payment started. Then payment sells the stock.
func TestCheckoutTwoMerchants(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	pay := &fakePayments{}
	s := orders.NewService(fx.f.App, orders.Config{Audit: auditRecorder(), Inventory: fx.inv, Carts: fx.carts, Promos: fx.promos,
		Fees: feeSplitter, Payments: pay})

	before := time.Now()
	placed, err := s.Checkout(shopperCtx(w.shopper), lumen, w.input())
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	if o.Status != orders.StatusPendingPayment || len(o.Merchants) != 2 || o.Email != "ada@example.com" || o.CouponCode != "TENOFF" ||
		o.DiscountFundedBy != "tenant" || o.TaxRateBP != 825 || o.TaxInclusive {
		t.Fatalf("order: %+v", o)
	}
	// 2 × 25.00 + 120.00 = 170.00; 10% off = 17.00 (5.00 + 12.00); shipping 5.00 + 15.00;
	// tax 8.25% of (50 - 5 + 5) = 4.125 → 4.13 and of (120 - 12 + 15) = 10.1475 → 10.15.
	want := orders.Amounts{SubtotalMinor: 17000, DiscountMinor: 1700, ShippingMinor: 2000, TaxMinor: 1428, TotalMinor: 18728}
	if o.Amounts != want {
		t.Errorf("order amounts %+v, want %+v", o.Amounts, want)
	}
	byMerchant := map[uuid.UUID]orders.MerchantOrder{}
	for _, mo := range o.Merchants {
		byMerchant[mo.MerchantID] = mo
	}
	lampMO, chairMO := byMerchant[w.lampMID], byMerchant[w.chairMID]
	if lampMO.Amounts != (orders.Amounts{SubtotalMinor: 5000, DiscountMinor: 500, ShippingMinor: 500, TaxMinor: 413, TotalMinor: 5413}) ||
		lampMO.ShippingName != "Standard" || lampMO.WeightGrams != 1600 || len(lampMO.Lines) != 1 || lampMO.MerchantName == "" {
		t.Errorf("lamp merchant order: %+v", lampMO)
	}
	if chairMO.Amounts != (orders.Amounts{SubtotalMinor: 12000, DiscountMinor: 1200, ShippingMinor: 1500, TaxMinor: 1015, TotalMinor: 13315}) ||
		chairMO.ShippingName != "Freight" || chairMO.ShippingRateID == nil || *chairMO.ShippingRateID != w.heavy.ID {
		t.Errorf("chair merchant order: %+v", chairMO)
	}
	l := lampMO.Lines[0]
	if l.UnitPriceMinor != 2500 || l.ListPriceMinor != 2500 || l.Quantity != 2 || l.SKU != "brass-lamp-1" || l.DiscountFundedBy != "tenant" ||
		l.ReservationID == nil || l.CommissionMinor == 0 || l.PlatformFeeMinor == 0 {
		t.Errorf("lamp line: %+v", l)
	}
	var shares int64
	for _, mo := range o.Merchants {
		if mo.PayableMinor+mo.CommissionMinor+mo.PlatformFeeMinor != mo.TotalMinor {
			t.Errorf("merchant order %s: shares %d + %d + %d != %d", mo.ID, mo.PayableMinor, mo.CommissionMinor, mo.PlatformFeeMinor, mo.TotalMinor)
		}
		shares += mo.PayableMinor + mo.CommissionMinor + mo.PlatformFeeMinor
	}
	if shares != o.TotalMinor || o.CommissionMinor == 0 {
		t.Errorf("fee shares add up to %d, total %d (commission %d)", shares, o.TotalMinor, o.CommissionMinor)
	}
	if placed.Payment.ClientSecret != "pi_test_secret_"+o.Number || len(pay.started) != 1 {
		t.Errorf("payment: %+v, started %v", placed.Payment, pay.started)
	}

	// Stock held until the order's expiry (plus grace), coupon used once, cart empty.
	if lv := fx.level(t, "lumen", w.lamp); lv.OnHand != 5 || lv.Reserved != 2 {
		t.Errorf("lamp stock after checkout: %+v", lv)
	}
	rs := must(fx.inv.Reservations(staff(), lumen, "order:"+o.ID.String()))
	if len(rs) != 2 || rs[0].Status != inventory.StatusHeld || rs[0].ExpiresAt.Before(before.Add(orders.ReservationTTL)) {
		t.Errorf("reservations: %+v", rs)
	}
	if c := must(fx.promos.GetCoupon(staff(), lumen, w.coupon.ID)); c.Used != 1 {
		t.Errorf("coupon used %d times, want 1", c.Used)
	}
	if v := must(fx.carts.View(shopperCtx(w.shopper), lumen, w.owner, "en")); len(v.Lines) != 0 {
		t.Errorf("cart after checkout: %+v", v.Lines)
	}
	if o.ExpiresAt.Sub(before) < orders.ReservationTTL-time.Minute {
		t.Errorf("order expires at %v", o.ExpiresAt)
	}

	// What was stored is what was returned; the shopper sees it, without the fee split.
	got := must(s.Get(staff(), lumen, o.ID))
	if got.Amounts != o.Amounts || len(got.Events) != 1 || got.Events[0].To != orders.StatusPendingPayment || got.CommissionMinor != o.CommissionMinor {
		t.Errorf("stored order: %+v", got)
	}
	mine := must(s.ShopperOrder(shopperCtx(w.shopper), lumen, orders.Shopper{ShopperID: w.shopper}, o.ID))
	if mine.TotalMinor != 18728 || mine.CommissionMinor != 0 || mine.Merchants[0].Lines[0].PayableMinor != 0 {
		t.Errorf("shopper's view: %+v", mine)
	}
	if n := fx.count(t, "SELECT count(*) FROM audit_entries WHERE tenant_id = ? AND action = 'order.place'", lumen); n != 1 {
		t.Errorf("%d audit entries for the order", n)
	}

	// Payment arrives: paid, stock sold, events for the order and both merchant orders; twice is once.
	for range 2 {
		if err := s.MarkPaid(staff(), lumen, o.ID, "pi_123"); err != nil {
			t.Fatal(err)
		}
	}
	if lv := fx.level(t, "lumen", w.lamp); lv.OnHand != 3 || lv.Reserved != 0 {
		t.Errorf("lamp stock after payment: %+v", lv)
	}
	got = must(s.Get(staff(), lumen, o.ID))
	if got.Status != orders.StatusPaid || got.PaidAt == nil || got.PaymentRef != "pi_123" || len(got.Events) != 4 {
		t.Errorf("paid order: status %s, events %+v", got.Status, got.Events)
	}
	// One confirmation and one new-order note per merchant, however often payment is told.
	if n := fx.count(t, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND kind = ? AND payload->'data'->>'order_id' = ?",
		lumen, orders.KindPaid, o.ID.String()); n != 1 {
		t.Errorf("%d paid notices in the outbox, want 1", n)
	}
	if n := fx.count(t, `SELECT count(DISTINCT payload->'data'->>'merchant_order_id') FROM outbox
		WHERE tenant_id = ? AND kind = ? AND payload->'data'->>'order_id' = ?`, lumen, orders.KindMerchantNewOrder, o.ID.String()); n != 2 {
		t.Errorf("new-order notes for %d merchant orders, want 2", n)
	}
	if n := fx.count(t, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND kind = ?", lumen, orders.KindMerchantNewOrder); n != 2 {
		t.Errorf("%d new-order notes in the outbox, want 2", n)
	}
	if err := s.MarkPaid(staff(), lumen, o.ID, "pi_other"); !errors.Is(err, orders.ErrTransition) {
		t.Errorf("paid again with another reference: %v", err)
	}
	if _, err := s.Cancel(staff(), lumen, o.ID, ""); !errors.Is(err, orders.ErrTransition) || httpx.StatusOf(fault.As(err).Kind) != 409 {
		t.Errorf("cancel a paid order: %v", err)
	}
}

// Not enough stock for one line changes nothing: no order, no reservation of the other line,
// no coupon use, no flash claim, the cart as it was.
func TestCheckoutInsufficientStockChangesNothing(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	// Someone else holds both chairs, after the shopper put one in the cart.
	if _, err := fx.inv.Reserve(staff(), lumen, []inventory.Line{{VariantID: w.chair, Quantity: 2}}, "order:someone-else", time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := fx.s.Checkout(shopperCtx(w.shopper), lumen, w.input())
	if !errors.Is(err, inventory.ErrInsufficientStock) || httpx.StatusOf(fault.As(err).Kind) != 409 {
		t.Fatalf("checkout without stock: %v", err)
	}
	if n := fx.count(t, "SELECT count(*) FROM orders WHERE tenant_id = ?", lumen); n != 0 {
		t.Errorf("%d orders", n)
	}
	if n := fx.count(t, "SELECT count(*) FROM merchant_orders WHERE tenant_id = ?", lumen); n != 0 {
		t.Errorf("%d merchant orders", n)
	}
	if lv := fx.level(t, "lumen", w.lamp); lv.Reserved != 0 {
		t.Errorf("the lamp is held: %+v", lv)
	}
	if n := fx.count(t, "SELECT count(*) FROM reservations WHERE tenant_id = ? AND owner_ref LIKE 'order:%' AND owner_ref <> 'order:someone-else'", lumen); n != 0 {
		t.Errorf("%d reservations of the failed checkout", n)
	}
	if c := must(fx.promos.GetCoupon(staff(), lumen, w.coupon.ID)); c.Used != 0 {
		t.Errorf("coupon used %d times", c.Used)
	}
	if n := fx.count(t, "SELECT count(*) FROM coupon_redemptions WHERE tenant_id = ?", lumen); n != 0 {
		t.Errorf("%d coupon redemptions", n)
	}
	if v := must(fx.carts.View(shopperCtx(w.shopper), lumen, w.owner, "en")); len(v.Lines) != 2 {
		t.Errorf("cart after the failed checkout: %d lines", len(v.Lines))
	}
}

// Bad input is refused field by field before anything is read or written.
func TestCheckoutValidation(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	in := w.input()
	in.Email = "not-an-address"
	in.Address.Country = "USA"
	in.Address.PostalCode = ""
	in.Address.Line1 = ""
	_, err := fx.s.Checkout(shopperCtx(w.shopper), lumen, in)
	fe := fault.As(err)
	if fe == nil || fe.Kind != fault.Invalid {
		t.Fatalf("bad input: %v", err)
	}
	got := map[string]bool{}
	for _, f := range fe.Fields {
		got[f.Location] = true
	}
	for _, want := range []string{"body.email", "body.address.country", "body.address.postal_code", "body.address.line1"} {
		if !got[want] {
			t.Errorf("no error for %s: %+v", want, fe.Fields)
		}
	}
	// A shipping choice that is not the merchant's.
	in = w.input()
	in.Shipping[w.chairMID] = w.flat.ID
	_, err = fx.s.Checkout(shopperCtx(w.shopper), lumen, in)
	if fe := fault.As(err); fe == nil || len(fe.Fields) != 1 || fe.Fields[0].Location != "body.shipping."+w.chairMID.String() {
		t.Errorf("another merchant's rate: %v", err)
	}
	// An unknown coupon is the coupon's error; nothing is placed.
	in = w.input()
	in.CouponCode = "NOPE"
	if _, err := fx.s.Checkout(shopperCtx(w.shopper), lumen, in); !errors.Is(err, promotions.ErrCouponNotFound) {
		t.Errorf("unknown coupon: %v", err)
	}
	if n := fx.count(t, "SELECT count(*) FROM orders WHERE tenant_id = ?", lumen); n != 0 {
		t.Errorf("%d orders after refused checkouts", n)
	}
	// A marketplace-funded coupon larger than the marketplace's commission: the merchants are
	// paid as at full price and the marketplace tops them up, so its commission on the order
	// is below zero (billing/fees; the payments ledger settles it).
	limit := 5
	must(fx.promos.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "HALFOFF", Kind: promotions.KindPercentage,
		Percent: "50", EndsAt: time.Now().Add(time.Hour), UsageLimit: &limit}))
	in = w.input()
	in.CouponCode = "HALFOFF"
	half := must(fx.s.Checkout(shopperCtx(w.shopper), lumen, in)).Order
	var sum, lines, commission int64
	for _, mo := range half.Merchants {
		for _, l := range mo.Lines {
			sum += l.PayableMinor + l.CommissionMinor + l.PlatformFeeMinor
			lines += l.TotalMinor
			commission += l.CommissionMinor
			if l.PayableMinor <= 0 {
				t.Errorf("line %s pays its merchant %d", l.SKU, l.PayableMinor)
			}
		}
	}
	if half.DiscountMinor != 8500 || half.CommissionMinor >= 0 || commission != half.CommissionMinor || sum != lines {
		t.Errorf("50%% marketplace-funded: discount %d, commission %d (lines %d), shares %d of lines' %d",
			half.DiscountMinor, half.CommissionMinor, commission, sum, lines)
	}
	// An empty cart.
	other := fx.shoppers(t, "lumen", 1)[0]
	in = w.input()
	in.Owner = cart.Owner{ShopperID: other}
	if _, err := fx.s.Checkout(shopperCtx(other), lumen, in); !errors.Is(err, orders.ErrCartEmpty) {
		t.Errorf("empty cart: %v", err)
	}
}

// The checkout page's preview prices like checkout does, writing nothing.
func TestPreview(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	q, err := fx.s.Preview(shopperCtx(w.shopper), lumen, w.input())
	if err != nil || q.CouponErr != nil {
		t.Fatal(err, q.CouponErr)
	}
	if q.Priced.TotalMinor != 18728 || len(q.Options[w.chairMID]) != 1 || q.Chosen[w.lampMID] != w.flat.ID {
		t.Errorf("preview: %+v", q)
	}
	in := w.input()
	in.CouponCode = "NOPE"
	q, err = fx.s.Preview(shopperCtx(w.shopper), lumen, in)
	if err != nil || !errors.Is(q.CouponErr, promotions.ErrCouponNotFound) || q.Priced.DiscountMinor != 0 {
		t.Errorf("preview with a bad coupon: %v %v %+v", err, q.CouponErr, q.Priced.Amounts)
	}
	if c := must(fx.promos.GetCoupon(staff(), lumen, w.coupon.ID)); c.Used != 0 {
		t.Errorf("preview used the coupon: %d", c.Used)
	}
}
