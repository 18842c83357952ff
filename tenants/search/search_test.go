package search_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
	"mercato/tenants/search"
	"mercato/tenants/search/searchtest"
)

type fixture struct {
	f       *dbtest.Fixture
	s       *search.Service
	catalog *catalog.Service
	lumen   searchtest.IDs
	panda   searchtest.IDs
}

var ctx = scope.WithActor(context.Background(), "system:test")

// lumenCatalog is the seeded set the facet counts below are worked out from (USD, minor units):
//
//	wireless-headphones  northwind  audio/headphones  9,900 (was 12,900)  colour black, wireless true
//	studio-headphones    oak        audio/headphones 19,900               colour white, wireless false
//	ear-cushion          northwind  audio/headphones  1,500               —
//	headphone-stand      northwind  audio             2,900               colour black
//	oak-table            oak        home             49,900               colour white
//
// and what must never show: a draft, an archived product, a suspended merchant's product and
// a product without a USD price.
var lumenCatalog = searchtest.Catalog{
	Tenant: "lumen",
	Categories: []searchtest.Category{
		{Slug: "audio", Name: map[string]string{"en": "Audio", "zh-CN": "音频"}},
		{Slug: "headphones", Parent: "audio", Name: map[string]string{"en": "Headphones", "zh-CN": "耳机"}},
		{Slug: "home", Name: map[string]string{"en": "Home"}},
	},
	Attributes: []searchtest.Attribute{
		{Code: "colour", Type: "enum", Filterable: true, Choices: []string{"black", "white", "red"}},
		{Code: "wireless", Type: "boolean", Filterable: true},
		{Code: "material", Type: "text"},
	},
	Products: []searchtest.Product{
		{Merchant: "northwind-lighting", Slug: "wireless-headphones", Category: "headphones",
			Titles:       map[string]string{"en": "Wireless Headphones", "zh-CN": "无线蓝牙耳机"},
			Descriptions: map[string]string{"en": "Noise cancelling, forty hours of battery.", "zh-CN": "主动降噪，续航四十小时。"},
			Attributes:   map[string]any{"colour": "black", "wireless": true},
			Options:      []searchtest.Option{{Code: "colour", Name: map[string]string{"en": "Colour", "zh-CN": "颜色"}, Values: []string{"black", "silver"}}},
			Variants: []searchtest.Variant{
				{SKU: "WH-BLK", OptionValues: map[string]string{"colour": "black"}, Prices: map[string]int64{"USD": 9900}, CompareAt: map[string]int64{"USD": 12900}, Stock: 3},
				{SKU: "WH-SLV", OptionValues: map[string]string{"colour": "silver"}, Prices: map[string]int64{"USD": 10900}, Stock: 0},
			},
			Images: []string{"t/lumen/wh-1.jpg", "t/lumen/wh-2.jpg"}},
		{Merchant: "oak-and-ash", Slug: "studio-headphones", Category: "headphones",
			Titles: map[string]string{"en": "Studio Headphones"}, Attributes: map[string]any{"colour": "white", "wireless": false},
			Variants: []searchtest.Variant{{SKU: "SH-1", Prices: map[string]int64{"USD": 19900}, Stock: 40}}},
		{Merchant: "northwind-lighting", Slug: "ear-cushion", Category: "headphones",
			Titles:   map[string]string{"en": "Ear cushion"},
			Variants: []searchtest.Variant{{SKU: "EC-1", Prices: map[string]int64{"USD": 1500}, Stock: 5}}},
		{Merchant: "northwind-lighting", Slug: "headphone-stand", Category: "audio",
			Titles: map[string]string{"en": "Desk stand"}, Descriptions: map[string]string{"en": "Holds your headphones."},
			Attributes: map[string]any{"colour": "black"},
			Variants:   []searchtest.Variant{{SKU: "HS-1", Prices: map[string]int64{"USD": 2900}, Stock: 5}}},
		{Merchant: "oak-and-ash", Slug: "oak-table", Category: "home",
			Titles: map[string]string{"en": "Oak table"}, Attributes: map[string]any{"colour": "white", "material": "oak"},
			Variants: []searchtest.Variant{{SKU: "OT-1", Prices: map[string]int64{"USD": 49900}, Stock: 1}}},
		{Merchant: "northwind-lighting", Slug: "draft-headphones", Status: "draft", Category: "headphones",
			Titles:   map[string]string{"en": "Draft Headphones", "zh-CN": "草稿耳机"},
			Variants: []searchtest.Variant{{SKU: "DH-1", Prices: map[string]int64{"USD": 100}}}},
		{Merchant: "northwind-lighting", Slug: "archived-headphones", Status: "archived", Category: "headphones",
			Titles:   map[string]string{"en": "Archived Headphones"},
			Variants: []searchtest.Variant{{SKU: "AH-1", Prices: map[string]int64{"USD": 100}}}},
		{Merchant: "glowworks", Slug: "glow-headphones", Category: "headphones",
			Titles:   map[string]string{"en": "Glow Headphones"},
			Variants: []searchtest.Variant{{SKU: "GH-1", Prices: map[string]int64{"USD": 100}}}},
		{Merchant: "oak-and-ash", Slug: "euro-headphones", Category: "headphones",
			Titles:   map[string]string{"en": "Euro Headphones"},
			Variants: []searchtest.Variant{{SKU: "EH-1", Prices: map[string]int64{"EUR": 100}}}},
	},
}

