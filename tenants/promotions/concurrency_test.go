package promotions_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/db"
	"mercato/tenants/promotions"
)

// race starts n goroutines at once and waits for them all.
func race(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// Coupon limit (TESTING.md): 200 concurrent redemptions of a 50-use coupon, each in its own
// transaction like a checkout: exactly 50 succeed, the other 150 are told the coupon is used up,
// and the counter and the redemption rows both say 50.
func TestCouponConcurrentRedemptions(t *testing.T) {
	const (
		buyers = 200
		limit  = 50
		conns  = 40
	)
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	pool, err := db.Open(staff(), fx.f.Roles.AppURL, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := promotions.NewService(pool, audit.Recorder{})
	c, err := s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "fifty", Kind: promotions.KindPercentage, Percent: "10",
		EndsAt: time.Now().Add(time.Hour), UsageLimit: ptr(limit)})
	if err != nil {
		t.Fatal(err)
	}
	lines := []promotions.Line{{VariantID: uuid.New(), MerchantID: fx.merchant["northwind-lighting"], UnitPriceMinor: 2500, Quantity: 2}}
	var ok, exhausted, other atomic.Int64
	t0 := time.Now()
	race(buyers, func(i int) {
		err := pool.WithTenant(staff(), lumen, func(tx bun.IDB) error {
			d, err := s.Redeem(staff(), tx, lumen, uuid.Must(uuid.NewV7()), "FIFTY", fmt.Sprintf("shopper:%s", uuid.New()), "USD", lines)
			if err == nil && d.TotalMinor != 500 {
				return fmt.Errorf("discount %d, want 500", d.TotalMinor)
			}
			return err
		})
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, promotions.ErrCouponExhausted):
			exhausted.Add(1)
		default:
			other.Add(1)
			t.Errorf("redeem: %v", err)
		}
	})
	t.Logf("%d concurrent redemptions of a %d-use coupon in %v: %d succeeded, %d exhausted", buyers, limit, time.Since(t0), ok.Load(), exhausted.Load())
	if ok.Load() != limit || exhausted.Load() != buyers-limit || other.Load() != 0 {
		t.Fatalf("%d succeeded, %d exhausted, %d other; want %d, %d, 0", ok.Load(), exhausted.Load(), other.Load(), limit, buyers-limit)
	}
	got, err := s.GetCoupon(staff(), lumen, c.ID)
	if err != nil || got.Used != limit {
		t.Errorf("coupon used = %d (%v), want %d", got.Used, err, limit)
	}
	var rows int
	if err := pool.WithTenant(staff(), lumen, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT count(*) FROM coupon_redemptions WHERE coupon_id = ?", c.ID).Scan(staff(), &rows)
	}); err != nil || rows != limit {
		t.Errorf("%d redemption rows (%v), want %d", rows, err, limit)
	}
}

// The per-shopper limit holds under concurrency too: 3 shoppers each race 30 redemptions of a
// coupon allowing 2 per shopper; each gets exactly 2.
func TestCouponPerShopperLimitConcurrent(t *testing.T) {
	const (
		shoppers = 3
		attempts = 30
		each     = 2
	)
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	pool, err := db.Open(staff(), fx.f.Roles.AppURL, 30)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := promotions.NewService(pool, audit.Recorder{})
	if _, err := s.CreateCoupon(staff(), lumen, promotions.CouponInput{Code: "TWICE", Kind: promotions.KindFixed, Amount: "5",
		EndsAt: time.Now().Add(time.Hour), PerShopperLimit: ptr(each)}); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, shoppers)
	for i := range keys {
		keys[i] = "email:buyer" + fmt.Sprint(i) + "@example.com"
	}
	lines := []promotions.Line{{MerchantID: fx.merchant["oak-and-ash"], UnitPriceMinor: 10000, Quantity: 1}}
	var mu sync.Mutex
	got := map[string]int{}
	race(shoppers*attempts, func(i int) {
		key := keys[i%shoppers]
		err := pool.WithTenant(staff(), lumen, func(tx bun.IDB) error {
			_, err := s.Redeem(staff(), tx, lumen, uuid.Must(uuid.NewV7()), "twice", key, "USD", lines)
			return err
		})
		if err != nil && !errors.Is(err, promotions.ErrCouponShopperLimit) {
			t.Errorf("redeem: %v", err)
		}
		if err == nil {
			mu.Lock()
			got[key]++
			mu.Unlock()
		}
	})
	for _, k := range keys {
		if got[k] != each {
			t.Errorf("%s redeemed %d times, want %d", k, got[k], each)
		}
	}
}

