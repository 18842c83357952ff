package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mercato/apps/demo"
	"mercato/platform/web/browsertest"
	"mercato/tenants/catalog"
)

// TestMerchantListingInBrowser is a merchant listing a product in a marketplace that moderates:
// Northwind's owner opens Products (empty), makes a mistake in the editor and sees it beside
// the field, creates the product, adds a priced variant, uploads a photo and sees it, submits
// it for review; Lumen's owner finds it in the moderation queue, approves it after the
// confirmation dialog, and the list shows it live. Every page passes the accessibility smoke
// check with no console errors, and the key pages are screenshotted.
func TestMerchantListingInBrowser(t *testing.T) {
	w := newWorld(t, true)
	w.requireReview()
	if _, err := w.catalog.CreateCategory(w.asStaff("owner@lumen-goods.test", ""), w.tenant["lumen"],
		catalog.CategoryInput{Slug: "lamps", Name: map[string]string{"en": "Lamps", "zh-CN": "灯具"}}); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(t.TempDir(), "arc-lamp.png")
	if err := os.WriteFile(photo, pngBytes(t), 0o600); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t)
	page := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		if name != "" {
			b.Screenshot(name)
		}
	}
	signIn := func(email string) {
		t.Helper()
		b.Visit(w.URL + "/console/login")
		b.Fill("#f-email", email)
		b.Fill("#f-password", demo.Password)
		if st := b.Submit("#sign-in"); st != 200 {
			t.Fatalf("sign in %s: %d", email, st)
		}
	}

	signIn("owner@northwind.test")
	b.Submit(`.site-nav a[href="/console/products"]`)
	if got := b.Text("h1"); got != "Products" || b.Count("#products") != 0 || !strings.Contains(b.Text(".empty"), "No products yet") {
		t.Errorf("empty product list: h1 %q", got)
	}
	page("console-products-empty-en")

	// A mistake: the error is beside the slug, and what was typed stays.
	b.Submit("#new-product")
	b.Fill("#f-slug", "Arc Lamp!")
	b.Fill("#f-translations-en-title", "Arc lamp")
	if st := b.Submit("#save-product"); st != 422 || !strings.HasSuffix(b.Text("#f-slug-error"), "Use 2 to 100 characters: a–z, 0–9 and -, not starting or ending with -.") {
		t.Errorf("bad slug: %d %q", st, b.Text("#f-slug-error"))
	}
	var typed string
	b.Eval(`document.querySelector("#f-translations-en-title").value`, &typed)
	if typed != "Arc lamp" {
		t.Errorf("the title typed is gone: %q", typed)
	}
	page("console-product-errors-en")

	b.Fill("#f-slug", "arc-lamp")
	b.Fill("#f-translations-zh-CN-title", "弧形落地灯")
	b.Fill("#f-translations-en-description", "A floor lamp with a long arm.")
	b.Fill("#f-options", "size: S, L")
	b.Select("#f-category-id", w.mustCategory(t, "lamps"))
	if st := b.Submit("#save-product"); st != 200 || b.Text(".flash") != "arc-lamp is created as a draft. Add variants and images next." {
		t.Fatalf("create: %d %q", st, b.Text(".flash"))
	}
	page("")

	// A priced variant.
	b.Fill("#f-sku", "ARC-S")
	b.Select("#f-option-size", "S")
	b.Fill("#f-amount", "149.00")
	b.Fill("#f-compare-at", "179.00")
	b.Fill("#f-weight-grams", "4200")
	if st := b.Submit("#add-variant"); st != 200 || b.Text(".flash") != "Variant ARC-S is added." {
		t.Fatalf("add variant: %d %q", st, b.Text(".flash"))
	}
	if got := b.Text(`#variants tr[data-sku="ARC-S"] td.prices`); got != "$149.00 $179.00" {
		t.Errorf("variant prices %q", got)
	}

	// The photo: uploaded through the form, shown from the bucket.
	b.Do("choose photo", chromedp.SetUploadFiles(chromedp.CSS("#f-image"), []string{photo}))
	if st := b.Submit("#upload-image"); st != 200 || b.Text(".flash") != "The image is added." {
		t.Fatalf("upload: %d %q", st, b.Text(".flash"))
	}
	// The image streams from the bucket through the console: it loads as the 8×8 PNG sent.
	b.Do("the uploaded image loads", chromedp.Poll[chromedp.Void](`(() => { const i = document.querySelector("#images img"); return i && i.complete && i.naturalWidth === 8; })()`))
	page("")

	if st := b.Submit("#submit-product"); st != 200 || b.Text(".flash") != "arc-lamp is submitted. The marketplace reviews it before it goes on sale." {
		t.Fatalf("submit: %d %q", st, b.Text(".flash"))
	}
	if got := b.Text("#product-status"); got != "Pending review" {
		t.Errorf("status after submit %q", got)
	}
	page("console-product-editor-en")
	b.Submit(`.account button[type="submit"]`)

	// The marketplace approves it.
	signIn("owner@lumen-goods.test")
	b.Submit(`.site-nav a[href="/console/moderation"]`)
	if got := b.Text(`#queue tr[data-slug="arc-lamp"] td:nth-child(2)`); got != "Northwind Lighting" {
		t.Errorf("queue row store %q", got)
	}
	page("console-moderation-en")
	b.Click(`#queue tr[data-slug="arc-lamp"] button.approve`)
	b.WaitVisible("#confirm-dialog")
	if got := b.Text("#confirm-dialog-text"); got != "Approve Arc lamp? It goes on sale at once." {
		t.Errorf("confirm text %q", got)
	}
	b.ScreenshotViewport("console-moderation-confirm-en")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if got := b.Text(".flash"); got != "arc-lamp is approved and on sale." {
		t.Errorf("approve flash %q", got)
	}
	page("")
	b.Visit(w.URL + "/console/products")
	if got := b.Text(`#products tr[data-slug="arc-lamp"] td:nth-child(3)`); got != "Active" {
		t.Errorf("arc-lamp in the list: %q", got)
	}
	page("console-products-en")
	if st := b.Submit(`.locale-switch button[value="zh-CN"]`); st != 200 || b.Text("h1") != "商品" {
		t.Errorf("products in Chinese: %d %q", st, b.Text("h1"))
	}
	if got := b.Text(`#products tr[data-slug="arc-lamp"] a.cell-main`); got != "弧形落地灯" {
		t.Errorf("the Chinese list shows the title %q", got)
	}
	page("console-products-zh-CN")
	b.Submit(`.locale-switch button[value="en"]`)

	// Stock, once: a location and 12 received.
	b.Submit(`#products tr[data-slug="arc-lamp"] a.cell-main`)
	b.Submit("#stock-link")
	b.Fill("#f-name", "Oslo warehouse")
	b.Submit("#add-location")
	b.Fill("#f-delta", "12")
	if st := b.Submit("#adjust-submit"); st != 200 || b.Text(`#levels tr[data-sku="ARC-S"] td.total`) != "12" {
		t.Errorf("receive stock: %d %q", st, b.Text(`#levels tr[data-sku="ARC-S"] td.total`))
	}
	page("console-inventory-en")
}

// mustCategory is the id of the category with slug in Lumen.
func (w *world) mustCategory(t *testing.T, slug string) string {
	t.Helper()
	cats, err := w.catalog.ListCategories(context.Background(), w.tenant["lumen"])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cats {
		if c.Slug == slug {
			return c.ID.String()
		}
	}
	t.Fatalf("no category %s", slug)
	return ""
}
