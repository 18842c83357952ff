// Package searchtest seeds catalogs for the tests and benchmarks of search and the storefront's
// browse pages: categories, attributes and products written straight into the catalog's tables
// through the audited platform entry point, so the search documents come from the same
// triggers every real write fires.
package searchtest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"mercato/platform/db"
)

// Category is a category to create; Parent names another of the same seed by slug.
type Category struct {
	Slug, Parent string
	Name         map[string]string
}

// Attribute is an attribute definition to create.
type Attribute struct {
	Code, Type string
	Filterable bool
	Choices    []string
}

// Variant is one variant with its prices (currency → minor units) and stock at the merchant's
// default location.
type Variant struct {
	SKU          string
	OptionValues map[string]string
	Prices       map[string]int64
	CompareAt    map[string]int64
	Stock        int
}

// Option is an axis of variation.
type Option struct {
	Code   string
	Name   map[string]string
	Values []string
}

// Product is a product to create. Status "" is active.
type Product struct {
	Merchant     string // handle
	Slug         string
	Status       string
	Category     string // slug
	Titles       map[string]string
	Descriptions map[string]string
	Attributes   map[string]any
	Options      []Option
	Variants     []Variant
	Images       []string
}

// Catalog is one tenant's seed.
type Catalog struct {
	Tenant     string // slug
	Categories []Category
	Attributes []Attribute
	Products   []Product
}

// IDs are what a seed created, by slug (products, categories) and by SKU (variants).
type IDs struct {
	Tenant     uuid.UUID
	Merchants  map[string]uuid.UUID
	Categories map[string]uuid.UUID
	Products   map[string]uuid.UUID
	Variants   map[string]uuid.UUID
}

// Seed writes c in one transaction and returns the ids.
func Seed(ctx context.Context, p *db.Platform, c Catalog) (IDs, error) {
	ids := IDs{Merchants: map[string]uuid.UUID{}, Categories: map[string]uuid.UUID{}, Products: map[string]uuid.UUID{}, Variants: map[string]uuid.UUID{}}
	err := p.Do(ctx, "test.seed_catalog", func(tx bun.IDB) error {
		if err := tx.NewRaw("SELECT id FROM tenants WHERE slug = ?", c.Tenant).Scan(ctx, &ids.Tenant); err != nil {
			return fmt.Errorf("tenant %s: %w", c.Tenant, err)
		}
		var ms []struct {
			ID     uuid.UUID `bun:"id"`
			Handle string    `bun:"handle"`
		}
		if err := tx.NewRaw("SELECT id, handle FROM merchants WHERE tenant_id = ?", ids.Tenant).Scan(ctx, &ms); err != nil {
			return err
		}
		for _, m := range ms {
			ids.Merchants[m.Handle] = m.ID
		}
		for i, cat := range c.Categories {
			id := uuid.Must(uuid.NewV7())
			var parent *uuid.UUID
			if cat.Parent != "" {
				pid, ok := ids.Categories[cat.Parent]
				if !ok {
					return fmt.Errorf("category %s: parent %s not seeded before it", cat.Slug, cat.Parent)
				}
				parent = &pid
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO categories (tenant_id, id, parent_id, slug, name, position) VALUES (?, ?, ?, ?, ?, ?)`,
				ids.Tenant, id, parent, cat.Slug, jsonOf(cat.Name), i); err != nil {
				return fmt.Errorf("category %s: %w", cat.Slug, err)
			}
			ids.Categories[cat.Slug] = id
		}
		for _, a := range c.Attributes {
			choices := a.Choices
			if choices == nil {
				choices = []string{}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO attribute_definitions (tenant_id, code, type, name, choices, filterable)
				VALUES (?, ?, ?, ?, ?, ?)`, ids.Tenant, a.Code, a.Type, jsonOf(map[string]string{"en": a.Code}), pgArray(choices), a.Filterable); err != nil {
				return fmt.Errorf("attribute %s: %w", a.Code, err)
			}
		}
		for _, pr := range c.Products {
			if err := seedProduct(ctx, tx, &ids, pr); err != nil {
				return fmt.Errorf("product %s: %w", pr.Slug, err)
			}
		}
		return nil
	})
	return ids, err
}

