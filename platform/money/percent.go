package money

import (
	"fmt"
	"math"
	"math/big"
)

// Rounding says how Percent turns an exact fraction of a minor unit into a whole one.
// The zero value is not a mode, so every caller has to choose.
type Rounding int

// The rounding modes. They are symmetric around zero: the result for -x is minus the result for x.
const (
	RoundHalfUp   Rounding = iota + 1 // to nearest, halves away from zero: 2.5 → 3, -2.5 → -3
	RoundDown                         // toward zero: 2.9 → 2, -2.9 → -2
	RoundHalfEven                     // to nearest, halves to the even neighbour: 2.5 → 2, 3.5 → 4
)

func (r Rounding) String() string {
	switch r {
	case RoundHalfUp:
		return "half-up"
	case RoundDown:
		return "down"
	case RoundHalfEven:
		return "half-even"
	}
	return fmt.Sprintf("Rounding(%d)", int(r))
}

const basisPointsPerWhole = 10000

// Percent is amount × basisPoints / 10000 (100 basis points = 1%), rounded to a whole minor unit
// as rounding says. It is the one place in the platform where money is rounded.
//
// The product is computed exactly with math/big, so only a result outside the range of an
// Amount fails, with ErrOverflow (possible only when |basisPoints| > 10000). It returns
// ErrBadRounding for a mode that is not one of the constants.
func Percent(amount Amount, basisPoints int64, rounding Rounding) (Amount, error) {
	if rounding < RoundHalfUp || rounding > RoundHalfEven {
		return Amount{}, fmt.Errorf("percent: %w", ErrBadRounding)
	}
	num := new(big.Int).Mul(big.NewInt(amount.Minor), big.NewInt(basisPoints))
	den := big.NewInt(basisPointsPerWhole)
	// QuoRem truncates toward zero; rem has num's sign and |rem| < den.
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	twiceRem := rem.Abs(rem).Lsh(rem, 1)
	var awayFromZero bool
	switch rounding {
	case RoundHalfUp:
		awayFromZero = twiceRem.Cmp(den) >= 0
	case RoundHalfEven:
		c := twiceRem.Cmp(den)
		awayFromZero = c > 0 || (c == 0 && q.Bit(0) == 1)
	}
	if awayFromZero {
		q.Add(q, big.NewInt(int64(num.Sign())))
	}
	if !q.IsInt64() || q.Int64() == math.MinInt64 {
		return Amount{}, fmt.Errorf("%d basis points of %v: %w", basisPoints, amount, ErrOverflow)
	}
	return Amount{Minor: q.Int64(), Currency: amount.Currency}, nil
}
