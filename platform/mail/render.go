package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"mercato/platform/money"
)

// The events Mercato mails about. Each has a template per locale with a subject, a text
// body and an HTML body, and takes the data type named beside it.
const (
	EventOrderConfirmation = "order_confirmation" // OrderConfirmation, to the shopper
	EventPaymentFailed     = "payment_failed"     // PaymentFailed, to the shopper
	EventOrderShipped      = "order_shipped"      // OrderShipped, to the shopper
	EventOrderDelivered    = "order_delivered"    // OrderDelivered, to the shopper
	EventRefundIssued      = "refund_issued"      // RefundIssued, to the shopper
	EventMerchantNewOrder  = "merchant_new_order" // MerchantNewOrder, to the merchant's staff
	EventPayoutSent        = "payout_sent"        // PayoutSent, to the merchant's staff
	EventMerchantApproved  = "merchant_approved"  // MerchantApproved, to the merchant's contact
	EventPasswordReset     = "password_reset"     // PasswordReset, to a shopper or staff user
	EventStaffInvitation   = "staff_invitation"   // StaffInvitation, to a new staff member
	EventWebhookDisabled   = "webhook_disabled"   // WebhookDisabled, to the endpoint's owner
)

// The locales every template exists in; LocaleEN is the fallback.
const (
	LocaleEN = "en"
	LocaleZH = "zh-CN"
)

// dataType is the type event's templates read; Render checks it so a caller passing the
// wrong struct gets an error naming both instead of a half-rendered mail.
func dataType(event string) (reflect.Type, bool) {
	switch event {
	case EventOrderConfirmation:
		return reflect.TypeFor[OrderConfirmation](), true
	case EventPaymentFailed:
		return reflect.TypeFor[PaymentFailed](), true
	case EventOrderShipped:
		return reflect.TypeFor[OrderShipped](), true
	case EventOrderDelivered:
		return reflect.TypeFor[OrderDelivered](), true
	case EventRefundIssued:
		return reflect.TypeFor[RefundIssued](), true
	case EventMerchantNewOrder:
		return reflect.TypeFor[MerchantNewOrder](), true
	case EventPayoutSent:
		return reflect.TypeFor[PayoutSent](), true
	case EventMerchantApproved:
		return reflect.TypeFor[MerchantApproved](), true
	case EventPasswordReset:
		return reflect.TypeFor[PasswordReset](), true
	case EventStaffInvitation:
		return reflect.TypeFor[StaffInvitation](), true
	case EventWebhookDisabled:
		return reflect.TypeFor[WebhookDisabled](), true
	case eventNotice:
		return reflect.TypeFor[notice](), true
	}
	return nil, false
}

// Events lists every event that has templates, in a stable order.
func Events() []string {
	return []string{EventOrderConfirmation, EventPaymentFailed, EventOrderShipped, EventOrderDelivered,
		EventRefundIssued, EventMerchantNewOrder, EventPayoutSent, EventMerchantApproved,
		EventPasswordReset, EventStaffInvitation, EventWebhookDisabled}
}

// Locales lists the locales every template exists in, the fallback first.
func Locales() []string { return []string{LocaleEN, LocaleZH} }

// Line is one line of an order as a mail shows it.
type Line struct {
	Name     string // product and variant, e.g. "Linen shirt, M"
	Quantity int
	Total    money.Amount // price × quantity
}

// OrderConfirmation: the shopper's order was paid.
type OrderConfirmation struct {
	ShopperName string
	OrderNumber string
	PlacedAt    time.Time
	Lines       []Line
	Shipping    money.Amount
	Total       money.Amount
	OrderURL    string
}

// PaymentFailed: the shopper's payment was declined; they may try again.
type PaymentFailed struct {
	ShopperName string
	OrderNumber string
	Total       money.Amount
	Reason      string // the provider's message for the shopper, may be empty
	RetryURL    string
}

// OrderShipped: one merchant's part of an order left with a carrier.
type OrderShipped struct {
	ShopperName    string
	OrderNumber    string
	MerchantName   string
	Carrier        string
	TrackingNumber string
	TrackingURL    string
	OrderURL       string
}

// OrderDelivered: the carrier reported the parcel delivered.
type OrderDelivered struct {
	ShopperName  string
	OrderNumber  string
	MerchantName string
	OrderURL     string
	ReviewURL    string
}

