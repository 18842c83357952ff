package promotions_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/fault"
	"mercato/tenants/promotions"
)

// Who may create what, what a coupon refuses and when, and that a refused redemption writes
// nothing; every staff change is in the audit chain.
func TestCouponRules(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	nw, oak := fx.merchant["northwind-lighting"], fx.merchant["oak-and-ash"]
	hour := time.Now().Add(time.Hour)

	// Invalid input: every bad field is named, nothing is created.
	_, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "x", Kind: "bogus", EndsAt: time.Now().Add(-time.Hour),
		UsageLimit: ptr(0), MinSpend: "1.234"})
	fe := fault.As(err)
	if fe == nil || fe.Kind != fault.Invalid {
		t.Fatalf("invalid coupon: %v", err)
	}
	got := map[string]bool{}
	for _, f := range fe.Fields {
		got[f.Location] = true
	}
	for _, loc := range []string{"body.code", "body.kind", "body.ends_at", "body.usage_limit"} {
		if !got[loc] {
			t.Errorf("no error for %s: %+v", loc, fe.Fields)
		}
	}
	if _, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "CENTS", Kind: promotions.KindFixed, Amount: "1.234", EndsAt: hour}); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("a fixed amount with 3 decimals in USD: %v", err)
	}
	if page, err := fx.s.ListCoupons(staff(), lumen, promotions.CouponFilter{}); err != nil || len(page.Items) != 0 {
		t.Fatalf("coupons after refusals: %v %d", err, len(page.Items))
	}

	// Funding rules.
	for name, tc := range map[string]struct {
		ctxMerchant uuid.UUID
		in          promotions.CouponInput
		wantErr     bool
	}{
		"staff, platform-funded":          {uuid.Nil, promotions.CouponInput{Code: "PLAT", FundedBy: "platform"}, true},
		"staff, merchant-funded, no shop": {uuid.Nil, promotions.CouponInput{Code: "NOSHOP", FundedBy: "merchant"}, true},
		"merchant staff, tenant-funded":   {nw, promotions.CouponInput{Code: "MTEN", FundedBy: "tenant"}, true},
		"merchant staff, another shop":    {nw, promotions.CouponInput{Code: "MOAK", MerchantID: &oak}, true},
		"merchant staff, own":             {nw, promotions.CouponInput{Code: "NW10"}, false},
		"staff, tenant-wide":              {uuid.Nil, promotions.CouponInput{Code: "ALL10"}, false},
		"staff, merchant-funded for oak":  {uuid.Nil, promotions.CouponInput{Code: "OAK10", FundedBy: "merchant", MerchantID: &oak}, false},
	} {
		ctx := staff()
		if tc.ctxMerchant != uuid.Nil {
			ctx = merchantStaff(tc.ctxMerchant)
		}
		tc.in.Kind, tc.in.Percent, tc.in.EndsAt = promotions.KindPercentage, "10", hour
		c, err := fx.s.CreateCoupon(ctx, lumen, tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: %v", name, err)
		}
		if name == "merchant staff, own" && (c.FundedBy != promotions.FundedByMerchant || c.MerchantID == nil || *c.MerchantID != nw) {
			t.Errorf("merchant's own coupon: %+v", c)
		}
	}
	if _, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "all10", Kind: promotions.KindFixed, Amount: "1", EndsAt: hour}); !errors.Is(err, promotions.ErrCouponCodeTaken) {
		t.Errorf("same code in another case: %v", err)
	}

	lines := []promotions.Line{
		{MerchantID: nw, UnitPriceMinor: 2000, Quantity: 2},  // 40.00
		{MerchantID: oak, UnitPriceMinor: 6000, Quantity: 1}, // 60.00
	}
	// A merchant's coupon discounts only its lines.
	d, err := fx.s.Quote(staff(), lumen, "nw10", "", "USD", lines)
	if err != nil || d.TotalMinor != 400 || d.PerLineMinor[0] != 400 || d.PerLineMinor[1] != 0 || d.FundedBy != "merchant" {
		t.Errorf("merchant coupon: %v %+v", err, d)
	}
	if _, err := fx.s.Quote(staff(), lumen, "NW10", "", "USD", lines[1:]); !errors.Is(err, promotions.ErrCouponNotApplicable) {
		t.Errorf("merchant coupon without its lines: %v", err)
	}
	// Tenant-wide: 10% of 100.00.
	if d, err := fx.s.Quote(staff(), lumen, "ALL10", "", "USD", lines); err != nil || d.TotalMinor != 1000 || d.PerLineMinor[0] != 400 || d.PerLineMinor[1] != 600 {
		t.Errorf("tenant coupon: %v %+v", err, d)
	}
	if _, err := fx.s.Quote(staff(), lumen, "NOPE", "", "USD", lines); !errors.Is(err, promotions.ErrCouponNotFound) {
		t.Errorf("unknown code: %v", err)
	}

	// Min spend, a future start, expiry, deactivation, exhaustion.
	start := time.Now().Add(time.Minute)
	if _, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "BIG", Kind: promotions.KindFixed, Amount: "15", MinSpend: "100.01", EndsAt: hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "SOON", Kind: promotions.KindFixed, Amount: "15", StartsAt: &start, EndsAt: hour}); err != nil {
		t.Fatal(err)
	}
	one, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "ONCE", Kind: promotions.KindFixed, Amount: "500", EndsAt: hour, UsageLimit: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.Quote(staff(), lumen, "BIG", "", "USD", lines); !errors.Is(err, promotions.ErrCouponMinSpend) {
		t.Errorf("below min spend: %v", err)
	}
	if _, err := fx.s.Quote(staff(), lumen, "SOON", "", "USD", lines); !errors.Is(err, promotions.ErrCouponNotActive) {
		t.Errorf("not started: %v", err)
	}
	later := promotions.NewService(fx.f.App, audit.Recorder{})
	later.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if _, err := later.Quote(staff(), lumen, "ALL10", "", "USD", lines); !errors.Is(err, promotions.ErrCouponNotActive) {
		t.Errorf("expired: %v", err)
	}
	redeem := func(code, key string, order uuid.UUID) (promotions.Discount, error) {
		var d promotions.Discount
		err := fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
			var err error
			d, err = fx.s.Redeem(staff(), tx, lumen, order, code, key, "USD", lines)
			return err
		})
		return d, err
	}
	order := uuid.New()
	// A fixed 500.00 off a 100.00 cart takes 100.00.
	if d, err := redeem("ONCE", "email:a@example.com", order); err != nil || d.TotalMinor != 10000 {
		t.Errorf("first redemption: %v %+v", err, d)
	}
	if _, err := redeem("ONCE", "email:b@example.com", uuid.New()); !errors.Is(err, promotions.ErrCouponExhausted) {
		t.Errorf("second redemption of a 1-use coupon: %v", err)
	}
	if _, err := redeem("ALL10", "Email:A@example.com", uuid.New()); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("shopper key in the wrong case: %v", err)
	}
	if _, err := redeem("ALL10", "email:a@example.com", order); err != nil {
		t.Fatal(err)
	}
	if _, err := redeem("ALL10", "email:a@example.com", order); !errors.Is(err, promotions.ErrCouponRedeemed) {
		t.Errorf("same order twice: %v", err)
	}
	if c, _ := fx.s.GetCoupon(staff(), lumen, one.ID); c.Used != 1 {
		t.Errorf("ONCE used %d, want 1", c.Used)
	}
	if _, err := fx.s.DeactivateCoupon(staff(), lumen, one.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.DeactivateCoupon(staff(), lumen, one.ID); !errors.Is(err, promotions.ErrInactive) {
		t.Errorf("deactivate twice: %v", err)
	}
	if _, err := fx.s.Quote(staff(), lumen, "ONCE", "", "USD", lines); !errors.Is(err, promotions.ErrCouponNotActive) {
		t.Errorf("deactivated: %v", err)
	}

	// Every staff change is audited: 2 refused creates wrote nothing; 3 + 3 creates, 1 deactivation.
	err = fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM audit_entries WHERE action LIKE 'coupon.%'").Scan(staff(), &n); err != nil {
			return err
		}
		if n != 7 {
			t.Errorf("%d coupon audit entries, want 7", n)
		}
		rep, err := audit.Verify(staff(), tx, lumen)
		if err == nil && !rep.OK() {
			t.Errorf("audit chain: %+v", rep)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Flash sales: creation rules, and what FlashPrices and ClaimFlash say before, during and after.
func TestFlashSaleRules(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	nw := fx.merchant["northwind-lighting"]
	v := fx.variant(t, "lumen", "northwind-lighting", "lamp", "USD", "40.00")
	other := fx.variant(t, "lumen", "oak-and-ash", "stool", "USD", "80.00")
	hour := time.Now().Add(time.Hour)

	if _, err := fx.s.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: v, Price: "40.00", Quantity: 5, EndsAt: hour}); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("a flash price not below the regular price: %v", err)
	}
	if _, err := fx.s.CreateFlashSale(merchantStaff(nw), lumen, promotions.FlashSaleInput{VariantID: other, Price: "10", Quantity: 5, EndsAt: hour}); !errors.Is(err, promotions.ErrVariantNotFound) {
		t.Errorf("merchant staff putting another merchant's variant on sale: %v", err)
	}
	sale, err := fx.s.CreateFlashSale(merchantStaff(nw), lumen, promotions.FlashSaleInput{VariantID: v, Price: "29.99", Quantity: 5, PerShopperLimit: 2, EndsAt: hour})
	if err != nil || sale.MerchantID != nw || sale.PriceMinor != 2999 {
		t.Fatalf("create: %v %+v", err, sale)
	}
	if _, err := fx.s.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{SKU: "lamp-1", Price: "19", Quantity: 5, EndsAt: hour}); !errors.Is(err, promotions.ErrFlashOverlap) {
		t.Errorf("a second sale at the same time: %v", err)
	}
	prices, err := fx.s.FlashPrices(staff(), lumen, []uuid.UUID{v, other}, "USD")
	if err != nil || len(prices) != 1 || prices[v].PriceMinor != 2999 || prices[v].Remaining != 5 || prices[v].SaleID != sale.ID {
		t.Errorf("flash prices: %v %+v", err, prices)
	}
	claim := func(s *promotions.Service, variant uuid.UUID, qty int) error {
		return fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
			return s.ClaimFlash(staff(), tx, lumen, uuid.New(), "shopper:"+uuid.NewString(), sale.ID, variant, qty)
		})
	}
	if err := claim(fx.s, other, 1); !errors.Is(err, promotions.ErrFlashEnded) {
		t.Errorf("claim for the wrong variant: %v", err)
	}
	if err := claim(fx.s, v, 3); !errors.Is(err, promotions.ErrFlashLimit) {
		t.Errorf("3 units with a limit of 2: %v", err)
	}
	later := promotions.NewService(fx.f.App, audit.Recorder{})
	later.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if err := claim(later, v, 1); !errors.Is(err, promotions.ErrFlashEnded) {
		t.Errorf("claim after the end: %v", err)
	}
	if p, err := later.FlashPrices(staff(), lumen, []uuid.UUID{v}, "USD"); err != nil || len(p) != 0 {
		t.Errorf("flash prices after the end: %v %+v", err, p)
	}
	for range 2 {
		if err := claim(fx.s, v, 2); err != nil {
			t.Fatal(err)
		}
	}
	// The same order claiming twice is refused before anything moves.
	order := uuid.New()
	err = fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
		if err := fx.s.ClaimFlash(staff(), tx, lumen, order, "email:twice@example.com", sale.ID, v, 1); err != nil {
			return err
		}
		if err := fx.s.ClaimFlash(staff(), tx, lumen, order, "email:twice@example.com", sale.ID, v, 1); !errors.Is(err, promotions.ErrFlashClaimed) {
			t.Errorf("same order twice: %v", err)
		}
		return errors.New("roll back")
	})
	if got, _ := fx.s.GetFlashSale(staff(), lumen, sale.ID); got.Sold != 4 || got.SKU != "lamp-1" {
		t.Errorf("after a rolled-back claim: sold %d sku %q, want 4 and lamp-1", got.Sold, got.SKU)
	}
	if err := claim(fx.s, v, 2); !errors.Is(err, promotions.ErrFlashSoldOut) {
		t.Errorf("2 more of 1 left: %v", err)
	}
	if p, _ := fx.s.FlashPrices(staff(), lumen, []uuid.UUID{v}, "USD"); p[v].Remaining != 1 {
		t.Errorf("remaining %d, want 1", p[v].Remaining)
	}
	if _, err := fx.s.DeactivateFlashSale(staff(), lumen, sale.ID); err != nil {
		t.Fatal(err)
	}
	if err := claim(fx.s, v, 1); !errors.Is(err, promotions.ErrFlashEnded) {
		t.Errorf("claim of a deactivated sale: %v", err)
	}
}

