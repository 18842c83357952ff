package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"mercato/apps/console"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/catalog"
	"mercato/tenants/promotions"
)

// withPromotions serves w's console again with the promotions service, as apps/mercato wires
// it, and returns the service for setting up data.
func withPromotions(t *testing.T, w *world) *promotions.Service {
	t.Helper()
	s := promotions.NewService(w.f.App, audit.Recorder{})
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(app); err != nil {
		t.Fatal(err)
	}
	app.Use(console.Prefix, identity.Authenticate(w.ids, identity.StaffCookie))
	if err := console.Routes(app, console.Deps{
		Identity: w.ids, Enforcer: enf, Tenants: tenants.NewService(w.f.App, "localhost"), Merchants: w.merchants, Staff: w.staff,
		DB: w.f.App, Mailer: w.mail, FlashKey: flashKey, BaseHost: w.baseHost, Log: slog.New(slog.DiscardHandler), Promotions: s,
	}); err != nil {
		t.Fatal(err)
	}
	w.app = app
	return s
}

// promoFieldError is the message beside a form field, without the screen reader's prefix.
func promoFieldError(html, id string) string {
	m := regexp.MustCompile(`(?s)<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error">(.*?)</p>`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return strings.TrimPrefix(text(m[1]), "Error: ")
}

// rowOf is the text of the table row carrying attr="value" (data-code, data-sku).
func rowOf(html, attr, value string) string {
	m := regexp.MustCompile(`(?s)<tr ` + attr + `="` + regexp.QuoteMeta(value) + `">(.*?)</tr>`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return strings.Join(strings.Fields(text(m[1])), " ")
}

// The promotions page: coupons and flash sales listed with their usage, created through forms
// that show errors beside the fields (and keep what was typed), deactivated behind a
// confirmation; merchant staff see and make only their store's; roles without the capability
// and other tenants' ids are refused.
func TestPromotionsPage(t *testing.T) {
	w := newWorld(t, false)
	promo := withPromotions(t, w)
	lumen := w.tenant["lumen"]
	owner := w.signIn("owner@lumen-goods.test")
	ends := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04")

	r := w.get(owner, "/console/promotions")
	if r.status != http.StatusOK {
		t.Fatalf("promotions page: %d %s", r.status, excerpt(r.body))
	}
	if nav := navOf(r.body); !strings.Contains(nav, "Promotions") {
		t.Errorf("navigation without promotions: %q", nav)
	}
	for _, want := range []string{"No coupons yet", "No flash sales yet", `id="new-coupon"`, `id="new-flash-sale"`, "Northwind Lighting"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
	if leaked := leakedKeys(r.body); len(leaked) > 0 {
		t.Errorf("untranslated keys: %v", leaked)
	}

	// Bad input: each error beside its field, what was typed kept, nothing created.
	r = w.post(owner, "/console/promotions/coupons", url.Values{"code": {"x"}, "kind": {"percentage"}, "percent": {"250"}, "ends_at": {""},
		"usage_limit": {"many"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad coupon: %d", r.status)
	}
	for id, want := range map[string]string{
		"f-code":        "Use 3 to 32 characters: A–Z, 0–9, _ and -.",
		"f-percent":     "Enter a percentage from 0.01 to 100, with at most two decimals.",
		"f-ends-at":     "Enter a date and time in the future, after the start.",
		"f-usage-limit": "Enter a whole number from 1, or leave empty.",
	} {
		if got := promoFieldError(r.body, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	if !strings.Contains(r.body, `value="250"`) || !strings.Contains(r.body, "No coupons yet") {
		t.Errorf("the form did not keep what was typed, or a coupon was created")
	}
	// A store-funded coupon must name its store.
	r = w.post(owner, "/console/promotions/coupons", url.Values{"code": {"STORE5"}, "kind": {"fixed"}, "amount": {"5"}, "funded_by": {"merchant"}, "ends_at": {ends}})
	if got := promoFieldError(r.body, "f-merchant-id"); r.status != http.StatusUnprocessableEntity || !strings.HasPrefix(got, "Choose the store") {
		t.Errorf("merchant-funded without a store: %d %q", r.status, got)
	}

	// Created: listed with its usage.
	r = w.post(owner, "/console/promotions/coupons", url.Values{"code": {"spring10"}, "kind": {"percentage"}, "percent": {"12.5"},
		"min_spend": {"20.00"}, "ends_at": {ends}, "usage_limit": {"50"}, "per_shopper_limit": {"1"}})
	r = w.follow(owner, r)
	if got := flashOf(r.body); got != "Coupon SPRING10 created." {
		t.Errorf("flash: %q", got)
	}
	if row := rowOf(r.body, "data-code", "SPRING10"); !strings.Contains(row, "12.5%") || !strings.Contains(row, "Every store") ||
		!strings.Contains(row, "Marketplace") || !strings.Contains(row, "0 of 50") || !strings.Contains(row, "At most 1 per shopper") ||
		!strings.Contains(row, "Minimum spend $20.00") || !strings.Contains(row, "Active") {
		t.Errorf("coupon row: %q", row)
	}
	r = w.post(owner, "/console/promotions/coupons", url.Values{"code": {"SPRING10"}, "kind": {"fixed"}, "amount": {"1"}, "ends_at": {ends}})
	if got := promoFieldError(r.body, "f-code"); got != "A coupon with this code exists already." {
		t.Errorf("duplicate code: %q", got)
	}

	// A flash sale by SKU.
	sku := flashVariant(t, w)
	r = w.post(owner, "/console/promotions/flash-sales", url.Values{"flash_sku": {"NOPE-1"}, "flash_price": {"10"}, "flash_quantity": {"5"}, "flash_ends_at": {ends}})
	if got := promoFieldError(r.body, "f-flash-sku"); r.status != http.StatusUnprocessableEntity || got != "No variant has this SKU here." {
		t.Errorf("unknown SKU: %d %q", r.status, got)
	}
	r = w.post(owner, "/console/promotions/flash-sales", url.Values{"flash_sku": {sku}, "flash_price": {"45"}, "flash_quantity": {"5"}, "flash_ends_at": {ends}})
	if got := promoFieldError(r.body, "f-flash-price"); got == "" {
		t.Errorf("a flash price above the regular price was not refused")
	}
	r = w.follow(owner, w.post(owner, "/console/promotions/flash-sales", url.Values{"flash_sku": {sku}, "flash_price": {"29.99"},
		"flash_quantity": {"10"}, "flash_limit": {"2"}, "flash_ends_at": {ends}}))
	if row := rowOf(r.body, "data-sku", sku); !strings.Contains(row, "$29.99") || !strings.Contains(row, "0 of 10") || !strings.Contains(row, "Active") {
		t.Errorf("flash sale row: %q (flash %q)", row, flashOf(r.body))
	}

	// Deactivation sits behind a confirmation, and sticks.
	coupons, err := promo.ListCoupons(w.asStaff("owner@lumen-goods.test", ""), lumen, promotions.CouponFilter{})
	if err != nil || len(coupons.Items) != 1 {
		t.Fatalf("coupons: %v %+v", err, coupons)
	}
	spring := coupons.Items[0].ID.String()
	if !strings.Contains(r.body, `action="/console/promotions/coupons/`+spring+`/deactivate" data-confirm="Deactivate coupon SPRING10?`) {
		t.Errorf("deactivate form without its confirmation")
	}
	r = w.follow(owner, w.post(owner, "/console/promotions/coupons/"+spring+"/deactivate", nil))
	if got := flashOf(r.body); got != "Coupon SPRING10 deactivated." || !strings.Contains(rowOf(r.body, "data-code", "SPRING10"), "Deactivated") {
		t.Errorf("after deactivating: %q %q", got, rowOf(r.body, "data-code", "SPRING10"))
	}

	// Merchant staff: their store's only, funded by the store.
	oakCtx := scope.WithMerchant(w.asStaff("owner@lumen-goods.test", ""), w.merchant["oak-and-ash"])
	oak, err := promo.CreateCoupon(oakCtx, lumen, promotions.CouponInput{Code: "OAK5", Kind: promotions.KindFixed, Amount: "5", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	packer := w.signIn("packer@northwind.test")
	r = w.follow(packer, w.post(packer, "/console/promotions/coupons", url.Values{"code": {"NW15"}, "kind": {"percentage"}, "percent": {"15"}, "ends_at": {ends}}))
	if row := rowOf(r.body, "data-code", "NW15"); !strings.Contains(row, "Northwind Lighting") || !strings.Contains(row, "Store") {
		t.Errorf("merchant staff's coupon: %q", row)
	}
	if strings.Contains(r.body, "SPRING10") || strings.Contains(r.body, "OAK5") || strings.Contains(r.body, `id="f-merchant-id"`) {
		t.Errorf("merchant staff see other coupons or the store choice")
	}
	if rowOf(r.body, "data-sku", sku) == "" {
		t.Errorf("merchant staff do not see their own product's flash sale")
	}
	if r := w.post(packer, "/console/promotions/coupons/"+oak.ID.String()+"/deactivate", nil); r.status != http.StatusNotFound {
		t.Errorf("northwind deactivating oak's coupon: %d", r.status)
	}
	if c, _ := promo.GetCoupon(context.Background(), lumen, oak.ID); !c.Active {
		t.Errorf("oak's coupon was deactivated by northwind")
	}

	// Tenant staff have no promotions capability; another tenant's ids are not found.
	moderator := w.signIn("moderator@lumen-goods.test")
	if r := w.get(moderator, "/console/promotions"); r.status != http.StatusForbidden {
		t.Errorf("tenant staff: %d", r.status)
	}
	if strings.Contains(navOf(w.get(moderator, "/console").body), "Promotions") {
		t.Errorf("tenant staff are offered promotions")
	}
	panda, err := promo.CreateCoupon(w.asStaff("owner@panda-market.test", ""), w.tenant["panda"], promotions.CouponInput{Code: "PANDA", Kind: promotions.KindFixed,
		Amount: "10", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if r := w.post(owner, "/console/promotions/coupons/"+panda.ID.String()+"/deactivate", nil); r.status != http.StatusNotFound {
		t.Errorf("lumen deactivating panda's coupon: %d", r.status)
	}
}

// flashVariant creates a live northwind product priced 40.00 and returns its SKU.
func flashVariant(t *testing.T, w *world) string {
	t.Helper()
	ctx := w.asStaff("owner@lumen-goods.test", "")
	cat := w.catalog
	p, err := cat.CreateProduct(ctx, w.tenant["lumen"], catalog.ProductInput{MerchantID: w.merchant["northwind-lighting"], Slug: "flash-lamp",
		Translations: map[string]catalog.Translation{"en": {Title: "Flash lamp"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cat.AddVariant(ctx, w.tenant["lumen"], p.ID, catalog.VariantInput{SKU: "FLASH-LAMP"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.SetPrice(ctx, w.tenant["lumen"], p.ID, v.ID, catalog.PriceInput{Currency: "USD", Amount: "40.00"}); err != nil {
		t.Fatal(err)
	}
	return v.SKU
}

// Many coupons: the page lists the newest 25 with a link to the older ones, which keeps the
// flash sales' place; a made-up cursor starts over instead of failing.
func TestPromotionsPaging(t *testing.T) {
	w := newWorld(t, false)
	promo := withPromotions(t, w)
	lumen := w.tenant["lumen"]
	owner := w.signIn("owner@lumen-goods.test")
	staff := scope.WithActor(context.Background(), "user:tenant-staff")
	for i := range 30 {
		if _, err := promo.CreateCoupon(staff, lumen, promotions.CouponInput{Code: fmt.Sprintf("PAGE%02d", i), Kind: promotions.KindPercentage,
			Percent: "5", EndsAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	codes := func(body string) []string {
		return regexp.MustCompile(`data-code="(PAGE\d\d)"`).FindAllString(body, -1)
	}
	r := w.get(owner, "/console/promotions")
	first := codes(r.body)
	if len(first) != 25 || !strings.Contains(first[0], "PAGE29") || !strings.Contains(r.body, `id="older-coupons"`) || strings.Contains(r.body, `id="older-sales"`) {
		t.Fatalf("first page: %d coupons from %v", len(first), first[:min(1, len(first))])
	}
	href := regexp.MustCompile(`href="([^"]+)" id="older-coupons"`).FindStringSubmatch(r.body)
	r = w.get(owner, strings.ReplaceAll(href[1], "&amp;", "&"))
	rest := codes(r.body)
	if len(rest) != 5 || !strings.Contains(rest[4], "PAGE00") || strings.Contains(r.body, `id="older-coupons"`) {
		t.Errorf("second page: %v", rest)
	}
	if r := w.get(owner, "/console/promotions?coupons=made-up"); r.status != http.StatusOK || len(codes(r.body)) != 25 {
		t.Errorf("a made-up cursor: %d, %d coupons", r.status, len(codes(r.body)))
	}
}