var pandaCatalog = searchtest.Catalog{
	Tenant:     "panda",
	Categories: []searchtest.Category{{Slug: "audio", Name: map[string]string{"en": "Audio", "zh-CN": "音频"}}},
	Products: []searchtest.Product{
		{Merchant: "xiangyun-tea", Slug: "panda-headphones", Category: "audio",
			Titles:   map[string]string{"en": "Panda Headphones", "zh-CN": "熊猫耳机"},
			Variants: []searchtest.Variant{{SKU: "PH-1", Prices: map[string]int64{"CNY": 29900, "USD": 4900}, Stock: 2}}},
		// Same slug as a lumen product: slugs are unique per tenant only.
		{Merchant: "jade-studio", Slug: "oak-table", Titles: map[string]string{"en": "Panda oak table"},
			Variants: []searchtest.Variant{{SKU: "PT-1", Prices: map[string]int64{"CNY": 100, "USD": 100}}}},
	},
}

func setup(t *testing.T) fixture {
	t.Helper()
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{f: f, s: search.NewService(f.App), catalog: catalog.NewService(f.App, pol, audit.Recorder{})}
	if fx.lumen, err = searchtest.Seed(ctx, f.Platform, lumenCatalog); err != nil {
		t.Fatal(err)
	}
	if fx.panda, err = searchtest.Seed(ctx, f.Platform, pandaCatalog); err != nil {
		t.Fatal(err)
	}
	return fx
}

func slugs(hits []search.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Slug
	}
	return out
}

func (fx fixture) search(t *testing.T, tenant uuid.UUID, q search.Query) search.Result {
	t.Helper()
	r, err := fx.s.Search(ctx, tenant, q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	return r
}

// Ranking: a title match (weight A) outranks a category match (B), which outranks a match in
// the description (C); drafts, archived products, a suspended merchant's product and a product
// without a price in the store's currency never appear.
func TestRankingAndListedOnly(t *testing.T) {
	fx := setup(t)
	r := fx.search(t, fx.lumen.Tenant, search.Query{Q: "headphones"})
	got := slugs(r.Items)
	if len(got) != 4 || r.Total != 4 {
		t.Fatalf("headphones: %v (total %d), want the 4 listed matches", got, r.Total)
	}
	if !slices.Contains(got[:2], "wireless-headphones") || !slices.Contains(got[:2], "studio-headphones") ||
		got[2] != "ear-cushion" || got[3] != "headphone-stand" {
		t.Errorf("headphones ranked %v, want the two titles, then the category match (ear-cushion), then the description match (headphone-stand)", got)
	}
	if r.Items[0].Currency != "USD" || r.Items[0].Title["en"] == "" {
		t.Errorf("hit: %+v", r.Items[0])
	}
	for _, h := range r.Items {
		if h.Slug == "wireless-headphones" && (h.PriceMinor != 9900 || h.CompareAtMinor == nil || *h.CompareAtMinor != 12900 ||
			h.ImageKey != "t/lumen/wh-1.jpg" || h.MerchantName != "Northwind Lighting") {
			t.Errorf("wireless-headphones card: %+v", h)
		}
	}
}

// Typos: "headphnes", "wirless" (word similarity 0.55, under pg_trgm's default 0.6) and
// "wireles" still find the headphones (trigram word similarity).
func TestTypoTolerance(t *testing.T) {
	fx := setup(t)
	for _, q := range []string{"headphnes", "wirless", "wireles headphone", "Studo"} {
		got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: q}).Items)
		want := "wireless-headphones"
		if q == "Studo" {
			want = "studio-headphones"
		}
		if !slices.Contains(got, want) {
			t.Errorf("%q: %v, want %s among them", q, got, want)
		}
		if slices.Contains(got, "draft-headphones") || slices.Contains(got, "glow-headphones") {
			t.Errorf("%q: %v shows an unlisted product", q, got)
		}
	}
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: "zzyzx"}).Items); len(got) != 0 {
		t.Errorf("zzyzx: %v, want nothing", got)
	}
}

