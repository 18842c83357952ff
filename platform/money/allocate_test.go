package money_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"mercato/platform/money"
)

func TestAllocate(t *testing.T) {
	const m = math.MaxInt64
	for _, tc := range []struct {
		name    string
		total   money.Amount
		weights []int64
		want    []int64
		wantErr error
	}{
		// 100/3 = 33.33…: three parts of 33, the one unit left goes to the first on the tie.
		{"thirds", usd(100), []int64{1, 1, 1}, []int64{34, 33, 33}, nil},
		{"negative total mirrors", usd(-100), []int64{1, 1, 1}, []int64{-34, -33, -33}, nil},
		{"one unit", usd(1), []int64{1, 1}, []int64{1, 0}, nil},
		{"exact", usd(10), []int64{3, 7}, []int64{3, 7}, nil},
		// 10×{1,2,4}/7 = 1.43, 2.86, 5.71: floors 1, 2, 5 leave 2 units; remainders 3/7, 6/7, 5/7
		// give them to the second and third, not to the first by index.
		{"largest remainder wins over index", usd(10), []int64{1, 2, 4}, []int64{1, 3, 6}, nil},
		{"zero weights get nothing", usd(5), []int64{0, 1, 0}, []int64{0, 5, 0}, nil},
		{"zero total", usd(0), []int64{1, 2}, []int64{0, 0}, nil},
		{"single", usd(-7), []int64{9}, []int64{-7}, nil},
		{"0 decimals", money.MustNew(1000, "JPY"), []int64{1, 2, 3, 4}, []int64{100, 200, 300, 400}, nil},
		{"3 decimals", money.MustNew(1001, "KWD"), []int64{1, 1}, []int64{501, 500}, nil},
		// The weight sum 2^64-2 does not fit an int64; each exact share is 2^62-0.5.
		{"weights summing past int64", usd(m), []int64{m, m}, []int64{m/2 + 1, m / 2}, nil},
		// Shares m·m/(m+1) = m-1+1/(m+1) and m/(m+1) ≈ 0.99…: the tiny weight's larger remainder wins.
		{"largest values", usd(m), []int64{m, 1}, []int64{m - 1, 1}, nil},

		{"no weights", usd(1), nil, nil, money.ErrBadWeights},
		{"all zero", usd(1), []int64{0, 0}, nil, money.ErrBadWeights},
		{"all zero, zero total", usd(0), []int64{0}, nil, money.ErrBadWeights},
		{"negative weight", usd(1), []int64{2, -1}, nil, money.ErrBadWeights},
		{"total out of range", money.Amount{Minor: math.MinInt64, Currency: "USD"}, []int64{1}, nil, money.ErrOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := money.Allocate(tc.total, tc.weights)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Allocate(%v, %v) error = %v, want %v", tc.total, tc.weights, err, tc.wantErr)
			}
			var got []int64
			for _, p := range parts {
				if p.Currency != tc.total.Currency {
					t.Errorf("part %v is not in %s", p, tc.total.Currency)
				}
				got = append(got, p.Minor)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Allocate(%v, %v) = %v, want %v", tc.total, tc.weights, got, tc.want)
			}
		})
	}
}
