// Package fees computes how one charge splits between the merchant, the tenant's commission and
// the platform fee.
//
// # The model
//
// A charge is what one shopper pays for one order: the sum of its lines' Net, all in one
// currency. For each line:
//
//	sale price   S = Net + Discount  when the tenant or the platform funds the discount
//	             S = Net             otherwise (a merchant-funded discount is just a lower price)
//	commission   C = Percent(S, CommissionBP)          the tenant's cut of what the merchant sold for
//	platform fee F = Percent(charge, PlatformFeeBP) + PlatformFixed, computed once for the charge
//	                 and allocated back to the lines in proportion to Net (money.Allocate): F_i
//
// and the line's shares are
//
//	merchant payable  S - C - F_i
//	tenant commission C - Discount   when the tenant funds it, else C
//	platform fee      F_i - Discount when the platform funds it, else F_i
//
// which add up to Net on every line, so merchant payables + commission + platform fee = charge,
// to the minor unit. Both cuts come out of the merchant's sale price. Whoever funds a discount
// bears all of it, as a lower share, and the other parties' shares are what they would be at the
// sale price, with one exception: the platform fee is a percentage of the money actually charged
// (that is what the card processor charges on), so a tenant- or platform-funded discount lowers
// it a little too.
//
// Percentages are rounded half up (money.RoundHalfUp): the commission once per line, the
// platform fee once per charge.
//
// # Shares below zero
//
// What a merchant receives from the charge must not be below zero, summed over the charge: Split
// returns ErrNegativeShare otherwise (a fixed fee above a small charge, rates adding up to more
// than the price). The funder of a discount bears all of it, so a tenant discount larger than the
// commission leaves the tenant's share below zero, and a platform discount larger than the fee
// the platform's: that party tops the merchants up (the payments ledger settles it from the
// funder's balance). A share below zero is therefore only ever a funder's, and never by more
// than the discount it funds. One line's share may be below zero while its party's total is not:
// whoever reverses a single line (refunds) has to expect that.
package fees

import (
	"fmt"

	"mercato/platform/fault"
	"mercato/platform/money"
)

// The errors of Split and Rule.Validate, wrapped with the detail for logs.
var (
	ErrInvalidRule   = fault.New(fault.Invalid, "invalid_fee_rule", "the fee rule is not valid: rates are 0 to 10000 basis points and the fixed fee is not negative")
	ErrInvalidLine   = fault.New(fault.Invalid, "invalid_charge_line", "a line of the charge is not valid")
	ErrNegativeShare = fault.New(fault.Unprocessable, "negative_share", "the fees would leave a merchant with less than nothing")
)

// Who funds a discount, for Line.DiscountFundedBy. The empty string means the line has none.
const (
	FundedByPlatform = "platform"
	FundedByTenant   = "tenant"
	FundedByMerchant = "merchant"
)

// rounding is the mode of every percentage in this package; see the package comment.
const rounding = money.RoundHalfUp

const maxBP = 10000

// Rule is what the tenant and the platform take from a charge.
type Rule struct {
	CommissionBP  int64        `json:"commission_bp"`   // tenant commission, basis points of each line's sale price
	PlatformFeeBP int64        `json:"platform_fee_bp"` // platform fee, basis points of the charge
	PlatformFixed money.Amount `json:"platform_fixed"`  // fixed platform fee per charge; the zero Amount for none
}

// Validate returns ErrInvalidRule unless both rates are 0 to 10000 basis points and the fixed
// fee is zero or a positive amount of a supported currency.
func (r Rule) Validate() error {
	switch {
	case r.CommissionBP < 0 || r.CommissionBP > maxBP:
		return fmt.Errorf("commission of %d basis points: %w", r.CommissionBP, ErrInvalidRule)
	case r.PlatformFeeBP < 0 || r.PlatformFeeBP > maxBP:
		return fmt.Errorf("platform fee of %d basis points: %w", r.PlatformFeeBP, ErrInvalidRule)
	case r.PlatformFixed.Sign() < 0:
		return fmt.Errorf("fixed platform fee %v: %w", r.PlatformFixed, ErrInvalidRule)
	case !r.PlatformFixed.IsZero() && !r.PlatformFixed.Currency.Known():
		return fmt.Errorf("fixed platform fee in %q: %w", r.PlatformFixed.Currency, ErrInvalidRule)
	}
	return nil
}

