package storefront_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/blob"
	"mercato/platform/db/dbtest"
	"mercato/platform/devservices"
	"mercato/platform/scope"
	"mercato/platform/web/browsertest"
	"mercato/tenants/promotions"
	"mercato/tenants/search/searchtest"
)

// squarePNG is a small picture in one colour, a stand-in for a product photo.
func squarePNG(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		for y := range 64 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBrowseJourneyInBrowser: in Chromium, a shopper searches a store in Chinese, narrows the
// results with a filter, opens a product whose photo comes from MinIO through /media/, sees a
// flash sale with its countdown ticking, browses a category, and reads the same store in
// English. Every page passes the accessibility smoke check with no console errors.
func TestBrowseJourneyInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	svc, err := devservices.Ensure(ctx, devservices.Options{MinIO: true, Detach: true})
	if err != nil {
		t.Fatalf("MinIO: %v", err)
	}
	store, err := blob.Open(blob.Options{Endpoint: svc.MinIOEndpoint, AccessKey: svc.MinIOAccessKey, SecretKey: svc.MinIOSecretKey,
		Bucket: "storefront-browse-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	var promos *promotions.Service
	w := newWorldWith(t, "localhost", nil, func(d *storefront.Deps, f *dbtest.Fixture) {
		d.Blob = store
		promos = promotions.NewService(f.App, audit.Recorder{})
		d.Promotions = promos
	})
	lumen := w.tenant["lumen"]
	key := func(name string) string { return "t/" + lumen.String() + "/m/" + uuid.NewString() + "/image/" + name }
	photos := map[string][]byte{key("headphones"): squarePNG(t, color.RGBA{20, 20, 20, 255}), key("studio"): squarePNG(t, color.RGBA{240, 240, 240, 255})}
	var keys []string
	for k, body := range photos {
		if err := store.Put(ctx, k, "image/png", bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		t.Cleanup(func() { _ = store.Delete(context.Background(), k) })
	}
	cat := shopCatalog[0]
	cat.Products = append([]searchtest.Product(nil), cat.Products...)
	for i := range cat.Products {
		switch cat.Products[i].Slug {
		case "wireless-headphones":
			cat.Products[i].Images = []string{keys[0]}
		case "studio-headphones":
			cat.Products[i].Images = []string{keys[1]}
		}
	}
	ids, err := searchtest.Seed(scope.WithActor(ctx, "system:test"), w.f.Platform, cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := promos.CreateFlashSale(scope.WithActor(ctx, "user:tenant-admin"), lumen, promotions.FlashSaleInput{
		VariantID: ids.Variants["WH-BLK"], Price: "59.00", Quantity: 10, EndsAt: time.Now().Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	port := w.serve()
	base := "http://lumen.localhost:" + port
	b := browsertest.New(t)
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}

	if st := b.Visit(base + "/"); st != 200 {
		t.Fatalf("home: %d", st)
	}
	if n := b.Count(".product-card"); n != 3 {
		t.Errorf("%d featured products, want 3", n)
	}
	check("storefront-home-featured")

	// Search in Chinese from the home page's box.
	b.Fill("#search-q", "耳机")
	if st := b.Submit(`form[role=search] button[type=submit]`); st != 200 {
		t.Fatalf("search: %d", st)
	}
	if got := b.Text("h1"); got != "Results for “耳机”" {
		t.Errorf("h1 %q", got)
	}
	if n := b.Count(".product-card"); n != 2 {
		t.Errorf("%d results for 耳机, want 2", n)
	}
	check("storefront-search-results")

	// Narrow to white with the filter form (plain GET, no script needed).
	b.Click(`input[name=attr][value="colour:white"]`)
	b.Submit("#apply-filters")
	if n := b.Count(".product-card"); n != 1 || !strings.Contains(b.Text(".product-card h3"), "Studio Headphones") {
		t.Errorf("white: %d cards (%q)", n, b.Text(".product-card h3"))
	}
	if !strings.Contains(b.URL(), "attr=colour%3Awhite") {
		t.Errorf("filter not in the address: %s", b.URL())
	}
	check("")

	// The product with a flash sale; its photo loads through /media/.
	if st := b.Visit(base + "/p/wireless-headphones"); st != 200 {
		t.Fatalf("product: %d", st)
	}
	var width int
	b.Do("wait for the photo", chromedpWaitImages())
	b.Eval(`document.querySelector("section img").naturalWidth`, &width)
	if width != 64 {
		t.Errorf("product photo naturalWidth %d, want 64 (served from MinIO)", width)
	}
	if got := b.Text("#price strong"); got != "$59.00" {
		t.Errorf("flash price %q", got)
	}
	first := b.Text(".countdown")
	time.Sleep(1100 * time.Millisecond)
	if second := b.Text(".countdown"); second == first || !strings.HasPrefix(second, "01:5") {
		t.Errorf("countdown %q then %q: not ticking down from under 2 h", first, second)
	}
	if got := b.Text("#variant-1-stock"); got != "Only 3 left" {
		t.Errorf("silver stock %q", got)
	}
	check("storefront-product-flash-sale")

	// The category it sits in, from the link above the title.
	b.Submit(`nav a[href="/c/headphones"]`)
	if got := b.Text("h1"); got != "Headphones" {
		t.Errorf("category h1 %q", got)
	}
	b.Select("#sort", "price_desc")
	b.Submit("#apply-filters")
	if got := b.Text(".product-card h3"); got != "Studio Headphones" {
		t.Errorf("most expensive first: %q", got)
	}
	check("storefront-category")

	// A phone.
	b.Viewport(390, 844)
	b.Visit(base + "/p/studio-headphones")
	check("storefront-product-phone")
}

// chromedpWaitImages waits until every image of the page has loaded (or failed).
func chromedpWaitImages() chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`Array.from(document.images).every(i => i.complete)`)
}