// Chinese: a word anywhere in the zh-CN title finds the product; a word only another tenant
// or a draft uses finds nothing.
func TestChineseWords(t *testing.T) {
	fx := setup(t)
	for _, tc := range []struct {
		tenant uuid.UUID
		q      string
		want   []string
	}{
		{fx.lumen.Tenant, "耳机", []string{"wireless-headphones", "studio-headphones", "ear-cushion"}}, // title, and category 耳机 (B)
		{fx.lumen.Tenant, "蓝牙", []string{"wireless-headphones"}},
		{fx.lumen.Tenant, "无线蓝牙耳机", []string{"wireless-headphones"}},
		{fx.lumen.Tenant, "降噪", []string{"wireless-headphones"}}, // in the description
		{fx.lumen.Tenant, "蓝牙 headphones", []string{"wireless-headphones"}},
		{fx.lumen.Tenant, "熊猫", nil}, // panda's product
		{fx.lumen.Tenant, "草稿", nil}, // a draft's title
		{fx.lumen.Tenant, "牙蓝", nil}, // the pair reversed is not a word of the title
		{fx.panda.Tenant, "耳机", []string{"panda-headphones"}},
		{fx.panda.Tenant, "熊猫耳机", []string{"panda-headphones"}},
	} {
		r := fx.search(t, tc.tenant, search.Query{Q: tc.q})
		got := slugs(r.Items)
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", tc.q, got, want)
		}
	}
	r := fx.search(t, fx.lumen.Tenant, search.Query{Q: "耳机"})
	if r.Items[0].Slug != "wireless-headphones" {
		t.Errorf("耳机 ranks %v first, want the product with it in its title", r.Items[0].Slug)
	}
}

func categoryCounts(r search.Result) map[string]int {
	out := map[string]int{}
	for _, c := range r.Facets.Categories {
		out[c.Slug] = c.Count
	}
	return out
}

func merchantCounts(r search.Result) map[string]int {
	out := map[string]int{}
	for _, m := range r.Facets.Merchants {
		out[m.Name] = m.Count
	}
	return out
}

func priceCounts(r search.Result) map[string]int {
	out := map[string]int{}
	for _, p := range r.Facets.Prices {
		out[p.Range] = p.Count
	}
	return out
}

func attrCounts(r search.Result) map[string]int {
	out := map[string]int{}
	for _, a := range r.Facets.Attributes {
		for _, v := range a.Values {
			out[a.Code+"="+v.Value] = v.Count
		}
	}
	return out
}

func eq(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
	}
}

