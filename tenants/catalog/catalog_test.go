package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
)

type fixture struct {
	f         *dbtest.Fixture
	s         *catalog.Service
	lumen     uuid.UUID
	panda     uuid.UUID
	m1, m2    uuid.UUID // lumen's northwind-lighting and oak-and-ash
	pandaShop uuid.UUID // panda's xiangyun-tea
}

func setup(t *testing.T) fixture {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{f: f, s: catalog.NewService(f.App, pol, audit.Recorder{})}
	err = f.Platform.Do(ctx, "test.ids", func(tx bun.IDB) error {
		for dst, q := range map[*uuid.UUID][2]string{
			&fx.m1: {"lumen", "northwind-lighting"}, &fx.m2: {"lumen", "oak-and-ash"}, &fx.pandaShop: {"panda", "xiangyun-tea"},
		} {
			if err := tx.NewRaw(`SELECT m.id FROM merchants m JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = ? AND m.handle = ?`,
				q[0], q[1]).Scan(ctx, dst); err != nil {
				return err
			}
		}
		if err := tx.NewRaw("SELECT id FROM tenants WHERE slug = 'lumen'").Scan(ctx, &fx.lumen); err != nil {
			return err
		}
		return tx.NewRaw("SELECT id FROM tenants WHERE slug = 'panda'").Scan(ctx, &fx.panda)
	})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func staff() context.Context { return scope.WithActor(context.Background(), "user:tenant-admin") }

func merchantCtx(m uuid.UUID) context.Context {
	return scope.WithMerchant(scope.WithActor(context.Background(), "user:merchant"), m)
}

// listable creates a product that meets the listing rules: English title, image, category and
// a variant priced in the tenant's currency.
func (fx fixture) listable(t *testing.T, ctx context.Context, tenant, merchant uuid.UUID, slug, currency, amount string) catalog.Product {
	t.Helper()
	cat, err := fx.s.CreateCategory(staff(), tenant, catalog.CategoryInput{Slug: slug + "-cat", Name: map[string]string{"en": "Lamps"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fx.s.CreateProduct(ctx, tenant, catalog.ProductInput{MerchantID: merchant, Slug: slug, CategoryID: &cat.ID,
		Translations: map[string]catalog.Translation{"en": {Title: "Desk lamp"}},
		Images:       []catalog.Image{{Key: "tenants/x/lamp.jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := fx.s.AddVariant(ctx, tenant, p.ID, catalog.VariantInput{SKU: slug + "-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.SetPrice(ctx, tenant, p.ID, v.ID, catalog.PriceInput{Currency: currency, Amount: amount}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProductCRUDAndTranslations(t *testing.T) {
	fx := setup(t)
	ctx := merchantCtx(fx.m1)
	cat, err := fx.s.CreateCategory(staff(), fx.lumen, catalog.CategoryInput{Slug: "lighting", Name: map[string]string{"en": "Lighting", "zh-CN": "照明"}})
	if err != nil {
		t.Fatal(err)
	}
	w := 1200
	p, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{Slug: "Arc-Lamp", CategoryID: &cat.ID,
		Translations: map[string]catalog.Translation{"en": {Title: "Arc lamp", Description: "Bright"}, "zh-CN": {Title: "弧形灯"}},
		Options:      []catalog.Option{{Code: "colour", Name: map[string]string{"en": "Colour", "zh-CN": "颜色"}, Values: []string{"black", "white"}}},
		Images:       []catalog.Image{{Key: "a.jpg", Alt: map[string]string{"en": "Lamp"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.MerchantID != fx.m1 || p.Status != catalog.StatusDraft || p.Slug != "arc-lamp" || p.Translations["zh-CN"].Title != "弧形灯" {
		t.Fatalf("created: %+v", p)
	}
	if _, err := fx.s.AddVariant(ctx, fx.lumen, p.ID, catalog.VariantInput{SKU: "ARC-X", OptionValues: map[string]string{"colour": "red"}}); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("variant with a value the option lacks: %v", err)
	}
	v, err := fx.s.AddVariant(ctx, fx.lumen, p.ID, catalog.VariantInput{SKU: "ARC-BLK", OptionValues: map[string]string{"colour": "black"}, WeightGrams: &w})
	if err != nil {
		t.Fatal(err)
	}
	h := 450
	if v, err = fx.s.UpdateVariant(ctx, fx.lumen, p.ID, v.ID, catalog.VariantPatch{HeightMM: &h}); err != nil || *v.HeightMM != 450 || *v.WeightGrams != 1200 {
		t.Fatalf("update variant: %v %+v", err, v)
	}
	newSlug := "arc-floor-lamp"
	p, err = fx.s.UpdateProduct(ctx, fx.lumen, p.ID, catalog.ProductPatch{Slug: &newSlug,
		Translations: map[string]catalog.Translation{"zh-CN": {Title: "落地弧形灯", Description: "明亮"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := fx.s.GetProduct(staff(), fx.lumen, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Slug != newSlug || got.Translations["en"].Title != "Arc lamp" || got.Translations["zh-CN"] != (catalog.Translation{Title: "落地弧形灯", Description: "明亮"}) ||
		len(got.Variants) != 1 || len(got.Options) != 1 || got.Options[0].Name["zh-CN"] != "颜色" || len(got.Images) != 1 {
		t.Fatalf("read back: %+v", got)
	}

	// Paging and filters: 3 more products of m2, pages of 2.
	for _, s := range []string{"stool", "table", "chair"} {
		if _, err := fx.s.CreateProduct(staff(), fx.lumen, catalog.ProductInput{MerchantID: fx.m2, Slug: s}); err != nil {
			t.Fatal(err)
		}
	}
	var seen int
	f := catalog.ListFilter{MerchantID: fx.m2, PageParams: httpx.PageParams{Limit: 2}}
	for pages := 0; ; pages++ {
		page, err := fx.s.ListProducts(staff(), fx.lumen, f)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Items)
		for _, it := range page.Items {
			if it.MerchantID != fx.m2 {
				t.Errorf("merchant filter let %v through", it.MerchantID)
			}
		}
		if page.NextCursor == "" {
			if pages != 1 {
				t.Errorf("%d pages, want 2", pages+1)
			}
			break
		}
		f.Cursor = page.NextCursor
	}
	if seen != 3 {
		t.Errorf("paged through %d products of m2, want 3", seen)
	}
	byCat, err := fx.s.ListProducts(staff(), fx.lumen, catalog.ListFilter{CategoryID: cat.ID})
	if err != nil || len(byCat.Items) != 1 || byCat.Items[0].ID != p.ID {
		t.Errorf("category filter: %v %d", err, len(byCat.Items))
	}
	drafts, err := fx.s.ListProducts(staff(), fx.lumen, catalog.ListFilter{Status: catalog.StatusActive})
	if err != nil || len(drafts.Items) != 0 {
		t.Errorf("status filter: %v %d active", err, len(drafts.Items))
	}

	// Every mutation is in lumen's audit chain, and the chain verifies.
	err = fx.f.App.WithTenant(staff(), fx.lumen, func(tx bun.IDB) error {
		for id, want := range map[string]int{p.ID.String(): 2, v.ID.String(): 2, cat.ID.String(): 1} { // create+update; add+update; create
			page, err := audit.List(context.Background(), tx, audit.Filter{ResourceID: id})
			if err != nil {
				return err
			}
			if len(page.Items) != want {
				t.Errorf("%d audit entries for %s, want %d", len(page.Items), id, want)
			}
		}
		rep, err := audit.Verify(context.Background(), tx, fx.lumen)
		if err != nil {
			return err
		}
		if !rep.OK() {
			t.Errorf("audit chain: %+v", rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMassAssignment(t *testing.T) {
	fx := setup(t)
	ctx := merchantCtx(fx.m1)
	p, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{Slug: "lamp"})
	if err != nil {
		t.Fatal(err)
	}
	var patch catalog.ProductPatch
	body := `{"status": "active", "merchant_id": "` + fx.m2.String() + `", "tenant_id": "` + fx.panda.String() + `", "id": "` + uuid.NewString() + `", "slug": "lamp-2"}`
	if err := json.Unmarshal([]byte(body), &patch); err != nil {
		t.Fatal(err)
	}
	got, err := fx.s.UpdateProduct(ctx, fx.lumen, p.ID, patch)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != catalog.StatusDraft || got.MerchantID != fx.m1 || got.ID != p.ID || got.Slug != "lamp-2" {
		t.Errorf("forbidden fields saved: %+v", got)
	}
	// Tenant staff naming a merchant from the body is fine; merchant staff naming another is not.
	if _, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{MerchantID: fx.m2, Slug: "sneaky"}); !errors.Is(err, catalog.ErrMerchantNotFound) {
		t.Errorf("merchant staff creating for another merchant: %v", err)
	}
}

func TestPrices(t *testing.T) {
	fx := setup(t)
	ctx := merchantCtx(fx.m1)
	p, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{Slug: "lamp"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := fx.s.AddVariant(ctx, fx.lumen, p.ID, catalog.VariantInput{SKU: "LAMP-1"})
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name string
		in   catalog.PriceInput
		want *catalog.Price // nil: refused as invalid
	}{
		{"usd", catalog.PriceInput{Currency: "USD", Amount: "12.50", CompareAt: "15"}, &catalog.Price{Currency: "USD", AmountMinor: 1250, CompareAtMinor: ptr(1500)}},
		{"jpy whole", catalog.PriceInput{Currency: "JPY", Amount: "1200"}, &catalog.Price{Currency: "JPY", AmountMinor: 1200}},
		{"bhd three decimals", catalog.PriceInput{Currency: "BHD", Amount: "1.005"}, &catalog.Price{Currency: "BHD", AmountMinor: 1005}},
		{"free", catalog.PriceInput{Currency: "EUR", Amount: "0"}, &catalog.Price{Currency: "EUR", AmountMinor: 0}},
		{"negative", catalog.PriceInput{Currency: "USD", Amount: "-1.00"}, nil},
		{"compare-at equal", catalog.PriceInput{Currency: "USD", Amount: "10", CompareAt: "10.00"}, nil},
		{"compare-at below", catalog.PriceInput{Currency: "USD", Amount: "10", CompareAt: "9.99"}, nil},
		{"jpy with decimals", catalog.PriceInput{Currency: "JPY", Amount: "1200.5"}, nil},
		{"usd three decimals", catalog.PriceInput{Currency: "USD", Amount: "1.005"}, nil},
		{"lower-case currency", catalog.PriceInput{Currency: "usd", Amount: "1"}, nil},
		{"unknown currency", catalog.PriceInput{Currency: "XYZ", Amount: "1"}, nil},
		{"exponent notation", catalog.PriceInput{Currency: "USD", Amount: "1e3"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fx.s.SetPrice(ctx, fx.lumen, p.ID, v.ID, tc.in)
			if tc.want == nil {
				if fe := fault.As(err); fe == nil || fe.Kind != fault.Invalid {
					t.Fatalf("want invalid, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range got.Prices {
				if pr.Currency == tc.want.Currency {
					if pr.AmountMinor != tc.want.AmountMinor || (pr.CompareAtMinor == nil) != (tc.want.CompareAtMinor == nil) ||
						(pr.CompareAtMinor != nil && *pr.CompareAtMinor != *tc.want.CompareAtMinor) {
						t.Errorf("stored %+v, want %+v", pr, tc.want)
					}
					return
				}
			}
			t.Errorf("no %s price in %+v", tc.want.Currency, got.Prices)
		})
	}
	// The database refuses what the service would, should any writer skip it.
	err = fx.f.App.WithTenant(staff(), fx.lumen, func(tx bun.IDB) error {
		_, err := tx.ExecContext(context.Background(), "UPDATE variant_prices SET compare_at_minor = amount_minor WHERE variant_id = ?", v.ID)
		return err
	})
	if err == nil {
		t.Error("compare_at_minor = amount_minor accepted by the database")
	}
}

func TestUniquePerTenant(t *testing.T) {
	fx := setup(t)
	p, err := fx.s.CreateProduct(staff(), fx.lumen, catalog.ProductInput{MerchantID: fx.m1, Slug: "tea-cup"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.AddVariant(staff(), fx.lumen, p.ID, catalog.VariantInput{SKU: "CUP-1"}); err != nil {
		t.Fatal(err)
	}
	// Same slug from another merchant of the same tenant: taken.
	if _, err := fx.s.CreateProduct(staff(), fx.lumen, catalog.ProductInput{MerchantID: fx.m2, Slug: "tea-cup"}); !errors.Is(err, catalog.ErrSlugTaken) {
		t.Errorf("duplicate slug: %v", err)
	}
	other, err := fx.s.CreateProduct(staff(), fx.lumen, catalog.ProductInput{MerchantID: fx.m2, Slug: "mug"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.AddVariant(staff(), fx.lumen, other.ID, catalog.VariantInput{SKU: "CUP-1"}); !errors.Is(err, catalog.ErrSKUTaken) {
		t.Errorf("duplicate sku: %v", err)
	}
	// Both are free in another tenant.
	q, err := fx.s.CreateProduct(staff(), fx.panda, catalog.ProductInput{MerchantID: fx.pandaShop, Slug: "tea-cup"})
	if err != nil {
		t.Fatalf("same slug in panda: %v", err)
	}
	if _, err := fx.s.AddVariant(staff(), fx.panda, q.ID, catalog.VariantInput{SKU: "CUP-1"}); err != nil {
		t.Errorf("same sku in panda: %v", err)
	}
	if _, err := fx.s.CreateCategory(staff(), fx.lumen, catalog.CategoryInput{Slug: "cups", Name: map[string]string{"en": "Cups"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.CreateCategory(staff(), fx.lumen, catalog.CategoryInput{Slug: "cups", Name: map[string]string{"en": "Cups"}}); !errors.Is(err, catalog.ErrSlugTaken) {
		t.Errorf("duplicate category slug: %v", err)
	}
	if _, err := fx.s.CreateCategory(staff(), fx.panda, catalog.CategoryInput{Slug: "cups", Name: map[string]string{"en": "Cups"}}); err != nil {
		t.Errorf("same category slug in panda: %v", err)
	}
}

func TestSubmitAndModerate(t *testing.T) {
	fx := setup(t)
	ctx := merchantCtx(fx.m1)
	// The demo's Lumen moderates listings; this test starts without review and turns it on.
	if err := fx.f.Platform.Do(staff(), "test.settings", func(tx bun.IDB) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE tenants SET settings = settings || '{"require_listing_review": false}' WHERE id = ?`, fx.lumen)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	empty, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{Slug: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fx.s.Submit(ctx, fx.lumen, empty.ID)
	fe := fault.As(err)
	if !errors.Is(err, catalog.ErrNotListable) || fe == nil || len(fe.Fields) != 4 {
		t.Fatalf("empty product: %v %+v", err, fe)
	}
	// A price in another currency than the storefront's does not count.
	wrongCur := fx.listable(t, ctx, fx.lumen, fx.m1, "euro-lamp", "EUR", "10")
	_, err = fx.s.Submit(ctx, fx.lumen, wrongCur.ID)
	if fe := fault.As(err); fe == nil || len(fe.Fields) != 1 || fe.Fields[0].Message != "at least one variant priced above 0 is required" {
		t.Errorf("priced only in EUR for a USD storefront: %v %+v", err, fe)
	}

	// Without require_listing_review a listable product goes live at once.
	p := fx.listable(t, ctx, fx.lumen, fx.m1, "desk-lamp", "USD", "25.00")
	got, err := fx.s.Submit(ctx, fx.lumen, p.ID)
	if err != nil || got.Status != catalog.StatusActive {
		t.Fatalf("submit listable: %v %s", err, got.Status)
	}
	shopper := scope.WithActor(context.Background(), scope.Actor("shopper:"+uuid.NewString()))
	if _, err := fx.s.GetProduct(shopper, fx.lumen, empty.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("shopper reading a draft: %v", err)
	}
	if got, err := fx.s.GetProduct(shopper, fx.lumen, p.ID); err != nil || got.ID != p.ID {
		t.Errorf("shopper reading a live product: %v", err)
	}
	if page, err := fx.s.ListProducts(shopper, fx.lumen, catalog.ListFilter{}); err != nil || len(page.Items) != 1 {
		t.Errorf("shopper's list: %v, %d items, want the 1 live product", err, len(page.Items))
	}
	if _, err := fx.s.Submit(ctx, fx.lumen, p.ID); !errors.Is(err, catalog.ErrTransition) {
		t.Errorf("submit an active product: %v", err)
	}

	// With it, the product waits in the moderation queue.
	if err := fx.f.Platform.Do(staff(), "test.settings", func(tx bun.IDB) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE tenants SET settings = settings || '{"require_listing_review": true}' WHERE id = ?`, fx.lumen)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	q := fx.listable(t, ctx, fx.lumen, fx.m1, "floor-lamp", "USD", "99")
	if got, err = fx.s.Submit(ctx, fx.lumen, q.ID); err != nil || got.Status != catalog.StatusPendingReview {
		t.Fatalf("submit with review: %v %s", err, got.Status)
	}
	queue, err := fx.s.ListProducts(staff(), fx.lumen, catalog.ListFilter{Status: catalog.StatusPendingReview})
	if err != nil || len(queue.Items) != 1 || queue.Items[0].ID != q.ID {
		t.Fatalf("moderation queue: %v %+v", err, queue.Items)
	}
	if _, err := fx.s.UpdateProduct(ctx, fx.lumen, q.ID, catalog.ProductPatch{}); !errors.Is(err, catalog.ErrTransition) {
		t.Errorf("edit under review: %v", err)
	}
	if _, err := fx.s.Moderate(ctx, fx.lumen, q.ID, "approve", ""); !errors.Is(err, catalog.ErrTenantOnly) {
		t.Errorf("merchant approving itself: %v", err)
	}
	if got, err = fx.s.Moderate(staff(), fx.lumen, q.ID, "reject", "photo is blurry"); err != nil || got.Status != catalog.StatusDraft || got.ReviewNote != "photo is blurry" {
		t.Fatalf("reject: %v %+v", err, got)
	}
	if _, err := fx.s.Moderate(staff(), fx.lumen, q.ID, "approve", ""); !errors.Is(err, catalog.ErrTransition) {
		t.Errorf("approve a draft: %v", err)
	}
	if _, err := fx.s.Submit(ctx, fx.lumen, q.ID); err != nil {
		t.Fatal(err)
	}
	if got, err = fx.s.Moderate(staff(), fx.lumen, q.ID, "approve", ""); err != nil || got.Status != catalog.StatusActive {
		t.Fatalf("approve: %v %s", err, got.Status)
	}
	if got, err = fx.s.Archive(ctx, fx.lumen, q.ID); err != nil || got.Status != catalog.StatusArchived {
		t.Fatalf("archive: %v %s", err, got.Status)
	}
	if _, err := fx.s.Archive(ctx, fx.lumen, q.ID); !errors.Is(err, catalog.ErrTransition) {
		t.Errorf("archive twice: %v", err)
	}
	if _, err := fx.s.UpdateProduct(ctx, fx.lumen, q.ID, catalog.ProductPatch{}); !errors.Is(err, catalog.ErrTransition) {
		t.Errorf("edit archived: %v", err)
	}
	err = fx.f.App.WithTenant(staff(), fx.lumen, func(tx bun.IDB) error {
		page, err := audit.List(context.Background(), tx, audit.Filter{ResourceID: q.ID.String()})
		if err != nil {
			return err
		}
		if len(page.Items) != 6 { // create, submit, reject, submit, approve, archive
			t.Errorf("%d audit entries, want 6", len(page.Items))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMerchantAndTenantScope calls every product operation with ids the caller must not see:
// M1's staff with M2's product, and panda's staff with lumen's. Each must answer not found.
func TestMerchantAndTenantScope(t *testing.T) {
	fx := setup(t)
	theirs := fx.listable(t, merchantCtx(fx.m2), fx.lumen, fx.m2, "oak-table", "USD", "300")
	full, err := fx.s.GetProduct(staff(), fx.lumen, theirs.ID)
	if err != nil {
		t.Fatal(err)
	}
	vid := full.Variants[0].ID
	slug := "stolen"
	for _, caller := range []struct {
		name   string
		ctx    context.Context
		tenant uuid.UUID
	}{
		{"other merchant", merchantCtx(fx.m1), fx.lumen},
		{"other tenant staff", staff(), fx.panda},
		{"other tenant merchant", merchantCtx(fx.pandaShop), fx.panda},
	} {
		ctx, tn := caller.ctx, caller.tenant
		ops := map[string]func() error{
			"get": func() error { _, err := fx.s.GetProduct(ctx, tn, theirs.ID); return err },
			"update": func() error {
				_, err := fx.s.UpdateProduct(ctx, tn, theirs.ID, catalog.ProductPatch{Slug: &slug})
				return err
			},
			"add variant": func() error {
				_, err := fx.s.AddVariant(ctx, tn, theirs.ID, catalog.VariantInput{SKU: "X-1"})
				return err
			},
			"update var": func() error {
				_, err := fx.s.UpdateVariant(ctx, tn, theirs.ID, vid, catalog.VariantPatch{SKU: &slug})
				return err
			},
			"set price": func() error {
				_, err := fx.s.SetPrice(ctx, tn, theirs.ID, vid, catalog.PriceInput{Currency: "USD", Amount: "0"})
				return err
			},
			"submit":  func() error { _, err := fx.s.Submit(ctx, tn, theirs.ID); return err },
			"archive": func() error { _, err := fx.s.Archive(ctx, tn, theirs.ID); return err },
			"create for M": func() error {
				_, err := fx.s.CreateProduct(ctx, tn, catalog.ProductInput{MerchantID: fx.m2, Slug: "x-for-m2"})
				return err
			},
		}
		if _, inMerchant := scope.MerchantFrom(ctx); !inMerchant {
			ops["moderate"] = func() error { _, err := fx.s.Moderate(ctx, tn, theirs.ID, "approve", ""); return err }
		}
		leaked := 0
		for name, op := range ops {
			if fe := fault.As(op()); fe == nil || fe.Kind != fault.NotFound {
				leaked++
				t.Errorf("%s: %s answered %v, want not found", caller.name, name, fe)
			}
		}
		page, err := fx.s.ListProducts(ctx, tn, catalog.ListFilter{MerchantID: fx.m2})
		if err != nil || len(page.Items) != 0 {
			leaked++
			t.Errorf("%s: list shows %d of M2's products (%v)", caller.name, len(page.Items), err)
		}
		t.Logf("%s: %d of %d operations leaked", caller.name, leaked, len(ops)+1)
	}
	// Nothing changed.
	after, err := fx.s.GetProduct(staff(), fx.lumen, theirs.ID)
	if err != nil || after.Slug != "oak-table" || after.Status != catalog.StatusDraft || len(after.Variants) != 1 ||
		after.Variants[0].SKU != "oak-table-1" || after.Variants[0].Prices[0].AmountMinor != 30000 {
		t.Errorf("M2's product changed: %v %+v", err, after)
	}
	// M1 sees its own and only its own.
	mine, err := fx.s.CreateProduct(merchantCtx(fx.m1), fx.lumen, catalog.ProductInput{Slug: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := fx.s.ListProducts(merchantCtx(fx.m1), fx.lumen, catalog.ListFilter{})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != mine.ID {
		t.Errorf("M1's list: %v %+v", err, page.Items)
	}
	if _, err := fx.s.CreateCategory(merchantCtx(fx.m1), fx.lumen, catalog.CategoryInput{Slug: "mine", Name: map[string]string{"en": "Mine"}}); !errors.Is(err, catalog.ErrTenantOnly) {
		t.Errorf("merchant creating a category: %v", err)
	}
}

func TestCategoryTree(t *testing.T) {
	fx := setup(t)
	ctx := staff()
	mk := func(slug string, parent *uuid.UUID) catalog.Category {
		t.Helper()
		c, err := fx.s.CreateCategory(ctx, fx.lumen, catalog.CategoryInput{Slug: slug, ParentID: parent, Name: map[string]string{"en": slug, "zh-CN": "类" + slug}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := mk("home", nil)
	b := mk("lighting", &a.ID)
	c := mk("lamps", &b.ID)
	for _, tc := range []struct {
		name   string
		id     uuid.UUID
		parent uuid.UUID
		want   error
	}{
		{"below its grandchild", a.ID, c.ID, catalog.ErrCategoryCycle},
		{"below its child", a.ID, b.ID, catalog.ErrCategoryCycle},
		{"below itself", b.ID, b.ID, catalog.ErrCategoryCycle},
		{"below another tenant's", c.ID, uuid.Must(uuid.NewV7()), catalog.ErrCategoryNotFound},
		{"leaf up to the root's child", c.ID, a.ID, nil},
	} {
		parent := tc.parent
		if _, err := fx.s.UpdateCategory(ctx, fx.lumen, tc.id, catalog.CategoryPatch{ParentID: &parent}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := fx.s.DeleteCategory(ctx, fx.lumen, a.ID); !errors.Is(err, catalog.ErrCategoryInUse) {
		t.Errorf("delete with children: %v", err)
	}
	if _, err := fx.s.UpdateCategory(ctx, fx.panda, b.ID, catalog.CategoryPatch{MoveToRoot: true}); !errors.Is(err, catalog.ErrCategoryNotFound) {
		t.Errorf("another tenant moving lumen's category: %v", err)
	}
	if err := fx.s.DeleteCategory(ctx, fx.lumen, c.ID); err != nil {
		t.Errorf("delete leaf: %v", err)
	}
	cs, err := fx.s.ListCategories(ctx, fx.lumen)
	if err != nil || len(cs) != 2 || cs[0].Name["zh-CN"] == "" {
		t.Errorf("list: %v %+v", err, cs)
	}
}

func TestAttributes(t *testing.T) {
	fx := setup(t)
	ctx := staff()
	for _, a := range []catalog.Attribute{
		{Code: "wattage", Type: "integer", Name: map[string]string{"en": "Wattage"}, Filterable: true},
		{Code: "finish", Type: "enum", Name: map[string]string{"en": "Finish"}, Choices: []string{"matte", "gloss"}, Filterable: true},
		{Code: "notes", Type: "text", Name: map[string]string{"en": "Notes"}},
	} {
		if _, err := fx.s.DefineAttribute(ctx, fx.lumen, a); err != nil {
			t.Fatal(err)
		}
	}
	attrs := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		attrs string
		ok    bool
	}{
		{`{"wattage": 12.5}`, false},
		{`{"wattage": "12"}`, false},
		{`{"finish": "satin"}`, false},
		{`{"colour": "red"}`, false},
		{`{"wattage": 12, "finish": "matte", "notes": "E27"}`, true},
	} {
		_, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{MerchantID: fx.m1, Slug: "p-" + uuid.NewString()[:8], Attributes: attrs(tc.attrs)})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.attrs, err)
		}
	}
	if _, err := fx.s.CreateProduct(ctx, fx.lumen, catalog.ProductInput{MerchantID: fx.m1, Slug: "sixty", Attributes: attrs(`{"wattage": 60}`)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter map[string]string
		want   int
		ok     bool
	}{
		{map[string]string{"wattage": "12"}, 1, true},
		{map[string]string{"wattage": "60"}, 1, true},
		{map[string]string{"finish": "matte", "wattage": "60"}, 0, true},
		{map[string]string{"notes": "E27"}, 0, false}, // not filterable
		{map[string]string{"wattage": "1.5"}, 0, false},
	} {
		page, err := fx.s.ListProducts(ctx, fx.lumen, catalog.ListFilter{Attributes: tc.filter})
		if (err == nil) != tc.ok || len(page.Items) != tc.want {
			t.Errorf("filter %v: %v, %d items, want %d", tc.filter, err, len(page.Items), tc.want)
		}
	}
}