// RefundIssued: money is on its way back to the shopper.
type RefundIssued struct {
	ShopperName string
	OrderNumber string
	Amount      money.Amount
	Reason      string
	OrderURL    string
}

// MerchantNewOrder: a paid merchant order waits to be fulfilled.
type MerchantNewOrder struct {
	MerchantName string
	OrderNumber  string
	Lines        []Line
	Total        money.Amount
	ShipTo       string // city and country, not the full address
	OrderURL     string // in the console
}

// PayoutSent: a payout left for the merchant's bank.
type PayoutSent struct {
	MerchantName string
	Amount       money.Amount
	ArrivalDate  time.Time
	Reference    string
	PayoutURL    string
}

// MerchantApproved: the tenant approved a merchant's application.
type MerchantApproved struct {
	MerchantName string
	Note         string // from the tenant's staff, may be empty
	ConsoleURL   string
}

// PasswordReset: someone asked to reset the password of this account.
type PasswordReset struct {
	Name     string
	ResetURL string
	ValidFor time.Duration
}

// StaffInvitation: a tenant added someone as staff; they set a password to join.
type StaffInvitation struct {
	InviterName string
	Role        string // as the console shows it, e.g. "Catalog manager"
	AcceptURL   string
	ExpiresAt   time.Time
}

// WebhookDisabled: an outbound webhook endpoint kept failing and was turned off.
type WebhookDisabled struct {
	EndpointURL string
	Reason      string
	SettingsURL string
}

// Branding is how a tenant's mail looks: its name, colour and logo. The zero value is
// Mercato's own, for platform mail.
type Branding struct {
	Name         string // shown in the header and footer
	Colour       string // #rrggbb for the header and buttons; anything else means the default
	LogoURL      string // absolute http(s) URL of the logo; empty shows the name instead
	SiteURL      string // the tenant's storefront or console
	SupportEmail string // shown in the footer when set
}

// DefaultColour is used when a tenant has no valid colour.
const DefaultColour = "#2b4c7e"

// sanitized returns b with fields mail clients could be tricked by dropped.
func (b Branding) sanitized() Branding {
	if !isHexColour(b.Colour) {
		b.Colour = DefaultColour
	}
	if !isWebURL(b.LogoURL) {
		b.LogoURL = ""
	}
	if !isWebURL(b.SiteURL) {
		b.SiteURL = ""
	}
	if b.Name == "" {
		b.Name = "Mercato" // platform mail, or a tenant without a name yet
	}
	return b
}

func isHexColour(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 16, 32)
	return err == nil && !strings.ContainsAny(s, "+-")
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// onColour is the text colour that reads on top of c: white on dark, ink on light.
func onColour(c string) string {
	v, _ := strconv.ParseUint(c[1:], 16, 32)
	r, g, b := float64(v>>16&0xff), float64(v>>8&0xff), float64(v&0xff)
	// Perceived brightness (ITU-R BT.601 weights) is enough to pick between two colours.
	if 0.299*r+0.587*g+0.114*b > 150 {
		return "#111111"
	}
	return "#ffffff"
}

//go:embed templates
var templateFS embed.FS

// Renderer holds the parsed templates; build one at start-up and share it.
type Renderer struct {
	sets map[string]templateSet // by event + "." + locale
}

type templateSet struct {
	text *texttemplate.Template // "subject" and "text" inside the text layout
	html *htmltemplate.Template // "html" inside the HTML layout
}

// view is what a template sees: the tenant's branding as .B, the event's data as .D.
type view struct {
	B        Branding
	D        any
	Locale   string
	OnColour string
	Subject  string
}

// NewRenderer parses every template. It fails if an event lacks a locale or a part, so a
// missing translation stops the build's tests, not a customer's mail.
func NewRenderer() (*Renderer, error) {
	r := &Renderer{sets: map[string]templateSet{}}
	for _, ev := range append(Events(), eventNotice) {
		for _, loc := range Locales() {
			file := "templates/" + ev + "." + loc + ".tmpl"
			if ev == eventNotice {
				file = "templates/notice.tmpl" // the text is the caller's; only the frame is localised
			}
			tt, err := texttemplate.New("").Option("missingkey=error").Funcs(textFuncs(loc)).
				ParseFS(templateFS, "templates/layout.txt", file)
			if err != nil {
				return nil, fmt.Errorf("mail templates %s: %w", file, err)
			}
			ht, err := htmltemplate.New("").Option("missingkey=error").Funcs(htmltemplate.FuncMap(textFuncs(loc))).
				ParseFS(templateFS, "templates/layout.html", file)
			if err != nil {
				return nil, fmt.Errorf("mail templates %s: %w", file, err)
			}
			for _, part := range []string{"subject", "text"} {
				if tt.Lookup(part) == nil {
					return nil, fmt.Errorf("mail templates %s: no %q part", file, part)
				}
			}
			if ht.Lookup("html") == nil {
				return nil, fmt.Errorf("mail templates %s: no \"html\" part", file)
			}
			r.sets[ev+"."+loc] = templateSet{text: tt, html: ht}
		}
	}
	return r, nil
}

