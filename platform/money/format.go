package money

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Format writes a for people in a locale: "en" gives "$1,234.56", "¥1,235" (JPY), "CN¥12.00",
// "-€5.00"; "zh-CN" gives "¥1,234.56" (CNY) and "US$1,234.56". Both group thousands with ','
// and use '.' before the minor digits, which are always all shown. A currency without a
// symbol in the locale is written as its code and a no-break space: "CHF 10.00", "BHD 1.234".
// Locales other than Simplified Chinese ones ("zh", "zh-CN", "zh-Hans", "zh-Hans-CN", with
// '_' or '-', any case) format as "en". This is a small symbol table, not CLDR.
func Format(a Amount, locale string) string {
	symbol := symbolEN
	if simplifiedChinese(locale) {
		symbol = symbolZH
	}
	sym := symbol(a.Currency)
	if sym == "" {
		sym = string(a.Currency)
	}
	if r, _ := utf8.DecodeLastRuneInString(sym); unicode.IsLetter(r) {
		sym += "\u00a0"
	}
	sign := ""
	if a.Minor < 0 {
		sign = "-"
	}
	return sign + sym + decimal(a.Minor, max(a.Currency.Exponent(), 0), true)
}

func simplifiedChinese(locale string) bool {
	switch strings.ReplaceAll(strings.ToLower(locale), "_", "-") {
	case "zh", "zh-cn", "zh-hans", "zh-hans-cn":
		return true
	}
	return false
}

// symbolEN is CLDR's English symbol, or "" where English writes the code.
func symbolEN(c Currency) string {
	switch c {
	case "USD":
		return "$"
	case "CNY":
		return "CN¥"
	case "AUD":
		return "A$"
	}
	return sharedSymbol(c)
}

// symbolZH is CLDR's Simplified Chinese symbol, or "" where Chinese writes the code.
func symbolZH(c Currency) string {
	switch c {
	case "CNY":
		return "¥"
	case "USD":
		return "US$"
	case "JPY":
		return "JP¥"
	case "KRW":
		return "￦"
	case "AUD":
		return "AU$"
	}
	return sharedSymbol(c)
}

// sharedSymbol holds the symbols English and Simplified Chinese write alike.
func sharedSymbol(c Currency) string {
	switch c {
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	case "JPY":
		return "¥"
	case "KRW":
		return "₩"
	case "HKD":
		return "HK$"
	case "CAD":
		return "CA$"
	case "INR":
		return "₹"
	case "BRL":
		return "R$"
	case "MXN":
		return "MX$"
	}
	return ""
}

// decimal writes |minor| with exp fraction digits; group puts ',' between thousands.
// The caller places the sign.
func decimal(minor int64, exp int, group bool) string {
	abs := uint64(minor)
	if minor < 0 {
		abs = -abs // two's complement: right for math.MinInt64 too
	}
	digits := strconv.FormatUint(abs, 10)
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp+1-len(digits)) + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]

	var b strings.Builder
	for i := range len(whole) {
		if group && i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(whole[i])
	}
	if exp > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}
