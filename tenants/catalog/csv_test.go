package catalog_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
)

// csvFixture adds what the files below refer to: a category and four attributes.
func (fx fixture) csvFixture(t *testing.T) {
	t.Helper()
	if _, err := fx.s.CreateCategory(staff(), fx.lumen, catalog.CategoryInput{Slug: "lamps", Name: map[string]string{"en": "Lamps"}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []catalog.Attribute{
		{Code: "material", Type: "text", Name: map[string]string{"en": "Material"}},
		{Code: "wattage", Type: "integer", Name: map[string]string{"en": "Wattage"}},
	} {
		if _, err := fx.s.DefineAttribute(staff(), fx.lumen, a); err != nil {
			t.Fatal(err)
		}
	}
}

func (fx fixture) auditCount(t *testing.T, action string) int {
	t.Helper()
	var n int
	ctx := context.Background()
	if err := fx.f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT count(*) FROM audit_entries WHERE tenant_id = ? AND action = ?", fx.lumen, action).Scan(ctx, &n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (fx fixture) bySlug(t *testing.T, ctx context.Context, slug string) (catalog.Product, bool) {
	t.Helper()
	page, err := fx.s.ListProducts(ctx, fx.lumen, catalog.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range page.Items {
		if p.Slug == slug {
			return p, true
		}
	}
	return catalog.Product{}, false
}

const mixedHeader = "product_slug,merchant,title_en,title_zh-CN,description_en,category_slug,status,sku,options,price_USD,compare_at_USD,price_EUR,weight_grams,attr_material,attr_wattage\n"

// mixedRows: lines 2, 3, 12 and 14 are good; every other line has exactly one fault.
var mixedRows = []string{
	"arc-lamp,northwind-lighting,Arc lamp,弧形灯,Bright,lamps,draft,ARC-S,size=S;colour=black,49.00,59.00,45.00,1200,steel,40",
	"arc-lamp,northwind-lighting,Arc lamp,弧形灯,Bright,lamps,draft,ARC-L,size=L;colour=black,79.50,,,1800,steel,40",
	"desk-lamp,northwind-lighting,Desk lamp,,,lamps,,DESK-1,,19.99,,,,brass,abc",
	"Bad Slug!,northwind-lighting,X,,,,,X-1,,1,,,,,",
	"stool,oak-and-ash,Stool,凳子,,,,STOOL-1,,12.345,,,,oak,",
	"stool-two,oak-and-ash,Stool two,,,,,STOOL-2,,10.00,9.00,,,,",
	"arc-lamp,northwind-lighting,Arc lamp in brass,弧形灯,Bright,lamps,draft,ARC-M,size=M;colour=black,59.00,,,,steel,40",
	"shelf,oak-and-ash,Shelf,,,no-such-cat,,SHELF-1,,5,,,,,",
	"bench,oak-and-ash,Bench,,,,,ARC-S,,5,,,,,",
	"table,nobody,Table,,,,,TABLE-1,,5,,,,,",
	"lantern,oak-and-ash,Lantern,,,,,LANTERN-1,,25.00,,,500,,",
	"arc-lamp,northwind-lighting,Arc lamp,弧形灯,Bright,lamps,draft,ARC-XL,size=XL,99.00,,,,steel,40",
	"rug,oak-and-ash,Rug,,,,,,,,,,,,",
}

var mixedErrors = []catalog.ImportError{
	{Line: 4, Field: "attr_wattage", Message: "a whole number"},
	{Line: 5, Field: "product_slug", Message: "2–100 characters of a-z, 0-9 and -, not starting or ending with -"},
	{Line: 6, Field: "price_USD", Message: "a decimal with at most 2 fraction digits for USD"},
	{Line: 7, Field: "compare_at_USD", Message: "above the price"},
	{Line: 8, Field: "title_en", Message: "differs from line 2 of the same product"},
	{Line: 9, Field: "category_slug", Message: "no category with this slug"},
	{Line: 10, Field: "sku", Message: "the sku is already on line 2"},
	{Line: 11, Field: "merchant", Message: "no merchant with this handle"},
	{Line: 13, Field: "options", Message: "must give a value for each of the product's options: colour, size"},
}

func mixedFile() []byte { return []byte(mixedHeader + strings.Join(mixedRows, "\n") + "\n") }

func wantReport(t *testing.T, what string, got catalog.ImportReport, created, updated, unchanged int, errs []catalog.ImportError) {
	t.Helper()
	if got.Created != created || got.Updated != updated || got.Unchanged != unchanged {
		t.Errorf("%s: created %d updated %d unchanged %d, want %d %d %d", what, got.Created, got.Updated, got.Unchanged, created, updated, unchanged)
	}
	if errs == nil {
		errs = []catalog.ImportError{}
	}
	if !reflect.DeepEqual(got.Errors, errs) {
		t.Errorf("%s: errors\n got %+v\nwant %+v", what, got.Errors, errs)
	}
}

// A file of good and bad rows: the good ones are imported, the bad ones reported exactly; the
// same file again changes nothing and writes no audit entry; a changed file updates only what
// changed; the export imports back unchanged.
func TestImportMixedRowsIdempotentAndRoundTrip(t *testing.T) {
	fx := setup(t)
	fx.csvFixture(t)
	rep, err := fx.s.ImportCSV(staff(), fx.lumen, mixedFile())
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "first import", rep, 4, 0, 0, mixedErrors)

	arc, ok := fx.bySlug(t, staff(), "arc-lamp")
	if !ok {
		t.Fatal("arc-lamp was not created")
	}
	if arc.Status != catalog.StatusDraft || arc.MerchantID != fx.m1 || arc.Translations["zh-CN"].Title != "弧形灯" ||
		arc.Translations["en"] != (catalog.Translation{Title: "Arc lamp", Description: "Bright"}) || arc.CategoryID == nil ||
		string(arc.Attributes["material"]) != `"steel"` || string(arc.Attributes["wattage"]) != `40` {
		t.Errorf("arc-lamp: %+v", arc)
	}
	if len(arc.Options) != 2 || arc.Options[0].Code != "size" || !reflect.DeepEqual(arc.Options[0].Values, []string{"S", "L"}) ||
		!reflect.DeepEqual(arc.Options[1].Values, []string{"black"}) {
		t.Errorf("arc-lamp options: %+v", arc.Options)
	}
	if len(arc.Variants) != 2 {
		t.Fatalf("arc-lamp variants: %+v", arc.Variants)
	}
	s, l := arc.Variants[0], arc.Variants[1]
	if s.SKU != "ARC-S" || *s.WeightGrams != 1200 || s.OptionValues["size"] != "S" || len(s.Prices) != 2 ||
		s.Prices[0] != (catalog.Price{Currency: "EUR", AmountMinor: 4500}) || s.Prices[1].AmountMinor != 4900 || *s.Prices[1].CompareAtMinor != 5900 {
		t.Errorf("ARC-S: %+v %+v", s, s.Prices)
	}
	if l.SKU != "ARC-L" || len(l.Prices) != 1 || l.Prices[0].AmountMinor != 7950 || l.Prices[0].CompareAtMinor != nil {
		t.Errorf("ARC-L: %+v %+v", l, l.Prices)
	}
	if rug, ok := fx.bySlug(t, staff(), "rug"); !ok || len(rug.Variants) != 0 || rug.MerchantID != fx.m2 {
		t.Errorf("rug (a product without variants): %v %+v", ok, rug)
	}
	for _, slug := range []string{"desk-lamp", "stool", "stool-two", "shelf", "bench", "table"} {
		if _, ok := fx.bySlug(t, staff(), slug); ok {
			t.Errorf("%s was created from a rejected row", slug)
		}
	}
	if n := fx.auditCount(t, "product.import"); n != 3 {
		t.Errorf("%d product.import audit entries, want 3 (arc-lamp, lantern, rug)", n)
	}

	// Again: nothing changes, not even the audit log.
	rep, err = fx.s.ImportCSV(staff(), fx.lumen, mixedFile())
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "second import", rep, 0, 0, 4, mixedErrors)
	if n := fx.auditCount(t, "product.import"); n != 3 {
		t.Errorf("the unchanged import wrote audit entries: %d, want 3", n)
	}

	// A new title on both rows of arc-lamp and a new price for ARC-L: the first row carries
	// the product's change, the second its price.
	changed := fmt.Sprintf("%s%s\n%s\n",
		mixedHeader,
		strings.Replace(mixedRows[0], "Arc lamp,", "Arc floor lamp,", 1),
		strings.Replace(strings.Replace(mixedRows[1], "Arc lamp,", "Arc floor lamp,", 1), "79.50", "75.00", 1))
	rep, err = fx.s.ImportCSV(staff(), fx.lumen, []byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "changed import", rep, 0, 2, 0, nil)
	if n := fx.auditCount(t, "product.import"); n != 4 {
		t.Errorf("%d product.import audit entries after one product changed, want 4", n)
	}
	arc, _ = fx.bySlug(t, staff(), "arc-lamp")
	if arc.Translations["en"].Title != "Arc floor lamp" || arc.Variants[1].Prices[0].AmountMinor != 7500 {
		t.Errorf("after the change: %+v %+v", arc.Translations, arc.Variants[1].Prices)
	}

	// The export: a row per variant with the import's columns, and it imports back unchanged.
	var out bytes.Buffer
	if err := fx.s.ExportCSV(staff(), fx.lumen, &out); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{} // by sku, or slug for a row without one
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, col := range records[0] {
			row[col] = rec[i]
		}
		key := row["sku"]
		if key == "" {
			key = row["product_slug"]
		}
		rows[key] = row
	}
	wantARCS := map[string]string{"product_slug": "arc-lamp", "merchant": "northwind-lighting", "title_en": "Arc floor lamp",
		"title_zh-CN": "弧形灯", "description_en": "Bright", "category_slug": "lamps", "status": "draft", "options": "size=S;colour=black",
		"weight_grams": "1200", "price_USD": "49.00", "compare_at_USD": "59.00", "price_EUR": "45.00", "attr_material": "steel", "attr_wattage": "40"}
	for col, want := range wantARCS {
		if got := rows["ARC-S"][col]; got != want {
			t.Errorf("export ARC-S %s = %q, want %q", col, got, want)
		}
	}
	if rows["rug"]["sku"] != "" || rows["rug"]["title_en"] != "Rug" {
		t.Errorf("export rug: %v", rows["rug"])
	}
	before := fx.auditCount(t, "product.import")
	rep, err = fx.s.ImportCSV(staff(), fx.lumen, out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "export imported back", rep, 0, 0, len(records)-1, nil)
	if n := fx.auditCount(t, "product.import"); n != before {
		t.Errorf("importing the export wrote %d audit entries", n-before)
	}
}

