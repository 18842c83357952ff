package console_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/tenants/catalog"
)

// multipart posts fields and one file as a browser's multipart form does, with the CSRF token.
func (w *world) multipart(u *who, path string, fields map[string]string, fileField, filename, contentType string, content []byte) response {
	w.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields["_csrf"] = u.csrf
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			w.t.Fatal(err)
		}
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="` + fileField + `"; filename="` + filename + `"`}
	h["Content-Type"] = []string{contentType}
	part, err := mw.CreatePart(h)
	if err != nil {
		w.t.Fatal(err)
	}
	part.Write(content)
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Host = w.baseHost
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var cookies []string
	for k, v := range u.cookies {
		cookies = append(cookies, k+"="+v)
	}
	req.Header.Set("Cookie", strings.Join(cookies, "; "))
	resp, err := w.app.Test(req, 30_000)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(u.cookies, c.Name)
		} else {
			u.cookies[c.Name] = c.Value
		}
	}
	return response{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

// productCount counts a tenant's products as the platform sees them.
func (w *world) productCount(tenant string) int {
	w.t.Helper()
	var n int
	ctx := context.Background()
	if err := w.f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT count(*) FROM products WHERE tenant_id = ?", w.tenant[tenant]).Scan(ctx, &n)
	}); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// fieldError is the text beside a field: its <p class="field-error" id="f-x-error">.
func fieldError(html, id string) string {
	m := regexp.MustCompile(`(?s)<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error">(.*?)</p>`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return strings.TrimPrefix(text(m[1]), "Error: ")
}

var productPath = regexp.MustCompile(`^/console/products/([0-9a-f-]{36})$`)