func seedProduct(ctx context.Context, tx bun.IDB, ids *IDs, pr Product) error {
	m, ok := ids.Merchants[pr.Merchant]
	if !ok {
		return fmt.Errorf("no merchant %q", pr.Merchant)
	}
	status := pr.Status
	if status == "" {
		status = "active"
	}
	var cat *uuid.UUID
	if pr.Category != "" {
		c, ok := ids.Categories[pr.Category]
		if !ok {
			return fmt.Errorf("no category %q", pr.Category)
		}
		cat = &c
	}
	attrs := pr.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	id := uuid.Must(uuid.NewV7())
	// Inserted as a draft and published last, as the catalog does: the document is written
	// once, with everything below the product in place.
	if _, err := tx.ExecContext(ctx, `INSERT INTO products (tenant_id, id, merchant_id, slug, status, category_id, attributes)
		VALUES (?, ?, ?, ?, 'draft', ?, ?)`, ids.Tenant, id, m, pr.Slug, cat, jsonOf(attrs)); err != nil {
		return err
	}
	ids.Products[pr.Slug] = id
	for loc, title := range pr.Titles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO product_translations (tenant_id, product_id, merchant_id, locale, title, description)
			VALUES (?, ?, ?, ?, ?, ?)`, ids.Tenant, id, m, loc, title, pr.Descriptions[loc]); err != nil {
			return err
		}
	}
	for i, o := range pr.Options {
		if _, err := tx.ExecContext(ctx, `INSERT INTO product_options (tenant_id, product_id, merchant_id, code, name, "values", position)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, ids.Tenant, id, m, o.Code, jsonOf(o.Name), pgArray(o.Values), i); err != nil {
			return err
		}
	}
	for i, key := range pr.Images {
		if _, err := tx.ExecContext(ctx, `INSERT INTO product_images (tenant_id, product_id, merchant_id, key, position) VALUES (?, ?, ?, ?, ?)`,
			ids.Tenant, id, m, key, i); err != nil {
			return err
		}
	}
	var loc uuid.UUID
	if err := tx.NewRaw(`INSERT INTO stock_locations (tenant_id, merchant_id, name, is_default) VALUES (?, ?, 'Main', true)
		ON CONFLICT (tenant_id, merchant_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, ids.Tenant, m).Scan(ctx, &loc); err != nil {
		return err
	}
	for i, v := range pr.Variants {
		vid := uuid.Must(uuid.NewV7())
		ov := v.OptionValues
		if ov == nil {
			ov = map[string]string{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO variants (tenant_id, id, product_id, merchant_id, sku, option_values, position)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, ids.Tenant, vid, id, m, v.SKU, jsonOf(ov), i); err != nil {
			return err
		}
		ids.Variants[v.SKU] = vid
		for cur, amount := range v.Prices {
			var compare *int64
			if c, ok := v.CompareAt[cur]; ok {
				compare = &c
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO variant_prices (tenant_id, variant_id, merchant_id, currency, amount_minor, compare_at_minor)
				VALUES (?, ?, ?, ?, ?, ?)`, ids.Tenant, vid, m, cur, amount, compare); err != nil {
				return err
			}
		}
		if v.Stock > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_levels (tenant_id, variant_id, location_id, merchant_id, on_hand)
				VALUES (?, ?, ?, ?, ?)`, ids.Tenant, vid, loc, m, v.Stock); err != nil {
				return err
			}
		}
	}
	if status != "draft" {
		if _, err := tx.ExecContext(ctx, `UPDATE products SET status = ? WHERE tenant_id = ? AND id = ?`, status, ids.Tenant, id); err != nil {
			return err
		}
	}
	return nil
}

// Bulk gives each listed tenant n generated active products across its active merchants, three
// categories and four price levels, with one variant in stock each: the benchmark's catalog.
// Titles mix English words and, for zh-CN tenants, Chinese ones.
func Bulk(ctx context.Context, p *db.Platform, tenantSlugs []string, n int) error {
	return p.Do(ctx, "bench.seed_catalog", func(tx bun.IDB) error {
		for _, slug := range tenantSlugs {
			for _, s := range []string{
				`INSERT INTO categories (tenant_id, slug, name, position)
				   SELECT t.id, c.slug, c.name::jsonb, c.pos FROM tenants t,
				   (VALUES ('audio', '{"en": "Audio", "zh-CN": "音频"}', 1), ('home', '{"en": "Home", "zh-CN": "家居"}', 2),
				           ('tea', '{"en": "Tea", "zh-CN": "茶"}', 3)) AS c(slug, name, pos)
				   WHERE t.slug = ?0 ON CONFLICT DO NOTHING`,
				`INSERT INTO stock_locations (tenant_id, merchant_id, name, is_default)
				   SELECT m.tenant_id, m.id, 'Main', true FROM merchants m JOIN tenants t ON t.id = m.tenant_id
				   WHERE t.slug = ?0 AND m.status = 'active' ON CONFLICT DO NOTHING`,
				`WITH t AS (SELECT id, default_currency FROM tenants WHERE slug = ?0),
				 ms AS (SELECT id, row_number() OVER (ORDER BY handle) - 1 AS i, count(*) OVER () AS n
				        FROM merchants WHERE tenant_id = (SELECT id FROM t) AND status = 'active'),
				 cs AS (SELECT id, row_number() OVER (ORDER BY slug) - 1 AS i FROM categories WHERE tenant_id = (SELECT id FROM t)),
				 g AS (SELECT g FROM generate_series(1, ?1) g)
				 INSERT INTO products (tenant_id, id, merchant_id, slug, status, category_id, attributes)
				 SELECT t.id, uuidv7(), ms.id, 'bench-' || g.g, 'draft', cs.id, '{}'
				 FROM g, t, ms, cs WHERE ms.i = g.g % ms.n AND cs.i = g.g % 3`,
				`INSERT INTO product_translations (tenant_id, product_id, merchant_id, locale, title, description)
				 SELECT p.tenant_id, p.id, p.merchant_id, l.locale,
				   CASE l.locale WHEN 'en' THEN (ARRAY['Wireless', 'Oak', 'Jasmine', 'Copper', 'Linen', 'Ceramic'])[1 + n % 6] || ' ' ||
				     (ARRAY['headphones', 'lamp', 'tea', 'kettle', 'blanket', 'speaker', 'chair'])[1 + n % 7] || ' ' || n
				   ELSE (ARRAY['无线蓝牙耳机', '橡木台灯', '茉莉花茶', '铜水壶', '亚麻毯子'])[1 + n % 5] || n END,
				   'Made with care by a small workshop; number ' || n || '. 精心制作。'
				 FROM (SELECT p.*, substr(p.slug, 7)::int AS n FROM products p JOIN tenants t ON t.id = p.tenant_id
				       WHERE t.slug = ?0 AND p.slug LIKE 'bench-%') p, (VALUES ('en'), ('zh-CN')) l(locale)`,
				`INSERT INTO product_images (tenant_id, product_id, merchant_id, key)
				 SELECT p.tenant_id, p.id, p.merchant_id, 't/' || p.tenant_id || '/m/' || p.merchant_id || '/image/' || p.id
				 FROM products p JOIN tenants t ON t.id = p.tenant_id WHERE t.slug = ?0 AND p.slug LIKE 'bench-%'`,
				`INSERT INTO variants (tenant_id, product_id, merchant_id, sku)
				 SELECT p.tenant_id, p.id, p.merchant_id, 'B-' || t.slug || '-' || substr(p.slug, 7)
				 FROM products p JOIN tenants t ON t.id = p.tenant_id WHERE t.slug = ?0 AND p.slug LIKE 'bench-%'`,
				`INSERT INTO variant_prices (tenant_id, variant_id, merchant_id, currency, amount_minor)
				 SELECT v.tenant_id, v.id, v.merchant_id, t.default_currency, (ARRAY[900, 2900, 7900, 19900])[1 + substr(v.sku, length('B-' || t.slug || '-') + 1)::int % 4]
				 FROM variants v JOIN tenants t ON t.id = v.tenant_id WHERE t.slug = ?0 AND v.sku LIKE 'B-%'`,
				`INSERT INTO inventory_levels (tenant_id, variant_id, location_id, merchant_id, on_hand)
				 SELECT v.tenant_id, v.id, l.id, v.merchant_id, 25 FROM variants v JOIN tenants t ON t.id = v.tenant_id
				 JOIN stock_locations l ON l.tenant_id = v.tenant_id AND l.merchant_id = v.merchant_id AND l.is_default
				 WHERE t.slug = ?0 AND v.sku LIKE 'B-%'`,
				`UPDATE products p SET status = 'active' FROM tenants t WHERE t.id = p.tenant_id AND t.slug = ?0 AND p.slug LIKE 'bench-%'`,
			} {
				if _, err := tx.ExecContext(ctx, s, slug, n); err != nil {
					return fmt.Errorf("bulk seed %s: %w", slug, err)
				}
			}
		}
		return nil
	})
}

// jsonOf encodes the seed's maps of strings and plain values, which always encode.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func pgArray(vs []string) any { return pgdialect.Array(vs) }
