package mail_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	mmail "mercato/platform/mail"
	"mercato/platform/money"
)

// samples has data for every event, with a value in each that the rendered parts must show.
func samples() map[string]struct {
	data any
	must []string // in the text and the HTML part of both locales
} {
	cny := func(minor int64) money.Amount { return money.MustNew(minor, "CNY") }
	when := time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)
	lines := []mmail.Line{{Name: "Linen shirt, M", Quantity: 2, Total: cny(25800)}, {Name: "青花瓷杯", Quantity: 1, Total: cny(8800)}}
	return map[string]struct {
		data any
		must []string
	}{
		mmail.EventOrderConfirmation: {mmail.OrderConfirmation{ShopperName: "Ada", OrderNumber: "M-1001", PlacedAt: when,
			Lines: lines, Shipping: cny(1000), Total: cny(35600), OrderURL: "https://lumen.test/orders/M-1001"},
			[]string{"M-1001", "Linen shirt, M", "青花瓷杯", "356.00", "https://lumen.test/orders/M-1001"}},
		mmail.EventPaymentFailed: {mmail.PaymentFailed{ShopperName: "Ada", OrderNumber: "M-1002", Total: cny(1999),
			Reason: "card declined", RetryURL: "https://lumen.test/checkout/retry/M-1002"},
			[]string{"M-1002", "19.99", "card declined", "https://lumen.test/checkout/retry/M-1002"}},
		mmail.EventOrderShipped: {mmail.OrderShipped{ShopperName: "Ada", OrderNumber: "M-1003", MerchantName: "Candle Corner",
			Carrier: "SF Express", TrackingNumber: "SF1234567890", TrackingURL: "https://track.example.test/SF1234567890",
			OrderURL: "https://lumen.test/orders/M-1003"},
			[]string{"M-1003", "Candle Corner", "SF Express", "SF1234567890", "https://track.example.test/SF1234567890"}},
		mmail.EventOrderDelivered: {mmail.OrderDelivered{ShopperName: "Ada", OrderNumber: "M-1004", MerchantName: "Candle Corner",
			OrderURL: "https://lumen.test/orders/M-1004", ReviewURL: "https://lumen.test/orders/M-1004/review"},
			[]string{"M-1004", "Candle Corner", "https://lumen.test/orders/M-1004/review"}},
		mmail.EventRefundIssued: {mmail.RefundIssued{ShopperName: "Ada", OrderNumber: "M-1005", Amount: cny(4500),
			Reason: "damaged in transit", OrderURL: "https://lumen.test/orders/M-1005"},
			[]string{"M-1005", "45.00", "damaged in transit"}},
		mmail.EventMerchantNewOrder: {mmail.MerchantNewOrder{MerchantName: "Candle Corner", OrderNumber: "M-1006-1",
			Lines: lines, Total: cny(34600), ShipTo: "Hangzhou, CN", OrderURL: "https://console.test/orders/M-1006-1"},
			[]string{"M-1006-1", "Linen shirt, M", "346.00", "Hangzhou, CN", "https://console.test/orders/M-1006-1"}},
		mmail.EventPayoutSent: {mmail.PayoutSent{MerchantName: "Candle Corner", Amount: cny(123456), ArrivalDate: when,
			Reference: "po_123", PayoutURL: "https://console.test/payouts/po_123"},
			[]string{"1,234.56", "po_123", "https://console.test/payouts/po_123"}},
		mmail.EventMerchantApproved: {mmail.MerchantApproved{MerchantName: "Candle Corner", Note: "Welcome aboard",
			ConsoleURL: "https://console.test/"}, []string{"Candle Corner", "Welcome aboard", "https://console.test/"}},
		mmail.EventPasswordReset: {mmail.PasswordReset{Name: "Ada", ResetURL: "https://lumen.test/reset/tok123", ValidFor: time.Hour},
			[]string{"https://lumen.test/reset/tok123"}},
		mmail.EventStaffInvitation: {mmail.StaffInvitation{InviterName: "Grace", Role: "Catalog manager",
			AcceptURL: "https://console.test/invite/tok456", ExpiresAt: when},
			[]string{"Grace", "Catalog manager", "https://console.test/invite/tok456"}},
		mmail.EventWebhookDisabled: {mmail.WebhookDisabled{EndpointURL: "https://hooks.example.test/in",
			Reason: "50 deliveries in a row failed", SettingsURL: "https://console.test/settings/webhooks"},
			[]string{"https://hooks.example.test/in", "50 deliveries in a row failed"}},
	}
}

var lumen = mmail.Branding{Name: "Lumen Market", Colour: "#e4572e", LogoURL: "https://lumen.test/logo.png",
	SiteURL: "https://lumen.test/", SupportEmail: "help@lumen.test"}

