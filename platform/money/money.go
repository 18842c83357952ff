// Package money is the platform's one money type: an amount in integer minor units of an ISO 4217
// currency. There is no float anywhere in money code.
//
// Every Amount that New, ParseDecimal, JSON decoding or arithmetic produces has Minor in
// [-math.MaxInt64, math.MaxInt64]: math.MinInt64 is treated as overflow, so that Neg and absolute
// values never overflow. Rounding happens in exactly one place, Percent, with an explicit mode.
package money

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"mercato/platform/fault"
)

// The errors of this package; every function wraps one of them with what it was doing.
var (
	ErrUnknownCurrency  = fault.New(fault.Invalid, "unknown_currency", "the currency is not a supported ISO 4217 code")
	ErrCurrencyMismatch = fault.New(fault.Invalid, "currency_mismatch", "the amounts are in different currencies")
	ErrOverflow         = fault.New(fault.Invalid, "amount_out_of_range", "the amount is too large")
	ErrBadAmount        = fault.New(fault.Invalid, "invalid_amount", "the amount is not a valid number for its currency")
	ErrBadWeights       = fault.New(fault.Invalid, "invalid_weights", "allocation weights must be non-negative and not all zero")
	ErrBadRounding      = fault.New(fault.Invalid, "invalid_rounding", "the rounding mode is not valid")
)

// Currency is an upper-case ISO 4217 alphabetic code such as "USD".
type Currency string

// exponent is the ISO 4217 minor-unit table: how many decimal digits the minor unit has.
// A switch rather than a map keeps it a constant, not a mutable package variable.
func exponent(c Currency) (int, bool) {
	switch c {
	case "JPY", "KRW":
		return 0, true
	case "USD", "EUR", "GBP", "CNY", "HKD", "SGD", "AUD", "CAD", "CHF",
		"SEK", "NOK", "DKK", "INR", "BRL", "MXN":
		return 2, true
	case "BHD", "KWD", "OMR", "JOD", "TND":
		return 3, true
	}
	return 0, false
}

// ParseCurrency accepts a supported currency code, written in upper case ("USD", not "usd").
// It returns ErrUnknownCurrency otherwise.
func ParseCurrency(s string) (Currency, error) {
	if _, ok := exponent(Currency(s)); !ok {
		return "", fmt.Errorf("parse currency %q: %w", s, ErrUnknownCurrency)
	}
	return Currency(s), nil
}

// Known reports whether c is a supported currency.
func (c Currency) Known() bool {
	_, ok := exponent(c)
	return ok
}

// Exponent is the number of decimal digits of c's minor unit (2 for USD: 1 USD = 100 cents;
// 0 for JPY; 3 for BHD), or -1 when c is not a supported currency.
func (c Currency) Exponent() int {
	if e, ok := exponent(c); ok {
		return e
	}
	return -1
}