// Line is one paid line of a charge.
type Line struct {
	Merchant string
	// Net is what the shopper pays for this line after discounts, including its share of
	// shipping and tax.
	Net money.Amount
	// DiscountFundedBy is FundedByPlatform, FundedByTenant, FundedByMerchant, or "" when
	// Discount is zero.
	DiscountFundedBy string
	// Discount is what the shopper was let off on this line; the zero Amount for none.
	Discount money.Amount
}

// Shares is how one charge splits. Payables, Commission and PlatformFee add up to Charge, and
// each line's shares add up to its Net, to the minor unit.
type Shares struct {
	Charge      money.Amount `json:"charge"`
	Payables    []Payable    `json:"payables"`     // one per merchant, in the order of their first line
	Commission  money.Amount `json:"commission"`   // the tenant's
	PlatformFee money.Amount `json:"platform_fee"` // the platform's, fixed part included
	Lines       []LineShares `json:"lines"`        // one per line, in the order given
}

// Payable is what a merchant is owed from the charge.
type Payable struct {
	Merchant string       `json:"merchant"`
	Amount   money.Amount `json:"amount"`
}

// LineShares is one line's part of each share; Payable + Commission + PlatformFee = Net.
type LineShares struct {
	Merchant    string       `json:"merchant"`
	Net         money.Amount `json:"net"`
	Payable     money.Amount `json:"payable"`
	Commission  money.Amount `json:"commission"`
	PlatformFee money.Amount `json:"platform_fee"`
}

// Split divides a charge made of lines by rule, as the package comment describes. It returns
// ErrInvalidRule, ErrInvalidLine (no lines, a line without merchant, a negative amount, mixed
// currencies, a discount without a known funder), ErrNegativeShare, or money.ErrOverflow.
func Split(lines []Line, rule Rule) (Shares, error) {
	if err := rule.Validate(); err != nil {
		return Shares{}, fmt.Errorf("split charge: %w", err)
	}
	if len(lines) == 0 {
		return Shares{}, fmt.Errorf("split charge: no lines: %w", ErrInvalidLine)
	}
	cur := lines[0].Net.Currency
	if !cur.Known() {
		return Shares{}, fmt.Errorf("split charge in %q: %w", cur, ErrInvalidLine)
	}
	zero := money.Amount{Currency: cur}

	charge := zero
	salePrices := make([]money.Amount, len(lines))
	weights := make([]int64, len(lines))
	for i, l := range lines {
		sale, err := salePrice(l, cur)
		if err != nil {
			return Shares{}, fmt.Errorf("split charge: line %d: %w", i, err)
		}
		if charge, err = charge.Add(l.Net); err != nil {
			return Shares{}, fmt.Errorf("split charge: %w", err)
		}
		salePrices[i], weights[i] = sale, l.Net.Minor
	}

	lineFees, err := platformFees(charge, weights, rule)
	if err != nil {
		return Shares{}, fmt.Errorf("split charge: %w", err)
	}

	out := Shares{Charge: charge, Commission: zero, PlatformFee: zero, Lines: make([]LineShares, len(lines))}
	payables := map[string]int{} // merchant → index in out.Payables
	for i, l := range lines {
		ls, err := lineShares(l, salePrices[i], lineFees[i], rule)
		if err != nil {
			return Shares{}, fmt.Errorf("split charge: line %d: %w", i, err)
		}
		out.Lines[i] = ls

		j, seen := payables[l.Merchant]
		if !seen {
			j = len(out.Payables)
			payables[l.Merchant] = j
			out.Payables = append(out.Payables, Payable{Merchant: l.Merchant, Amount: zero})
		}
		if err := addTo(&out.Payables[j].Amount, ls.Payable); err != nil {
			return Shares{}, fmt.Errorf("split charge: %w", err)
		}
		if err := addTo(&out.Commission, ls.Commission); err != nil {
			return Shares{}, fmt.Errorf("split charge: %w", err)
		}
		if err := addTo(&out.PlatformFee, ls.PlatformFee); err != nil {
			return Shares{}, fmt.Errorf("split charge: %w", err)
		}
	}

	for _, p := range out.Payables {
		if p.Amount.Sign() < 0 {
			return Shares{}, fmt.Errorf("split charge: merchant %q would get %v: %w", p.Merchant, p.Amount, ErrNegativeShare)
		}
	}
	return out, nil
}

