package storefront_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/promotions"
	"mercato/tenants/search/searchtest"
)

// cartCatalog is two shops' products in lumen (USD), and one in panda for isolation.
var cartCatalog = []searchtest.Catalog{{
	Tenant: "lumen",
	Products: []searchtest.Product{
		{Merchant: "northwind-lighting", Slug: "desk-lamp", Titles: map[string]string{"en": "Desk lamp", "zh-CN": "台灯"},
			Options:  []searchtest.Option{{Code: "colour", Name: map[string]string{"en": "Colour"}, Values: []string{"black"}}},
			Variants: []searchtest.Variant{{SKU: "DL-BLK", OptionValues: map[string]string{"colour": "black"}, Prices: map[string]int64{"USD": 2500}, Stock: 5}}},
		{Merchant: "oak-and-ash", Slug: "oak-stool", Titles: map[string]string{"en": "Oak stool"},
			Variants: []searchtest.Variant{{SKU: "OS-1", Prices: map[string]int64{"USD": 8000}, Stock: 3}}},
	},
}, {
	Tenant: "panda",
	Products: []searchtest.Product{
		{Merchant: "xiangyun-tea", Slug: "jasmine-tea", Titles: map[string]string{"en": "Jasmine tea", "zh-CN": "茉莉花茶"},
			Variants: []searchtest.Variant{{SKU: "JT-1", Prices: map[string]int64{"CNY": 3800}, Stock: 9}}},
	},
}}

// cartWorld is the storefront with the cart, promotions and catalog services mounted.
type cartWorld struct {
	*world
	cat   *catalog.Service
	promo *promotions.Service
	ids   map[string]searchtest.IDs
}

