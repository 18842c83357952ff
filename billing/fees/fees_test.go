package fees_test

import (
	"errors"
	"math"
	"testing"

	"mercato/billing/fees"
	"mercato/platform/money"
)

func usd(minor int64) money.Amount { return money.MustNew(minor, "USD") }

// shares is the expected outcome: per line {payable, commission, platform fee}, and per merchant
// the payable in order of first appearance.
type shares struct {
	lines       [][3]int64
	payables    []fees.Payable
	commission  int64
	platformFee int64
}

func pay(merchant string, a money.Amount) fees.Payable {
	return fees.Payable{Merchant: merchant, Amount: a}
}

func TestSplit(t *testing.T) {
	rule := func(commissionBP, platformBP int64, fixed money.Amount) fees.Rule {
		return fees.Rule{CommissionBP: commissionBP, PlatformFeeBP: platformBP, PlatformFixed: fixed}
	}
	for _, tc := range []struct {
		name  string
		lines []fees.Line
		rule  fees.Rule
		want  shares
	}{
		{
			// C = 10% of 10000 = 1000; F = 2.9% of 10000 + 30 = 320; P = 10000 - 1000 - 320 = 8680.
			name:  "one line",
			lines: []fees.Line{{Merchant: "A", Net: usd(10000)}},
			rule:  rule(1000, 290, usd(30)),
			want: shares{
				lines:      [][3]int64{{8680, 1000, 320}},
				payables:   []fees.Payable{pay("A", usd(8680))},
				commission: 1000, platformFee: 320,
			},
		},
		{
			// The tenant funds 2000 of a 10000 sale: S = 10000, C = 1000, F = 3% of 8000 = 240;
			// the merchant gets 10000 - 1000 - 240 = 8760 as at full price and the tenant tops it
			// up: 1000 - 2000 = -1000. 8760 - 1000 + 240 = 8000.
			name:  "tenant discount over its commission",
			lines: []fees.Line{{Merchant: "A", Net: usd(8000), DiscountFundedBy: fees.FundedByTenant, Discount: usd(2000)}},
			rule:  rule(1000, 300, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{8760, -1000, 240}},
				payables:   []fees.Payable{pay("A", usd(8760))},
				commission: -1000, platformFee: 240,
			},
		},
		{
			// The platform funds 300: S = 8300, C = 830, F = 3% of 8000 = 240 - 300 = -60.
			// 7230 + 830 - 60 = 8000.
			name:  "platform discount over its fee",
			lines: []fees.Line{{Merchant: "A", Net: usd(8000), DiscountFundedBy: fees.FundedByPlatform, Discount: usd(300)}},
			rule:  rule(1000, 300, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{7230, 830, -60}},
				payables:   []fees.Payable{pay("A", usd(7230))},
				commission: 830, platformFee: -60,
			},
		},
		{
			// charge = 1999 + 501 + 3333 = 5833.
			// C = 12.5% per line: 249.875 → 250, 62.625 → 63, 416.625 → 417 (half up); total 730.
			// F = 2.9% of 5833 = 169.157 → 169, + 30 = 199, allocated by 1999:501:3333:
			//   68.198, 17.092, 113.709 → floors 68, 17, 113 leave 1 unit for the largest
			//   remainder (.709): 68, 17, 114.
			// P = 1999-250-68 = 1681, 501-63-17 = 421, 3333-417-114 = 2802; A = 1681+421 = 2102.
			// 2102 + 2802 + 730 + 199 = 5833.
			name: "two merchants, rounding and allocation",
			lines: []fees.Line{
				{Merchant: "A", Net: usd(1999)},
				{Merchant: "A", Net: usd(501)},
				{Merchant: "B", Net: usd(3333)},
			},
			rule: rule(1250, 290, usd(30)),
			want: shares{
				lines:      [][3]int64{{1681, 250, 68}, {421, 63, 17}, {2802, 417, 114}},
				payables:   []fees.Payable{pay("A", usd(2102)), pay("B", usd(2802))},
				commission: 730, platformFee: 199,
			},
		},
		{
			// JPY has no minor digits: C = 10% of 1235 = 123.5 → 124 (half up);
			// F = 3.6% of 1235 = 44.46 → 44; P = 1235 - 124 - 44 = 1067.
			name:  "0 decimals",
			lines: []fees.Line{{Merchant: "A", Net: money.MustNew(1235, "JPY")}},
			rule:  rule(1000, 360, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{1067, 124, 44}},
				payables:   []fees.Payable{pay("A", money.MustNew(1067, "JPY"))},
				commission: 124, platformFee: 44,
			},
		},
		{
			// BHD has 3: 10.005 BHD. C = 5% = 500.25 → 500 fils; F = 2.5% = 250.125 → 250, + 100 = 350;
			// P = 10005 - 500 - 350 = 9155.
			name:  "3 decimals",
			lines: []fees.Line{{Merchant: "A", Net: money.MustNew(10005, "BHD")}},
			rule:  rule(500, 250, money.MustNew(100, "BHD")),
			want: shares{
				lines:      [][3]int64{{9155, 500, 350}},
				payables:   []fees.Payable{pay("A", money.MustNew(9155, "BHD"))},
				commission: 500, platformFee: 350,
			},
		},
		{
			// A merchant discount is a lower price: S = Net = 8000. C = 10% = 800; F = 3% = 240;
			// P = 8000 - 800 - 240 = 6960. (Undiscounted at 10000: P 8700, C 1000, F 300.)
			name:  "merchant-funded discount",
			lines: []fees.Line{{Merchant: "A", Net: usd(8000), DiscountFundedBy: fees.FundedByMerchant, Discount: usd(2000)}},
			rule:  rule(1000, 300, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{6960, 800, 240}},
				payables:   []fees.Payable{pay("A", usd(6960))},
				commission: 800, platformFee: 240,
			},
		},
		{
			// The tenant pays the 500: S = 8500, C = 10% of S = 850, tenant keeps 850 - 500 = 350.
			// F = 3% of the charge 8000 = 240; P = 8500 - 850 - 240 = 7410. 7410 + 350 + 240 = 8000.
			name:  "tenant-funded discount",
			lines: []fees.Line{{Merchant: "A", Net: usd(8000), DiscountFundedBy: fees.FundedByTenant, Discount: usd(500)}},
			rule:  rule(1000, 300, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{7410, 350, 240}},
				payables:   []fees.Payable{pay("A", usd(7410))},
				commission: 350, platformFee: 240,
			},
		},
		{
			// The platform pays the 100: S = 8100, C = 810; F = 3% of 8000 + 30 = 270, platform
			// keeps 270 - 100 = 170; P = 8100 - 810 - 270 = 7020. 7020 + 810 + 170 = 8000.
			name:  "platform-funded discount",
			lines: []fees.Line{{Merchant: "A", Net: usd(8000), DiscountFundedBy: fees.FundedByPlatform, Discount: usd(100)}},
			rule:  rule(1000, 300, usd(30)),
			want: shares{
				lines:      [][3]int64{{7020, 810, 170}},
				payables:   []fees.Payable{pay("A", usd(7020))},
				commission: 810, platformFee: 170,
			},
		},
		{
			// charge = 4000 + 2500 + 3500 = 10000; S = 5000 (tenant), 2600 (platform), 3500 (merchant).
			// C = 10% of S: 500, 260, 350. F = 3% of 10000 + 50 = 350, by 4000:2500:3500 =
			//   140, 87.5, 122.5 → floors leave 1 unit, tied remainders go to the lower index: 140, 88, 122.
			// P = 5000-500-140 = 4360, 2600-260-88 = 2252, 3500-350-122 = 3028; A = 6612.
			// Tenant: (500-1000) + 260 + 350 = 110. Platform: 140 + (88-100) + 122 = 250.
			// 6612 + 3028 + 110 + 250 = 10000. Lines 1 and 2 have one share below zero each, the
			// totals do not.
			name: "mixed funding",
			lines: []fees.Line{
				{Merchant: "A", Net: usd(4000), DiscountFundedBy: fees.FundedByTenant, Discount: usd(1000)},
				{Merchant: "A", Net: usd(2500), DiscountFundedBy: fees.FundedByPlatform, Discount: usd(100)},
				{Merchant: "B", Net: usd(3500), DiscountFundedBy: fees.FundedByMerchant, Discount: usd(700)},
			},
			rule: rule(1000, 300, usd(50)),
			want: shares{
				lines:      [][3]int64{{4360, -500, 140}, {2252, 260, -12}, {3028, 350, 122}},
				payables:   []fees.Payable{pay("A", usd(6612)), pay("B", usd(3028))},
				commission: 110, platformFee: 250,
			},
		},
		{
			// Merchants are listed in the order of their first line: B, then A.
			// C = 0; F = 10% of 300 = 30 by 100:100:100 = 10 each; P = 90 each.
			name: "merchant order",
			lines: []fees.Line{
				{Merchant: "B", Net: usd(100)},
				{Merchant: "A", Net: usd(100)},
				{Merchant: "B", Net: usd(100)},
			},
			rule: rule(0, 1000, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{90, 0, 10}, {90, 0, 10}, {90, 0, 10}},
				payables:   []fees.Payable{pay("B", usd(180)), pay("A", usd(90))},
				commission: 0, platformFee: 30,
			},
		},
		{
			// A free line (Net 0) gets no part of the fee: F = 10% of 1000 = 100 all on line 2.
			name: "free line",
			lines: []fees.Line{
				{Merchant: "A", Net: usd(0), DiscountFundedBy: fees.FundedByMerchant, Discount: usd(500)},
				{Merchant: "A", Net: usd(1000)},
			},
			rule: rule(0, 1000, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{0, 0, 0}, {900, 0, 100}},
				payables:   []fees.Payable{pay("A", usd(900))},
				commission: 0, platformFee: 100,
			},
		},
		{
			name:  "zero charge, no fees",
			lines: []fees.Line{{Merchant: "A", Net: usd(0)}},
			rule:  rule(1000, 300, money.Amount{}),
			want: shares{
				lines:    [][3]int64{{0, 0, 0}},
				payables: []fees.Payable{pay("A", usd(0))},
			},
		},
		{
			// Everything to the tenant and platform is allowed when nothing is left below zero:
			// C = 100% of 1 = 1, F = 0, P = 0.
			name:  "one minor unit, all commission",
			lines: []fees.Line{{Merchant: "A", Net: usd(1)}},
			rule:  rule(10000, 0, money.Amount{}),
			want: shares{
				lines:      [][3]int64{{0, 1, 0}},
				payables:   []fees.Payable{pay("A", usd(0))},
				commission: 1,
			},
		},
		{
			// A zero fixed fee may carry any currency, or none.
			name:  "zero fixed fee in another currency",
			lines: []fees.Line{{Merchant: "A", Net: usd(100)}},
			rule:  rule(0, 0, money.Amount{Currency: "EUR"}),
			want: shares{
				lines:    [][3]int64{{100, 0, 0}},
				payables: []fees.Payable{pay("A", usd(100))},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fees.Split(tc.lines, tc.rule)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			cur := tc.lines[0].Net.Currency
			amt := func(minor int64) money.Amount { return money.MustNew(minor, cur) }
			if got.Charge != sumNet(tc.lines) {
				t.Errorf("charge = %v, want %v", got.Charge, sumNet(tc.lines))
			}
			if got.Commission != amt(tc.want.commission) || got.PlatformFee != amt(tc.want.platformFee) {
				t.Errorf("commission, platform fee = %v, %v; want %d, %d",
					got.Commission, got.PlatformFee, tc.want.commission, tc.want.platformFee)
			}
			if len(got.Payables) != len(tc.want.payables) {
				t.Fatalf("payables = %v, want %v", got.Payables, tc.want.payables)
			}
			for i := range got.Payables {
				if got.Payables[i] != tc.want.payables[i] {
					t.Errorf("payable %d = %v, want %v", i, got.Payables[i], tc.want.payables[i])
				}
			}
			if len(got.Lines) != len(tc.lines) {
				t.Fatalf("%d line shares for %d lines", len(got.Lines), len(tc.lines))
			}
			for i, ls := range got.Lines {
				want := tc.want.lines[i]
				if ls.Merchant != tc.lines[i].Merchant || ls.Net != tc.lines[i].Net ||
					ls.Payable != amt(want[0]) || ls.Commission != amt(want[1]) || ls.PlatformFee != amt(want[2]) {
					t.Errorf("line %d = %+v, want payable, commission, fee %v", i, ls, want)
				}
			}
		})
	}
}

