package catalog

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/money"
)

// VariantInput adds a variant. Dimensions are whole grams and millimetres.
type VariantInput struct {
	SKU          string            `json:"sku" doc:"unique in the marketplace; 1–64 of A-Z, a-z, 0-9, . _ -"`
	OptionValues map[string]string `json:"option_values,omitempty" doc:"one value per option code of the product"`
	WeightGrams  *int              `json:"weight_grams,omitempty" minimum:"0"`
	LengthMM     *int              `json:"length_mm,omitempty" minimum:"0"`
	WidthMM      *int              `json:"width_mm,omitempty" minimum:"0"`
	HeightMM     *int              `json:"height_mm,omitempty" minimum:"0"`
	Position     int               `json:"position,omitempty"`
}

// VariantPatch changes a variant; absent fields stay.
type VariantPatch struct {
	SKU          *string           `json:"sku,omitempty"`
	OptionValues map[string]string `json:"option_values,omitempty"`
	WeightGrams  *int              `json:"weight_grams,omitempty" minimum:"0"`
	LengthMM     *int              `json:"length_mm,omitempty" minimum:"0"`
	WidthMM      *int              `json:"width_mm,omitempty" minimum:"0"`
	HeightMM     *int              `json:"height_mm,omitempty" minimum:"0"`
	Status       *string           `json:"status,omitempty" enum:"active,archived"`
	Position     *int              `json:"position,omitempty"`
}

// PriceInput sets a variant's price in one currency, written in major units as a decimal
// string ("12.50"; "1200" for JPY) so that a fraction the currency does not have is refused,
// never rounded.
type PriceInput struct {
	Currency  string `json:"currency" doc:"ISO 4217, upper case"`
	Amount    string `json:"amount" doc:"decimal in major units, at least 0"`
	CompareAt string `json:"compare_at,omitempty" doc:"the former price; above amount"`
}

func checkDims(bad map[string]string, vals map[string]*int) {
	for k, v := range vals {
		if v != nil && (*v < 0 || *v > 10_000_000) {
			bad["body."+k] = "a whole number from 0 to 10000000"
		}
	}
}

func checkOptionValues(ctx context.Context, tx bun.IDB, tenantID, productID uuid.UUID, vals map[string]string) error {
	var ops []optionRow
	if err := tx.NewSelect().Model(&ops).Where("tenant_id = ? AND product_id = ?", tenantID, productID).Scan(ctx); err != nil {
		return err
	}
	allowed := map[string]map[string]bool{}
	for _, o := range ops {
		allowed[o.Code] = map[string]bool{}
		for _, v := range o.Values {
			allowed[o.Code][v] = true
		}
	}
	bad := map[string]string{}
	for code, v := range vals {
		if vs, ok := allowed[code]; !ok {
			bad["body.option_values."+code] = "not an option of this product"
		} else if !vs[v] {
			bad["body.option_values."+code] = "not one of the option's values"
		}
	}
	for code := range allowed {
		if _, ok := vals[code]; !ok {
			bad["body.option_values."+code] = "required"
		}
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// AddVariant adds a variant to a product. Errors: ErrNotFound, ErrTransition, ErrSKUTaken,
// invalid fields.
func (s *Service) AddVariant(ctx context.Context, tenantID, productID uuid.UUID, in VariantInput) (Variant, error) {
	bad := map[string]string{}
	if !skuRE.MatchString(in.SKU) {
		bad["body.sku"] = "1–64 characters of A-Z, a-z, 0-9, ., _ and -"
	}
	checkDims(bad, map[string]*int{"weight_grams": in.WeightGrams, "length_mm": in.LengthMM, "width_mm": in.WidthMM, "height_mm": in.HeightMM})
	if len(bad) > 0 {
		return Variant{}, fault.Fields(bad)
	}
	var out Variant
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		p, err := getProduct(ctx, tx, tenantID, productID, true)
		if err != nil {
			return err
		}
		if p.Status == StatusArchived || p.Status == StatusPendingReview {
			return ErrTransition
		}
		if in.OptionValues == nil {
			in.OptionValues = map[string]string{}
		}
		if err := checkOptionValues(ctx, tx, tenantID, productID, in.OptionValues); err != nil {
			return err
		}
		now := s.now().UTC()
		r := variantRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), ProductID: productID, MerchantID: p.MerchantID,
			SKU: in.SKU, OptionValues: in.OptionValues, WeightGrams: in.WeightGrams, LengthMM: in.LengthMM, WidthMM: in.WidthMM,
			HeightMM: in.HeightMM, Status: "active", Position: in.Position, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrSKUTaken
			}
			return err
		}
		out = r.variant(nil)
		return s.audit.Record(ctx, tx, "product.variant_add", "variant", r.ID.String(), nil, out)
	})
	if err != nil {
		return Variant{}, fmt.Errorf("add variant: %w", err)
	}
	return out, nil
}

// lockVariant reads a variant of the product (under the caller's RLS scope) for update.
func lockVariant(ctx context.Context, tx bun.IDB, tenantID, productID, variantID uuid.UUID) (variantRow, error) {
	var r variantRow
	if err := tx.NewSelect().Model(&r).Where("tenant_id = ? AND id = ? AND product_id = ?", tenantID, variantID, productID).
		For("UPDATE").Scan(ctx); err != nil {
		return r, ErrVariantNotFound
	}
	return r, nil
}

func variantPrices(ctx context.Context, tx bun.IDB, tenantID, variantID uuid.UUID) ([]Price, error) {
	var prs []priceRow
	if err := tx.NewSelect().Model(&prs).Where("tenant_id = ? AND variant_id = ?", tenantID, variantID).OrderExpr("currency").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]Price, len(prs))
	for i, pr := range prs {
		out[i] = Price{Currency: pr.Currency, AmountMinor: pr.AmountMinor, CompareAtMinor: pr.CompareAtMinor}
	}
	return out, nil
}

