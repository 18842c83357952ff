package money_test

import (
	"errors"
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"mercato/platform/money"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the property tests; 0 picks one from the clock")

const propertyCases = 10_000

// newRand returns the property tests' source and logs its seed when the test fails, so a
// failure is reproduced with: go test ./platform/money/ -run NAME -args -seed=N
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./platform/money/ -run '^%s$' -count=1 -args -seed=%d", t.Name(), seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

var propertyCurrencies = []money.Currency{"JPY", "KRW", "USD", "EUR", "CNY", "BHD", "KWD"}

// randMinor draws small, ordinary, large and extreme magnitudes, both signs.
func randMinor(r *rand.Rand) int64 {
	var v int64
	switch r.IntN(4) {
	case 0:
		v = r.Int64N(11)
	case 1:
		v = r.Int64N(1_000_000)
	case 2:
		v = r.Int64N(1_000_000_000_001)
	default:
		v = r.Int64N(math.MaxInt64) + 1
	}
	if r.IntN(4) == 0 {
		v = -v
	}
	return v
}

func randWeight(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return r.Int64N(10) + 1
	case 2:
		return r.Int64N(1_000_000_000_000) + 1
	}
	return r.Int64N(math.MaxInt64) + 1
}

func TestAllocateProperties(t *testing.T) {
	r := newRand(t)
	for range propertyCases {
		total := money.MustNew(randMinor(r), propertyCurrencies[r.IntN(len(propertyCurrencies))])
		weights := make([]int64, 1+r.IntN(10))
		sumW := new(big.Int)
		for i := range weights {
			weights[i] = randWeight(r)
			sumW.Add(sumW, big.NewInt(weights[i]))
		}

		parts, err := money.Allocate(total, weights)
		if sumW.Sign() == 0 {
			if !errors.Is(err, money.ErrBadWeights) {
				t.Fatalf("Allocate(%v, %v) over zero weights: %v, want ErrBadWeights", total, weights, err)
			}
			continue
		}
		if err != nil || len(parts) != len(weights) {
			t.Fatalf("Allocate(%v, %v) = %v, %v", total, weights, parts, err)
		}

		sum := new(big.Int)
		one := big.NewRat(1, 1)
		for i, p := range parts {
			if p.Currency != total.Currency {
				t.Fatalf("Allocate(%v, %v): part %d is %v", total, weights, i, p)
			}
			sum.Add(sum, big.NewInt(p.Minor))
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(total.Minor), big.NewInt(weights[i])), sumW)
			off := new(big.Rat).Sub(new(big.Rat).SetInt64(p.Minor), exact)
			if off.Abs(off).Cmp(one) >= 0 {
				t.Fatalf("Allocate(%v, %v): part %d is %d, exact share %s", total, weights, i, p.Minor, exact.RatString())
			}
		}
		if !sum.IsInt64() || sum.Int64() != total.Minor {
			t.Fatalf("Allocate(%v, %v) = %v, which adds up to %s", total, weights, parts, sum)
		}
	}
}

// referencePercent rounds amount×bp/10000 by comparing the exact fraction with one half, the
// textbook definition of each mode; ok is false when the result is outside an Amount's range.
func referencePercent(minor, bp int64, mode money.Rounding) (int64, bool) {
	x := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(minor), big.NewInt(bp)), big.NewInt(10000))
	neg := x.Sign() < 0
	x.Abs(x)
	whole := new(big.Int).Quo(x.Num(), x.Denom()) // floor of a non-negative fraction
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt(whole))
	half := big.NewRat(1, 2)
	up := false
	switch mode {
	case money.RoundHalfUp:
		up = frac.Cmp(half) >= 0
	case money.RoundHalfEven:
		up = frac.Cmp(half) > 0 || (frac.Cmp(half) == 0 && whole.Bit(0) == 1)
	}
	if up {
		whole.Add(whole, big.NewInt(1))
	}
	if neg {
		whole.Neg(whole)
	}
	if !whole.IsInt64() || whole.Int64() == math.MinInt64 {
		return 0, false
	}
	return whole.Int64(), true
}

func TestPercentProperties(t *testing.T) {
	r := newRand(t)
	modes := []money.Rounding{money.RoundHalfUp, money.RoundDown, money.RoundHalfEven}
	for range propertyCases {
		amount := money.MustNew(randMinor(r), propertyCurrencies[r.IntN(len(propertyCurrencies))])
		var bp int64
		switch r.IntN(4) {
		case 0:
			bp = r.Int64N(10001) // a share
		case 1:
			bp = r.Int64N(100)*100 + 50 // lands on halves often
		case 2:
			bp = r.Int64N(1_000_000) - 500_000
		default:
			bp = randMinor(r)
		}
		for _, mode := range modes {
			got, err := money.Percent(amount, bp, mode)
			want, ok := referencePercent(amount.Minor, bp, mode)
			switch {
			case !ok && !errors.Is(err, money.ErrOverflow):
				t.Fatalf("Percent(%v, %d, %v) = %v, %v; want ErrOverflow", amount, bp, mode, got, err)
			case ok && (err != nil || got != money.MustNew(want, amount.Currency)):
				t.Fatalf("Percent(%v, %d, %v) = %v, %v; want %d", amount, bp, mode, got, err, want)
			}
		}
	}
}
