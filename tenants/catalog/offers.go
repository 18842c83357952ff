package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Offer is what a variant costs and who sells it, right now, as a shopper sees it.
type Offer struct {
	VariantID, ProductID, MerchantID uuid.UUID
	MerchantName, ProductSlug, SKU   string
	Title                            map[string]string // per locale (en always present)
	OptionValues                     map[string]string
	ImageKey                         string // first image's blob key, "" if none
	Currency                         string
	PriceMinor                       int64 // regular price in Currency
	CompareAtMinor                   *int64
	WeightGrams                      int  // 0 when unknown
	Available                        int  // sum of available over the merchant's locations
	Buyable                          bool // product active, variant active, merchant approved, has a price in Currency
}

// offerRow is one variant joined with everything an Offer needs.
type offerRow struct {
	VariantID      uuid.UUID         `bun:"variant_id"`
	ProductID      uuid.UUID         `bun:"product_id"`
	MerchantID     uuid.UUID         `bun:"merchant_id"`
	MerchantName   string            `bun:"merchant_name"`
	MerchantStatus string            `bun:"merchant_status"`
	ProductSlug    string            `bun:"product_slug"`
	ProductStatus  string            `bun:"product_status"`
	VariantStatus  string            `bun:"variant_status"`
	SKU            string            `bun:"sku"`
	OptionValues   map[string]string `bun:"option_values,type:jsonb"`
	WeightGrams    int               `bun:"weight_grams"`
	Title          json.RawMessage   `bun:"title,type:jsonb"`
	ImageKey       string            `bun:"image_key"`
	PriceMinor     *int64            `bun:"price_minor"`
	CompareAtMinor *int64            `bun:"compare_at_minor"`
	Available      int               `bun:"available"`
}

// Offers prices variants for a shopper in one currency: carts re-price from it on every view
// and checkout freezes what it returns. Variants that do not exist in the tenant are absent
// from the map; variants that exist but cannot be bought now are present with Buyable false,
// so a cart can say why a line is unavailable. It is one query (stock from inventory_levels
// included), because the cart page calls it on every view.
func (s *Service) Offers(ctx context.Context, tenantID uuid.UUID, variantIDs []uuid.UUID, currency string) (map[uuid.UUID]Offer, error) {
	out := make(map[uuid.UUID]Offer, len(variantIDs))
	if len(variantIDs) == 0 {
		return out, nil
	}
	currency = strings.ToUpper(currency)
	var rows []offerRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT v.id AS variant_id, v.product_id, v.merchant_id, m.name AS merchant_name,
			m.status AS merchant_status, p.slug AS product_slug, p.status AS product_status, v.status AS variant_status,
			v.sku, v.option_values, coalesce(v.weight_grams, 0) AS weight_grams,
			(SELECT coalesce(jsonb_object_agg(t.locale, t.title), '{}'::jsonb) FROM product_translations t
			  WHERE t.tenant_id = v.tenant_id AND t.product_id = v.product_id) AS title,
			coalesce((SELECT i.key FROM product_images i WHERE i.tenant_id = v.tenant_id AND i.product_id = v.product_id
			  ORDER BY i.position, i.id LIMIT 1), '') AS image_key,
			vp.amount_minor AS price_minor, vp.compare_at_minor,
			(SELECT coalesce(sum(l.available), 0)::int FROM inventory_levels l
			  WHERE l.tenant_id = v.tenant_id AND l.variant_id = v.id AND l.merchant_id = v.merchant_id) AS available
			FROM variants v
			JOIN products p ON p.tenant_id = v.tenant_id AND p.id = v.product_id
			JOIN merchants m ON m.tenant_id = v.tenant_id AND m.id = v.merchant_id
			LEFT JOIN variant_prices vp ON vp.tenant_id = v.tenant_id AND vp.variant_id = v.id AND vp.currency = ?
			WHERE v.tenant_id = ? AND v.id IN (?)`, currency, tenantID, bun.In(variantIDs)).Scan(ctx, &rows)
	})
	if err != nil {
		return nil, fmt.Errorf("offers: %w", err)
	}
	for _, r := range rows {
		title := map[string]string{}
		if err := json.Unmarshal(r.Title, &title); err != nil {
			return nil, fmt.Errorf("offers: title of %s: %w", r.ProductID, err)
		}
		if title["en"] == "" {
			title["en"] = r.ProductSlug // a draft may have no translation yet; en is promised
		}
		ov := r.OptionValues
		if ov == nil {
			ov = map[string]string{}
		}
		o := Offer{VariantID: r.VariantID, ProductID: r.ProductID, MerchantID: r.MerchantID, MerchantName: r.MerchantName,
			ProductSlug: r.ProductSlug, SKU: r.SKU, Title: title, OptionValues: ov, ImageKey: r.ImageKey, Currency: currency,
			CompareAtMinor: r.CompareAtMinor, WeightGrams: r.WeightGrams, Available: r.Available}
		if r.PriceMinor != nil {
			o.PriceMinor = *r.PriceMinor
		}
		o.Buyable = r.PriceMinor != nil && r.ProductStatus == StatusActive && r.VariantStatus == "active" && r.MerchantStatus == "active"
		out[r.VariantID] = o
	}
	return out, nil
}