func newCartWorld(t *testing.T) *cartWorld {
	t.Helper()
	cw := &cartWorld{}
	cw.world = newWorldWith(t, "localhost", nil, func(d *storefront.Deps, f *dbtest.Fixture) {
		pol, err := authz.NewPolicies(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cw.cat = catalog.NewService(f.App, pol, audit.Recorder{})
		cw.promo = promotions.NewService(f.App, audit.Recorder{})
		d.Catalog, d.Promotions, d.Cart = cw.cat, cw.promo, cart.NewService(f.App, cw.cat, cw.promo)
		// Signing in merges the guest's cart, as apps/mercato wires identity.
		ids, err := identity.New(f.App, identity.Config{SecretKey: strings.Repeat("s", 40), Issuer: "http://localhost:8080",
			Mailer: &identity.CaptureMailer{}, Lockout: identity.LockoutPolicy{Threshold: 3, IPThreshold: 1000}, MergeGuest: d.Cart.MergeGuest})
		if err != nil {
			t.Fatal(err)
		}
		d.Identity = ids
	})
	cw.ids = map[string]searchtest.IDs{}
	for _, c := range cartCatalog {
		ids, err := searchtest.Seed(scope.WithActor(context.Background(), "system:test"), cw.f.Platform, c)
		if err != nil {
			t.Fatal(err)
		}
		cw.ids[c.Tenant] = ids
	}
	return cw
}

var lineIDRE = regexp.MustCompile(`<tr id="line-([0-9a-f-]{36})">`)

func lineIDs(body string) []string {
	var out []string
	for _, m := range lineIDRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// navBadge is the number beside the navigation's cart link, "" for none.
func navBadge(body string) string {
	re := regexp.MustCompile(`href="/cart"[^>]*>[^<]*(?:<[^>]+>[^<]*)*?<span class="nav-badge"[^>]*>(\d+)</span>`)
	if m := re.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// The cart page: add from the product page's form, lines grouped by merchant with subtotals,
// the count in the navigation, quantity limits shown on the line, a coupon preview and its
// errors, price changes flagged, remove, Chinese, and another visitor's lines out of reach.
func TestCartPage(t *testing.T) {
	w := newCartWorld(t)
	lumen := w.ids["lumen"]
	lamp, stool := lumen.Variants["DL-BLK"], lumen.Variants["OS-1"]
	cl := w.client("lumen.localhost")

	r := cl.get("/cart")
	if r.status != 200 {
		t.Fatalf("empty cart: %d", r.status)
	}
	mustContain(t, "empty cart", r.body, "Your cart is empty", `href="/search"`, `href="/cart"`)

	add := func(variant uuid.UUID, qty string) response {
		t.Helper()
		r := cl.post("/cart/lines", url.Values{"variant_id": {variant.String()}, "quantity": {qty}})
		if r.status != 303 || r.location() != "/cart" {
			t.Fatalf("add %s × %s: %d %s", variant, qty, r.status, r.location())
		}
		return cl.get("/cart")
	}
	r = add(lamp, "2")
	if got := flashOf(r.body); got != "Added to your cart." {
		t.Errorf("flash after adding: %q", got)
	}
	r = add(stool, "1")
	mustContain(t, "cart", r.body, "Sold by Northwind Lighting", "Sold by Oak &amp; Ash Furniture", "Desk lamp", "colour: black",
		"$25.00", "$50.00", "$80.00", "$130.00", "3 items", `href="/checkout"`)
	if got := navBadge(r.body); got != "3" {
		t.Errorf("nav badge %q, want 3", got)
	}
	if strings.Index(r.body, "Northwind Lighting") > strings.Index(r.body, "Oak &amp; Ash") {
		t.Errorf("merchants are not in name order")
	}

	// 10 more lamps than the 5 in stock: refused with the reason, the cart unchanged.
	r = add(lamp, "10")
	if got := flashOf(r.body); got != "Only 5 in stock." {
		t.Errorf("flash after adding too many: %q", got)
	}
	mustContain(t, "cart after a refused add", r.body, "$130.00")
	lines := lineIDs(r.body)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	lampLine := lines[0]
	// Set the lamp to 9: shown again with the error on the line (422); to 3: saved.
	r = cl.post("/cart/lines/"+lampLine, url.Values{"quantity": {"9"}})
	if r.status != 422 || !strings.Contains(r.body, `id="error-`+lampLine+`"`) || !strings.Contains(r.body, "Only 5 in stock.") {
		t.Errorf("quantity above stock: %d", r.status)
	}
	if r = cl.post("/cart/lines/"+lampLine, url.Values{"quantity": {"3"}}); r.status != 303 {
		t.Fatalf("set 3: %d", r.status)
	}
	r = cl.get("/cart")
	mustContain(t, "cart with 3 lamps", r.body, "$75.00", "$155.00", "Your cart was updated.")

	// Coupons: a preview of 10% and where it would go; an unknown code's error beside the field.
	if _, err := w.promo.CreateCoupon(scope.WithActor(context.Background(), "user:test"), lumen.Tenant,
		promotions.CouponInput{Code: "SAVE10", Kind: promotions.KindPercentage, Percent: "10", EndsAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r = cl.get("/cart?coupon=save10")
	mustContain(t, "coupon preview", r.body, "Coupon SAVE10", "−$15.50", "$139.50", `href="/checkout?coupon=SAVE10"`)
	r = cl.get("/cart?coupon=NOPE")
	mustContain(t, "unknown coupon", r.body, `id="coupon-error">There is no coupon with this code.`, `aria-invalid="true"`)
	mustNotContain(t, "unknown coupon", r.body, `id="discount"`)

	// The lamp's price changes: the line says so, and the page asks to check.
	if _, err := w.cat.SetPrice(scope.WithActor(context.Background(), "user:test"), lumen.Tenant, lumen.Products["desk-lamp"], lamp,
		catalog.PriceInput{Currency: "USD", Amount: "30.00"}); err != nil {
		t.Fatal(err)
	}
	r = cl.get("/cart")
	mustContain(t, "price change", r.body, "The price has changed", `id="cart-problems"`, "$90.00", "$170.00")

	// In Chinese.
	zh := *cl
	zh.lang = "zh-CN"
	r = zh.get("/cart")
	mustContain(t, "zh cart", r.body, "购物车", "台灯", "价格已变动", "去结算")

	// Another visitor cannot touch these lines.
	other := w.client("lumen.localhost")
	other.get("/cart")
	if r := other.post("/cart/lines/"+lampLine+"/remove", nil); r.status != 404 {
		t.Errorf("another visitor removing a line: %d", r.status)
	}
	if r := other.post("/cart/lines/"+lampLine, url.Values{"quantity": {"1"}}); r.status != 404 {
		t.Errorf("another visitor changing a line: %d", r.status)
	}
	// Nor can a visitor of another store, and panda's variant cannot be added in lumen.
	panda := w.client("panda.localhost")
	panda.get("/cart")
	if r := panda.post("/cart/lines/"+lampLine+"/remove", nil); r.status != 404 {
		t.Errorf("panda's visitor removing lumen's line: %d", r.status)
	}
	r = add(w.ids["panda"].Variants["JT-1"], "1")
	if got := flashOf(r.body); got != "This product cannot be bought right now." {
		t.Errorf("panda's variant added in lumen: %q", got)
	}

	// Remove the stool.
	if r := cl.post("/cart/lines/"+lines[1]+"/remove", nil); r.status != 303 {
		t.Fatalf("remove: %d", r.status)
	}
	r = cl.get("/cart")
	mustNotContain(t, "after removing the stool", r.body, "Oak stool")
	if got := navBadge(r.body); got != "3" {
		t.Errorf("nav badge %q after removing the stool, want 3", got)
	}
}

// A guest's cart follows them when they sign in: the lines are merged into the shopper's cart
// (quantities added), and the guest cart is gone.
func TestCartMergedOnSignIn(t *testing.T) {
	w := newCartWorld(t)
	lumen := w.ids["lumen"]
	ava := w.client("lumen.localhost")
	ava.signIn("ava@example.com", demo.Password)
	ava.get("/cart")
	if r := ava.post("/cart/lines", url.Values{"variant_id": {lumen.Variants["OS-1"].String()}, "quantity": {"1"}}); r.status != 303 {
		t.Fatalf("ava adds: %d", r.status)
	}
	ava.post("/account/sign-out", nil)

	guest := w.client("lumen.localhost")
	guest.get("/cart")
	for _, v := range []string{"OS-1", "DL-BLK"} {
		if r := guest.post("/cart/lines", url.Values{"variant_id": {lumen.Variants[v].String()}, "quantity": {"1"}}); r.status != 303 {
			t.Fatalf("guest adds %s: %d", v, r.status)
		}
	}
	if r := guest.get("/cart"); navBadge(r.body) != "2" {
		t.Fatalf("guest badge %q", navBadge(r.body))
	}
	guest.signIn("ava@example.com", demo.Password)
	r := guest.get("/cart")
	mustContain(t, "merged cart", r.body, "Oak stool", "Desk lamp", "3 items")
	if got := navBadge(r.body); got != "3" {
		t.Errorf("badge after sign-in %q, want 3 (2 stools + 1 lamp)", got)
	}
}

// Reading the store writes nothing: a hundred page views without cookies (a crawler) create no
// session row, only a visit cookie. A visitor's first form posted with their visit's token
// starts their guest session; a form from another tab opened before it still counts; a
// token from another visit, none at all, or a cross-site post is refused and starts nothing.
func TestVisitWithoutSession(t *testing.T) {
	w := newCartWorld(t)
	lumen := w.ids["lumen"]
	sessions := func() (n int) {
		t.Helper()
		if err := w.f.Platform.Do(context.Background(), "test.sessions", func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM shopper_sessions WHERE tenant_id = ?", lumen.Tenant).Scan(context.Background(), &n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := sessions()
	for i := range 20 {
		bot := w.client("lumen.localhost")
		for _, path := range []string{"/", "/search?q=lamp", "/p/desk-lamp", "/cart", "/account/sign-in"} {
			if r := bot.get(path); r.status != 200 {
				t.Fatalf("crawler %d GET %s: %d", i, path, r.status)
			}
		}
	}
	if n := sessions(); n != before {
		t.Fatalf("100 page views started %d sessions", n-before)
	}

	add := func(cl *client, sku string) response {
		t.Helper()
		return cl.post("/cart/lines", url.Values{"variant_id": {lumen.Variants[sku].String()}, "quantity": {"1"}})
	}
	shopper := w.client("lumen.localhost")
	shopper.get("/cart")
	tabA, tabB := shopper.csrf, shopper.csrf // two product pages opened before any session
	other := w.client("lumen.localhost")
	other.get("/")

	shopper.csrf = other.csrf // another visitor's token
	if r := add(shopper, "OS-1"); r.status != 403 {
		t.Errorf("a token from another visit: %d", r.status)
	}
	shopper.csrf = ""
	if r := add(shopper, "OS-1"); r.status != 403 {
		t.Errorf("no token: %d", r.status)
	}
	if r := shopper.doCrossSite("/cart/lines", url.Values{"_csrf": {tabA}, "variant_id": {lumen.Variants["OS-1"].String()}, "quantity": {"1"}}); r.status != 403 {
		t.Errorf("cross-site post: %d", r.status)
	}
	if n := sessions(); n != before {
		t.Fatalf("refused posts started %d sessions", n-before)
	}
	shopper.csrf = tabA
	if r := add(shopper, "OS-1"); r.status != 303 || shopper.cookie(shopCookie) == "" {
		t.Fatalf("first add: %d, session %q", r.status, shopper.cookie(shopCookie))
	}
	shopper.csrf = tabB // the other tab still carries the visit's token
	if r := add(shopper, "DL-BLK"); r.status != 303 {
		t.Fatalf("add from the other tab: %d", r.status)
	}
	if r := shopper.get("/cart"); navBadge(r.body) != "2" {
		t.Errorf("cart badge %q, want 2", navBadge(r.body))
	}
	if n := sessions(); n != before+1 {
		t.Errorf("%d sessions started, want 1", n-before)
	}
}
