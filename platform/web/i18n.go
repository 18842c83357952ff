package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
)

// The locales every page can be shown in. The first is the fallback for a missing message.
const (
	LocaleEN = "en"
	LocaleZH = "zh-CN"
)

// LocaleCookie remembers the locale a person picked with the switcher.
const LocaleCookie = "lang"

// ErrUnknownLocale is answered when the switcher posts a locale the kit does not have.
var ErrUnknownLocale = fault.New(fault.Invalid, "unknown_locale", "the language is not supported")

// Locales lists the supported locales, the fallback first.
func Locales() []string { return []string{LocaleEN, LocaleZH} }

// MatchLocale maps a language tag ("zh-Hans-CN", "en_GB", "EN") onto a supported locale.
// Traditional Chinese tags (zh-TW, zh-Hant, zh-HK) do not match zh-CN: the script differs.
func MatchLocale(tag string) (string, bool) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	switch {
	case t == "en" || strings.HasPrefix(t, "en-"):
		return LocaleEN, true
	case t == "zh" || t == "zh-cn" || t == "zh-sg" || t == "zh-hans" || strings.HasPrefix(t, "zh-hans-"):
		return LocaleZH, true
	}
	return "", false
}

// catalogue holds the messages of every locale: locale -> key -> text.
type catalogue map[string]map[string]string

// loadCatalogue reads messages/<locale>.json from each file system in turn. A key defined
// twice is an error, so a portal cannot silently change a shared string, and every locale
// must define exactly the same keys, so no page falls back to English by accident.
func loadCatalogue(fsyss ...fs.FS) (catalogue, error) {
	cat := catalogue{}
	for _, loc := range Locales() {
		cat[loc] = map[string]string{}
	}
	for _, fsys := range fsyss {
		for _, loc := range Locales() {
			b, err := fs.ReadFile(fsys, "messages/"+loc+".json")
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read messages %s: %w", loc, err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("parse messages/%s.json: %w", loc, err)
			}
			for k, v := range m {
				if _, dup := cat[loc][k]; dup {
					return nil, fmt.Errorf("messages/%s.json: key %q is already defined", loc, k)
				}
				cat[loc][k] = v
			}
		}
	}
	if err := sameKeys(cat); err != nil {
		return nil, err
	}
	return cat, nil
}

// sameKeys reports the keys one locale has and another lacks.
func sameKeys(cat catalogue) error {
	var problems []string
	base := cat[LocaleEN]
	for _, loc := range Locales()[1:] {
		other := cat[loc]
		for k := range base {
			if _, ok := other[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s lacks %q", loc, k))
			}
		}
		for k := range other {
			if _, ok := base[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s lacks %q", LocaleEN, k))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("message catalogues differ: %s", strings.Join(problems, "; "))
	}
	return nil
}

// lookup finds key in the locale, then in English, then gives the key itself: a key that is
// plain text ("Saved") still shows something sensible.
func (c catalogue) lookup(locale, key string) string {
	if s, ok := c[locale][key]; ok {
		return s
	}
	if s, ok := c[LocaleEN][key]; ok {
		return s
	}
	return key
}

// format replaces {0}, {1}, ... in msg with args; positions let a translation reorder them.
func format(msg string, args []string) string {
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		if msg[i] == '{' {
			if end := strings.IndexByte(msg[i:], '}'); end > 1 {
				if n, err := strconv.Atoi(msg[i+1 : i+end]); err == nil && n >= 0 && n < len(args) {
					b.WriteString(args[n])
					i += end
					continue
				}
			}
		}
		b.WriteByte(msg[i])
	}
	return b.String()
}

// NegotiateLocale picks the page locale: the lang cookie the switcher set, then the
// browser's Accept-Language, then the tenant's default, then English.
func NegotiateLocale(cookie, acceptLanguage, tenantDefault string) string {
	if loc, ok := MatchLocale(cookie); ok {
		return loc
	}
	if loc, ok := fromAcceptLanguage(acceptLanguage); ok {
		return loc
	}
	if loc, ok := MatchLocale(tenantDefault); ok {
		return loc
	}
	return LocaleEN
}

// fromAcceptLanguage returns the supported locale with the highest q value.
func fromAcceptLanguage(h string) (string, bool) {
	type choice struct {
		tag string
		q   int // thousandths, so no float is needed to compare
	}
	var choices []choice
	for part := range strings.SplitSeq(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1000
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q = parseQ(v)
		}
		if tag != "" && q > 0 {
			choices = append(choices, choice{tag, q})
		}
	}
	slices.SortStableFunc(choices, func(a, b choice) int { return b.q - a.q })
	for _, c := range choices {
		if loc, ok := MatchLocale(c.tag); ok {
			return loc, true
		}
	}
	return "", false
}

// parseQ reads a q value ("0.8", "1", "0.125") as thousandths; malformed means 0.
func parseQ(v string) int {
	whole, frac, _ := strings.Cut(v, ".")
	if whole != "0" && whole != "1" || len(frac) > 3 {
		return 0
	}
	frac += strings.Repeat("0", 3-len(frac))
	n, err := strconv.Atoi(frac)
	if err != nil {
		return 0
	}
	if whole == "1" {
		return 1000
	}
	return n
}

// SafePath returns next when it is a path on this site ("/orders?page=2"), else fallback.
// It refuses absolute URLs, scheme-relative "//evil.example", backslash tricks that browsers
// read as "//", and control characters, so a redirect can never leave the site.
func SafePath(next, fallback string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") {
		return fallback
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	return next
}

// SetLocale handles the switcher form (POST with "lang" and "next"): it remembers the locale
// in a cookie for a year and sends the person back to the page they were on. CSRF is the
// caller's middleware's job, as for every form.
func (r *Renderer) SetLocale(c *fiber.Ctx) error {
	loc, ok := MatchLocale(c.FormValue("lang"))
	if !ok {
		return fmt.Errorf("set locale: %w", ErrUnknownLocale)
	}
	c.Cookie(&fiber.Cookie{
		Name:     LocaleCookie,
		Value:    loc,
		Path:     "/",
		Expires:  r.now().Add(365 * 24 * time.Hour),
		Secure:   r.opts.SecureCookies,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
	return c.Redirect(SafePath(c.FormValue("next"), r.opts.Home), fiber.StatusSeeOther)
}