// Facet counts on the seeded set, exactly; each facet ignores its own filter only.
func TestFacetCounts(t *testing.T) {
	fx := setup(t)
	all := fx.search(t, fx.lumen.Tenant, search.Query{})
	if all.Total != 5 {
		t.Fatalf("everything: %d products %v, want 5", all.Total, slugs(all.Items))
	}
	eq(t, "categories", categoryCounts(all), map[string]int{"audio": 4, "headphones": 3, "home": 1})
	eq(t, "merchants", merchantCounts(all), map[string]int{"Northwind Lighting": 3, "Oak & Ash Furniture": 2})
	eq(t, "prices", priceCounts(all), map[string]int{"1000-2500": 1, "2500-5000": 1, "5000-10000": 1, "10000-25000": 1, "25000-50000": 1})
	eq(t, "attributes", attrCounts(all), map[string]int{"colour=black": 2, "colour=white": 2, "wireless=true": 1, "wireless=false": 1})

	northwind := fx.lumen.Merchants["northwind-lighting"]
	byMerchant := fx.search(t, fx.lumen.Tenant, search.Query{MerchantIDs: []uuid.UUID{northwind}})
	if byMerchant.Total != 3 {
		t.Errorf("northwind: %d, want 3", byMerchant.Total)
	}
	eq(t, "merchants, one ticked", merchantCounts(byMerchant), map[string]int{"Northwind Lighting": 3, "Oak & Ash Furniture": 2})
	eq(t, "categories of northwind", categoryCounts(byMerchant), map[string]int{"audio": 3, "headphones": 2})
	eq(t, "colours of northwind", attrCounts(byMerchant), map[string]int{"colour=black": 2, "wireless=true": 1})

	black := fx.search(t, fx.lumen.Tenant, search.Query{Attributes: map[string][]string{"colour": {"black"}}})
	if black.Total != 2 {
		t.Errorf("black: %d, want 2", black.Total)
	}
	eq(t, "colours, black ticked", attrCounts(black), map[string]int{"colour=black": 2, "colour=white": 2, "wireless=true": 1})
	eq(t, "merchants of black", merchantCounts(black), map[string]int{"Northwind Lighting": 2})

	mid := fx.search(t, fx.lumen.Tenant, search.Query{Prices: []search.PriceRange{{FromMinor: 5000, ToMinor: 25000}}})
	if got := slugs(mid.Items); mid.Total != 2 || !slices.Contains(got, "wireless-headphones") || !slices.Contains(got, "studio-headphones") {
		t.Errorf("5000-25000: %v", got)
	}
	eq(t, "prices, one ticked", priceCounts(mid), priceCounts(all))

	inAudio := fx.search(t, fx.lumen.Tenant, search.Query{CategorySlug: "audio", Q: "headphones"})
	if inAudio.Total != 4 || inAudio.Category == nil || inAudio.Category.Slug != "audio" {
		t.Errorf("audio + headphones: %d %+v", inAudio.Total, inAudio.Category)
	}
	inHome := fx.search(t, fx.lumen.Tenant, search.Query{CategorySlug: "home"})
	if got := slugs(inHome.Items); len(got) != 1 || got[0] != "oak-table" {
		t.Errorf("home: %v", got)
	}
	combined := fx.search(t, fx.lumen.Tenant, search.Query{CategorySlug: "headphones", MerchantIDs: []uuid.UUID{northwind},
		Attributes: map[string][]string{"wireless": {"TRUE"}}})
	if got := slugs(combined.Items); len(got) != 1 || got[0] != "wireless-headphones" {
		t.Errorf("headphones × northwind × wireless: %v", got)
	}
}

// Paging through every sort with one product per page gives the same products in the same
// order as one big page: no product skipped or repeated.
func TestCursorPaginationStable(t *testing.T) {
	fx := setup(t)
	for _, q := range []search.Query{
		{Sort: search.SortNewest}, {Sort: search.SortPriceAsc}, {Sort: search.SortPriceDesc},
		{Q: "headphones"}, {Q: "headphones", Sort: search.SortPriceAsc},
	} {
		q.Limit = 100
		want := slugs(fx.search(t, fx.lumen.Tenant, q).Items)
		var got []string
		q.Limit = 1
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("%+v: no last page", q)
			}
			r := fx.search(t, fx.lumen.Tenant, q)
			got = append(got, slugs(r.Items)...)
			if r.NextCursor == "" {
				break
			}
			q.Cursor = r.NextCursor
		}
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("sort %q q %q: paged %v, one page %v", q.Sort, q.Q, got, want)
		}
	}
	asc := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Sort: search.SortPriceAsc}).Items)
	if !slices.Equal(asc, []string{"ear-cushion", "headphone-stand", "wireless-headphones", "studio-headphones", "oak-table"}) {
		t.Errorf("price ascending: %v", asc)
	}
}