// Tenant B's and another merchant's coupons and flash sales answer not found to tenant A and to
// merchant staff, and their codes do not exist elsewhere.
func TestPromotionIsolation(t *testing.T) {
	fx := setup(t)
	lumen, panda := fx.tenant["lumen"], fx.tenant["panda"]
	nw, oak := fx.merchant["northwind-lighting"], fx.merchant["oak-and-ash"]
	hour := time.Now().Add(time.Hour)
	pc, err := fx.s.CreateCoupon(staff(), panda, promotions.CouponInput{Code: "PANDA", Kind: promotions.KindFixed, Amount: "10", EndsAt: hour})
	if err != nil {
		t.Fatal(err)
	}
	tea := fx.variant(t, "panda", "xiangyun-tea", "tea", "CNY", "88")
	pf, err := fx.s.CreateFlashSale(staff(), panda, promotions.FlashSaleInput{VariantID: tea, Price: "50", Quantity: 5, EndsAt: hour})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := fx.s.CreateCoupon(merchantStaff(oak), lumen, promotions.CouponInput{Code: "OAKONLY", Kind: promotions.KindPercentage, Percent: "5", EndsAt: hour})
	if err != nil {
		t.Fatal(err)
	}
	stool := fx.variant(t, "lumen", "oak-and-ash", "stool", "USD", "80.00")
	of, err := fx.s.CreateFlashSale(merchantStaff(oak), lumen, promotions.FlashSaleInput{VariantID: stool, Price: "50", Quantity: 5, EndsAt: hour})
	if err != nil {
		t.Fatal(err)
	}
	tenantWide, err := fx.s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "LUMEN", Kind: promotions.KindPercentage, Percent: "5", EndsAt: hour})
	if err != nil {
		t.Fatal(err)
	}

	nwCtx := merchantStaff(nw)
	leaks, n := 0, 0
	check := func(name string, err, want error) {
		n++
		if !errors.Is(err, want) {
			leaks++
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	_, err = fx.s.GetCoupon(staff(), lumen, pc.ID)
	check("lumen gets panda's coupon", err, promotions.ErrNoSuchCoupon)
	_, err = fx.s.DeactivateCoupon(staff(), lumen, pc.ID)
	check("lumen deactivates panda's coupon", err, promotions.ErrNoSuchCoupon)
	_, err = fx.s.GetFlashSale(staff(), lumen, pf.ID)
	check("lumen gets panda's flash sale", err, promotions.ErrNoSuchFlashSale)
	_, err = fx.s.DeactivateFlashSale(staff(), lumen, pf.ID)
	check("lumen deactivates panda's flash sale", err, promotions.ErrNoSuchFlashSale)
	_, err = fx.s.Quote(staff(), lumen, "PANDA", "", "USD", []promotions.Line{{MerchantID: nw, UnitPriceMinor: 100, Quantity: 1}})
	check("panda's code at lumen", err, promotions.ErrCouponNotFound)
	_, err = fx.s.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: tea, Price: "1", Quantity: 1, EndsAt: hour})
	check("lumen puts panda's variant on sale", err, promotions.ErrVariantNotFound)
	_, err = fx.s.GetCoupon(nwCtx, lumen, oc.ID)
	check("northwind gets oak's coupon", err, promotions.ErrNoSuchCoupon)
	_, err = fx.s.DeactivateCoupon(nwCtx, lumen, oc.ID)
	check("northwind deactivates oak's coupon", err, promotions.ErrNoSuchCoupon)
	_, err = fx.s.GetCoupon(nwCtx, lumen, tenantWide.ID)
	check("northwind gets the tenant's coupon", err, promotions.ErrNoSuchCoupon)
	_, err = fx.s.GetFlashSale(nwCtx, lumen, of.ID)
	check("northwind gets oak's flash sale", err, promotions.ErrNoSuchFlashSale)
	_, err = fx.s.DeactivateFlashSale(nwCtx, lumen, of.ID)
	check("northwind deactivates oak's flash sale", err, promotions.ErrNoSuchFlashSale)
	err = fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
		return fx.s.ClaimFlash(staff(), tx, lumen, uuid.New(), "shopper:"+uuid.NewString(), pf.ID, tea, 1)
	})
	check("lumen claims panda's flash sale", err, promotions.ErrFlashEnded)

	if page, err := fx.s.ListCoupons(nwCtx, lumen, promotions.CouponFilter{}); err != nil || len(page.Items) != 0 {
		t.Errorf("northwind lists %d coupons (%v), want 0", len(page.Items), err)
	}
	if page, err := fx.s.ListCoupons(staff(), lumen, promotions.CouponFilter{}); err != nil || len(page.Items) != 2 {
		t.Errorf("lumen lists %d coupons (%v), want 2", len(page.Items), err)
	}
	if page, err := fx.s.ListFlashSales(staff(), panda, promotions.FlashFilter{}); err != nil || len(page.Items) != 1 || page.Items[0].ID != pf.ID {
		t.Errorf("panda's flash sales: %v %+v", err, page)
	}
	if c, _ := fx.s.GetCoupon(staff(), panda, pc.ID); !c.Active {
		t.Errorf("panda's coupon was changed: %+v", c)
	}
	t.Logf("%d cross-tenant and cross-merchant promotion calls, %d leaks", n, leaks)
}
