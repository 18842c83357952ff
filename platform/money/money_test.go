package money_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"mercato/platform/money"
)

func usd(minor int64) money.Amount { return money.MustNew(minor, "USD") }

func TestParseCurrency(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantExp int // -1: ParseCurrency must fail
	}{
		// ISO 4217 minor units, one row each, so a wrong entry in the table shows here.
		{"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"CNY", 2}, {"HKD", 2}, {"SGD", 2}, {"AUD", 2},
		{"CAD", 2}, {"CHF", 2}, {"SEK", 2}, {"NOK", 2}, {"DKK", 2}, {"INR", 2}, {"BRL", 2},
		{"MXN", 2},
		{"JPY", 0}, {"KRW", 0},
		{"BHD", 3}, {"KWD", 3}, {"OMR", 3}, {"JOD", 3}, {"TND", 3},

		{"usd", -1}, {"Usd", -1}, {"US", -1}, {"USDD", -1}, {"", -1}, {" USD", -1},
		{"XXX", -1}, {"ZZZ", -1},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c, err := money.ParseCurrency(tc.in)
			if tc.wantExp < 0 {
				if !errors.Is(err, money.ErrUnknownCurrency) {
					t.Fatalf("ParseCurrency(%q) = %q, %v; want ErrUnknownCurrency", tc.in, c, err)
				}
				if money.Currency(tc.in).Exponent() != -1 || money.Currency(tc.in).Known() {
					t.Errorf("%q: Exponent %d, Known %v; want -1, false", tc.in,
						money.Currency(tc.in).Exponent(), money.Currency(tc.in).Known())
				}
				return
			}
			if err != nil || string(c) != tc.in {
				t.Fatalf("ParseCurrency(%q) = %q, %v", tc.in, c, err)
			}
			if got := c.Exponent(); got != tc.wantExp {
				t.Errorf("%s.Exponent() = %d, want %d", c, got, tc.wantExp)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		minor   int64
		cur     money.Currency
		wantErr error
	}{
		{"ordinary", 1234, "USD", nil},
		{"negative", -1, "JPY", nil},
		{"largest", math.MaxInt64, "BHD", nil},
		{"smallest in range", -math.MaxInt64, "BHD", nil},
		{"math.MinInt64 is out of range", math.MinInt64, "USD", money.ErrOverflow},
		{"unknown currency", 1, "XXX", money.ErrUnknownCurrency},
		{"lower-case currency", 1, "usd", money.ErrUnknownCurrency},
		{"no currency", 0, "", money.ErrUnknownCurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := money.New(tc.minor, tc.cur)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New(%d, %q) error = %v, want %v", tc.minor, tc.cur, err, tc.wantErr)
			}
			if err == nil && (a.Minor != tc.minor || a.Currency != tc.cur) {
				t.Errorf("New(%d, %q) = %+v", tc.minor, tc.cur, a)
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in      string
		cur     money.Currency
		want    int64
		wantErr error
	}{
		{"1234.56", "USD", 123456, nil},
		{"1234.5", "USD", 123450, nil},
		{"1234", "USD", 123400, nil},
		{"0.01", "USD", 1, nil},
		{"-0.01", "USD", -1, nil},
		{"007.10", "EUR", 710, nil},
		{"1235", "JPY", 1235, nil},
		{"1.234", "BHD", 1234, nil},
		{"0.5", "KWD", 500, nil},
		{"92233720368547758.07", "USD", math.MaxInt64, nil},
		{"-92233720368547758.07", "USD", -math.MaxInt64, nil},

		{"92233720368547758.08", "USD", 0, money.ErrOverflow},
		{"-92233720368547758.08", "USD", 0, money.ErrOverflow},
		{"99999999999999999999999", "JPY", 0, money.ErrOverflow},
		{"1.234", "USD", 0, money.ErrBadAmount}, // no silent rounding
		{"12.5", "JPY", 0, money.ErrBadAmount},
		{"1,234.56", "USD", 0, money.ErrBadAmount},
		{"1.", "USD", 0, money.ErrBadAmount},
		{".5", "USD", 0, money.ErrBadAmount},
		{"", "USD", 0, money.ErrBadAmount},
		{"-", "USD", 0, money.ErrBadAmount},
		{"+1", "USD", 0, money.ErrBadAmount},
		{"--1", "USD", 0, money.ErrBadAmount},
		{"1e3", "USD", 0, money.ErrBadAmount},
		{" 1", "USD", 0, money.ErrBadAmount},
		{"1", "XXX", 0, money.ErrUnknownCurrency},
	} {
		t.Run(tc.in+" "+string(tc.cur), func(t *testing.T) {
			got, err := money.ParseDecimal(tc.in, tc.cur)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseDecimal(%q, %s) = %v, %v; want error %v", tc.in, tc.cur, got, err, tc.wantErr)
			}
			if err == nil && got != money.MustNew(tc.want, tc.cur) {
				t.Errorf("ParseDecimal(%q, %s) = %+v, want %d", tc.in, tc.cur, got, tc.want)
			}
		})
	}
}

func TestAmountJSON(t *testing.T) {
	b, err := json.Marshal(usd(123))
	if err != nil || string(b) != `{"amount_minor":123,"currency":"USD"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}

	for _, tc := range []struct {
		in   string
		want money.Amount // zero: decoding must fail
	}{
		{`{"amount_minor":123,"currency":"USD"}`, usd(123)},
		{`{"currency":"BHD","amount_minor":-1234}`, money.MustNew(-1234, "BHD")},
		{`{"amount_minor":0,"currency":"JPY"}`, money.MustNew(0, "JPY")},
		{`{"amount_minor":9223372036854775807,"currency":"USD"}`, usd(math.MaxInt64)},
		{`{"amount_minor":-9223372036854775808,"currency":"USD"}`, money.Amount{}},
		{`{"amount_minor":9223372036854775808,"currency":"USD"}`, money.Amount{}},
		{`{"amount_minor":1.5,"currency":"USD"}`, money.Amount{}},
		{`{"amount_minor":"1","currency":"USD"}`, money.Amount{}},
		{`{"amount_minor":1,"currency":"usd"}`, money.Amount{}},
		{`{"amount_minor":1,"currency":"XXX"}`, money.Amount{}},
		{`{"amount_minor":1}`, money.Amount{}},
		{`{"currency":"USD"}`, money.Amount{}},
		{`{}`, money.Amount{}},
		{`12.34`, money.Amount{}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var got money.Amount
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.want == (money.Amount{}) {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}

	t.Run("null leaves the value", func(t *testing.T) {
		got := usd(5)
		if err := json.Unmarshal([]byte(`null`), &got); err != nil || got != usd(5) {
			t.Fatalf("Unmarshal(null) = %+v, %v", got, err)
		}
	})
}

func TestAddSub(t *testing.T) {
	eur := money.MustNew(1, "EUR")
	for _, tc := range []struct {
		name         string
		a, b         money.Amount
		sum, diff    int64
		sumErr, dErr error
	}{
		{"ordinary", usd(150), usd(25), 175, 125, nil, nil},
		{"signs", usd(-150), usd(25), -125, -175, nil, nil},
		{"zero", usd(0), usd(0), 0, 0, nil, nil},
		{"3 decimals", money.MustNew(1001, "BHD"), money.MustNew(1, "BHD"), 1002, 1000, nil, nil},
		{"up to the edge", usd(math.MaxInt64 - 1), usd(1), math.MaxInt64, math.MaxInt64 - 2, nil, nil},
		{"past the top", usd(math.MaxInt64), usd(1), 0, math.MaxInt64 - 1, money.ErrOverflow, nil},
		{"past the bottom", usd(-math.MaxInt64), usd(-1), 0, -math.MaxInt64 + 1, money.ErrOverflow, nil},
		{"sub past the top", usd(math.MaxInt64), usd(-1), math.MaxInt64 - 1, 0, nil, money.ErrOverflow},
		{"sub to math.MinInt64", usd(-math.MaxInt64), usd(1), -math.MaxInt64 + 1, 0, nil, money.ErrOverflow},
		{"far apart", usd(math.MaxInt64), usd(-math.MaxInt64), 0, 0, nil, money.ErrOverflow},
		{"currencies differ", usd(1), eur, 0, 0, money.ErrCurrencyMismatch, money.ErrCurrencyMismatch},
		{"unset amount", usd(1), money.Amount{}, 0, 0, money.ErrCurrencyMismatch, money.ErrCurrencyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := tc.a.Add(tc.b)
			if !errors.Is(err, tc.sumErr) || (err == nil && sum != money.MustNew(tc.sum, tc.a.Currency)) {
				t.Errorf("%v + %v = %v, %v; want %d, %v", tc.a, tc.b, sum, err, tc.sum, tc.sumErr)
			}
			diff, err := tc.a.Sub(tc.b)
			if !errors.Is(err, tc.dErr) || (err == nil && diff != money.MustNew(tc.diff, tc.a.Currency)) {
				t.Errorf("%v - %v = %v, %v; want %d, %v", tc.a, tc.b, diff, err, tc.diff, tc.dErr)
			}
		})
	}
}

func TestMulInt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a       money.Amount
		n       int64
		want    int64
		wantErr error
	}{
		{"quantity", usd(1999), 3, 5997, nil},
		{"negative", usd(1999), -3, -5997, nil},
		{"by zero", usd(math.MaxInt64), 0, 0, nil},
		{"zero by anything", usd(0), math.MinInt64, 0, nil},
		{"edge", usd(math.MaxInt64), 1, math.MaxInt64, nil},
		{"edge negated", usd(math.MaxInt64), -1, -math.MaxInt64, nil},
		{"just over", usd(math.MaxInt64/2 + 1), 2, 0, money.ErrOverflow},
		{"wraps to a positive", usd(1 << 62), 4, 0, money.ErrOverflow},
		{"to math.MinInt64", usd(-1 << 62), 2, 0, money.ErrOverflow},
		{"one by math.MinInt64", usd(1), math.MinInt64, 0, money.ErrOverflow},
		{"minus one by math.MinInt64", usd(-1), math.MinInt64, 0, money.ErrOverflow},
		{"large by large", usd(3037000500), 3037000500, 0, money.ErrOverflow},
		{"0 decimals", money.MustNew(120, "JPY"), 7, 840, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.MulInt(tc.n)
			if !errors.Is(err, tc.wantErr) || (err == nil && got != money.MustNew(tc.want, tc.a.Currency)) {
				t.Errorf("%v × %d = %v, %v; want %d, %v", tc.a, tc.n, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCmpNegSign(t *testing.T) {
	for _, tc := range []struct {
		a, b money.Amount
		want int
	}{
		{usd(1), usd(2), -1},
		{usd(2), usd(2), 0},
		{usd(3), usd(2), 1},
		{usd(-math.MaxInt64), usd(math.MaxInt64), -1},
	} {
		got, err := tc.a.Cmp(tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%v.Cmp(%v) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	if _, err := usd(1).Cmp(money.MustNew(1, "EUR")); !errors.Is(err, money.ErrCurrencyMismatch) {
		t.Errorf("Cmp across currencies: %v, want ErrCurrencyMismatch", err)
	}

	for _, tc := range []struct {
		a      money.Amount
		neg    int64
		sign   int
		isZero bool
	}{
		{usd(5), -5, 1, false},
		{usd(-5), 5, -1, false},
		{usd(0), 0, 0, true},
		{usd(math.MaxInt64), -math.MaxInt64, 1, false},
		{usd(-math.MaxInt64), math.MaxInt64, -1, false},
	} {
		if got := tc.a.Neg(); got != usd(tc.neg) {
			t.Errorf("%v.Neg() = %v, want %d", tc.a, got, tc.neg)
		}
		if got := tc.a.Sign(); got != tc.sign {
			t.Errorf("%v.Sign() = %d, want %d", tc.a, got, tc.sign)
		}
		if got := tc.a.IsZero(); got != tc.isZero {
			t.Errorf("%v.IsZero() = %v, want %v", tc.a, got, tc.isZero)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		a    money.Amount
		want string
	}{
		{usd(123456), "1234.56 USD"},
		{usd(-5), "-0.05 USD"},
		{money.MustNew(-5, "JPY"), "-5 JPY"},
		{money.MustNew(1, "BHD"), "0.001 BHD"},
		{money.Amount{}, "0 "},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