// Merchant staff import only into their own store: another merchant's slug, handle or sku is
// a row error and the other merchant's product is untouched; their export holds only their own.
func TestImportMerchantScope(t *testing.T) {
	fx := setup(t)
	fx.csvFixture(t)
	seed := mixedHeader +
		"oak-stool,oak-and-ash,Oak stool,,,,,OAK-1,,30.00,,,,,\n" +
		"nw-lamp,northwind-lighting,Lamp,,,,,NW-1,,30.00,,,,,\n"
	if rep, err := fx.s.ImportCSV(staff(), fx.lumen, []byte(seed)); err != nil || rep.Created != 2 {
		t.Fatalf("seed: %v %+v", err, rep)
	}
	asM1 := merchantCtx(fx.m1)
	file := "product_slug,title_en,sku,price_USD\n" +
		"nw-lamp,Lamp,NW-1,32.00\n" + // its own: updated
		"oak-stool,Mine now,OAK-9,1.00\n" + // another merchant's slug
		"my-stool,My stool,OAK-1,1.00\n" + // another merchant's sku
		"nw-shade,Shade,NW-2,5.00\n" // new: created
	rep, err := fx.s.ImportCSV(asM1, fx.lumen, []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "merchant import", rep, 1, 1, 0, []catalog.ImportError{
		{Line: 3, Field: "product_slug", Message: "the slug belongs to another merchant's product"},
		{Line: 4, Field: "sku", Message: "the sku belongs to another merchant's product"},
	})
	withHandle := "product_slug,merchant,title_en,sku\nnw-desk,oak-and-ash,Desk,NW-3\nnw-desk-2,northwind-lighting,Desk,NW-4\n"
	rep, err = fx.s.ImportCSV(asM1, fx.lumen, []byte(withHandle))
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "merchant import naming a store", rep, 1, 0, 0, []catalog.ImportError{
		{Line: 2, Field: "merchant", Message: "you can import only into your own store"},
	})
	oak, ok := fx.bySlug(t, staff(), "oak-stool")
	if !ok || oak.MerchantID != fx.m2 || oak.Translations["en"].Title != "Oak stool" || len(oak.Variants) != 1 {
		t.Errorf("oak-stool after m1's import: %+v", oak)
	}
	if _, ok := fx.bySlug(t, staff(), "my-stool"); ok {
		t.Error("a product whose only row was refused was left behind")
	}
	var out bytes.Buffer
	if err := fx.s.ExportCSV(asM1, fx.lumen, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "oak") || !strings.Contains(out.String(), "nw-shade") {
		t.Errorf("m1's export:\n%s", out.String())
	}
	// Shoppers may read products, but not the catalogue's files.
	shopper := scope.WithActor(context.Background(), scope.Actor("shopper:"+uuid.NewString()))
	if _, err := fx.s.ImportCSV(shopper, fx.lumen, []byte(file)); !errors.Is(err, catalog.ErrStaffOnly) {
		t.Errorf("shopper import: %v", err)
	}
	if err := fx.s.ExportCSV(shopper, fx.lumen, io.Discard); !errors.Is(err, catalog.ErrStaffOnly) {
		t.Errorf("shopper export: %v", err)
	}
}