// Flash sale (TESTING.md): 500 concurrent buyers claim 1 unit each of a 10-unit sale, each in
// its own transaction; 20 repetitions. Exactly 10 succeed every time, the rest are told it is
// sold out, and sold never exceeds quantity.
func TestFlashSaleConcurrentClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 10,000 transactions")
	}
	const (
		buyers = 500
		units  = 10
		reps   = 20
		conns  = 40
	)
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	v := fx.variant(t, "lumen", "northwind-lighting", "flash-lamp", "USD", "40.00")
	pool, err := db.Open(staff(), fx.f.Roles.AppURL, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := promotions.NewService(pool, audit.Recorder{})
	var total time.Duration
	for rep := range reps {
		sale, err := s.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: v, Price: "19.99", Quantity: units,
			EndsAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var ok, soldOut atomic.Int64
		t0 := time.Now()
		race(buyers, func(i int) {
			err := pool.WithTenant(staff(), lumen, func(tx bun.IDB) error {
				return s.ClaimFlash(staff(), tx, lumen, uuid.Must(uuid.NewV7()), "shopper:"+uuid.NewString(), sale.ID, v, 1)
			})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, promotions.ErrFlashSoldOut):
				soldOut.Add(1)
			default:
				t.Errorf("claim: %v", err)
			}
		})
		total += time.Since(t0)
		got, err := s.GetFlashSale(staff(), lumen, sale.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok.Load() != units || soldOut.Load() != buyers-units || got.Sold != units {
			t.Fatalf("repetition %d: %d claims succeeded, %d sold out, sold = %d; want %d, %d, %d",
				rep, ok.Load(), soldOut.Load(), got.Sold, units, buyers-units, units)
		}
		prices, err := s.FlashPrices(staff(), lumen, []uuid.UUID{v}, "USD")
		if err != nil || len(prices) != 0 {
			t.Errorf("repetition %d: a sold-out sale still prices the variant: %v %+v", rep, err, prices)
		}
		if _, err := s.DeactivateFlashSale(staff(), lumen, sale.ID); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d repetitions of %d concurrent claims for %d units: exactly %d each time; %v per repetition",
		reps, buyers, units, units, total/reps)
}

// The per-shopper limit of a flash sale holds under concurrency: one shopper racing 40
// one-unit claims on a sale allowing 3 per shopper gets 3.
func TestFlashPerShopperLimitConcurrent(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	v := fx.variant(t, "lumen", "oak-and-ash", "flash-stool", "USD", "80.00")
	sale, err := fx.s.CreateFlashSale(staff(), lumen, promotions.FlashSaleInput{VariantID: v, Price: "50", Quantity: 100,
		PerShopperLimit: 3, EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var ok, limited atomic.Int64
	race(40, func(i int) {
		err := fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
			return fx.s.ClaimFlash(staff(), tx, lumen, uuid.Must(uuid.NewV7()), "email:eager@example.com", sale.ID, v, 1)
		})
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, promotions.ErrFlashLimit):
			limited.Add(1)
		default:
			t.Errorf("claim: %v", err)
		}
	})
	if ok.Load() != 3 || limited.Load() != 37 {
		t.Errorf("%d claims succeeded, %d limited; want 3 and 37", ok.Load(), limited.Load())
	}
	// Two units more for the same shopper is over the limit; another shopper may take 3 at once.
	err = fx.f.App.WithTenant(staff(), lumen, func(tx bun.IDB) error {
		if err := fx.s.ClaimFlash(staff(), tx, lumen, uuid.New(), "email:eager@example.com", sale.ID, v, 1); !errors.Is(err, promotions.ErrFlashLimit) {
			t.Errorf("fourth unit: %v", err)
		}
		return fx.s.ClaimFlash(staff(), tx, lumen, uuid.New(), "shopper:"+uuid.NewString(), sale.ID, v, 3)
	})
	if err != nil {
		t.Errorf("another shopper's 3: %v", err)
	}
	if got, _ := fx.s.GetFlashSale(staff(), lumen, sale.ID); got.Sold != 6 {
		t.Errorf("sold %d, want 6", got.Sold)
	}
}
