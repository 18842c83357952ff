package promotions

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
)

// Discount arithmetic over 10,000 generated carts in currencies with 0, 2 and 3 decimals:
// the per-line parts add up to the total exactly, no part is negative or above its line, lines
// of other merchants get nothing from a merchant's coupon, a percentage is the eligible sum
// times the rate rounded down, and a fixed amount never exceeds the eligible sum.
func TestDiscountAllocationSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2026))
	merchants := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	currencies := []string{"JPY", "USD", "KWD"}
	var checked int
	for i := range 10_000 {
		cur := currencies[i%len(currencies)]
		r := couponRow{ID: uuid.New(), Code: "GEN", Currency: cur, FundedBy: FundedByTenant}
		if rng.IntN(2) == 0 {
			r.Kind, r.PercentBP = KindPercentage, ptr(1+rng.IntN(10000))
		} else {
			r.Kind, r.AmountMinor = KindFixed, ptr(int64(1+rng.IntN(100_000)))
		}
		if rng.IntN(3) == 0 {
			r.MerchantID = &merchants[rng.IntN(len(merchants))]
		}
		lines := make([]Line, 1+rng.IntN(12))
		var eligible int64
		for j := range lines {
			lines[j] = Line{VariantID: uuid.New(), MerchantID: merchants[rng.IntN(len(merchants))],
				UnitPriceMinor: int64(rng.IntN(5_000_000)), Quantity: 1 + rng.IntN(99)}
			if r.MerchantID == nil || lines[j].MerchantID == *r.MerchantID {
				eligible += lines[j].UnitPriceMinor * int64(lines[j].Quantity)
			}
		}
		d, err := discount(r, cur, lines)
		if eligible == 0 {
			if err != ErrCouponNotApplicable {
				t.Fatalf("cart %d with nothing eligible: %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cart %d: %v", i, err)
		}
		checked++
		if len(d.PerLineMinor) != len(lines) {
			t.Fatalf("cart %d: %d parts for %d lines", i, len(d.PerLineMinor), len(lines))
		}
		var sum int64
		for j, p := range d.PerLineMinor {
			lt := lines[j].UnitPriceMinor * int64(lines[j].Quantity)
			if p < 0 || p > lt {
				t.Fatalf("cart %d line %d: part %d of a line of %d", i, j, p, lt)
			}
			if r.MerchantID != nil && lines[j].MerchantID != *r.MerchantID && p != 0 {
				t.Fatalf("cart %d line %d: another merchant's line discounted by %d", i, j, p)
			}
			sum += p
		}
		if sum != d.TotalMinor {
			t.Fatalf("cart %d: parts sum to %d, total %d", i, sum, d.TotalMinor)
		}
		want := min(eligible, func() int64 {
			if r.Kind == KindFixed {
				return *r.AmountMinor
			}
			return eligible * int64(*r.PercentBP) / 10000 // fits: eligible < 2^39, bp ≤ 2^14
		}())
		if d.TotalMinor != want {
			t.Fatalf("cart %d (%s): total %d, want %d", i, r.Kind, d.TotalMinor, want)
		}
	}
	t.Logf("%d carts with an eligible line checked: parts sum to the total every time", checked)
}

// A worked example: 10% of 3 lines of 10.01, 20.02 and 0.03 is 3.006, rounded down to 3.00,
// spread 100/200/0 by largest remainder.
func TestDiscountExample(t *testing.T) {
	r := couponRow{Code: "TEN", Currency: "USD", Kind: KindPercentage, PercentBP: ptr(1000), FundedBy: FundedByMerchant}
	d, err := discount(r, "USD", []Line{{UnitPriceMinor: 1001, Quantity: 1}, {UnitPriceMinor: 1001, Quantity: 2}, {UnitPriceMinor: 3, Quantity: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if d.TotalMinor != 300 || d.PerLineMinor[0] != 100 || d.PerLineMinor[1] != 200 || d.PerLineMinor[2] != 0 || d.FundedBy != FundedByMerchant {
		t.Errorf("discount: %+v", d)
	}
	r.MinSpendMinor = 3006
	if _, err := discount(r, "USD", []Line{{UnitPriceMinor: 3005, Quantity: 1}}); err != ErrCouponMinSpend {
		t.Errorf("below min spend: %v", err)
	}
	if _, err := discount(r, "EUR", []Line{{UnitPriceMinor: 5000, Quantity: 1}}); err != ErrCouponNotApplicable {
		t.Errorf("a cart in another currency: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
