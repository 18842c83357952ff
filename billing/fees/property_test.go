package fees_test

import (
	"errors"
	"flag"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"mercato/billing/fees"
	"mercato/platform/money"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the property test; 0 picks one from the clock")

// TESTING.md, "split arithmetic": merchant + tenant commission + platform fee = charge, to the
// minor unit, over 10,000 generated carts, currencies with 0, 2 and 3 decimals.
func TestSplitProperties(t *testing.T) {
	const carts = 10_000
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./billing/fees/ -run '^TestSplitProperties$' -count=1 -args -seed=%d", seed)
		}
	})
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	currencies := []money.Currency{"JPY", "USD", "BHD"} // 0, 2 and 3 decimals
	var split, refused int
	for n := range carts {
		lines, rule := randomCart(r, currencies[n%len(currencies)])
		got, err := fees.Split(lines, rule)
		want, wantNegative := referenceSplit(t, lines, rule)
		switch {
		case wantNegative:
			if !errors.Is(err, fees.ErrNegativeShare) {
				t.Fatalf("cart %d: a share is below zero, Split = %v, %v\nlines %+v\nrule %+v", n, got, err, lines, rule)
			}
			refused++
			continue
		case err != nil:
			t.Fatalf("cart %d: Split: %v\nlines %+v\nrule %+v", n, err, lines, rule)
		}
		split++
		checkShares(t, lines, rule, got)
		for i, ls := range got.Lines {
			if w := want[i]; ls.Payable.Minor != w[0] || ls.Commission.Minor != w[1] || ls.PlatformFee.Minor != w[2] {
				t.Fatalf("cart %d line %d: %+v, want payable, commission, fee %v\nlines %+v\nrule %+v", n, i, ls, w, lines, rule)
			}
		}
	}
	// Both outcomes must be common, or the generator is not testing what it claims.
	if split < carts/2 || refused < carts/100 {
		t.Fatalf("%d carts split and %d refused; the generator needs tuning", split, refused)
	}
	t.Logf("%d carts split, %d refused with ErrNegativeShare", split, refused)
}

// checkShares asserts what holds for every successful split, without reference to how it was
// computed, in arbitrary precision.
func checkShares(t *testing.T, lines []fees.Line, rule fees.Rule, s fees.Shares) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nlines %+v\nrule %+v\nshares %+v", append(args, lines, rule, s)...)
	}
	cur := lines[0].Net.Currency
	for _, a := range []money.Amount{s.Charge, s.Commission, s.PlatformFee} {
		if a.Currency != cur {
			fail("%v is not in %s", a, cur)
		}
	}

	charge, total := new(big.Int), new(big.Int)
	byMerchant := map[string]*big.Int{}
	lineCommission, linePlatform := new(big.Int), new(big.Int)
	for i, l := range lines {
		ls := s.Lines[i]
		charge.Add(charge, big.NewInt(l.Net.Minor))
		sum := new(big.Int).Add(big.NewInt(ls.Payable.Minor), big.NewInt(ls.Commission.Minor))
		if sum.Add(sum, big.NewInt(ls.PlatformFee.Minor)).Cmp(big.NewInt(l.Net.Minor)) != 0 {
			fail("line %d: %v + %v + %v != net %v", i, ls.Payable, ls.Commission, ls.PlatformFee, l.Net)
		}
		if byMerchant[l.Merchant] == nil {
			byMerchant[l.Merchant] = new(big.Int)
		}
		byMerchant[l.Merchant].Add(byMerchant[l.Merchant], big.NewInt(ls.Payable.Minor))
		lineCommission.Add(lineCommission, big.NewInt(ls.Commission.Minor))
		linePlatform.Add(linePlatform, big.NewInt(ls.PlatformFee.Minor))
	}
	if charge.Cmp(big.NewInt(s.Charge.Minor)) != 0 {
		fail("charge %v, lines add up to %s", s.Charge, charge)
	}

	// The invariant of TESTING.md.
	if len(s.Payables) != len(byMerchant) {
		fail("%d payables for %d merchants", len(s.Payables), len(byMerchant))
	}
	for _, p := range s.Payables {
		if p.Amount.Currency != cur || p.Amount.Sign() < 0 {
			fail("payable %v", p)
		}
		if byMerchant[p.Merchant] == nil || byMerchant[p.Merchant].Cmp(big.NewInt(p.Amount.Minor)) != 0 {
			fail("payable %v, lines give %v", p, byMerchant[p.Merchant])
		}
		total.Add(total, big.NewInt(p.Amount.Minor))
	}
	total.Add(total, big.NewInt(s.Commission.Minor)).Add(total, big.NewInt(s.PlatformFee.Minor))
	if total.Cmp(charge) != 0 {
		fail("merchants + commission + platform fee = %s, charge %s", total, charge)
	}

	// Only a discount's funder may end below zero, and by no more than what it funds.
	var tenantFunded, platformFunded int64
	for _, l := range lines {
		switch l.DiscountFundedBy {
		case fees.FundedByTenant:
			tenantFunded += l.Discount.Minor
		case fees.FundedByPlatform:
			platformFunded += l.Discount.Minor
		}
	}
	if s.Commission.Minor < -tenantFunded || s.PlatformFee.Minor < -platformFunded {
		fail("a share below zero by more than its party funds")
	}
	if lineCommission.Cmp(big.NewInt(s.Commission.Minor)) != 0 || linePlatform.Cmp(big.NewInt(s.PlatformFee.Minor)) != 0 {
		fail("line commissions %s and fees %s do not add up to the totals", lineCommission, linePlatform)
	}

	// Each line's part of the platform fee, before a platform discount, is within one minor unit
	// of its exact proportional share.
	if charge.Sign() == 0 {
		return
	}
	fee := new(big.Int).Set(linePlatform)
	for _, l := range lines {
		if l.DiscountFundedBy == fees.FundedByPlatform {
			fee.Add(fee, big.NewInt(l.Discount.Minor))
		}
	}
	for i, l := range lines {
		part := s.Lines[i].PlatformFee.Minor
		if l.DiscountFundedBy == fees.FundedByPlatform {
			part += l.Discount.Minor
		}
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(fee, big.NewInt(l.Net.Minor)), charge)
		off := exact.Sub(exact, new(big.Rat).SetInt64(part))
		if off.Abs(off).Cmp(big.NewRat(1, 1)) >= 0 {
			fail("line %d: platform fee part %d is off its share by %s", i, part, off.RatString())
		}
	}
}