// Bad parameters are field errors (422), and an unknown category is 404.
func TestBadQueries(t *testing.T) {
	fx := setup(t)
	for _, q := range []search.Query{
		{Sort: "cheapest"},
		{Currency: "XYZ"},
		{Attributes: map[string][]string{"material": {"oak"}}}, // not filterable
		{Attributes: map[string][]string{"colour": {"purple"}}},
		{Attributes: map[string][]string{"wireless": {"maybe"}}},
		{PageParams: httpx.PageParams{Cursor: "not-a-cursor!"}},
		{Q: strings.Repeat("耳", 201)},
	} {
		_, err := fx.s.Search(ctx, fx.lumen.Tenant, q)
		if de := fault.As(err); de == nil || de.Kind != fault.Unprocessable || len(de.Fields) == 0 {
			t.Errorf("%+v: %v, want field errors", q, err)
		}
	}
	if _, err := fx.s.Search(ctx, fx.lumen.Tenant, search.Query{CategorySlug: "no-such"}); !errors.Is(err, search.ErrCategoryNotFound) {
		t.Errorf("unknown category: %v", err)
	}
	// Panda's category id asked of lumen: not found, as if it did not exist.
	if _, err := fx.s.Search(ctx, fx.lumen.Tenant, search.Query{CategoryID: fx.panda.Categories["audio"]}); !errors.Is(err, search.ErrCategoryNotFound) {
		t.Errorf("panda's category in lumen: %v", err)
	}
}

// The documents follow the catalog's real write paths: a new title is found at once, an
// archived product is gone, a suspended merchant's products go and come back with it.
func TestDocumentsFollowCatalogWrites(t *testing.T) {
	fx := setup(t)
	staff := scope.WithActor(context.Background(), "user:tenant-admin")
	table := fx.lumen.Products["oak-table"]
	if _, err := fx.catalog.UpdateProduct(staff, fx.lumen.Tenant, table, catalog.ProductPatch{
		Translations: map[string]catalog.Translation{"en": {Title: "Walnut dining table"}, "zh-CN": {Title: "胡桃木餐桌"}}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"walnut", "餐桌"} {
		if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: q}).Items); !slices.Equal(got, []string{"oak-table"}) {
			t.Errorf("%q after the rename: %v", q, got)
		}
	}
	p, err := fx.catalog.GetProduct(staff, fx.lumen.Tenant, table)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.catalog.SetPrice(staff, fx.lumen.Tenant, table, p.Variants[0].ID, catalog.PriceInput{Currency: "USD", Amount: "12.00"}); err != nil {
		t.Fatal(err)
	}
	if asc := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Sort: search.SortPriceAsc, PageParams: httpx.PageParams{Limit: 1}}).Items); asc[0] != "oak-table" {
		t.Errorf("cheapest after the price cut: %v", asc)
	}
	if _, err := fx.catalog.Archive(staff, fx.lumen.Tenant, table); err != nil {
		t.Fatal(err)
	}
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: "walnut"}).Items); len(got) != 0 {
		t.Errorf("walnut after archiving: %v", got)
	}

	oak := fx.lumen.Merchants["oak-and-ash"]
	setStatus := func(status string) {
		t.Helper()
		if err := fx.f.Platform.Do(ctx, "test.merchant_status", func(tx bun.IDB) error {
			_, err := tx.ExecContext(ctx, "UPDATE merchants SET status = ? WHERE tenant_id = ? AND id = ?", status, fx.lumen.Tenant, oak)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("suspended")
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: "studio"}).Items); len(got) != 0 {
		t.Errorf("studio with its merchant suspended: %v", got)
	}
	if _, err := fx.s.Product(ctx, fx.lumen.Tenant, "studio-headphones", "USD"); !errors.Is(err, search.ErrProductNotFound) {
		t.Errorf("product page of a suspended merchant: %v", err)
	}
	setStatus("active")
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: "studio"}).Items); !slices.Equal(got, []string{"studio-headphones"}) {
		t.Errorf("studio with its merchant back: %v", got)
	}
}

