package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"mercato/platform/money"
)

// funcSet holds the template functions of one locale. Each locale gets its own parsed copy
// of every page with these bound, so templates call {{t "key"}} without passing a locale
// and nothing is cloned or re-escaped per request.
type funcSet struct {
	locale string
	cat    catalogue
	now    func() time.Time
}

func (fs *funcSet) funcMap() template.FuncMap {
	return template.FuncMap{
		"t":           fs.tArgs,
		"tn":          fs.tnArgs,
		"money":       fs.money,
		"date":        fs.date,
		"datetime":    fs.datetime,
		"shortdate":   fs.shortdate,
		"number":      fs.number,
		"field":       fs.field,
		"selectfield": fs.selectField,
		"formerrors":  fs.formErrors,
		"csrf":        csrfInput,
		"sortlink":    fs.sortHeader,
		"pagelink":    fs.pager,
		"filterform":  fs.filterForm,
		"json":        toJSON,
		"chart":       fs.chart,
		"badge":       fs.badge,
		"empty":       fs.empty,
		"countdown":   fs.countdown,
		"dict":        dict,
		"initial":     initial,
	}
}

// t looks a message up and fills its {0}, {1}, ... placeholders.
func (fs *funcSet) t(key string, args ...string) string {
	return format(fs.cat.lookup(fs.locale, key), args)
}

// tArgs is t for templates: arguments may be numbers, money or times, formatted for the
// locale, or anything else printed as it is.
func (fs *funcSet) tArgs(key string, args ...any) string {
	return fs.t(key, fs.argStrings(args)...)
}

func (fs *funcSet) argStrings(args []any) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = v
		case money.Amount:
			out[i] = money.Format(v, fs.locale)
		case time.Time:
			out[i] = FormatDate(v, fs.locale)
		default:
			if n, err := toInt64(a); err == nil {
				out[i] = FormatNumber(n, fs.locale)
			} else {
				out[i] = fmt.Sprint(a)
			}
		}
	}
	return out
}

// tn picks the plural form: key+".one" for exactly one in English, key+".other" otherwise
// (Chinese has no plural forms: always ".other"). n is also {0}.
func (fs *funcSet) tn(key string, n int64, args ...string) string {
	form := ".other"
	if n == 1 && fs.locale == LocaleEN {
		form = ".one"
	}
	return fs.t(key+form, append([]string{FormatNumber(n, fs.locale)}, args...)...)
}

func (fs *funcSet) tnArgs(key string, n any, args ...any) (string, error) {
	v, err := toInt64(n)
	if err != nil {
		return "", fmt.Errorf("tn %q: %w", key, err)
	}
	return fs.tn(key, v, fs.argStrings(args)...), nil
}

// money formats an Amount (or *Amount; nil gives "") for the page locale.
func (fs *funcSet) money(v any) (string, error) {
	switch a := v.(type) {
	case money.Amount:
		return money.Format(a, fs.locale), nil
	case *money.Amount:
		if a == nil {
			return "", nil
		}
		return money.Format(*a, fs.locale), nil
	}
	return "", fmt.Errorf("money: %T is not a money.Amount", v)
}

func (fs *funcSet) date(v any) (string, error) {
	t, ok, err := timeOf(v)
	if !ok {
		return "", err
	}
	return FormatDate(t, fs.locale), nil
}

func (fs *funcSet) shortdate(v any) (string, error) {
	t, ok, err := timeOf(v)
	if !ok {
		return "", err
	}
	return FormatShortDate(t, fs.locale), nil
}

func (fs *funcSet) datetime(v any) (string, error) {
	t, ok, err := timeOf(v)
	if !ok {
		return "", err
	}
	return FormatDateTime(t, fs.locale), nil
}

func (fs *funcSet) number(v any) (string, error) {
	n, err := toInt64(v)
	if err != nil {
		return "", err
	}
	return FormatNumber(n, fs.locale), nil
}

// csrfInput renders the hidden CSRF field; it takes the page ({{csrf $}}) or a token.
func csrfInput(v any) (template.HTML, error) {
	var token string
	switch p := v.(type) {
	case *Page:
		token = p.CSRFToken
	case Page:
		token = p.CSRFToken
	case string:
		token = p
	default:
		return "", fmt.Errorf("csrf: want the page or a token, got %T", v)
	}
	return template.HTML(fmt.Sprintf(`<input type="hidden" name="%s" value="%s">`, CSRFField, esc(token))), nil
}

// toJSON encodes v for a data attribute ({{json .Points}}); html/template escapes it for the
// attribute, and pages run no inline scripts, so JSON never goes into a <script>.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return string(b), nil
}

// badge renders a status pill: {{badge "success" (t "status.paid")}}. kind is one of
// success, warning, danger, info, neutral.
func (fs *funcSet) badge(kind, text string) (template.HTML, error) {
	switch kind {
	case "success", "warning", "danger", "info", "neutral":
	default:
		return "", fmt.Errorf("badge: kind %q is not success, warning, danger, info or neutral", kind)
	}
	return template.HTML(fmt.Sprintf(`<span class="badge badge-%s">%s</span>`, kind, esc(fs.t(text)))), nil
}

// empty renders an empty state that says what to do next: a title, a sentence and,
// when href is set, the action that fills the list.
//
//	{{empty "products.empty.title" "products.empty.text" "/console/products/new" "products.new"}}
func (fs *funcSet) empty(title, text string, action ...string) (template.HTML, error) {
	if len(action) != 0 && len(action) != 2 {
		return "", fmt.Errorf("empty: want an href and a label for the action, got %d values", len(action))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="empty"><div class="empty-icon" aria-hidden="true"></div><h2>%s</h2><p>%s</p>`, esc(fs.t(title)), esc(fs.t(text)))
	if len(action) == 2 {
		href := SafePath(action[0], "")
		if href == "" {
			return "", fmt.Errorf("empty: action %q is not a path on this site", action[0])
		}
		fmt.Fprintf(&b, `<a class="btn btn-primary" href="%s">%s</a>`, esc(href), esc(fs.t(action[1])))
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String()), nil
}

// countdown renders a timer to end (a flash sale's close): the server writes the time left
// now, and app.js keeps it ticking. role="timer" keeps screen readers from announcing
// every second.
func (fs *funcSet) countdown(end time.Time) template.HTML {
	left := max(end.Sub(fs.now()), 0)
	text := fs.t("countdown.ended")
	if left > 0 {
		text = countdownText(left, fs.t("countdown.days"))
	}
	iso := end.UTC().Format(time.RFC3339)
	return template.HTML(fmt.Sprintf(`<time class="countdown" role="timer" datetime="%s" data-countdown="%s">%s</time>`,
		iso, iso, esc(text)))
}

// countdownText is "2d 03:04:05" or "03:04:05"; app.js writes the same shape.
func countdownText(d time.Duration, daysUnit string) string {
	s := int64(d / time.Second)
	days, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	hms := fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
	if days > 0 {
		return fmt.Sprintf("%d%s %s", days, daysUnit, hms)
	}
	return hms
}

// dict builds a map from key/value pairs, to pass several values to a partial template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// initial is the first letter of a name, upper-cased, for the brand mark of a tenant
// without a logo.
func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return ""
}