// referenceSplit applies the package comment's model literally, line by line, with the money
// primitives it names. It returns each line's {payable, commission, platform fee}, and whether
// a party's total is below zero. Amounts are small enough (≤ 8 × 2·10^12) for int64.
func referenceSplit(t *testing.T, lines []fees.Line, rule fees.Rule) ([][3]int64, bool) {
	t.Helper()
	cur := lines[0].Net.Currency
	var charge int64
	weights := make([]int64, len(lines))
	for i, l := range lines {
		charge += l.Net.Minor
		weights[i] = l.Net.Minor
	}
	pct, err := money.Percent(money.MustNew(charge, cur), rule.PlatformFeeBP, money.RoundHalfUp)
	if err != nil {
		t.Fatal(err)
	}
	fee := pct.Minor + rule.PlatformFixed.Minor
	feeParts := make([]int64, len(lines))
	if charge == 0 {
		if fee != 0 {
			return nil, true
		}
	} else {
		parts, err := money.Allocate(money.MustNew(fee, cur), weights)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range parts {
			feeParts[i] = p.Minor
		}
	}

	out := make([][3]int64, len(lines))
	merchants := map[string]int64{}
	for i, l := range lines {
		sale := l.Net.Minor
		if l.DiscountFundedBy == fees.FundedByTenant || l.DiscountFundedBy == fees.FundedByPlatform {
			sale += l.Discount.Minor
		}
		c, err := money.Percent(money.MustNew(sale, cur), rule.CommissionBP, money.RoundHalfUp)
		if err != nil {
			t.Fatal(err)
		}
		payable, commission, platformFee := sale-c.Minor-feeParts[i], c.Minor, feeParts[i]
		switch l.DiscountFundedBy {
		case fees.FundedByTenant:
			commission -= l.Discount.Minor
		case fees.FundedByPlatform:
			platformFee -= l.Discount.Minor
		}
		out[i] = [3]int64{payable, commission, platformFee}
		merchants[l.Merchant] += payable
	}
	// The tenant's and the platform's shares may go below zero (they fund discounts); a
	// merchant's may not.
	negative := false
	for _, p := range merchants {
		negative = negative || p < 0
	}
	return out, negative
}

// randomCart draws 1 to 8 lines from 1 to 4 merchants, amounts from one minor unit to 10^12,
// every kind of discount funding, and a rule from the whole valid range, weighted towards
// realistic rates so that most carts split.
func randomCart(r *rand.Rand, cur money.Currency) ([]fees.Line, fees.Rule) {
	merchants := []string{"m1", "m2", "m3", "m4"}[:1+r.IntN(4)]
	lines := make([]fees.Line, 1+r.IntN(8))
	for i := range lines {
		net := randNet(r)
		l := fees.Line{Merchant: merchants[r.IntN(len(merchants))], Net: money.MustNew(net, cur)}
		switch r.IntN(5) {
		case 0:
			l.DiscountFundedBy = fees.FundedByMerchant
		case 1:
			l.DiscountFundedBy = fees.FundedByTenant
		case 2:
			l.DiscountFundedBy = fees.FundedByPlatform
		}
		if l.DiscountFundedBy != "" {
			var d int64
			switch r.IntN(4) {
			case 0:
				d = 1
			case 1:
				d = r.Int64N(net/10 + 1) // up to a tenth of the price
			case 2:
				d = r.Int64N(net/50 + 1) // up to 2%
			default:
				d = 0
			}
			l.Discount = money.MustNew(d, cur)
		}
		lines[i] = l
	}

	var rule fees.Rule
	switch r.IntN(4) {
	case 0:
		rule.CommissionBP = r.Int64N(10001)
	case 1:
		rule.CommissionBP = []int64{0, 5000, 10000}[r.IntN(3)]
	default:
		rule.CommissionBP = r.Int64N(3001)
	}
	switch r.IntN(4) {
	case 0:
		rule.PlatformFeeBP = r.Int64N(10001 - rule.CommissionBP)
	case 1:
		rule.PlatformFeeBP = []int64{0, 5000}[r.IntN(2)]
	default:
		rule.PlatformFeeBP = r.Int64N(501)
	}
	if r.IntN(2) == 0 {
		unit := int64(1)
		for range cur.Exponent() {
			unit *= 10
		}
		rule.PlatformFixed = money.MustNew(r.Int64N(unit+1), cur) // up to one major unit
	}
	return lines, rule
}

func randNet(r *rand.Rand) int64 {
	switch r.IntN(8) {
	case 0:
		return 1
	case 1:
		return r.Int64N(3) // free lines too
	case 2:
		return 1_000_000_000_000
	case 3:
		return r.Int64N(1_000_000_000_000) + 1
	case 4:
		return r.Int64N(1_000_000) + 1
	}
	return r.Int64N(100_000) + 1
}