// salePrice checks one line and returns the price the merchant sold it for: Net plus a discount
// the merchant did not fund.
func salePrice(l Line, cur money.Currency) (money.Amount, error) {
	switch {
	case l.Merchant == "":
		return money.Amount{}, fmt.Errorf("no merchant: %w", ErrInvalidLine)
	case l.Net.Currency != cur:
		return money.Amount{}, fmt.Errorf("net in %q, charge in %s: %w", l.Net.Currency, cur, ErrInvalidLine)
	case l.Net.Sign() < 0:
		return money.Amount{}, fmt.Errorf("net %v: %w", l.Net, ErrInvalidLine)
	case l.Discount.IsZero() && l.DiscountFundedBy == "":
		return l.Net, nil
	case l.Discount.Sign() < 0:
		return money.Amount{}, fmt.Errorf("discount %v: %w", l.Discount, ErrInvalidLine)
	case !l.Discount.IsZero() && l.Discount.Currency != cur:
		return money.Amount{}, fmt.Errorf("discount in %q, charge in %s: %w", l.Discount.Currency, cur, ErrInvalidLine)
	}
	switch l.DiscountFundedBy {
	case FundedByMerchant:
		return l.Net, nil
	case FundedByTenant, FundedByPlatform:
		sale, err := l.Net.Add(money.Amount{Minor: l.Discount.Minor, Currency: cur})
		if err != nil {
			return money.Amount{}, fmt.Errorf("sale price: %w", err)
		}
		return sale, nil
	}
	return money.Amount{}, fmt.Errorf("discount of %v funded by %q: %w", l.Discount, l.DiscountFundedBy, ErrInvalidLine)
}

// platformFees computes the platform fee of the whole charge and allocates it to the lines in
// proportion to their Net.
func platformFees(charge money.Amount, weights []int64, rule Rule) ([]money.Amount, error) {
	fixed := money.Amount{Currency: charge.Currency}
	if !rule.PlatformFixed.IsZero() {
		if rule.PlatformFixed.Currency != charge.Currency {
			return nil, fmt.Errorf("fixed platform fee in %s, charge in %s: %w",
				rule.PlatformFixed.Currency, charge.Currency, ErrInvalidRule)
		}
		fixed = rule.PlatformFixed
	}
	pct, err := money.Percent(charge, rule.PlatformFeeBP, rounding)
	if err != nil {
		return nil, fmt.Errorf("platform fee: %w", err)
	}
	total, err := pct.Add(fixed)
	if err != nil {
		return nil, fmt.Errorf("platform fee: %w", err)
	}
	if charge.IsZero() {
		// Nothing to allocate by; only a zero fee can be carried by a zero charge.
		if !total.IsZero() {
			return nil, fmt.Errorf("platform fee %v on a charge of zero: %w", total, ErrNegativeShare)
		}
		parts := make([]money.Amount, len(weights))
		for i := range parts {
			parts[i] = total
		}
		return parts, nil
	}
	parts, err := money.Allocate(total, weights)
	if err != nil {
		return nil, fmt.Errorf("allocate platform fee: %w", err)
	}
	return parts, nil
}

// lineShares applies the model to one line whose sale price and part of the platform fee are known.
func lineShares(l Line, sale, fee money.Amount, rule Rule) (LineShares, error) {
	commission, err := money.Percent(sale, rule.CommissionBP, rounding)
	if err != nil {
		return LineShares{}, fmt.Errorf("commission: %w", err)
	}
	payable, err := sale.Sub(commission)
	if err == nil {
		payable, err = payable.Sub(fee)
	}
	if err != nil {
		return LineShares{}, fmt.Errorf("payable: %w", err)
	}

	discount := money.Amount{Minor: l.Discount.Minor, Currency: sale.Currency}
	switch l.DiscountFundedBy {
	case FundedByTenant:
		commission, err = commission.Sub(discount)
	case FundedByPlatform:
		fee, err = fee.Sub(discount)
	}
	if err != nil {
		return LineShares{}, fmt.Errorf("discount: %w", err)
	}
	return LineShares{Merchant: l.Merchant, Net: l.Net, Payable: payable, Commission: commission, PlatformFee: fee}, nil
}

func addTo(sum *money.Amount, a money.Amount) error {
	s, err := sum.Add(a)
	if err != nil {
		return err
	}
	*sum = s
	return nil
}