// The whole file is refused, with nothing written, when it is too big, has too many rows or
// a header the import cannot read.
func TestImportLimitsAndHeader(t *testing.T) {
	fx := setup(t)
	fx.csvFixture(t)
	big := append([]byte(mixedHeader), bytes.Repeat([]byte("x"), catalog.MaxImportBytes)...)
	if _, err := fx.s.ImportCSV(staff(), fx.lumen, big); !errors.Is(err, catalog.ErrImportTooLarge) || fault.As(err).Kind != fault.TooLarge {
		t.Errorf("%d bytes: %v", len(big), err)
	}
	var many strings.Builder
	many.WriteString("product_slug,merchant,title_en,sku\n")
	for i := range catalog.MaxImportRows + 1 {
		fmt.Fprintf(&many, "p-%d,northwind-lighting,P,S-%d\n", i, i)
	}
	if _, err := fx.s.ImportCSV(staff(), fx.lumen, []byte(many.String())); !errors.Is(err, catalog.ErrImportTooManyRows) {
		t.Errorf("%d rows: %v", catalog.MaxImportRows+1, err)
	}
	_, err := fx.s.ImportCSV(staff(), fx.lumen, []byte("product_slug,colour,price_XYZ,compare_at_EUR,attr_nope\nx,y,1,2,3\n"))
	fe := fault.As(err)
	if !errors.Is(err, catalog.ErrImportHeader) || fe == nil {
		t.Fatalf("bad header: %v", err)
	}
	var got []string
	for _, f := range fe.Fields {
		got = append(got, f.Message)
	}
	want := []string{
		`"attr_nope": the marketplace has no attribute "nope"`,
		`"compare_at_EUR" needs a "price_EUR" column`,
		`"price_XYZ": "XYZ" is not a supported currency code`,
		`missing column "sku"`,
		`missing column "title_en"`,
		`unknown column "colour"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header errors\n got %q\nwant %q", got, want)
	}
	if n := fx.auditCount(t, "product.import"); n != 0 {
		t.Errorf("refused files wrote %d audit entries", n)
	}
}

// The plan's product limit holds for creation and import: at the limit both are refused with
// the policy's reason (422), and archiving a product makes room again.
func TestProductPlanLimit(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	var used int
	err := fx.f.Platform.Do(ctx, "test.plan", func(tx bun.IDB) error {
		if err := tx.NewRaw("SELECT count(*) FROM products WHERE tenant_id = ? AND status <> 'archived'", fx.lumen).Scan(ctx, &used); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plans (code, name, price_minor, currency, limits)
			VALUES ('tiny', 'Tiny', 0, 'USD', jsonb_build_object('merchants', 10, 'products', ?::int + 1, 'staff', 10, 'features', '[]'::jsonb))`, used); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE tenants SET plan_id = (SELECT id FROM plans WHERE code = 'tiny') WHERE id = ?", fx.lumen)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	limit := used + 1
	first, err := fx.s.CreateProduct(merchantCtx(fx.m1), fx.lumen, catalog.ProductInput{Slug: "last-place"})
	if err != nil {
		t.Fatalf("the last place: %v", err)
	}
	reason := fmt.Sprintf("products limit reached: %d of %d", limit, limit)
	_, err = fx.s.CreateProduct(merchantCtx(fx.m2), fx.lumen, catalog.ProductInput{Slug: "one-too-many"})
	if fe := fault.As(err); !errors.Is(err, catalog.ErrPlanLimit) || fe.Kind != fault.Unprocessable || len(fe.Fields) != 1 || fe.Fields[0].Message != reason {
		t.Fatalf("over the limit: %v %+v", err, fe)
	}
	rep, err := fx.s.ImportCSV(staff(), fx.lumen, []byte("product_slug,merchant,title_en,sku\nfrom-file,northwind-lighting,From a file,FF-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "import over the limit", rep, 0, 0, 0, []catalog.ImportError{{Line: 2, Field: "product_slug", Message: reason}})

	// Over HTTP: a 422 problem with the reason.
	app := apiApp(t, fx.s)
	a := call(t, app, fx.lumen, fx.m1, http.MethodPost, "/v1/products", `{"slug": "via-api"}`)
	var problem struct {
		Code   string `json:"code"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(a.body, &problem)
	if a.status != http.StatusUnprocessableEntity || problem.Code != "plan_limit_reached" || len(problem.Errors) != 1 || problem.Errors[0].Message != reason {
		t.Errorf("API over the limit: %d %s", a.status, a.body)
	}

	if _, err := fx.s.Archive(merchantCtx(fx.m1), fx.lumen, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.CreateProduct(merchantCtx(fx.m2), fx.lumen, catalog.ProductInput{Slug: "one-too-many"}); err != nil {
		t.Errorf("after archiving one: %v", err)
	}
}

// The last places of a plan go to exactly as many concurrent creations as there are places:
// 20 merchants' staff race for 5, from both of Lumen's stores.
func TestProductPlanLimitConcurrent(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	const places, racers = 5, 20
	err := fx.f.Platform.Do(ctx, "test.plan", func(tx bun.IDB) error {
		var used int
		if err := tx.NewRaw("SELECT count(*) FROM products WHERE tenant_id = ? AND status <> 'archived'", fx.lumen).Scan(ctx, &used); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plans (code, name, price_minor, currency, limits)
			VALUES ('five_more', 'Five more', 0, 'USD', jsonb_build_object('merchants', 10, 'products', ?::int, 'staff', 10, 'features', '[]'::jsonb))`, used+places); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE tenants SET plan_id = (SELECT id FROM plans WHERE code = 'five_more') WHERE id = ?", fx.lumen)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var created, refused, failed atomic.Int64
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			m := fx.m1
			if i%2 == 1 {
				m = fx.m2
			}
			_, err := fx.s.CreateProduct(merchantCtx(m), fx.lumen, catalog.ProductInput{Slug: fmt.Sprintf("race-%d", i)})
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, catalog.ErrPlanLimit):
				refused.Add(1)
			default:
				failed.Add(1)
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if created.Load() != places || refused.Load() != racers-places || failed.Load() != 0 {
		t.Errorf("%d created, %d refused, %d failed; want %d, %d, 0", created.Load(), refused.Load(), failed.Load(), places, racers-places)
	}
}

// The same file imported twice at once by the same store: every product exists once, no row is
// blamed on another merchant, and a third run finds everything unchanged.
func TestImportConcurrentSameFile(t *testing.T) {
	fx := setup(t)
	var file strings.Builder
	file.WriteString("product_slug,title_en,sku,price_USD\n")
	for i := range 10 {
		fmt.Fprintf(&file, "twin-%d,Twin %d,TWIN-%d,%d.00\n", i, i, i, i+1)
	}
	var wg sync.WaitGroup
	reports := make([]catalog.ImportReport, 2)
	for i := range reports {
		wg.Go(func() {
			rep, err := fx.s.ImportCSV(merchantCtx(fx.m1), fx.lumen, []byte(file.String()))
			if err != nil {
				t.Errorf("import %d: %v", i, err)
			}
			reports[i] = rep
		})
	}
	wg.Wait()
	created := reports[0].Created + reports[1].Created
	for _, rep := range reports {
		for _, e := range rep.Errors {
			if e.Message != "the product was created by another import meanwhile; import the file again" {
				t.Errorf("row error %+v", e)
			}
		}
	}
	if created != 10 {
		t.Errorf("%d products created by two imports of 10, want 10: %+v", created, reports)
	}
	rep, err := fx.s.ImportCSV(merchantCtx(fx.m1), fx.lumen, []byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, "third run", rep, 0, 0, 10, nil)
}

// The routes: CSV in, a JSON report out; CSV out with its content type.
func TestImportExportAPI(t *testing.T) {
	fx := setup(t)
	fx.csvFixture(t)
	app := apiApp(t, fx.s)
	req := httptest.NewRequest(http.MethodPost, "/v1/products/import", strings.NewReader(string(mixedFile())))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("X-Test-Tenant", fx.lumen.String())
	resp, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var rep catalog.ImportReport
	if err := json.Unmarshal(body, &rep); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	wantReport(t, "import over HTTP", rep, 4, 0, 0, mixedErrors)
	if !strings.Contains(string(body), `{"line":4,"field":"attr_wattage","message":"a whole number"}`) {
		t.Errorf("report JSON: %s", body)
	}

	req = httptest.NewRequest(http.MethodGet, "/v1/products/export", nil)
	req.Header.Set("X-Test-Tenant", fx.lumen.String())
	req.Header.Set("X-Test-Merchant", fx.m2.String())
	resp, err = app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(string(body), "product_slug,merchant,title_en,") || !strings.Contains(string(body), "LANTERN-1") ||
		strings.Contains(string(body), "ARC-S") {
		t.Errorf("export as oak-and-ash: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	req = httptest.NewRequest(http.MethodPost, "/v1/products/import", strings.NewReader("slug;title\nx;y\n"))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("X-Test-Tenant", fx.lumen.String())
	resp, err = app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"code":"import_header_invalid"`) ||
		!strings.Contains(string(body), `unknown column \"slug;title\"`) {
		t.Errorf("a header the import cannot read: %d %s", resp.StatusCode, body)
	}
}
