package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatNumber writes n with thousands grouped for the locale: "1,234,567" in en and zh-CN
// alike (CLDR groups Chinese numbers by three with ',' too).
func FormatNumber(n int64, locale string) string {
	sep := groupSeparator(locale)
	s := strconv.FormatInt(n, 10)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func groupSeparator(string) string { return "," }

// toInt64 accepts the integer kinds templates meet (ints of any width, counts from len).
func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case uint:
		return int64(n), nil
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint64:
		if n > 1<<63-1 {
			return 0, fmt.Errorf("number %d out of range", n)
		}
		return int64(n), nil
	}
	return 0, fmt.Errorf("number: %T is not an integer", v)
}

// FormatDate writes the calendar date of t in its own location: "22 Nov 2026" in en,
// "2026年11月22日" in zh-CN. Convert to the viewer's zone with t.In first.
func FormatDate(t time.Time, locale string) string {
	if locale == LocaleZH {
		return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), t.Month().String()[:3], t.Year())
}

// FormatShortDate is the day and month, for chart labels and recent dates: "22 Nov" in en,
// "11月22日" in zh-CN.
func FormatShortDate(t time.Time, locale string) string {
	if locale == LocaleZH {
		return fmt.Sprintf("%d月%d日", int(t.Month()), t.Day())
	}
	return fmt.Sprintf("%d %s", t.Day(), t.Month().String()[:3]) // English abbreviations are the first three letters
}

// FormatDateTime adds the 24-hour time: "22 Nov 2026, 14:05" or "2026年11月22日 14:05".
func FormatDateTime(t time.Time, locale string) string {
	sep := ", "
	if locale == LocaleZH {
		sep = " "
	}
	return FormatDate(t, locale) + sep + t.Format("15:04")
}

// timeOf accepts time.Time and *time.Time; nil and the zero time give ok=false, so a missing
// date renders as nothing rather than "1 Jan 1".
func timeOf(v any) (time.Time, bool, error) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero(), nil
	case *time.Time:
		if t == nil {
			return time.Time{}, false, nil
		}
		return *t, !t.IsZero(), nil
	case nil:
		return time.Time{}, false, nil
	}
	return time.Time{}, false, fmt.Errorf("date: %T is not a time", v)
}