// ErrUnknownEvent is returned by Render for an event without templates.
var ErrUnknownEvent = errors.New("mail: no templates for this event")

// Render fills event's templates for locale ("en" or "zh-CN"; anything else, or a Chinese
// tag such as "zh-Hans", is matched to the nearest) with the tenant's branding and data,
// which must be the event's type (or a pointer to it). Errors: ErrUnknownEvent, a wrong
// data type, or the template's own.
func (r *Renderer) Render(event, locale string, b Branding, data any) (subject, text, html string, err error) {
	if event == eventNotice {
		return "", "", "", fmt.Errorf("render %q: %w", event, ErrUnknownEvent)
	}
	return r.render(event, locale, b, data)
}

func (r *Renderer) render(event, locale string, b Branding, data any) (subject, text, html string, err error) {
	want, ok := dataType(event)
	set, found := r.sets[event+"."+MatchLocale(locale)]
	if !ok || !found {
		return "", "", "", fmt.Errorf("render %q: %w", event, ErrUnknownEvent)
	}
	v := reflect.ValueOf(data)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || v.Type() != want {
		return "", "", "", fmt.Errorf("render %q: want data of type mail.%s, got %T", event, want.Name(), data)
	}
	vw := view{B: b.sanitized(), D: v.Interface(), Locale: MatchLocale(locale)}
	vw.OnColour = onColour(vw.B.Colour)
	var sb, tb, hb bytes.Buffer
	if err := set.text.ExecuteTemplate(&sb, "subject", vw); err != nil {
		return "", "", "", fmt.Errorf("render %q subject: %w", event, err)
	}
	// A subject is one line: template line breaks and runs of spaces collapse.
	vw.Subject = strings.Join(strings.Fields(sb.String()), " ")
	if err := set.text.ExecuteTemplate(&tb, "layout", vw); err != nil {
		return "", "", "", fmt.Errorf("render %q text: %w", event, err)
	}
	if err := set.html.ExecuteTemplate(&hb, "layout", vw); err != nil {
		return "", "", "", fmt.Errorf("render %q html: %w", event, err)
	}
	return vw.Subject, tidyText(tb.String()), hb.String(), nil
}

// MatchLocale maps a language tag onto a template locale: any zh tag but the traditional
// ones (zh-TW, zh-HK, zh-Hant) is zh-CN, everything else en.
func MatchLocale(tag string) string {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	if t == "zh" || strings.HasPrefix(t, "zh-") {
		if strings.Contains(t, "hant") || strings.HasSuffix(t, "-tw") || strings.HasSuffix(t, "-hk") || strings.HasSuffix(t, "-mo") {
			return LocaleEN
		}
		return LocaleZH
	}
	return LocaleEN
}

// tidyText trims each line's trailing spaces and collapses runs of blank lines that template
// actions leave behind, so the text part reads as if written by hand.
func tidyText(s string) string {
	var out []string
	blank := 0
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

// textFuncs formats money and dates the way readers of locale expect.
func textFuncs(locale string) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"money": func(a money.Amount) string { return money.Format(a, locale) },
		"date": func(t time.Time) string {
			if locale == LocaleZH {
				return t.Format("2006年1月2日")
			}
			return t.Format("2 January 2006")
		},
		"duration": func(d time.Duration) string {
			h, m := int(d.Hours()), int(d.Minutes())%60
			switch {
			case locale == LocaleZH && h > 0 && m == 0:
				return strconv.Itoa(h) + " 小时"
			case locale == LocaleZH:
				return strconv.Itoa(int(d.Minutes())) + " 分钟"
			case h == 1 && m == 0:
				return "1 hour"
			case h > 0 && m == 0:
				return strconv.Itoa(h) + " hours"
			}
			return strconv.Itoa(int(d.Minutes())) + " minutes"
		},
	}
}