func sumNet(lines []fees.Line) money.Amount {
	sum := money.Amount{Currency: lines[0].Net.Currency}
	for _, l := range lines {
		sum, _ = sum.Add(l.Net)
	}
	return sum
}

func TestSplitErrors(t *testing.T) {
	ok := fees.Rule{CommissionBP: 1000, PlatformFeeBP: 300}
	line := func(net money.Amount) fees.Line { return fees.Line{Merchant: "A", Net: net} }
	discounted := func(net int64, by string, discount money.Amount) fees.Line {
		return fees.Line{Merchant: "A", Net: usd(net), DiscountFundedBy: by, Discount: discount}
	}
	for _, tc := range []struct {
		name    string
		lines   []fees.Line
		rule    fees.Rule
		wantErr error
	}{
		// 20 - 2 - (1 + 30) < 0.
		{"fixed fee over a small charge", []fees.Line{line(usd(20))}, fees.Rule{CommissionBP: 1000, PlatformFeeBP: 300, PlatformFixed: usd(30)}, fees.ErrNegativeShare},
		// 10000 - 10000 - 100 < 0.
		{"rates over the price", []fees.Line{line(usd(10000))}, fees.Rule{CommissionBP: 10000, PlatformFeeBP: 100}, fees.ErrNegativeShare},
		// Charge 101, F = fixed 51 by 1:100 = 0.505, 50.495 → the left-over unit goes to B's larger
		// remainder: 1, 50. B: 1 - 1 (50% of 1, half up) - 1 = -1, though A gets 200 - 100 - 50 = 50
		// (S = 100 + the tenant's 100; tenant keeps 100 - 100 + 1 = 1): each merchant must be covered.
		{"one merchant below zero", []fees.Line{
			{Merchant: "B", Net: usd(1)},
			{Merchant: "A", Net: usd(100), DiscountFundedBy: fees.FundedByTenant, Discount: usd(100)},
		}, fees.Rule{CommissionBP: 5000, PlatformFixed: usd(51)}, fees.ErrNegativeShare},
		{"fixed fee on a zero charge", []fees.Line{line(usd(0))}, fees.Rule{PlatformFixed: usd(1)}, fees.ErrNegativeShare},

		{"commission over 100%", []fees.Line{line(usd(1))}, fees.Rule{CommissionBP: 10001}, fees.ErrInvalidRule},
		{"negative commission", []fees.Line{line(usd(1))}, fees.Rule{CommissionBP: -1}, fees.ErrInvalidRule},
		{"platform fee over 100%", []fees.Line{line(usd(1))}, fees.Rule{PlatformFeeBP: 10001}, fees.ErrInvalidRule},
		{"negative fixed fee", []fees.Line{line(usd(1))}, fees.Rule{PlatformFixed: usd(-1)}, fees.ErrInvalidRule},
		{"fixed fee in another currency", []fees.Line{line(usd(100))}, fees.Rule{PlatformFixed: money.MustNew(1, "EUR")}, fees.ErrInvalidRule},
		{"fixed fee in no currency", []fees.Line{line(usd(100))}, fees.Rule{PlatformFixed: money.Amount{Minor: 1}}, fees.ErrInvalidRule},

		{"no lines", nil, ok, fees.ErrInvalidLine},
		{"no merchant", []fees.Line{{Net: usd(1)}}, ok, fees.ErrInvalidLine},
		{"negative net", []fees.Line{line(usd(-1))}, ok, fees.ErrInvalidLine},
		{"unset net", []fees.Line{line(money.Amount{})}, ok, fees.ErrInvalidLine},
		{"unknown currency", []fees.Line{line(money.Amount{Minor: 1, Currency: "XXX"})}, ok, fees.ErrInvalidLine},
		{"mixed currencies", []fees.Line{line(usd(1)), line(money.MustNew(1, "EUR"))}, ok, fees.ErrInvalidLine},
		{"discount without funder", []fees.Line{discounted(100, "", usd(1))}, ok, fees.ErrInvalidLine},
		{"unknown funder", []fees.Line{discounted(100, "shopper", usd(1))}, ok, fees.ErrInvalidLine},
		{"negative discount", []fees.Line{discounted(100, fees.FundedByTenant, usd(-1))}, ok, fees.ErrInvalidLine},
		{"discount in another currency", []fees.Line{discounted(100, fees.FundedByTenant, money.MustNew(1, "EUR"))}, ok, fees.ErrInvalidLine},

		{"charge past int64", []fees.Line{line(usd(math.MaxInt64)), line(usd(1))}, ok, money.ErrOverflow},
		{"sale price past int64", []fees.Line{discounted(math.MaxInt64, fees.FundedByTenant, usd(1))}, ok, money.ErrOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fees.Split(tc.lines, tc.rule)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Split = %+v, %v; want %v", got, err, tc.wantErr)
			}
		})
	}
}

func TestRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule fees.Rule
		ok   bool
	}{
		{"zero rule", fees.Rule{}, true},
		{"bounds", fees.Rule{CommissionBP: 10000, PlatformFeeBP: 10000, PlatformFixed: money.MustNew(1, "BHD")}, true},
		{"zero fixed fee without currency", fees.Rule{PlatformFixed: money.Amount{}}, true},
		{"commission over", fees.Rule{CommissionBP: 10001}, false},
		{"commission under", fees.Rule{CommissionBP: -1}, false},
		{"platform over", fees.Rule{PlatformFeeBP: 10001}, false},
		{"platform under", fees.Rule{PlatformFeeBP: math.MinInt64}, false},
		{"negative fixed", fees.Rule{PlatformFixed: usd(-30)}, false},
		{"fixed in an unknown currency", fees.Rule{PlatformFixed: money.Amount{Minor: 30, Currency: "XXX"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, fees.ErrInvalidRule)) {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
