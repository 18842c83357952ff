package storefront_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/blob"
	"mercato/platform/db/dbtest"
	"mercato/platform/devservices"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/promotions"
	"mercato/tenants/search/searchtest"
)

// shopCatalog is what the browse pages show in lumen (USD) and, for isolation, in panda.
var shopCatalog = []searchtest.Catalog{{
	Tenant: "lumen",
	Categories: []searchtest.Category{
		{Slug: "audio", Name: map[string]string{"en": "Audio", "zh-CN": "音频"}},
		{Slug: "headphones", Parent: "audio", Name: map[string]string{"en": "Headphones", "zh-CN": "耳机"}},
		{Slug: "home", Name: map[string]string{"en": "Home", "zh-CN": "家居"}},
	},
	Attributes: []searchtest.Attribute{{Code: "colour", Type: "enum", Filterable: true, Choices: []string{"black", "white"}}},
	Products: []searchtest.Product{
		{Merchant: "northwind-lighting", Slug: "wireless-headphones", Category: "headphones",
			Titles:       map[string]string{"en": "Wireless Headphones", "zh-CN": "无线蓝牙耳机"},
			Descriptions: map[string]string{"en": "Forty hours of battery."},
			Attributes:   map[string]any{"colour": "black"},
			Options:      []searchtest.Option{{Code: "colour", Name: map[string]string{"en": "Colour", "zh-CN": "颜色"}, Values: []string{"black", "silver", "gold"}}},
			Variants: []searchtest.Variant{
				{SKU: "WH-BLK", OptionValues: map[string]string{"colour": "black"}, Prices: map[string]int64{"USD": 9900}, CompareAt: map[string]int64{"USD": 12900}, Stock: 40},
				{SKU: "WH-SLV", OptionValues: map[string]string{"colour": "silver"}, Prices: map[string]int64{"USD": 10900}, Stock: 3},
				{SKU: "WH-GLD", OptionValues: map[string]string{"colour": "gold"}, Prices: map[string]int64{"USD": 19900}},
			},
			Images: []string{"wh-1.jpg"}},
		{Merchant: "oak-and-ash", Slug: "studio-headphones", Category: "headphones",
			Titles: map[string]string{"en": "Studio Headphones"}, Attributes: map[string]any{"colour": "white"},
			Variants: []searchtest.Variant{{SKU: "SH-1", Prices: map[string]int64{"USD": 19900}, Stock: 2}}},
		{Merchant: "oak-and-ash", Slug: "oak-table", Category: "home",
			Titles:   map[string]string{"en": "Oak table", "zh-CN": "橡木桌"},
			Variants: []searchtest.Variant{{SKU: "OT-1", Prices: map[string]int64{"USD": 49900}}}},
		{Merchant: "northwind-lighting", Slug: "draft-lamp", Status: "draft", Category: "home",
			Titles:   map[string]string{"en": "Draft lamp"},
			Variants: []searchtest.Variant{{SKU: "DL-1", Prices: map[string]int64{"USD": 100}}}},
	},
}, {
	Tenant: "panda",
	Products: []searchtest.Product{
		{Merchant: "xiangyun-tea", Slug: "jasmine-tea", Titles: map[string]string{"en": "Jasmine tea", "zh-CN": "茉莉花茶"},
			Variants: []searchtest.Variant{{SKU: "JT-1", Prices: map[string]int64{"CNY": 3800, "USD": 600}, Stock: 9}}},
	},
}}

func seedShops(t testing.TB, w *world) map[string]searchtest.IDs {
	t.Helper()
	out := map[string]searchtest.IDs{}
	for _, c := range shopCatalog {
		ids, err := searchtest.Seed(scope.WithActor(context.Background(), "system:test"), w.f.Platform, c)
		if err != nil {
			t.Fatal(err)
		}
		out[c.Tenant] = ids
	}
	return out
}

var cardRE = regexp.MustCompile(`<a href="/p/([a-z0-9-]+)">`)