func newRenderer(t *testing.T) *mmail.Renderer {
	t.Helper()
	r, err := mmail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEveryEventHasBothLocalesAndParts(t *testing.T) {
	r := newRenderer(t)
	all := samples()
	if len(all) != len(mmail.Events()) {
		t.Fatalf("samples cover %d events, the package has %d", len(all), len(mmail.Events()))
	}
	subjects := map[string]string{}
	for _, ev := range mmail.Events() {
		s, ok := all[ev]
		if !ok {
			t.Errorf("no sample for %s", ev)
			continue
		}
		for _, loc := range mmail.Locales() {
			subject, text, html, err := r.Render(ev, loc, lumen, s.data)
			if err != nil {
				t.Errorf("%s/%s: %v", ev, loc, err)
				continue
			}
			if subject == "" || strings.ContainsAny(subject, "\r\n") || strings.Contains(subject, "<no value>") {
				t.Errorf("%s/%s: subject %q", ev, loc, subject)
			}
			for _, part := range []struct{ name, body string }{{"text", text}, {"html", html}} {
				if strings.Contains(part.body, "<no value>") || strings.Contains(part.body, "ZgotmplZ") {
					t.Errorf("%s/%s %s has an unfilled or unsafe value:\n%s", ev, loc, part.name, part.body)
				}
				for _, want := range append(s.must, "Lumen Market") {
					if !strings.Contains(part.body, want) {
						t.Errorf("%s/%s %s lacks %q:\n%s", ev, loc, part.name, want, part.body)
					}
				}
			}
			for _, want := range []string{`lang="` + loc + `"`, "background:#e4572e", `src="https://lumen.test/logo.png"`, "mailto:help@lumen.test"} {
				if !strings.Contains(html, want) {
					t.Errorf("%s/%s html lacks branding %q", ev, loc, want)
				}
			}
			if strings.Contains(text, "<p>") || strings.Contains(text, "\n\n\n") {
				t.Errorf("%s/%s text has markup or loose blank lines:\n%s", ev, loc, text)
			}
			subjects[ev+"/"+loc] = subject
		}
		if subjects[ev+"/en"] == subjects[ev+"/zh-CN"] {
			t.Errorf("%s: zh-CN subject is the English one (%q)", ev, subjects[ev+"/en"])
		}
		if !hasHan(subjects[ev+"/zh-CN"]) {
			t.Errorf("%s: zh-CN subject %q is not Chinese", ev, subjects[ev+"/zh-CN"])
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

func TestRenderLocaleFormats(t *testing.T) {
	r := newRenderer(t)
	d := samples()[mmail.EventPayoutSent].data
	_, en, _, _ := r.Render(mmail.EventPayoutSent, "en", lumen, d)
	_, zh, _, _ := r.Render(mmail.EventPayoutSent, "zh-Hans-CN", lumen, d)
	if !strings.Contains(en, "4 March 2030") || !strings.Contains(zh, "2030年3月4日") {
		t.Errorf("dates not localised:\nen: %s\nzh: %s", en, zh)
	}
	if !strings.Contains(en, "CN¥1,234.56") && !strings.Contains(en, "CNY") {
		t.Errorf("en money: %s", en)
	}
	if !strings.Contains(zh, "¥1,234.56") {
		t.Errorf("zh money: %s", zh)
	}
	_, reset, _, _ := r.Render(mmail.EventPasswordReset, "fr", lumen, samples()[mmail.EventPasswordReset].data)
	if !strings.Contains(reset, "within 1 hour") {
		t.Errorf("unknown locale should fall back to en:\n%s", reset)
	}
}

func TestRenderEscapesAndSanitizes(t *testing.T) {
	r := newRenderer(t)
	evil := mmail.Branding{Name: `<script>alert(1)</script>`, Colour: `red;background:url(https://evil.test/x)`,
		LogoURL: "javascript:alert(1)"}
	d := mmail.OrderShipped{ShopperName: `<img src=x onerror=alert(1)>`, OrderNumber: "M-1", MerchantName: "M",
		Carrier: "C", TrackingNumber: "T", TrackingURL: "javascript:alert(2)", OrderURL: "https://lumen.test/o"}
	subject, text, html, err := r.Render(mmail.EventOrderShipped, "en", evil, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img src=x", "javascript:", "evil.test"} {
		if strings.Contains(html, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	if !strings.Contains(html, "background:"+mmail.DefaultColour) {
		t.Error("an invalid colour did not fall back to the default")
	}
	if !strings.Contains(html, "&lt;img src=x") {
		t.Error("the shopper's name was not escaped")
	}
	// The text part is plain text: nothing to escape, shown as written.
	if !strings.Contains(text, `<img src=x onerror=alert(1)>`) || subject == "" {
		t.Errorf("text part altered: %s", text)
	}
}

func TestRenderErrors(t *testing.T) {
	r := newRenderer(t)
	if _, _, _, err := r.Render("no_such_event", "en", lumen, nil); !errors.Is(err, mmail.ErrUnknownEvent) {
		t.Errorf("unknown event: %v", err)
	}
	if _, _, _, err := r.Render("notice", "en", lumen, nil); !errors.Is(err, mmail.ErrUnknownEvent) {
		t.Errorf("internal template reachable: %v", err)
	}
	if _, _, _, err := r.Render(mmail.EventOrderShipped, "en", lumen, mmail.OrderDelivered{}); err == nil || !strings.Contains(err.Error(), "OrderShipped") {
		t.Errorf("wrong data type: %v", err)
	}
	if _, _, _, err := r.Render(mmail.EventOrderShipped, "en", lumen, nil); err == nil {
		t.Error("nil data accepted")
	}
	d := samples()[mmail.EventOrderShipped].data.(mmail.OrderShipped)
	if _, _, _, err := r.Render(mmail.EventOrderShipped, "en", lumen, &d); err != nil {
		t.Errorf("pointer data: %v", err)
	}
}

func TestMatchLocale(t *testing.T) {
	for tag, want := range map[string]string{"en": "en", "en-GB": "en", "zh-CN": "zh-CN", "zh": "zh-CN", "zh_Hans": "zh-CN",
		"zh-TW": "en", "zh-Hant-HK": "en", "": "en", "de": "en"} {
		if got := mmail.MatchLocale(tag); got != want {
			t.Errorf("MatchLocale(%q) = %q, want %q", tag, got, want)
		}
	}
}
