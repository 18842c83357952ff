package orders

import (
	"fmt"

	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/money"
)

// ErrBadPricing is returned by Price for input no checkout can produce: a negative amount,
// a discount above its line, an unknown currency, a rate outside 0–10000 basis points.
var ErrBadPricing = fault.New(fault.Invalid, "invalid_pricing_input", "the order cannot be priced")

// TaxRule is the tax that applies to an order: RateBP basis points (100 = 1%) of each line's
// goods after discount plus its share of shipping; Inclusive when prices already contain it.
type TaxRule struct {
	RateBP    int64
	Inclusive bool
}

// PriceLine is one line as checkout knows it before pricing.
type PriceLine struct {
	MerchantID     uuid.UUID
	UnitPriceMinor int64
	Quantity       int
	WeightGrams    int   // of one unit
	DiscountMinor  int64 // the coupon's discount on the whole line
}

// PriceInput is everything Price needs: no database, no clock.
type PriceInput struct {
	Currency string
	Lines    []PriceLine
	Tax      TaxRule
	// ShippingMinor is each merchant's shipping charge; a merchant that is absent ships free.
	ShippingMinor map[uuid.UUID]int64
}

// Amounts are the money columns every level of an order shares. Total is what the shopper pays:
// Subtotal - Discount + Shipping, plus Tax when tax is exclusive (inclusive tax is contained).
type Amounts struct {
	SubtotalMinor int64 `json:"subtotal_minor"`
	DiscountMinor int64 `json:"discount_minor"`
	ShippingMinor int64 `json:"shipping_minor"`
	TaxMinor      int64 `json:"tax_minor"`
	TotalMinor    int64 `json:"total_minor"`
}

func (a *Amounts) add(b Amounts) {
	a.SubtotalMinor += b.SubtotalMinor
	a.DiscountMinor += b.DiscountMinor
	a.ShippingMinor += b.ShippingMinor
	a.TaxMinor += b.TaxMinor
	a.TotalMinor += b.TotalMinor
}

// PricedMerchant is one merchant's part of a priced order; Lines index Priced.Lines.
type PricedMerchant struct {
	MerchantID  uuid.UUID
	Lines       []int
	WeightGrams int
	Amounts
}

// Priced is a priced order. Lines are in the input's order; Merchants in the order of their
// first line. Every level is the sum of the level below it, to the minor unit.
type Priced struct {
	Currency  string
	Lines     []Amounts
	Merchants []PricedMerchant
	Amounts
}

// Price computes every line's, merchant's and the order's amounts. It is a pure function:
// checkout calls it on the server with prices it read itself, and the property test calls it
// on generated carts.
//
// Each merchant's shipping is spread over its lines in proportion to their goods after
// discount (by quantity when those are all zero), with money.Allocate, so the parts add up to
// it exactly. Tax is computed per line, on that line's goods after discount plus its share of
// shipping, by taxOf — the one place this package rounds.
func Price(in PriceInput) (Priced, error) {
	cur := money.Currency(in.Currency)
	if !cur.Known() {
		return Priced{}, fmt.Errorf("price in %q: %w", in.Currency, ErrBadPricing)
	}
	if in.Tax.RateBP < 0 || in.Tax.RateBP > 10000 {
		return Priced{}, fmt.Errorf("tax of %d basis points: %w", in.Tax.RateBP, ErrBadPricing)
	}
	out := Priced{Currency: in.Currency, Lines: make([]Amounts, len(in.Lines))}
	byMerchant := map[uuid.UUID]int{}
	for i, l := range in.Lines {
		if l.Quantity <= 0 || l.UnitPriceMinor < 0 || l.DiscountMinor < 0 || l.WeightGrams < 0 {
			return Priced{}, fmt.Errorf("line %d: %w", i, ErrBadPricing)
		}
		sub, err := money.Amount{Minor: l.UnitPriceMinor, Currency: cur}.MulInt(int64(l.Quantity))
		if err != nil {
			return Priced{}, fmt.Errorf("line %d: %w", i, err)
		}
		if l.DiscountMinor > sub.Minor {
			return Priced{}, fmt.Errorf("line %d: discount %d above %d: %w", i, l.DiscountMinor, sub.Minor, ErrBadPricing)
		}
		out.Lines[i] = Amounts{SubtotalMinor: sub.Minor, DiscountMinor: l.DiscountMinor}
		j, seen := byMerchant[l.MerchantID]
		if !seen {
			j = len(out.Merchants)
			byMerchant[l.MerchantID] = j
			out.Merchants = append(out.Merchants, PricedMerchant{MerchantID: l.MerchantID})
		}
		out.Merchants[j].Lines = append(out.Merchants[j].Lines, i)
		out.Merchants[j].WeightGrams += l.WeightGrams * l.Quantity
	}

	for mi := range out.Merchants {
		m := &out.Merchants[mi]
		ship := in.ShippingMinor[m.MerchantID]
		if ship < 0 {
			return Priced{}, fmt.Errorf("shipping %d: %w", ship, ErrBadPricing)
		}
		weights := make([]int64, len(m.Lines))
		var sum int64
		for k, li := range m.Lines {
			weights[k] = out.Lines[li].SubtotalMinor - out.Lines[li].DiscountMinor
			sum += weights[k]
		}
		if sum == 0 {
			for k, li := range m.Lines {
				weights[k] = int64(in.Lines[li].Quantity)
			}
		}
		shares, err := money.Allocate(money.Amount{Minor: ship, Currency: cur}, weights)
		if err != nil {
			return Priced{}, fmt.Errorf("allocate shipping: %w", err)
		}
		for k, li := range m.Lines {
			l := &out.Lines[li]
			l.ShippingMinor = shares[k].Minor
			base := money.Amount{Minor: l.SubtotalMinor - l.DiscountMinor + l.ShippingMinor, Currency: cur}
			tax, err := taxOf(base, in.Tax)
			if err != nil {
				return Priced{}, fmt.Errorf("line %d: %w", li, err)
			}
			l.TaxMinor = tax.Minor
			l.TotalMinor = base.Minor
			if !in.Tax.Inclusive {
				l.TotalMinor += tax.Minor
			}
			m.add(*l)
		}
		out.add(m.Amounts)
	}
	return out, nil
}

// taxOf is the tax on base, rounded half up to the minor unit: the one rounding rule of
// orders. Exclusive tax is money.Percent of base. Inclusive tax is the part of base that is
// tax, base × rate / (10000 + rate); money.Allocate splits base into that part and the rest
// exactly, and with the tax part first a tie goes to it, which is rounding half up.
func taxOf(base money.Amount, r TaxRule) (money.Amount, error) {
	if r.RateBP == 0 || base.Minor == 0 {
		return money.Amount{Currency: base.Currency}, nil
	}
	if !r.Inclusive {
		return money.Percent(base, r.RateBP, money.RoundHalfUp)
	}
	parts, err := money.Allocate(base, []int64{r.RateBP, 10000})
	if err != nil {
		return money.Amount{}, fmt.Errorf("inclusive tax: %w", err)
	}
	return parts[0], nil
}