// createProduct creates a product through the editor and returns its id.
func (w *world) createProduct(u *who, form url.Values) uuid.UUID {
	w.t.Helper()
	r := w.post(u, "/console/products", form)
	m := productPath.FindStringSubmatch(r.location)
	if r.status != http.StatusSeeOther || m == nil {
		w.t.Fatalf("create product: %d %q %s", r.status, r.location, excerpt(r.body))
	}
	return uuid.MustParse(m[1])
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		img.Set(x, x, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The list and the editor: a merchant sees its own products only, tenant staff every store's
// with a store filter; the list sorts; a refused form keeps what was typed, shows each error
// beside its field and saves nothing; a variant with a bad price saves nothing either.
func TestProductListAndEditor(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@northwind.test")
	before := w.productCount("lumen")

	r := w.get(owner, "/console/products")
	if r.status != http.StatusOK || !strings.Contains(text(r.body), "No products yet") {
		t.Errorf("empty list: %d %s", r.status, excerpt(r.body))
	}
	if r := w.get(owner, "/console/products/new"); r.status != http.StatusOK || strings.Contains(r.body, `id="f-merchant-id"`) {
		t.Errorf("a merchant is asked for a store: %d", r.status)
	}

	// A bad slug and no title: 422, errors beside the fields, typed values kept, nothing saved.
	r = w.post(owner, "/console/products", url.Values{"slug": {"Bad Slug!"}, "translations.en.title": {""},
		"translations.zh-CN.title": {"弧形灯"}, "options": {"size: S, M"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad form: %d %s", r.status, excerpt(r.body))
	}
	if got := fieldError(r.body, "f-slug"); got != "Use 2 to 100 characters: a–z, 0–9 and -, not starting or ending with -." {
		t.Errorf("slug error %q", got)
	}
	if !strings.Contains(r.body, `value="Bad Slug!"`) || !strings.Contains(r.body, `value="弧形灯"`) || !strings.Contains(r.body, "size: S, M</textarea>") {
		t.Errorf("the form lost what was typed: %s", excerpt(r.body))
	}
	if r := w.post(owner, "/console/products", url.Values{"slug": {"arc-lamp"}, "options": {"no colon here"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.HasPrefix(fieldError(r.body, "f-options"), "One option per line") {
		t.Errorf("bad options: %d %q", r.status, fieldError(r.body, "f-options"))
	}
	if n := w.productCount("lumen"); n != before {
		t.Fatalf("refused forms saved %d products", n-before)
	}

	id := w.createProduct(owner, url.Values{"slug": {"arc-lamp"}, "translations.en.title": {"Arc lamp"},
		"translations.zh-CN.title": {"弧形灯"}, "options": {"size: S, M, L"}})
	r = w.get(owner, "/console/products/"+id.String())
	if r.status != http.StatusOK || flashOf(r.body) != "arc-lamp is created as a draft. Add variants and images next." ||
		!strings.Contains(r.body, `id="f-option-size"`) || len(leakedKeys(r.body)) > 0 {
		t.Fatalf("editor: %d flash %q leaked %v", r.status, flashOf(r.body), leakedKeys(r.body))
	}
	// The same slug again: beside the slug.
	if r := w.post(owner, "/console/products", url.Values{"slug": {"arc-lamp"}, "translations.en.title": {"Again"}}); r.status != http.StatusUnprocessableEntity ||
		fieldError(r.body, "f-slug") != "This slug is already used in the marketplace. Choose another." {
		t.Errorf("taken slug: %d %q", r.status, fieldError(r.body, "f-slug"))
	}

	// A variant with a price of three decimals in USD: refused beside the price, nothing saved.
	path := "/console/products/" + id.String()
	r = w.post(owner, path+"/variants", url.Values{"sku": {"ARC-S"}, "option.size": {"S"}, "amount": {"49.999"}, "weight_grams": {"1200"}})
	if r.status != http.StatusUnprocessableEntity || fieldError(r.body, "f-amount") != "Enter a price of 0 or more, with no more decimals than the currency has (12.50)." ||
		!strings.Contains(r.body, `value="ARC-S"`) {
		t.Errorf("bad price: %d %q", r.status, fieldError(r.body, "f-amount"))
	}
	if p, _ := w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id); len(p.Variants) != 0 {
		t.Errorf("a refused variant was saved: %+v", p.Variants)
	}
	r = w.post(owner, path+"/variants", url.Values{"sku": {"ARC-S"}, "option.size": {"S"}, "amount": {"49.00"}, "compare_at": {"59.00"}, "weight_grams": {"1200"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("add variant: %d %s", r.status, excerpt(r.body))
	}
	r = w.follow(owner, r)
	row := regexp.MustCompile(`(?s)<tr data-sku="ARC-S".*?</tr>`).FindString(r.body)
	if !strings.Contains(text(row), "$49.00 $59.00") || !strings.Contains(text(row), "1,200 g") || !strings.Contains(text(row), "S") {
		t.Errorf("variant row: %q", text(row))
	}

	// The variant's own page: a price in another currency (a bad code is refused beside the
	// field), new dimensions.
	vp, _ := w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id)
	vpath := path + "/variants/" + vp.Variants[0].ID.String()
	if r := w.get(owner, vpath); r.status != http.StatusOK || len(leakedKeys(r.body)) > 0 || !strings.Contains(r.body, `value="1200"`) {
		t.Errorf("variant page: %d leaked %v", r.status, leakedKeys(r.body))
	}
	if r := w.post(owner, vpath+"/prices", url.Values{"currency": {"EURO"}, "amount": {"45"}}); r.status != http.StatusUnprocessableEntity ||
		fieldError(r.body, "f-currency") != "Enter a currency code such as USD, EUR or CNY." {
		t.Errorf("bad currency: %d %q", r.status, fieldError(r.body, "f-currency"))
	}
	if r := w.follow(owner, w.post(owner, vpath+"/prices", url.Values{"currency": {"eur"}, "amount": {"45.00"}})); flashOf(r.body) != "The EUR price of ARC-S is set." ||
		!strings.Contains(text(r.body), "€45.00") {
		t.Errorf("EUR price: %q", flashOf(r.body))
	}
	if r := w.post(owner, vpath, url.Values{"sku": {"ARC-S"}, "option.size": {"S"}, "status": {"active"}, "weight_grams": {"heavy"}}); r.status != http.StatusUnprocessableEntity ||
		fieldError(r.body, "f-weight-grams") != "Enter a whole number of grams, 0 to 10,000,000." {
		t.Errorf("bad weight: %d %q", r.status, fieldError(r.body, "f-weight-grams"))
	}
	if r := w.post(owner, vpath, url.Values{"sku": {"ARC-S"}, "option.size": {"S"}, "status": {"active"}, "weight_grams": {"1300"}, "height_mm": {"1800"}}); r.status != http.StatusSeeOther {
		t.Errorf("save variant: %d %s", r.status, excerpt(r.body))
	}
	if vp, _ = w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id); *vp.Variants[0].WeightGrams != 1300 || *vp.Variants[0].HeightMM != 1800 || len(vp.Variants[0].Prices) != 2 {
		t.Errorf("after saving the variant: %+v", vp.Variants[0])
	}

	// Two more products, one of another store: the list sorts by slug both ways; the
	// merchant sees only its own; tenant staff filter by store.
	w.createProduct(owner, url.Values{"slug": {"bulb"}, "translations.en.title": {"Bulb"}})
	admin := w.signIn("owner@lumen-goods.test")
	w.createProduct(admin, url.Values{"merchant_id": {w.merchant["oak-and-ash"].String()}, "slug": {"chair"}, "translations.en.title": {"Chair"}})
	slugs := func(html string) string {
		var out []string
		for _, m := range regexp.MustCompile(`<tr data-href="/console/products/[^"]+" data-slug="([^"]+)"`).FindAllStringSubmatch(html, -1) {
			out = append(out, m[1])
		}
		return strings.Join(out, " ")
	}
	list := w.get(owner, "/console/products?sort=slug&dir=asc")
	if got := slugs(list.body); got != "arc-lamp bulb" {
		t.Errorf("merchant's list by slug: %q", got)
	}
	if got := text(regexp.MustCompile(`(?s)<thead>.*?</thead>`).FindString(list.body)); got != "Product ▲ Status Variants Created ↕" {
		t.Errorf("merchant's list columns: %q", got)
	}
	if got := slugs(w.get(admin, "/console/products?sort=slug&dir=desc").body); !strings.HasPrefix(got, "chair bulb arc-lamp") {
		t.Errorf("tenant list by slug, descending: %q", got)
	}
	if got := slugs(w.get(admin, "/console/products?merchant="+w.merchant["oak-and-ash"].String()).body); got != "chair" {
		t.Errorf("store filter: %q", got)
	}
	if got := slugs(w.get(admin, "/console/products?status=active").body); got != "" {
		t.Errorf("status filter (none active): %q", got)
	}
	// Another store's product is absent to the merchant.
	chair, _ := w.catalog.ListProducts(context.Background(), w.tenant["lumen"], catalog.ListFilter{MerchantID: w.merchant["oak-and-ash"]})
	if r := w.get(owner, "/console/products/"+chair.Items[0].ID.String()); r.status != http.StatusNotFound {
		t.Errorf("another store's product: %d", r.status)
	}

	// CSV: the import page shows its report; the export downloads the merchant's rows.
	csvFile := "product_slug,title_en,sku,options,price_USD\narc-lamp,Arc lamp,ARC-M,size=M,59.00\nbad slug,X,X-1,,1\n"
	r = w.multipart(owner, "/console/products/import", map[string]string{}, "file", "products.csv", "text/csv", []byte(csvFile))
	if r.status != http.StatusOK || text(regexp.MustCompile(`(?s)<dd id="import-created">.*?</dd>`).FindString(r.body)) != "1" ||
		!strings.Contains(text(r.body), "3 product_slug 2–100 characters of a-z, 0-9 and -, not starting or ending with -") {
		t.Errorf("import report: %d %s", r.status, excerpt(r.body))
	}
	// Paging: with 25 more products the list shows 20, then the rest behind "next".
	var many strings.Builder
	many.WriteString("product_slug,title_en,sku\n")
	for i := range 25 {
		many.WriteString("page-" + string(rune('a'+i)) + "x,Paged,PAGE-" + string(rune('A'+i)) + "\n")
	}
	if rep, err := w.catalog.ImportCSV(w.asStaff("owner@northwind.test", "northwind-lighting"), w.tenant["lumen"], []byte(many.String())); err != nil || rep.Created != 25 {
		t.Fatalf("import 25: %v %+v", err, rep)
	}
	first := w.get(owner, "/console/products?sort=slug&dir=asc")
	next := regexp.MustCompile(`<a class="btn" rel="next" href="([^"]+)"`).FindStringSubmatch(first.body)
	if n := strings.Count(slugs(first.body), " ") + 1; n != 20 || next == nil {
		t.Fatalf("first page: %d rows, next %v", n, next)
	}
	second := w.get(owner, "/console/products"+strings.ReplaceAll(next[1], "&amp;", "&"))
	all := slugs(first.body) + " " + slugs(second.body)
	if got := strings.Count(all, " ") + 1; got != 27 || !strings.HasPrefix(all, "arc-lamp bulb page-ax") || !strings.HasSuffix(all, "page-yx") {
		t.Errorf("two pages hold %d products: %q", got, all)
	}

	r = w.get(owner, "/console/products/export")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(r.body, "ARC-M") || strings.Contains(r.body, "chair") {
		t.Errorf("export: %d %q\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// Images: only PNG, JPEG and WebP by their bytes; the file goes to the bucket under the
// tenant's and merchant's prefix, and the console streams it back to who may see the product.
func TestProductImageUpload(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@northwind.test")
	id := w.createProduct(owner, url.Values{"slug": {"lamp"}, "translations.en.title": {"Lamp"}})
	path := "/console/products/" + id.String()

	for name, body := range map[string][]byte{
		"text called .png": []byte("this is not an image at all"),
		"gif":              []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"),
	} {
		r := w.multipart(owner, path+"/images", map[string]string{}, "image", "lamp.png", "image/png", body)
		if r.status != http.StatusUnprocessableEntity || fieldError(r.body, "f-image") != "This file is not a PNG, JPEG or WebP image." {
			t.Errorf("%s: %d %q", name, r.status, fieldError(r.body, "f-image"))
		}
	}
	if p, _ := w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id); len(p.Images) != 0 {
		t.Fatalf("refused uploads added images: %+v", p.Images)
	}

	img := pngBytes(t)
	r := w.multipart(owner, path+"/images", map[string]string{}, "image", "lamp.jpg", "image/jpeg", img) // the name lies; the bytes decide
	if r.status != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", r.status, excerpt(r.body))
	}
	p, err := w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id)
	if err != nil || len(p.Images) != 1 {
		t.Fatalf("after upload: %v %+v", err, p.Images)
	}
	prefix := "t/" + w.tenant["lumen"].String() + "/m/" + w.merchant["northwind-lighting"].String() + "/products/"
	if !strings.HasPrefix(p.Images[0].Key, prefix) {
		t.Errorf("key %q, want under %q", p.Images[0].Key, prefix)
	}
	obj, info, err := w.blob.Get(context.Background(), p.Images[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(obj)
	obj.Close()
	if !bytes.Equal(stored, img) || info.ContentType != "image/png" {
		t.Errorf("stored %d bytes as %q", len(stored), info.ContentType)
	}
	page := w.get(owner, path)
	src := "/console/products/" + id.String() + "/images/" + p.Images[0].ID.String()
	if !strings.Contains(page.body, `<img src="`+src+`"`) {
		t.Errorf("the editor does not show the image")
	}
	r = w.get(owner, src)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" || r.body != string(img) {
		t.Errorf("image route: %d %q %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	if r := w.get(w.signIn("owner@xiangyun.test"), src); r.status != http.StatusNotFound {
		t.Errorf("another marketplace's store read the image: %d", r.status)
	}
}

// listable gives a product what the listing rules ask for: a category, an image and a priced
// variant (its English title comes from the editor).
func (w *world) listable(t *testing.T, id uuid.UUID, merchant string) {
	t.Helper()
	ctx := w.asStaff("owner@lumen-goods.test", "")
	cat, err := w.catalog.CreateCategory(ctx, w.tenant["lumen"], catalog.CategoryInput{Slug: "cat-" + id.String()[:8], Name: map[string]string{"en": "Lamps"}})
	if err != nil {
		t.Fatal(err)
	}
	mctx := w.asStaff("owner@lumen-goods.test", merchant)
	if _, err := w.catalog.UpdateProduct(mctx, w.tenant["lumen"], id, catalog.ProductPatch{CategoryID: &cat.ID, Images: []catalog.Image{{Key: "t/x/lamp.png"}}}); err != nil {
		t.Fatal(err)
	}
	v, err := w.catalog.AddVariant(mctx, w.tenant["lumen"], id, catalog.VariantInput{SKU: "SKU-" + id.String()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.catalog.SetPrice(mctx, w.tenant["lumen"], id, v.ID, catalog.PriceInput{Currency: "USD", Amount: "25.00"}); err != nil {
		t.Fatal(err)
	}
}

// requireReview makes Lumen moderate new listings.
func (w *world) requireReview() {
	w.t.Helper()
	ctx := context.Background()
	if err := w.f.Platform.Do(ctx, "test.settings", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, `UPDATE tenants SET settings = settings || '{"require_listing_review": true}'::jsonb WHERE id = ?`, w.tenant["lumen"])
		return err
	}); err != nil {
		w.t.Fatal(err)
	}
}

// Moderation: a submitted product waits in the queue for tenant staff (merchants may not open
// it); a rejection needs a note, returns the product to draft and shows the note to the store;
// an approval puts it on sale and empties the queue.
func TestModerationApproveAndReject(t *testing.T) {
	w := newWorld(t, false)
	w.requireReview()
	owner, moderator := w.signIn("owner@northwind.test"), w.signIn("moderator@lumen-goods.test")
	id := w.createProduct(owner, url.Values{"slug": {"desk-lamp"}, "translations.en.title": {"Desk lamp"}})
	path := "/console/products/" + id.String()

	// Not listable yet: the reasons come back in a flash, the product stays a draft.
	r := w.follow(owner, w.post(owner, path+"/submit", nil))
	if !strings.HasPrefix(flashOf(r.body), "Not listed yet: ") {
		t.Errorf("submit an empty product: flash %q", flashOf(r.body))
	}
	w.listable(t, id, "northwind-lighting")
	r = w.follow(owner, w.post(owner, path+"/submit", nil))
	if flashOf(r.body) != "desk-lamp is submitted. The marketplace reviews it before it goes on sale." || !strings.Contains(r.body, `id="pending-note"`) {
		t.Fatalf("submit: %q", flashOf(r.body))
	}

	if r := w.get(owner, "/console/moderation"); r.status != http.StatusForbidden {
		t.Errorf("a merchant opened the queue: %d", r.status)
	}
	r = w.get(moderator, "/console/moderation")
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-slug="desk-lamp"`) || len(leakedKeys(r.body)) > 0 {
		t.Fatalf("queue: %d leaked %v %s", r.status, leakedKeys(r.body), excerpt(r.body))
	}
	if r := w.get(moderator, path); !strings.Contains(r.body, `id="approve-product"`) {
		t.Error("the product page offers the moderator no approval")
	}
	if r := w.get(owner, path); strings.Contains(r.body, `id="approve-product"`) {
		t.Error("the product page offers the merchant an approval")
	}
	if r := w.post(owner, "/console/moderation/"+id.String()+"/approve", nil); r.status != http.StatusForbidden {
		t.Errorf("a merchant approved its own product: %d", r.status)
	}

	// Reject without a note: refused beside the note, still pending.
	r = w.post(moderator, "/console/moderation/"+id.String()+"/reject", url.Values{"note": {"  "}})
	if r.status != http.StatusUnprocessableEntity || fieldError(r.body, "note-"+id.String()) != "Say what the store should change (up to 1,000 characters)." {
		t.Errorf("reject without a note: %d %q", r.status, fieldError(r.body, "note-"+id.String()))
	}
	if p, _ := w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id); p.Status != catalog.StatusPendingReview {
		t.Fatalf("after a refused rejection: %s", p.Status)
	}
	r = w.follow(moderator, w.post(moderator, "/console/moderation/"+id.String()+"/reject", url.Values{"note": {"Add a photo of the lamp lit."}}))
	if flashOf(r.body) != "desk-lamp is sent back to the store with your note." || strings.Contains(r.body, `data-slug="desk-lamp"`) {
		t.Errorf("reject: %q", flashOf(r.body))
	}
	r = w.get(owner, path)
	if got := text(regexp.MustCompile(`(?s)<div class="flash flash-error" role="status" id="review-note">.*?</div>`).FindString(r.body)); got != "Changes requested by the marketplace: Add a photo of the lamp lit." {
		t.Errorf("the store sees the note as %q", got)
	}

	// Submit again, approve: on sale, the queue is empty.
	w.post(owner, path+"/submit", nil)
	r = w.follow(moderator, w.post(moderator, "/console/moderation/"+id.String()+"/approve", nil))
	if flashOf(r.body) != "desk-lamp is approved and on sale." || !strings.Contains(text(r.body), "Nothing to review") {
		t.Errorf("approve: %q %s", flashOf(r.body), excerpt(r.body))
	}
	if p, _ := w.catalog.GetProduct(context.Background(), w.tenant["lumen"], id); p.Status != catalog.StatusActive {
		t.Errorf("after approval: %s", p.Status)
	}
}

// Stock: a location first, then adjustments with a reason; a change that would take stock
// below zero is refused beside the amount and changes nothing; the history lists what
// happened; marketplace staff (who may only read stock) see it without the forms.
func TestInventoryAdjust(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@northwind.test")
	id := w.createProduct(owner, url.Values{"slug": {"bulb"}, "translations.en.title": {"Bulb"}})
	path := "/console/products/" + id.String()
	if r := w.post(owner, path+"/variants", url.Values{"sku": {"BULB-1"}, "amount": {"3.00"}}); r.status != http.StatusSeeOther {
		t.Fatalf("variant: %d %s", r.status, excerpt(r.body))
	}
	r := w.get(owner, path+"/inventory")
	if r.status != http.StatusOK || !strings.Contains(text(r.body), "No stock locations yet") || len(leakedKeys(r.body)) > 0 {
		t.Fatalf("stock page: %d leaked %v", r.status, leakedKeys(r.body))
	}
	r = w.follow(owner, w.post(owner, path+"/inventory/locations", url.Values{"name": {"Oslo warehouse"}}))
	if flashOf(r.body) != "Oslo warehouse is added." {
		t.Fatalf("location: %q", flashOf(r.body))
	}
	loc := regexp.MustCompile(`<option value="([0-9a-f-]{36})">Oslo warehouse</option>`).FindStringSubmatch(r.body)
	variant := regexp.MustCompile(`<option value="([0-9a-f-]{36})">BULB-1</option>`).FindStringSubmatch(r.body)
	if loc == nil || variant == nil {
		t.Fatalf("adjust form: %s", excerpt(r.body))
	}
	adjust := func(delta, reason string) response {
		return w.post(owner, path+"/inventory/adjust", url.Values{"variant_id": {variant[1]}, "location_id": {loc[1]}, "delta": {delta}, "reason": {reason}, "note": {"count"}})
	}
	if r := adjust("0", "received"); r.status != http.StatusUnprocessableEntity || !strings.HasPrefix(fieldError(r.body, "f-delta"), "Enter a whole number other than 0") {
		t.Errorf("zero: %d %q", r.status, fieldError(r.body, "f-delta"))
	}
	if r := w.follow(owner, adjust("10", "received")); flashOf(r.body) != "The stock is adjusted." ||
		text(regexp.MustCompile(`(?s)<tr data-sku="BULB-1">.*?</tr>`).FindString(r.body)) != "BULB-1 10 on hand · 0 held · 10 available 10" {
		t.Errorf("receive 10: %q %q", flashOf(r.body), text(regexp.MustCompile(`(?s)<tr data-sku="BULB-1">.*?</tr>`).FindString(r.body)))
	}
	r = adjust("-11", "damaged")
	if r.status != http.StatusUnprocessableEntity || fieldError(r.body, "f-delta") != "That would leave less than zero on hand." || !strings.Contains(r.body, `value="-11"`) {
		t.Errorf("below zero: %d %q", r.status, fieldError(r.body, "f-delta"))
	}
	r = w.follow(owner, adjust("-3", "damaged"))
	var reasons []string
	for _, m := range regexp.MustCompile(`<tr data-reason="([a-z]+)">`).FindAllStringSubmatch(r.body, -1) {
		reasons = append(reasons, m[1])
	}
	if strings.Join(reasons, " ") != "damaged received" || !strings.Contains(text(r.body), "7 on hand") {
		t.Errorf("history %v", reasons)
	}
	levels, err := w.inventory.Levels(context.Background(), w.tenant["lumen"], uuid.MustParse(variant[1]))
	if err != nil || len(levels) != 1 || levels[0].OnHand != 7 {
		t.Errorf("levels: %v %+v", err, levels)
	}

	moderator := w.signIn("moderator@lumen-goods.test")
	if r := w.get(moderator, path+"/inventory"); r.status != http.StatusOK || strings.Contains(r.body, `id="adjust-form"`) || !strings.Contains(text(r.body), "7 on hand") {
		t.Errorf("tenant staff's stock page: %d", r.status)
	}
	if r := w.post(moderator, path+"/inventory/adjust", url.Values{"variant_id": {variant[1]}, "location_id": {loc[1]}, "delta": {"5"}, "reason": {"received"}}); r.status != http.StatusForbidden {
		t.Errorf("tenant staff adjusted stock: %d", r.status)
	}
}
