package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Option is an axis the product's variants vary along, with its values in display order.
type Option struct {
	Code   string            `json:"code"`
	Name   map[string]string `json:"name"`
	Values []string          `json:"values"`
}

// Image is one picture of the product.
type Image struct {
	Key string            `json:"key"`
	Alt map[string]string `json:"alt"`
}

// Variant is a buyable version of the product as a shopper sees it: its price in the page's
// currency and the stock its merchant has free to sell.
type Variant struct {
	ID             uuid.UUID         `json:"id"`
	SKU            string            `json:"sku"`
	OptionValues   map[string]string `json:"option_values"`
	PriceMinor     int64             `json:"price_minor"`
	CompareAtMinor *int64            `json:"compare_at_minor"`
	Available      int               `json:"available"`
}

// Product is everything the product page shows, read in one query.
type Product struct {
	ID           uuid.UUID                  `json:"id"`
	Slug         string                     `json:"slug"`
	MerchantID   uuid.UUID                  `json:"merchant_id"`
	MerchantName string                     `json:"merchant_name"`
	CategoryID   *uuid.UUID                 `json:"category_id"`
	Category     *CategoryCount             `json:"category"` // Count unused
	Title        map[string]string          `json:"title"`
	Description  map[string]string          `json:"description"`
	Attributes   map[string]json.RawMessage `json:"attributes"`
	Options      []Option                   `json:"options"`
	Images       []Image                    `json:"images"`
	Variants     []Variant                  `json:"variants"` // active variants priced in Currency, in position order
	Currency     string                     `json:"currency"`
}

// productSQL reads a listed product by slug with everything below it: one round trip for the
// whole page. Listed means what a search document stands for: product and merchant active.
const productSQL = `SELECT jsonb_build_object(
	'id', p.id, 'slug', p.slug, 'merchant_id', p.merchant_id, 'merchant_name', m.name, 'category_id', p.category_id,
	'attributes', p.attributes,
	'category', (SELECT jsonb_build_object('id', c.id, 'slug', c.slug, 'name', c.name) FROM categories c
	  WHERE c.tenant_id = p.tenant_id AND c.id = p.category_id),
	'title', (SELECT coalesce(jsonb_object_agg(t.locale, t.title), '{}') FROM product_translations t
	  WHERE t.tenant_id = p.tenant_id AND t.product_id = p.id),
	'description', (SELECT coalesce(jsonb_object_agg(t.locale, t.description), '{}') FROM product_translations t
	  WHERE t.tenant_id = p.tenant_id AND t.product_id = p.id AND t.description <> ''),
	'options', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', o.code, 'name', o.name, 'values', o."values")
	  ORDER BY o.position, o.code), '[]') FROM product_options o WHERE o.tenant_id = p.tenant_id AND o.product_id = p.id),
	'images', (SELECT coalesce(jsonb_agg(jsonb_build_object('key', i.key, 'alt', i.alt) ORDER BY i.position, i.id), '[]')
	  FROM product_images i WHERE i.tenant_id = p.tenant_id AND i.product_id = p.id),
	'variants', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'sku', v.sku, 'option_values', v.option_values,
	    'price_minor', vp.amount_minor, 'compare_at_minor', vp.compare_at_minor,
	    'available', (SELECT coalesce(sum(l.available), 0) FROM inventory_levels l
	      WHERE l.tenant_id = v.tenant_id AND l.variant_id = v.id AND l.merchant_id = v.merchant_id))
	  ORDER BY v.position, v.id), '[]')
	  FROM variants v JOIN variant_prices vp ON vp.tenant_id = v.tenant_id AND vp.variant_id = v.id AND vp.currency = ?2
	  WHERE v.tenant_id = p.tenant_id AND v.product_id = p.id AND v.status = 'active'))
FROM products p JOIN merchants m ON m.tenant_id = p.tenant_id AND m.id = p.merchant_id AND m.status = 'active'
WHERE p.tenant_id = ?0 AND p.slug = ?1 AND p.status = 'active'`

// Product reads the listed product with slug for a shopper paying in currency. A draft, an
// archived product, a suspended merchant's product, another tenant's slug: all
// ErrProductNotFound, as if they did not exist.
func (s *Service) Product(ctx context.Context, tenantID uuid.UUID, slug, currency string) (Product, error) {
	var raw []byte
	currency = strings.ToUpper(currency)
	err := s.read(ctx, tenantID, func(scan scanFunc) error {
		return scan(productSQL, []any{tenantID, strings.ToLower(slug), currency}, &raw)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, ErrProductNotFound
	}
	if err != nil {
		return Product{}, fmt.Errorf("read product: %w", err)
	}
	var p Product
	if err := json.Unmarshal(raw, &p); err != nil {
		return Product{}, fmt.Errorf("read product: %w", err)
	}
	p.Currency = currency
	for i := range p.Images {
		if p.Images[i].Alt == nil {
			p.Images[i].Alt = map[string]string{}
		}
	}
	return p, nil
}