func cardSlugs(body string) []string {
	var out []string
	for _, m := range cardRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// The home page lists the newest products with their prices and the top categories, and keeps
// its welcome and shops.
func TestHomeFeaturedProducts(t *testing.T) {
	w := newWorld(t)
	seedShops(t, w)
	r := w.client("lumen.localhost").get("/")
	if r.status != 200 {
		t.Fatalf("home: %d", r.status)
	}
	if got := cardSlugs(r.body); strings.Join(got, ",") != "oak-table,studio-headphones,wireless-headphones" {
		t.Errorf("featured %v, want the three listed products, newest first", got)
	}
	mustContain(t, "home", r.body, "Welcome to Lumen Goods", "New in", "$99.00", "<del>", "$129.00", "Sold by Northwind Lighting",
		`href="/c/audio"`, `href="/c/home"`, `action="/search"`, "Northwind Lighting")
	mustNotContain(t, "home", r.body, "draft-lamp", "jasmine-tea", `href="/c/headphones"`)

	zh := w.client("panda.localhost").get("/")
	if got := cardSlugs(zh.body); strings.Join(got, ",") != "jasmine-tea" {
		t.Errorf("panda featured %v", got)
	}
	mustContain(t, "panda home", zh.body, "茉莉花茶", "¥38.00")
}

// The search page: words, typos and Chinese words find products; facets are checkboxes of a
// GET form with counts; a bad filter is a 400 page; another store's products never show.
func TestSearchPage(t *testing.T) {
	w := newWorld(t)
	ids := seedShops(t, w)
	cl := w.client("lumen.localhost")
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"headphones", "studio-headphones,wireless-headphones"},
		{"headphnes", "studio-headphones,wireless-headphones"},
		{"蓝牙", "wireless-headphones"},
		{"耳机", "studio-headphones,wireless-headphones"},
		{"jasmine", ""}, // panda's
		{"draft", ""},
	} {
		r := cl.get("/search?q=" + url.QueryEscape(tc.q))
		if r.status != 200 {
			t.Fatalf("%q: %d", tc.q, r.status)
		}
		got := cardSlugs(r.body)
		sortStrings(got)
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%q: %v, want %s", tc.q, got, tc.want)
		}
	}
	r := cl.get("/search?q=headphones")
	northwind := ids["lumen"].Merchants["northwind-lighting"].String()
	mustContain(t, "search page", r.body, "Results for “headphones”", "2 products",
		`name="merchant" value="`+northwind+`"`, "Northwind Lighting <span class=\"muted\">(1)</span>",
		`name="price" value="5000-10000"`, "$50.00 – $100.00", `name="attr" value="colour:black"`,
		`<option value="relevance" selected>`, `href="/c/audio?q=headphones"`)

	// Ticking a merchant narrows the results and keeps the other merchant on offer.
	r = cl.get("/search?q=headphones&merchant=" + northwind + "&sort=price_desc")
	if got := cardSlugs(r.body); strings.Join(got, ",") != "wireless-headphones" {
		t.Errorf("northwind only: %v", got)
	}
	mustContain(t, "ticked", r.body, `value="`+northwind+`" checked`, "Oak &amp; Ash Furniture", `<option value="price_desc" selected>`, "Clear filters")

	// Paging: one product per page is not offered, but the cursor links work at 12 a page;
	// with 3 products there is no next page.
	if strings.Contains(r.body, `rel="next"`) {
		t.Error("a next link with one result")
	}

	for _, bad := range []string{"merchant=nope", "price=abc", "attr=colour", "attr=size:xl", "sort=cheapest", "cursor=%25%25"} {
		if r := cl.get("/search?q=headphones&" + bad); r.status != 400 || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want a 400 page", bad, r.status, r.header.Get("Content-Type"))
		}
	}
	// Chinese store, Chinese page.
	zh := w.client("panda.localhost").get("/search?q=" + url.QueryEscape("花茶"))
	mustContain(t, "panda search", zh.body, "“花茶”的搜索结果", "茉莉花茶", "1 件商品")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Category pages: the category and everything below it, its subcategories with counts, sort
