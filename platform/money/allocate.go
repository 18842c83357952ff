package money

import (
	"fmt"
	"math"
	"math/big"
	"slices"
)

// Allocate splits total into one part per weight, proportional to the weights, so that the
// parts add up to total exactly. Each part is its exact share rounded down or up by less than
// one minor unit (largest-remainder method): parts start at the exact share rounded toward
// zero, and the minor units left over go one each to the parts with the largest remainders,
// the lower index first on a tie, so the result is deterministic. A zero weight gets zero.
// A negative total is split like its absolute value and negated, so Allocate(-t) = -Allocate(t).
//
// It returns ErrBadWeights when there are no weights, any is negative or all are zero.
// Products and the weight sum are computed with math/big, so no input overflows.
func Allocate(total Amount, weights []int64) ([]Amount, error) {
	sum := new(big.Int)
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("allocate: weight %d is %d: %w", i, w, ErrBadWeights)
		}
		sum.Add(sum, big.NewInt(w))
	}
	if sum.Sign() == 0 {
		return nil, fmt.Errorf("allocate %v over %d zero weights: %w", total, len(weights), ErrBadWeights)
	}
	if total.Minor == math.MinInt64 {
		return nil, fmt.Errorf("allocate: %w", ErrOverflow)
	}
	abs := total.Minor
	if abs < 0 {
		abs = -abs
	}

	parts := make([]Amount, len(weights))
	remainders := make([]*big.Int, len(weights))
	bigAbs := big.NewInt(abs)
	var given int64
	for i, w := range weights {
		q, r := new(big.Int), new(big.Int)
		q.QuoRem(q.Mul(bigAbs, big.NewInt(w)), sum, r)
		// q ≤ abs because w ≤ sum, so it fits in an int64.
		parts[i] = Amount{Minor: q.Int64(), Currency: total.Currency}
		given += parts[i].Minor
		remainders[i] = r
	}

	// The left-over is the sum of remainders/sum, each below 1, so it is smaller than the
	// number of non-zero remainders: only parts with a non-zero remainder receive a unit.
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return remainders[j].Cmp(remainders[i]) })
	for _, i := range order[:abs-given] {
		parts[i].Minor++
	}

	if total.Minor < 0 {
		for i := range parts {
			parts[i].Minor = -parts[i].Minor
		}
	}
	return parts, nil
}