// UpdateVariant changes a variant. Errors: ErrVariantNotFound, ErrSKUTaken, invalid fields.
func (s *Service) UpdateVariant(ctx context.Context, tenantID, productID, variantID uuid.UUID, in VariantPatch) (Variant, error) {
	bad := map[string]string{}
	if in.SKU != nil && !skuRE.MatchString(*in.SKU) {
		bad["body.sku"] = "1–64 characters of A-Z, a-z, 0-9, ., _ and -"
	}
	if in.Status != nil && *in.Status != "active" && *in.Status != "archived" {
		bad["body.status"] = "active or archived"
	}
	checkDims(bad, map[string]*int{"weight_grams": in.WeightGrams, "length_mm": in.LengthMM, "width_mm": in.WidthMM, "height_mm": in.HeightMM})
	if len(bad) > 0 {
		return Variant{}, fault.Fields(bad)
	}
	var out Variant
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		r, err := lockVariant(ctx, tx, tenantID, productID, variantID)
		if err != nil {
			return err
		}
		prices, err := variantPrices(ctx, tx, tenantID, variantID)
		if err != nil {
			return err
		}
		before := r.variant(prices)
		if in.OptionValues != nil {
			if err := checkOptionValues(ctx, tx, tenantID, productID, in.OptionValues); err != nil {
				return err
			}
			r.OptionValues = in.OptionValues
		}
		if in.SKU != nil {
			r.SKU = *in.SKU
		}
		for _, f := range []struct {
			dst **int
			src *int
		}{{&r.WeightGrams, in.WeightGrams}, {&r.LengthMM, in.LengthMM}, {&r.WidthMM, in.WidthMM}, {&r.HeightMM, in.HeightMM}} {
			if f.src != nil {
				*f.dst = f.src
			}
		}
		if in.Status != nil {
			r.Status = *in.Status
		}
		if in.Position != nil {
			r.Position = *in.Position
		}
		r.UpdatedAt = s.now().UTC()
		if _, err := tx.NewUpdate().Model(&r).Column("sku", "option_values", "weight_grams", "length_mm", "width_mm", "height_mm",
			"status", "position", "updated_at").WherePK().Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrSKUTaken
			}
			return err
		}
		out = r.variant(prices)
		return s.audit.Record(ctx, tx, "product.variant_update", "variant", variantID.String(), before, out)
	})
	if err != nil {
		return Variant{}, fmt.Errorf("update variant: %w", err)
	}
	return out, nil
}

// ParsePrice validates a price against its currency: a supported ISO 4217 code, an amount of
// at least 0 with no more fraction digits than the currency has (money.ParseDecimal, which
// never rounds), and a compare-at price above the amount.
func ParsePrice(in PriceInput) (Price, error) {
	bad := map[string]string{}
	cur, err := money.ParseCurrency(in.Currency)
	if err != nil {
		return Price{}, fault.Fields(map[string]string{"body.currency": "a supported ISO 4217 code in upper case"})
	}
	amt, err := money.ParseDecimal(in.Amount, cur)
	switch {
	case err != nil:
		bad["body.amount"] = fmt.Sprintf("a decimal with at most %d fraction digits for %s", cur.Exponent(), cur)
	case amt.Sign() < 0:
		bad["body.amount"] = "at least 0"
	}
	p := Price{Currency: string(cur), AmountMinor: amt.Minor}
	if in.CompareAt != "" {
		cmp, err := money.ParseDecimal(in.CompareAt, cur)
		switch {
		case err != nil:
			bad["body.compare_at"] = fmt.Sprintf("a decimal with at most %d fraction digits for %s", cur.Exponent(), cur)
		case cmp.Minor <= amt.Minor:
			bad["body.compare_at"] = "above the amount"
		default:
			p.CompareAtMinor = &cmp.Minor
		}
	}
	if len(bad) > 0 {
		return Price{}, fault.Fields(bad)
	}
	return p, nil
}

// SetPrice sets (or replaces) a variant's price in one currency.
// Errors: ErrVariantNotFound, invalid fields.
func (s *Service) SetPrice(ctx context.Context, tenantID, productID, variantID uuid.UUID, in PriceInput) (Variant, error) {
	price, err := ParsePrice(in)
	if err != nil {
		return Variant{}, err
	}
	var out Variant
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		r, err := lockVariant(ctx, tx, tenantID, productID, variantID)
		if err != nil {
			return err
		}
		before, err := variantPrices(ctx, tx, tenantID, variantID)
		if err != nil {
			return err
		}
		row := priceRow{TenantID: tenantID, VariantID: variantID, MerchantID: r.MerchantID, Currency: price.Currency,
			AmountMinor: price.AmountMinor, CompareAtMinor: price.CompareAtMinor}
		if _, err := tx.NewInsert().Model(&row).On("CONFLICT (tenant_id, variant_id, currency) DO UPDATE").
			Set("amount_minor = EXCLUDED.amount_minor, compare_at_minor = EXCLUDED.compare_at_minor, updated_at = now()").Exec(ctx); err != nil {
			return err
		}
		after, err := variantPrices(ctx, tx, tenantID, variantID)
		if err != nil {
			return err
		}
		out = r.variant(after)
		return s.audit.Record(ctx, tx, "product.price_set", "variant", variantID.String(), map[string]any{"prices": before}, map[string]any{"prices": after})
	})
	if err != nil {
		return Variant{}, fmt.Errorf("set price: %w", err)
	}
	return out, nil
}