// The product page's read: one listed product with its variants' prices and stock; drafts and
// other tenants' slugs are not found.
func TestProductRead(t *testing.T) {
	fx := setup(t)
	p, err := fx.s.Product(ctx, fx.lumen.Tenant, "wireless-headphones", "usd")
	if err != nil {
		t.Fatal(err)
	}
	if p.Title["zh-CN"] != "无线蓝牙耳机" || p.MerchantName != "Northwind Lighting" || len(p.Images) != 2 || p.Images[0].Key != "t/lumen/wh-1.jpg" ||
		len(p.Options) != 1 || p.Options[0].Values[1] != "silver" || p.Category == nil || p.Category.Slug != "headphones" || p.Currency != "USD" {
		t.Errorf("product: %+v", p)
	}
	if len(p.Variants) != 2 || p.Variants[0].SKU != "WH-BLK" || p.Variants[0].PriceMinor != 9900 || p.Variants[0].Available != 3 ||
		*p.Variants[0].CompareAtMinor != 12900 || p.Variants[1].Available != 0 || p.Variants[1].OptionValues["colour"] != "silver" {
		t.Errorf("variants: %+v", p.Variants)
	}
	for _, tc := range []struct {
		tenant uuid.UUID
		slug   string
	}{
		{fx.lumen.Tenant, "draft-headphones"}, {fx.lumen.Tenant, "archived-headphones"}, {fx.lumen.Tenant, "glow-headphones"},
		{fx.lumen.Tenant, "panda-headphones"}, {fx.lumen.Tenant, "no-such"},
	} {
		if _, err := fx.s.Product(ctx, tc.tenant, tc.slug, "USD"); !errors.Is(err, search.ErrProductNotFound) {
			t.Errorf("%s: %v, want not found", tc.slug, err)
		}
	}
	// The same slug in two tenants: each tenant gets its own.
	if p, err := fx.s.Product(ctx, fx.panda.Tenant, "oak-table", "CNY"); err != nil || p.Title["en"] != "Panda oak table" {
		t.Errorf("panda's oak-table: %+v %v", p, err)
	}
}

// The public API: answers on the tenant in scope, 422 for bad parameters, 404 for an unknown
// category, and never another tenant's products.
func TestSearchAPI(t *testing.T) {
	fx := setup(t)
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	app.Use(func(c *fiber.Ctx) error {
		if v := c.Get("X-Test-Tenant"); v != "" {
			c.SetUserContext(scope.WithTenant(c.UserContext(), uuid.MustParse(v)))
		}
		return c.Next()
	})
	search.Routes(httpx.NewAPI(app, "test", "1", ""), fx.s)
	get := func(tenant uuid.UUID, path string) (int, []byte) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Test-Tenant", tenant.String())
		resp, err := app.Test(req, 30_000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := get(fx.lumen.Tenant, "/v1/storefront/search?q=headphones&attr=colour:black&attr=colour:white&price=5000-&limit=1")
	var r search.Result
	if status != 200 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("search: %d %s", status, body)
	}
	if r.Total != 2 || len(r.Items) != 1 || r.NextCursor == "" || r.Currency != "USD" {
		t.Errorf("page: %s", body)
	}
	status, body = get(fx.lumen.Tenant, "/v1/storefront/search?q=headphones&attr=colour:black&attr=colour:white&price=5000-&limit=1&cursor="+r.NextCursor)
	var r2 search.Result
	if status != 200 || json.Unmarshal(body, &r2) != nil || len(r2.Items) != 1 || r2.Items[0].Slug == r.Items[0].Slug || r2.NextCursor != "" {
		t.Errorf("second page: %d %s", status, body)
	}
	for _, q := range []string{"sort=cheapest", "price=abc", "price=500-100", "attr=colour", "attr=material:oak", "cursor=%25%25", "limit=-1"} {
		if status, body := get(fx.lumen.Tenant, "/v1/storefront/search?"+q); status != 422 {
			t.Errorf("%s: %d %s, want 422", q, status, body)
		}
	}
	if status, _ := get(fx.lumen.Tenant, "/v1/storefront/search?category=no-such"); status != 404 {
		t.Errorf("unknown category: %d", status)
	}
	if status, _ := get(fx.lumen.Tenant, "/v1/storefront/search?category="+fx.panda.Categories["audio"].String()); status != 404 {
		t.Errorf("panda's category id on lumen: %d", status)
	}
	status, body = get(fx.lumen.Tenant, "/v1/storefront/search?q=panda")
	if status != 200 || json.Unmarshal(body, &r) != nil || r.Total != 0 {
		t.Errorf("panda on lumen: %d %s", status, body)
	}
}

