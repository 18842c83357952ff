package demo_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/blob"
	"mercato/platform/db/dbtest"
	"mercato/platform/devservices"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
)

// The demo a newcomer clicks through: every listed product has a picture they can open, stock,
// a price in its store's currency and both locales, and loading it again changes nothing.
func TestDemoLoadsOnceWithPicturesAndStock(t *testing.T) {
	f := dbtest.New(t)
	store := media(t)
	ctx := scope.WithActor(t.Context(), "system:seed")
	policies, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deps := demo.CatalogDeps{Platform: f.Platform, DB: f.App, Blob: store,
		Catalog: catalog.NewService(f.App, policies, audit.Recorder{}), Inventory: inventory.NewService(f.App, audit.Recorder{})}
	load := func() {
		t.Helper()
		if err := demo.Load(ctx, f.Platform); err != nil {
			t.Fatal(err)
		}
		if err := demo.LoadCatalog(ctx, deps); err != nil {
			t.Fatal(err)
		}
	}
	load()
	first := census(t, f.Platform)

	want := map[string]int{}
	wantProducts := 0
	for _, c := range demo.Catalogs {
		for _, p := range c.Products {
			want[p.Status]++
			wantProducts++
		}
	}
	for status, n := range want {
		if first["products."+status] != n {
			t.Errorf("%d products %s, want %d", first["products."+status], status, n)
		}
	}
	if first["products"] != wantProducts || first["products_without_image"] != 0 || first["variants_without_price"] != 0 {
		t.Errorf("census %v: want %d products, each with an image, every variant priced", first, wantProducts)
	}
	if first["zh_titles"] != wantProducts {
		t.Errorf("%d zh-CN titles, want %d", first["zh_titles"], wantProducts)
	}
	if first["on_hand"] == 0 || first["sold_out_active"] == 0 {
		t.Errorf("census %v: want stock, and one listed product sold out", first)
	}

	// Every image key opens as a PNG under its tenant's prefix.
	var keys []struct {
		TenantID uuid.UUID `bun:"tenant_id"`
		Key      string    `bun:"key"`
	}
	if err := f.Platform.Do(ctx, "test.images", func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT tenant_id, key FROM product_images`).Scan(ctx, &keys)
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		r, obj, err := store.Get(ctx, k.Key)
		if err != nil {
			t.Fatalf("image %s: %v", k.Key, err)
		}
		body, _ := io.ReadAll(r)
		r.Close()
		if _, err := png.Decode(bytes.NewReader(body)); err != nil || obj.ContentType != "image/png" {
			t.Errorf("image %s: %s, decode %v", k.Key, obj.ContentType, err)
		}
		if prefix := "t/" + k.TenantID.String() + "/"; k.Key[:len(prefix)] != prefix {
			t.Errorf("image %s is outside its tenant's prefix", k.Key)
		}
	}

	load()
	if again := census(t, f.Platform); !equal(first, again) {
		t.Errorf("second load changed the demo:\nfirst  %v\nsecond %v", first, again)
	}
}

func census(t *testing.T, p interface {
	Do(context.Context, string, func(bun.IDB) error) error
}) map[string]int {
	t.Helper()
	out := map[string]int{}
	queries := map[string]string{
		"products":                `SELECT count(*) FROM products`,
		"products.active":         `SELECT count(*) FROM products WHERE status = 'active'`,
		"products.pending_review": `SELECT count(*) FROM products WHERE status = 'pending_review'`,
		"products.draft":          `SELECT count(*) FROM products WHERE status = 'draft'`,
		"products_without_image":  `SELECT count(*) FROM products p WHERE NOT EXISTS (SELECT 1 FROM product_images i WHERE i.tenant_id = p.tenant_id AND i.product_id = p.id)`,
		"variants":                `SELECT count(*) FROM variants`,
		"variants_without_price":  `SELECT count(*) FROM variants v WHERE NOT EXISTS (SELECT 1 FROM variant_prices x WHERE x.tenant_id = v.tenant_id AND x.variant_id = v.id)`,
		"zh_titles":               `SELECT count(*) FROM product_translations WHERE locale = 'zh-CN' AND title <> ''`,
		"on_hand":                 `SELECT coalesce(sum(on_hand), 0) FROM inventory_levels`,
		"adjustments":             `SELECT count(*) FROM inventory_adjustments`,
		"categories":              `SELECT count(*) FROM categories`,
		"sold_out_active": `SELECT count(*) FROM products p WHERE status = 'active' AND NOT EXISTS (
			SELECT 1 FROM variants v JOIN inventory_levels l ON l.tenant_id = v.tenant_id AND l.variant_id = v.id
			WHERE v.tenant_id = p.tenant_id AND v.product_id = p.id AND l.available > 0)`,
	}
	if err := p.Do(t.Context(), "test.census", func(tx bun.IDB) error {
		for name, q := range queries {
			var n int
			if err := tx.NewRaw(q).Scan(t.Context(), &n); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = n
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// media is the shared test MinIO with the bucket the demo writes to.
func media(t *testing.T) *blob.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	root, err := devservices.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := devservices.Ensure(ctx, devservices.Options{Root: root, MinIO: true, Detach: true})
	if err != nil {
		t.Fatalf("devservices: %v", err)
	}
	store, err := blob.Open(blob.Options{Endpoint: svc.MinIOEndpoint, AccessKey: svc.MinIOAccessKey,
		SecretKey: svc.MinIOSecretKey, Bucket: "mercato-demo-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}