// UnmarshalText accepts only supported currencies, so decoded JSON cannot carry an unknown one.
func (c *Currency) UnmarshalText(b []byte) error {
	parsed, err := ParseCurrency(string(b))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// Amount is a quantity of money: Minor units (cents for USD, yen for JPY, fils for BHD) of
// Currency. The zero Amount has no currency; arithmetic on it with a real currency fails with
// ErrCurrencyMismatch, which catches amounts that were never set.
type Amount struct {
	Minor    int64    `json:"amount_minor"`
	Currency Currency `json:"currency"`
}

// New is minor units of a supported currency. It returns ErrUnknownCurrency for an unsupported
// currency and ErrOverflow for math.MinInt64.
func New(minor int64, c Currency) (Amount, error) {
	if !c.Known() {
		return Amount{}, fmt.Errorf("new amount in %q: %w", c, ErrUnknownCurrency)
	}
	if minor == math.MinInt64 {
		return Amount{}, fmt.Errorf("new amount: %w", ErrOverflow)
	}
	return Amount{Minor: minor, Currency: c}, nil
}

// MustNew is New for amounts written in code, such as test fixtures; it panics on an error.
func MustNew(minor int64, c Currency) Amount {
	a, err := New(minor, c)
	if err != nil {
		panic(err)
	}
	return a
}

// ParseDecimal reads a decimal in major units, "-1234.5" or "12", exactly: it returns
// ErrBadAmount for more fraction digits than c has (no rounding), for grouping separators,
// exponents or signs other than one leading '-', and ErrOverflow when out of range.
func ParseDecimal(s string, c Currency) (Amount, error) {
	exp := c.Exponent()
	if exp < 0 {
		return Amount{}, fmt.Errorf("parse amount in %q: %w", c, ErrUnknownCurrency)
	}
	digits, neg := strings.CutPrefix(s, "-")
	whole, frac, hasPoint := strings.Cut(digits, ".")
	if whole == "" || (hasPoint && frac == "") || len(frac) > exp || !allDigits(whole) || !allDigits(frac) {
		return Amount{}, fmt.Errorf("parse amount %q in %s: %w", s, c, ErrBadAmount)
	}
	frac += strings.Repeat("0", exp-len(frac))
	u, err := strconv.ParseUint(whole+frac, 10, 64)
	if err != nil || u > math.MaxInt64 {
		return Amount{}, fmt.Errorf("parse amount %q: %w", s, ErrOverflow)
	}
	minor := int64(u)
	if neg {
		minor = -minor
	}
	return Amount{Minor: minor, Currency: c}, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// UnmarshalJSON requires both fields, a whole number in range and a supported currency.
// JSON null leaves a unchanged, as encoding/json expects.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var raw struct {
		Minor    *int64    `json:"amount_minor"`
		Currency *Currency `json:"currency"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode amount: %w", err)
	}
	if raw.Minor == nil || raw.Currency == nil {
		return fmt.Errorf("decode amount: amount_minor and currency are required: %w", ErrBadAmount)
	}
	parsed, err := New(*raw.Minor, *raw.Currency)
	if err != nil {
		return fmt.Errorf("decode amount: %w", err)
	}
	*a = parsed
	return nil
}

// String is for logs and test failures: "12.34 USD", "-5 JPY". Use Format for people.
func (a Amount) String() string {
	sign := ""
	if a.Minor < 0 {
		sign = "-"
	}
	return sign + decimal(a.Minor, max(a.Currency.Exponent(), 0), false) + " " + string(a.Currency)
}

// IsZero reports whether the amount is zero, whatever its currency.
func (a Amount) IsZero() bool { return a.Minor == 0 }

// Sign is -1, 0 or +1.
func (a Amount) Sign() int {
	switch {
	case a.Minor < 0:
		return -1
	case a.Minor > 0:
		return 1
	}
	return 0
}

// Neg is -a. It cannot overflow for amounts this package produced (see the package comment).
func (a Amount) Neg() Amount { return Amount{Minor: -a.Minor, Currency: a.Currency} }

// Add is a+b. It returns ErrCurrencyMismatch or ErrOverflow.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("add %s to %s: %w", b.Currency, a.Currency, ErrCurrencyMismatch)
	}
	sum := a.Minor + b.Minor
	// Signed overflow happened iff both operands have the sign the result lacks.
	if (a.Minor^sum)&(b.Minor^sum) < 0 || sum == math.MinInt64 {
		return Amount{}, fmt.Errorf("add %v to %v: %w", b, a, ErrOverflow)
	}
	return Amount{Minor: sum, Currency: a.Currency}, nil
}

// Sub is a-b. It returns ErrCurrencyMismatch or ErrOverflow.
func (a Amount) Sub(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("subtract %s from %s: %w", b.Currency, a.Currency, ErrCurrencyMismatch)
	}
	diff := a.Minor - b.Minor
	// Signed overflow happened iff the operands differ in sign and the result's sign is not a's.
	if (a.Minor^b.Minor)&(a.Minor^diff) < 0 || diff == math.MinInt64 {
		return Amount{}, fmt.Errorf("subtract %v from %v: %w", b, a, ErrOverflow)
	}
	return Amount{Minor: diff, Currency: a.Currency}, nil
}

// MulInt is a×n, for quantities. It returns ErrOverflow.
func (a Amount) MulInt(n int64) (Amount, error) {
	if a.Minor == 0 || n == 0 {
		return Amount{Currency: a.Currency}, nil
	}
	p := a.Minor * n
	// The product wrapped iff dividing it back does not give a; math.MinInt64 / -1 wraps too,
	// but that case yields math.MinInt64, which is out of range anyway.
	if p/n != a.Minor || p == math.MinInt64 {
		return Amount{}, fmt.Errorf("multiply %v by %d: %w", a, n, ErrOverflow)
	}
	return Amount{Minor: p, Currency: a.Currency}, nil
}

// Cmp is -1, 0 or +1 as a is less than, equal to or greater than b. Amounts in different
// currencies have no order: it returns ErrCurrencyMismatch.
func (a Amount) Cmp(b Amount) (int, error) {
	if a.Currency != b.Currency {
		return 0, fmt.Errorf("compare %s with %s: %w", a.Currency, b.Currency, ErrCurrencyMismatch)
	}
	switch {
	case a.Minor < b.Minor:
		return -1, nil
	case a.Minor > b.Minor:
		return 1, nil
	}
	return 0, nil
}
