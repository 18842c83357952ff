package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants/search/searchtest"
)

// cartShopper signs a new shopper up at tenant slug and returns them as a caller.
func (w *world) cartShopper(slug string) caller {
	w.t.Helper()
	auth, err := w.ids.SignUpShopper(context.Background(), w.tenant[slug], identity.ShopperSignUp{
		Email: "cart-" + uuid.NewString()[:8] + "@shopper.test", Password: "correct horse battery staple", Name: "Cart"})
	if err != nil {
		w.t.Fatal(err)
	}
	return caller{name: "shopper " + slug, role: "shopper", domain: w.tenant[slug].String(),
		cookie: w.ids.CookieName(identity.ShopperCookie) + "=" + auth.Token, csrf: w.ids.CSRFToken(auth.Session.ID)}
}

// The storefront cart API through the real chain: a shopper adds, changes and removes their
// own lines; another shopper, a shopper of another tenant and an anonymous caller reach none
// of them (404 and 401), and bad quantities are refused.
func TestStorefrontCartAPI(t *testing.T) {
	w := newWorld(t)
	ctx := scope.WithActor(context.Background(), "system:test")
	lumen, err := searchtest.Seed(ctx, w.f.Platform, searchtest.Catalog{Tenant: "lumen", Products: []searchtest.Product{
		{Merchant: "northwind-lighting", Slug: "api-lamp", Titles: map[string]string{"en": "API lamp"},
			Variants: []searchtest.Variant{{SKU: "API-LAMP", Prices: map[string]int64{"USD": 2500}, Stock: 5}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	lamp := lumen.Variants["API-LAMP"].String()
	a, b, p := w.cartShopper("lumen"), w.cartShopper("lumen"), w.cartShopper("panda")
	const host = "lumen.localhost"

	status, body := w.do(a, "POST", "/v1/storefront/cart/lines", `{"variant_id":"`+lamp+`","quantity":2}`, host)
	if status != http.StatusCreated {
		t.Fatalf("add: %d %s", status, body)
	}
	var view struct {
		Groups []struct {
			MerchantName string `json:"merchant_name"`
			Lines        []struct {
				ID             string `json:"id"`
				Quantity       int    `json:"quantity"`
				UnitPriceMinor int64  `json:"unit_price_minor"`
			} `json:"lines"`
		} `json:"groups"`
		SubtotalMinor int64 `json:"subtotal_minor"`
		Count         int   `json:"count"`
	}
	if err := json.Unmarshal([]byte(body), &view); err != nil || view.Count != 2 || view.SubtotalMinor != 5000 || len(view.Groups) != 1 ||
		view.Groups[0].MerchantName != "Northwind Lighting" || view.Groups[0].Lines[0].UnitPriceMinor != 2500 {
		t.Fatalf("cart after adding: %v %s", err, body)
	}
	line := view.Groups[0].Lines[0].ID

	for _, tc := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"more than in stock", "PATCH", "/v1/storefront/cart/lines/" + line, `{"quantity":6}`, http.StatusUnprocessableEntity},
		{"quantity 100", "POST", "/v1/storefront/cart/lines", `{"variant_id":"` + lamp + `","quantity":100}`, http.StatusUnprocessableEntity},
		{"unknown variant", "POST", "/v1/storefront/cart/lines", `{"variant_id":"` + uuid.NewString() + `","quantity":1}`, http.StatusNotFound},
		{"set 3", "PATCH", "/v1/storefront/cart/lines/" + line, `{"quantity":3}`, http.StatusOK},
	} {
		if status, body := w.do(a, tc.method, tc.path, tc.body, host); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.want)
		}
	}

	// Others: nothing of a's cart, and no change to it.
	leaks := 0
	for _, tc := range []struct {
		who              caller
		host, method, pa string
		body             string
		want             int
	}{
		{b, host, "PATCH", "/v1/storefront/cart/lines/" + line, `{"quantity":1}`, http.StatusNotFound},
		{b, host, "DELETE", "/v1/storefront/cart/lines/" + line, "", http.StatusNotFound},
		{b, host, "GET", "/v1/storefront/cart", "", http.StatusOK},
		{p, "panda.localhost", "DELETE", "/v1/storefront/cart/lines/" + line, "", http.StatusNotFound},
		{p, "panda.localhost", "POST", "/v1/storefront/cart/lines", `{"variant_id":"` + lamp + `","quantity":1}`, http.StatusNotFound},
		{caller{name: "anonymous"}, host, "GET", "/v1/storefront/cart", "", http.StatusUnauthorized},
		{caller{name: "anonymous"}, host, "DELETE", "/v1/storefront/cart/lines/" + line, "", http.StatusUnauthorized},
	} {
		status, body := w.do(tc.who, tc.method, tc.pa, tc.body, tc.host)
		body = instanceField.ReplaceAllString(body, "") // the problem echoes the path the caller sent
		if status != tc.want {
			t.Errorf("%s %s %s: %d %s, want %d", tc.who.name, tc.method, tc.pa, status, body, tc.want)
		}
		if strings.Contains(body, line) || strings.Contains(body, "API lamp") {
			leaks++
			t.Errorf("%s %s %s shows a's cart: %s", tc.who.name, tc.method, tc.pa, body)
		}
	}
	if _, body := w.do(a, "GET", "/v1/storefront/cart", "", host); !strings.Contains(body, `"count":3`) {
		t.Errorf("a's cart changed: %s", body)
	}
	if status, _ := w.do(a, "DELETE", "/v1/storefront/cart/lines/"+line, "", host); status != http.StatusNoContent {
		t.Errorf("remove own line: %d", status)
	}
	t.Logf("7 calls by other callers on a shopper's cart, %d leaks", leaks)
}

// The staff promotions API: tenant B's coupon and flash sale ids answer 404 to tenant A's
// owner, another merchant's answer 404 to merchant staff, and lists stay inside their scope.
func TestPromotionsAPICrossTenantAndMerchant(t *testing.T) {
	w := newWorld(t)
	ctx := scope.WithActor(context.Background(), "system:test")
	for _, c := range []searchtest.Catalog{
		{Tenant: "lumen", Products: []searchtest.Product{
			{Merchant: "oak-and-ash", Slug: "oak-chair", Titles: map[string]string{"en": "Oak chair"},
				Variants: []searchtest.Variant{{SKU: "OAK-CHAIR", Prices: map[string]int64{"USD": 12000}, Stock: 5}}}}},
		{Tenant: "panda", Products: []searchtest.Product{
			{Merchant: "xiangyun-tea", Slug: "tea", Titles: map[string]string{"en": "Tea"},
				Variants: []searchtest.Variant{{SKU: "TEA-1", Prices: map[string]int64{"CNY": 8800}, Stock: 5}}}}},
	} {
		if _, err := searchtest.Seed(ctx, w.f.Platform, c); err != nil {
			t.Fatal(err)
		}
	}
	staffOf := map[string]caller{}
	for _, c := range w.callers() {
		staffOf[c.name] = c
	}
	owner, nwOwner := staffOf["owner@lumen-goods.test"], staffOf["owner@northwind.test"]
	pandaOwner := caller{name: "owner@panda-market.test", role: "tenant_owner", domain: w.tenant["panda"].String(), tenantHeader: w.tenant["panda"].String()}
	pandaOwner.cookie, pandaOwner.csrf = w.signIn(pandaOwner.name)
	ends := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	create := func(c caller, path, body string) string {
		t.Helper()
		status, resp := w.do(c, "POST", path, body, "")
		if status != http.StatusCreated {
			t.Fatalf("%s POST %s: %d %s", c.name, path, status, resp)
		}
		var out struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(resp), &out)
		return out.ID
	}
	pandaCoupon := create(pandaOwner, "/v1/promotions/coupons", `{"code":"PANDA8","kind":"fixed","amount":"8","ends_at":"`+ends+`"}`)
	pandaSale := create(pandaOwner, "/v1/promotions/flash-sales", `{"sku":"TEA-1","price":"50","quantity":5,"ends_at":"`+ends+`"}`)
	lumenCoupon := create(owner, "/v1/promotions/coupons", `{"code":"LUMEN10","kind":"percentage","percent":"10","ends_at":"`+ends+`"}`)
	oakSale := create(owner, "/v1/promotions/flash-sales", `{"sku":"OAK-CHAIR","price":"99","quantity":5,"ends_at":"`+ends+`"}`)
	nwCoupon := create(nwOwner, "/v1/promotions/coupons", `{"code":"NW5","kind":"fixed","amount":"5","ends_at":"`+ends+`"}`)

	leaks, n := 0, 0
	for _, tc := range []struct {
		who          caller
		method, path string
		secret       string
	}{
		{owner, "GET", "/v1/promotions/coupons/" + pandaCoupon, "PANDA8"},
		{owner, "POST", "/v1/promotions/coupons/" + pandaCoupon + "/deactivate", "PANDA8"},
		{owner, "GET", "/v1/promotions/flash-sales/" + pandaSale, "TEA-1"},
		{owner, "POST", "/v1/promotions/flash-sales/" + pandaSale + "/deactivate", "TEA-1"},
		{nwOwner, "GET", "/v1/promotions/coupons/" + lumenCoupon, "LUMEN10"},
		{nwOwner, "POST", "/v1/promotions/coupons/" + lumenCoupon + "/deactivate", "LUMEN10"},
		{nwOwner, "GET", "/v1/promotions/flash-sales/" + oakSale, "OAK-CHAIR"},
		{nwOwner, "POST", "/v1/promotions/flash-sales/" + oakSale + "/deactivate", "OAK-CHAIR"},
	} {
		n++
		status, body := w.do(tc.who, tc.method, tc.path, `{}`, "")
		body = instanceField.ReplaceAllString(body, "")
		if status != http.StatusNotFound || strings.Contains(body, tc.secret) {
			leaks++
			t.Errorf("%s %s %s: %d %s, want 404 without %s", tc.who.name, tc.method, tc.path, status, body, tc.secret)
		}
	}
	// Lists stay inside the caller's scope.
	if _, body := w.do(owner, "GET", "/v1/promotions/coupons?limit=100000", "", ""); strings.Contains(body, "PANDA8") || !strings.Contains(body, "LUMEN10") || !strings.Contains(body, "NW5") {
		t.Errorf("lumen's coupons: %s", body)
	}
	if _, body := w.do(nwOwner, "GET", "/v1/promotions/coupons", "", ""); strings.Contains(body, "LUMEN10") || !strings.Contains(body, nwCoupon) {
		t.Errorf("northwind's coupons: %s", body)
	}
	if _, body := w.do(nwOwner, "GET", "/v1/promotions/flash-sales", "", ""); strings.Contains(body, "OAK-CHAIR") {
		t.Errorf("northwind sees oak's flash sale: %s", body)
	}
	// The merchant's own coupon is merchant-funded; a platform-funded one is refused.
	if _, body := w.do(nwOwner, "GET", "/v1/promotions/coupons/"+nwCoupon, "", ""); !strings.Contains(body, `"funded_by":"merchant"`) {
		t.Errorf("merchant coupon: %s", body)
	}
	if status, body := w.do(owner, "POST", "/v1/promotions/coupons", `{"code":"PLAT","kind":"fixed","amount":"1","funded_by":"platform","ends_at":"`+ends+`"}`, ""); status < 400 || status >= 500 {
		t.Errorf("platform-funded coupon by tenant staff: %d %s", status, body)
	}
	// Panda's are untouched.
	if _, body := w.do(pandaOwner, "GET", "/v1/promotions/coupons/"+pandaCoupon, "", ""); !strings.Contains(body, `"active":true`) {
		t.Errorf("panda's coupon after the walk: %s", body)
	}
	t.Logf("%d cross-tenant and cross-merchant promotion requests, %d leaks", n, leaks)
}
