package money_test

import (
	"math"
	"testing"

	"mercato/platform/money"
)

func TestFormat(t *testing.T) {
	const nbsp = "\u00a0"
	for _, tc := range []struct {
		locale string
		a      money.Amount
		want   string
	}{
		{"en", usd(123456), "$1,234.56"},
		{"en", usd(-123456), "-$1,234.56"},
		{"en", usd(5), "$0.05"},
		{"en", usd(-5), "-$0.05"},
		{"en", usd(0), "$0.00"},
		{"en", usd(100), "$1.00"},
		{"en", usd(99999), "$999.99"},
		{"en", usd(100000), "$1,000.00"},
		{"en", usd(math.MaxInt64), "$92,233,720,368,547,758.07"},
		{"en", usd(-math.MaxInt64), "-$92,233,720,368,547,758.07"},
		{"en", money.MustNew(1235, "JPY"), "¥1,235"},
		{"en", money.MustNew(-1235, "JPY"), "-¥1,235"},
		{"en", money.MustNew(0, "JPY"), "¥0"},
		{"en", money.MustNew(999, "JPY"), "¥999"},
		{"en", money.MustNew(100000, "KRW"), "₩100,000"},
		{"en", money.MustNew(1200, "EUR"), "€12.00"},
		{"en", money.MustNew(1200, "CNY"), "CN¥12.00"},
		{"en", money.MustNew(100000000, "GBP"), "£1,000,000.00"},
		{"en", money.MustNew(1000, "CHF"), "CHF" + nbsp + "10.00"},
		{"en", money.MustNew(1234567, "BHD"), "BHD" + nbsp + "1,234.567"},
		{"en", money.MustNew(-1, "BHD"), "-BHD" + nbsp + "0.001"},
		{"en", money.MustNew(1000, "KWD"), "KWD" + nbsp + "1.000"},
		{"en", money.MustNew(50, "TND"), "TND" + nbsp + "0.050"},
		{"en", money.Amount{Minor: 123, Currency: "XXX"}, "XXX" + nbsp + "123"},

		{"zh-CN", money.MustNew(123456, "CNY"), "¥1,234.56"},
		{"zh-CN", money.MustNew(-5, "CNY"), "-¥0.05"},
		{"zh-CN", usd(123456), "US$1,234.56"},
		{"zh-CN", money.MustNew(1235, "JPY"), "JP¥1,235"},
		{"zh-CN", money.MustNew(1200, "EUR"), "€12.00"},
		{"zh-CN", money.MustNew(1234, "OMR"), "OMR" + nbsp + "1.234"},
		{"zh_CN", money.MustNew(100, "CNY"), "¥1.00"},
		{"ZH-cn", money.MustNew(100, "CNY"), "¥1.00"},
		{"zh-Hans", money.MustNew(100, "CNY"), "¥1.00"},
		{"zh", usd(100), "US$1.00"},

		{"zh-TW", money.MustNew(100, "CNY"), "CN¥1.00"},
		{"", usd(100), "$1.00"},
		{"fr-FR", usd(100), "$1.00"},
	} {
		t.Run(tc.locale+" "+tc.a.String(), func(t *testing.T) {
			if got := money.Format(tc.a, tc.locale); got != tc.want {
				t.Errorf("Format(%v, %q) = %q, want %q", tc.a, tc.locale, got, tc.want)
			}
		})
	}
}