// Reindex rebuilds lost documents: after every document is deleted behind the triggers' back,
// it restores exactly the listed products (5 in lumen, 2 in panda), and search works again.
func TestReindex(t *testing.T) {
	fx := setup(t)
	if err := fx.f.Platform.Do(ctx, "test.drop_documents", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM search_documents")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if r := fx.search(t, fx.lumen.Tenant, search.Query{}); r.Total != 0 {
		t.Fatalf("%d documents after deleting them all", r.Total)
	}
	n, err := search.Reindex(ctx, fx.f.Platform)
	if err != nil {
		t.Fatal(err)
	}
	// lumen: 5 listed + euro-headphones (listed, priced only in EUR); panda: 2.
	if n != 8 {
		t.Errorf("reindex wrote %d documents, want 8", n)
	}
	if r := fx.search(t, fx.lumen.Tenant, search.Query{Q: "蓝牙"}); len(r.Items) != 1 || r.Items[0].Slug != "wireless-headphones" {
		t.Errorf("蓝牙 after reindexing: %v", slugs(r.Items))
	}
}

// Whatever a shopper types is searched for, never an error: quotes, operators of the
// text-search syntax, lone CJK characters, punctuation.
func TestOddQueries(t *testing.T) {
	fx := setup(t)
	for _, q := range []string{"'", `"`, "!!", "a & b", "(", "::", "   ", "<->", "100%", "蓝", "耳", "head:*", `\`, "-headphones",
		"headphones OR table", `"wireless headphones"`, "a\x00b", "🎧", "ｈｅａｄｐｈｏｎｅｓ"} {
		if _, err := fx.s.Search(ctx, fx.lumen.Tenant, search.Query{Q: q}); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
	// A lone character is a lexeme of its own: 蓝 is in 无线蓝牙耳机.
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: "蓝"}).Items); !slices.Equal(got, []string{"wireless-headphones"}) {
		t.Errorf("蓝: %v", got)
	}
	// websearch syntax: a phrase and an exclusion.
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: `"wireless headphones"`}).Items); !slices.Equal(got, []string{"wireless-headphones"}) {
		t.Errorf("phrase: %v", got)
	}
	if got := slugs(fx.search(t, fx.lumen.Tenant, search.Query{Q: "headphones -wireless"}).Items); slices.Contains(got, "wireless-headphones") || len(got) != 3 {
		t.Errorf("headphones -wireless: %v", got)
	}
}

// The one-round-trip reads leave nothing behind on the pooled connection: on a pool of one,
// right after a search and a product read, the tenant setting is empty and RLS shows no
// document; a tenant's read never sees another's rows even on that same connection.
func TestBatchReadLeavesNoTenantBehind(t *testing.T) {
	fx := setup(t)
	one, err := db.Open(ctx, fx.f.Roles.AppURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	s := search.NewService(one)
	for range 3 {
		if _, err := s.Product(ctx, fx.lumen.Tenant, "wireless-headphones", "USD"); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Search(ctx, fx.lumen.Tenant, search.Query{Q: "headphones"}); err != nil || r.Total != 4 {
			t.Fatalf("lumen search: %d %v", r.Total, err)
		}
		var setting string
		var visible int
		if err := one.Bun().NewRaw("SELECT coalesce(current_setting('app.tenant_id', true), ''), (SELECT count(*) FROM search_documents)").
			Scan(ctx, &setting, &visible); err != nil {
			t.Fatal(err)
		}
		if setting != "" || visible != 0 {
			t.Fatalf("after the reads the connection has app.tenant_id %q and sees %d documents", setting, visible)
		}
		if _, err := s.Product(ctx, fx.panda.Tenant, "wireless-headphones", "USD"); !errors.Is(err, search.ErrProductNotFound) {
			t.Fatalf("lumen's product read as panda on the same connection: %v", err)
		}
		if r, err := s.Search(ctx, fx.panda.Tenant, search.Query{Q: "headphones"}); err != nil || len(r.Items) != 1 || r.Items[0].Slug != "panda-headphones" {
			t.Fatalf("panda search on the same connection: %v %v", slugs(r.Items), err)
		}
	}
}