// and facets; an unknown slug and another store's category are 404 pages.
func TestCategoryPage(t *testing.T) {
	w := newWorld(t)
	seedShops(t, w)
	cl := w.client("lumen.localhost")
	r := cl.get("/c/audio")
	if r.status != 200 {
		t.Fatalf("audio: %d", r.status)
	}
	if got := cardSlugs(r.body); strings.Join(got, ",") != "studio-headphones,wireless-headphones" {
		t.Errorf("audio: %v, want both headphones (they sit in its subcategory), newest first", got)
	}
	mustContain(t, "audio", r.body, "<h1>Audio</h1>", `href="/c/headphones"`, "Headphones</a> <span class=\"muted\">(2)</span>", `action="/c/audio"`)
	mustNotContain(t, "audio", r.body, "oak-table")

	r = cl.get("/c/audio?sort=price_asc")
	if got := cardSlugs(r.body); strings.Join(got, ",") != "wireless-headphones,studio-headphones" {
		t.Errorf("audio by price: %v", got)
	}
	r = cl.get("/c/audio?attr=colour:white")
	if got := cardSlugs(r.body); strings.Join(got, ",") != "studio-headphones" {
		t.Errorf("audio in white: %v", got)
	}
	zh := w.client("lumen.localhost")
	zh.lang = "zh-CN"
	mustContain(t, "audio in Chinese", zh.get("/c/headphones").body, "<h1>耳机</h1>", "无线蓝牙耳机")

	for _, path := range []string{"/c/no-such", "/c/AUDIO-x"} {
		if r := cl.get(path); r.status != 404 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
}

// The product page: the shopper's locale with English as the fallback, the images through
// /media/, variants as a picker with prices and stock states, compare-at struck through, the
// merchant, and the form that adds to the cart. Drafts and another store's slug are 404.
func TestProductPage(t *testing.T) {
	w := newWorld(t)
	seedShops(t, w)
	cl := w.client("lumen.localhost")
	r := cl.get("/p/wireless-headphones")
	if r.status != 200 {
		t.Fatalf("product: %d\n%s", r.status, r.body)
	}
	mustContain(t, "product", r.body, "<h1 id=\"product-title\">Wireless Headphones</h1>", "Sold by Northwind Lighting",
		`<img src="/media/wh-1.jpg" alt="Wireless Headphones" width="640"`, "$129.00</del>", "<strong>$99.00</strong>",
		"Colour: black", "Colour: silver", "Colour: gold", "In stock", "Only 3 left", "Out of stock",
		`<form method="post" action="/cart/lines" id="add-to-cart">`, `name="quantity" value="1"`, `name="_csrf"`,
		"Forty hours of battery.", `href="/c/headphones"`)
	// The gold variant is out of stock: it cannot be chosen.
	if !regexp.MustCompile(`name="variant_id" value="[^"]+" disabled aria-describedby="variant-2-stock"`).MatchString(r.body) {
		t.Error("the out-of-stock variant is not disabled")
	}
	if !regexp.MustCompile(`name="variant_id" value="[^"]+" checked aria-describedby="variant-0-stock"`).MatchString(r.body) {
		t.Error("the first variant in stock is not chosen")
	}
	mustNotContain(t, "product", r.body, "review", "Review")

	zh := w.client("lumen.localhost")
	zh.lang = "zh-CN"
	r = zh.get("/p/wireless-headphones")
	mustContain(t, "product in Chinese", r.body, "无线蓝牙耳机", "由 Northwind Lighting 销售", "颜色: black", "仅剩 3 件", "缺货",
		"Forty hours of battery.") // no Chinese description: the English one
	mustContain(t, "product in Chinese", zh.get("/p/oak-table").body, "橡木桌", "暂时售罄。")

	for _, path := range []string{"/p/draft-lamp", "/p/jasmine-tea", "/p/no-such"} {
		if r := cl.get(path); r.status != 404 || !strings.Contains(r.body, "Page not found") {
			t.Errorf("%s: %d, want the 404 page", path, r.status)
		}
	}
}

// A running flash sale shows on the product page: the sale price, the units left and a
// countdown that reads correctly without JavaScript.
func TestProductPageFlashSale(t *testing.T) {
	var promos *promotions.Service
	w := newWorldWith(t, "localhost", nil, func(d *storefront.Deps, f *dbtest.Fixture) {
		promos = promotions.NewService(f.App, audit.Recorder{})
		d.Promotions = promos
	})
	ids := seedShops(t, w)
	lumen := ids["lumen"]
	ends := time.Now().Add(26 * time.Hour).UTC().Truncate(time.Second)
	if _, err := promos.CreateFlashSale(scope.WithActor(context.Background(), "user:tenant-admin"), lumen.Tenant, promotions.FlashSaleInput{
		VariantID: lumen.Variants["WH-BLK"], Price: "59.00", Quantity: 10, EndsAt: ends}); err != nil {
		t.Fatal(err)
	}
	r := w.client("lumen.localhost").get("/p/wireless-headphones")
	mustContain(t, "flash", r.body, `id="flash-sale"`, "Flash sale", "<strong>$59.00</strong>", "Only 10 left at this price",
		`data-countdown="`+ends.Format(time.RFC3339)+`"`, "1d 0")
	if !strings.Contains(r.body, `<time class="countdown" role="timer"`) {
		t.Error("no countdown")
	}
	if strings.Contains(r.body, `href="/" aria-current="page"`) {
		t.Error("the product page marks Home as the current page")
	}
	// Another product has no sale.
	if r := w.client("lumen.localhost").get("/p/studio-headphones"); strings.Contains(r.body, "flash-sale") {
		t.Error("a flash sale shown on a product without one")
	}
	// A sale on a later variant is what the page opens on; the shopper may still pick another.
	if _, err := promos.DeactivateFlashSale(scope.WithActor(context.Background(), "user:tenant-admin"), lumen.Tenant,
		mustSale(t, promos, lumen.Tenant)); err != nil {
		t.Fatal(err)
	}
	if _, err := promos.CreateFlashSale(scope.WithActor(context.Background(), "user:tenant-admin"), lumen.Tenant, promotions.FlashSaleInput{
		VariantID: lumen.Variants["WH-SLV"], Price: "79.00", Quantity: 10, EndsAt: ends}); err != nil {
		t.Fatal(err)
	}
	r = w.client("lumen.localhost").get("/p/wireless-headphones")
	mustContain(t, "flash on silver", r.body, `id="flash-sale"`, "<strong>$79.00</strong>", "Only 3 left at this price",
		`value="`+lumen.Variants["WH-SLV"].String()+`" checked`)
	r = w.client("lumen.localhost").get("/p/wireless-headphones?variant=" + lumen.Variants["WH-BLK"].String())
	if strings.Contains(r.body, `id="flash-sale"`) || !strings.Contains(r.body, `value="`+lumen.Variants["WH-BLK"].String()+`" checked`) {
		t.Error("?variant= of a variant without the sale still opens on the sale")
	}
}

// mustSale is the tenant's one running flash sale.
func mustSale(t *testing.T, promos *promotions.Service, tenant uuid.UUID) uuid.UUID {
	t.Helper()
	page, err := promos.ListFlashSales(scope.WithActor(context.Background(), "user:tenant-admin"), tenant, promotions.FlashFilter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("flash sales: %v %d", err, len(page.Items))
	}
	return page.Items[0].ID
}

// /media/ serves this store's objects only: another store's key and a missing key are 404,
// a repeated request with the ETag is 304, and a non-image is a download, never a page.
func TestMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	svc, err := devservices.Ensure(ctx, devservices.Options{MinIO: true, Detach: true})
	if err != nil {
		t.Fatalf("MinIO: %v", err)
	}
	store, err := blob.Open(blob.Options{Endpoint: svc.MinIOEndpoint, AccessKey: svc.MinIOAccessKey, SecretKey: svc.MinIOSecretKey,
		Bucket: "storefront-test-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	w := newWorldWith(t, "localhost", nil, func(d *storefront.Deps, _ *dbtest.Fixture) { d.Blob = store })
	lumen, panda := w.tenant["lumen"], w.tenant["panda"]
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...)
	mine := "t/" + lumen.String() + "/m/" + uuid.NewString() + "/image/" + uuid.NewString()
	theirs := "t/" + panda.String() + "/m/" + uuid.NewString() + "/image/" + uuid.NewString()
	page := "t/" + lumen.String() + "/m/" + uuid.NewString() + "/image/" + uuid.NewString()
	for key, ct := range map[string]string{mine: "image/png", theirs: "image/png", page: "text/html"} {
		body := png
		if ct == "text/html" {
			body = []byte("<script>alert(1)</script>")
		}
		if err := store.Put(ctx, key, ct, bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Delete(context.Background(), key) })
	}
	get := func(path, etag string) (int, string, string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "lumen.localhost"
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := w.app.Test(req, 30_000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header.Get("ETag") + "|" + resp.Header.Get("Cache-Control") + "|" + resp.Header.Get("Content-Type") +
			"|" + resp.Header.Get("Content-Disposition") + "|" + resp.Header.Get("Set-Cookie"), b.String()
	}
	status, head, body := get("/media/"+mine, "")
	parts := strings.Split(head, "|")
	if status != 200 || body != string(png) || parts[0] == "" || parts[1] != "public, max-age=86400" || parts[2] != "image/png" || parts[4] != "" {
		t.Fatalf("own image: %d %q (%d bytes)", status, head, len(body))
	}
	if status, _, body := get("/media/"+mine, parts[0]); status != 304 || body != "" {
		t.Errorf("If-None-Match with the ETag: %d, %d bytes, want 304 and none", status, len(body))
	}
	if status, _, _ := get("/media/"+mine, `"other", W/`+parts[0]); status != 304 {
		t.Errorf("If-None-Match listing the ETag (weak) after another: %d, want 304", status)
	}
	if status, _, body := get("/media/"+mine, `"other"`); status != 200 || body != string(png) {
		t.Errorf("If-None-Match with another ETag: %d, want 200 and the image", status)
	}
	for _, path := range []string{
		"/media/" + theirs, // panda's object on lumen's host
		"/media/t/" + lumen.String() + "/m/x/image/missing", // not in the bucket
		"/media/t/" + lumen.String() + "/../" + theirs[2:],  // climbing out of the prefix
		"/media/" + strings.TrimPrefix(theirs, "t/"),        // no prefix at all
	} {
		if status, _, _ := get(path, ""); status != 404 {
			t.Errorf("%s: %d, want 404", path, status)
		}
	}
	if status, head, _ := get("/media/"+page, ""); status != 200 || !strings.Contains(head, "application/octet-stream|attachment") {
		t.Errorf("an HTML object: %d %q, want a download", status, head)
	}
}

// The product page's form is what the cart takes: the chosen variant and the quantity land
// in the cart (CART's /cart/lines handler), with the flash price when a sale runs.
func TestProductPageAddsToCart(t *testing.T) {
	w := newWorldWith(t, "localhost", nil, func(d *storefront.Deps, f *dbtest.Fixture) {
		pol, err := authz.NewPolicies(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d.Catalog = catalog.NewService(f.App, pol, audit.Recorder{})
		d.Promotions = promotions.NewService(f.App, audit.Recorder{})
		d.Cart = cart.NewService(f.App, d.Catalog, d.Promotions)
	})
	seedShops(t, w)
	cl := w.client("lumen.localhost")
	page := cl.get("/p/wireless-headphones")
	m := regexp.MustCompile(`name="variant_id" value="([^"]+)" checked`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no chosen variant on the product page")
	}
	r := cl.post("/cart/lines", url.Values{"variant_id": {m[1]}, "quantity": {"2"}})
	if r.status != 303 || r.location() != "/cart" {
		t.Fatalf("add to cart: %d %s\n%.300s", r.status, r.location(), r.body)
	}
	c := cl.get("/cart")
	mustContain(t, "cart", c.body, "Wireless Headphones", "$198.00")
}
