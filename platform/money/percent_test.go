package money_test

import (
	"errors"
	"math"
	"testing"

	"mercato/platform/money"
)

func TestPercent(t *testing.T) {
	const m = math.MaxInt64
	for _, tc := range []struct {
		name               string
		amount             money.Amount
		bp                 int64
		halfUp, down, even int64
		wantErr            error
	}{
		{"2.5% of $100.00", usd(10000), 250, 250, 250, 250, nil},
		// 1999 × 290 / 10000 = 57.971
		{"2.9% of $19.99", usd(1999), 290, 58, 57, 58, nil},
		{"0.5 unit", usd(50), 100, 1, 0, 0, nil},
		{"1.5 units", usd(150), 100, 2, 1, 2, nil},
		{"2.5 units", usd(250), 100, 3, 2, 2, nil},
		{"-2.5 units", usd(-250), 100, -3, -2, -2, nil},
		{"negative rate", usd(250), -100, -3, -2, -2, nil},
		{"just under half", usd(1), 4999, 0, 0, 0, nil},
		{"half", usd(1), 5000, 1, 0, 0, nil},
		{"just over half", usd(1), 5001, 1, 0, 1, nil},
		{"whole", usd(-7), 10000, -7, -7, -7, nil},
		{"zero rate", usd(12345), 0, 0, 0, 0, nil},
		{"zero amount", usd(0), 9999, 0, 0, 0, nil},
		// 1235 × 1000 / 10000 = 123.5; 123 is odd, so half-even goes up too.
		{"0 decimals", money.MustNew(1235, "JPY"), 1000, 124, 123, 124, nil},
		// 1005 × 50 / 10000 = 5.025 fils
		{"3 decimals", money.MustNew(1005, "BHD"), 50, 5, 5, 5, nil},
		// 2225 × 200 / 10000 = 44.5; 44 is even, so half-even stays.
		{"3 decimals half", money.MustNew(2225, "OMR"), 200, 45, 44, 44, nil},
		{"150%", usd(101), 15000, 152, 151, 152, nil},
		// m × 9999 / 10000 = 9222449699651090329.4193, computed past int64.
		{"largest amount", usd(m), 9999, 9222449699651090329, 9222449699651090329, 9222449699651090329, nil},
		{"largest amount whole", usd(m), 10000, m, m, m, nil},
		{"smallest amount whole", usd(-m), 10000, -m, -m, -m, nil},

		{"over the top", usd(m), 10001, 0, 0, 0, money.ErrOverflow},
		{"under the bottom", usd(-m), 10001, 0, 0, 0, money.ErrOverflow},
		{"largest rate", usd(m), m, 0, 0, 0, money.ErrOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []struct {
				r    money.Rounding
				want int64
			}{{money.RoundHalfUp, tc.halfUp}, {money.RoundDown, tc.down}, {money.RoundHalfEven, tc.even}} {
				got, err := money.Percent(tc.amount, tc.bp, mode.r)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Percent(%v, %d, %v) error = %v, want %v", tc.amount, tc.bp, mode.r, err, tc.wantErr)
				}
				if err == nil && got != money.MustNew(mode.want, tc.amount.Currency) {
					t.Errorf("Percent(%v, %d, %v) = %v, want %d", tc.amount, tc.bp, mode.r, got, mode.want)
				}
			}
		})
	}

	for _, r := range []money.Rounding{0, money.RoundHalfEven + 1, -1} {
		if _, err := money.Percent(usd(100), 100, r); !errors.Is(err, money.ErrBadRounding) {
			t.Errorf("Percent with %v: %v, want ErrBadRounding", r, err)
		}
	}
}
