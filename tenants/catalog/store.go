package catalog

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

type productRow struct {
	bun.BaseModel `bun:"table:products"`

	TenantID    uuid.UUID                  `bun:"tenant_id,pk"`
	ID          uuid.UUID                  `bun:"id,pk"`
	MerchantID  uuid.UUID                  `bun:"merchant_id"`
	Slug        string                     `bun:"slug"`
	Status      string                     `bun:"status"`
	CategoryID  *uuid.UUID                 `bun:"category_id"`
	Attributes  map[string]json.RawMessage `bun:"attributes,type:jsonb"`
	ReviewNote  string                     `bun:"review_note"`
	SubmittedAt *time.Time                 `bun:"submitted_at"`
	ReviewedAt  *time.Time                 `bun:"reviewed_at"`
	ReviewedBy  string                     `bun:"reviewed_by,nullzero"`
	CreatedAt   time.Time                  `bun:"created_at"`
	UpdatedAt   time.Time                  `bun:"updated_at"`
}

type translationRow struct {
	bun.BaseModel `bun:"table:product_translations"`

	TenantID    uuid.UUID `bun:"tenant_id,pk"`
	ProductID   uuid.UUID `bun:"product_id,pk"`
	MerchantID  uuid.UUID `bun:"merchant_id"`
	Locale      string    `bun:"locale,pk"`
	Title       string    `bun:"title"`
	Description string    `bun:"description"`
}

type optionRow struct {
	bun.BaseModel `bun:"table:product_options"`

	TenantID   uuid.UUID         `bun:"tenant_id,pk"`
	ID         uuid.UUID         `bun:"id,pk"`
	ProductID  uuid.UUID         `bun:"product_id"`
	MerchantID uuid.UUID         `bun:"merchant_id"`
	Code       string            `bun:"code"`
	Name       map[string]string `bun:"name,type:jsonb"`
	Values     []string          `bun:"values,array"`
	Position   int               `bun:"position"`
}

type variantRow struct {
	bun.BaseModel `bun:"table:variants"`

	TenantID     uuid.UUID         `bun:"tenant_id,pk"`
	ID           uuid.UUID         `bun:"id,pk"`
	ProductID    uuid.UUID         `bun:"product_id"`
	MerchantID   uuid.UUID         `bun:"merchant_id"`
	SKU          string            `bun:"sku"`
	OptionValues map[string]string `bun:"option_values,type:jsonb"`
	WeightGrams  *int              `bun:"weight_grams"`
	LengthMM     *int              `bun:"length_mm"`
	WidthMM      *int              `bun:"width_mm"`
	HeightMM     *int              `bun:"height_mm"`
	Status       string            `bun:"status"`
	Position     int               `bun:"position"`
	CreatedAt    time.Time         `bun:"created_at"`
	UpdatedAt    time.Time         `bun:"updated_at"`
}

type priceRow struct {
	bun.BaseModel `bun:"table:variant_prices"`

	TenantID       uuid.UUID `bun:"tenant_id,pk"`
	VariantID      uuid.UUID `bun:"variant_id,pk"`
	MerchantID     uuid.UUID `bun:"merchant_id"`
	Currency       string    `bun:"currency,pk"`
	AmountMinor    int64     `bun:"amount_minor"`
	CompareAtMinor *int64    `bun:"compare_at_minor"`
}

type imageRow struct {
	bun.BaseModel `bun:"table:product_images"`

	TenantID   uuid.UUID         `bun:"tenant_id,pk"`
	ID         uuid.UUID         `bun:"id,pk"`
	ProductID  uuid.UUID         `bun:"product_id"`
	MerchantID uuid.UUID         `bun:"merchant_id"`
	Key        string            `bun:"key"`
	Alt        map[string]string `bun:"alt,type:jsonb"`
	Position   int               `bun:"position"`
}

type categoryRow struct {
	bun.BaseModel `bun:"table:categories"`

	TenantID  uuid.UUID         `bun:"tenant_id,pk"`
	ID        uuid.UUID         `bun:"id,pk"`
	ParentID  *uuid.UUID        `bun:"parent_id"`
	Slug      string            `bun:"slug"`
	Name      map[string]string `bun:"name,type:jsonb"`
	Position  int               `bun:"position"`
	CreatedAt time.Time         `bun:"created_at"`
	UpdatedAt time.Time         `bun:"updated_at"`
}

type attributeRow struct {
	bun.BaseModel `bun:"table:attribute_definitions"`

	TenantID   uuid.UUID         `bun:"tenant_id,pk"`
	Code       string            `bun:"code,pk"`
	Type       string            `bun:"type"`
	Name       map[string]string `bun:"name,type:jsonb"`
	Choices    []string          `bun:"choices,array"`
	Filterable bool              `bun:"filterable"`
}

func (r variantRow) variant(prices []Price) Variant {
	if prices == nil {
		prices = []Price{}
	}
	ov := r.OptionValues
	if ov == nil {
		ov = map[string]string{}
	}
	return Variant{ID: r.ID, SKU: r.SKU, OptionValues: ov, WeightGrams: r.WeightGrams, LengthMM: r.LengthMM,
		WidthMM: r.WidthMM, HeightMM: r.HeightMM, Status: r.Status, Position: r.Position, Prices: prices}
}

// loadProducts reads rows and everything below them, one query per table for the whole page.
func loadProducts(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, rows []productRow) ([]Product, error) {
	out := make([]Product, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(rows))
	at := make(map[uuid.UUID]*Product, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		attrs := r.Attributes
		if attrs == nil {
			attrs = map[string]json.RawMessage{}
		}
		out[i] = Product{ID: r.ID, MerchantID: r.MerchantID, Slug: r.Slug, Status: r.Status, CategoryID: r.CategoryID,
			Attributes: attrs, Translations: map[string]Translation{}, Options: []Option{}, Variants: []Variant{},
			Images: []Image{}, ReviewNote: r.ReviewNote, SubmittedAt: r.SubmittedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
		at[r.ID] = &out[i]
	}
	var trs []translationRow
	if err := tx.NewSelect().Model(&trs).Where("tenant_id = ? AND product_id IN (?)", tenantID, bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, t := range trs {
		at[t.ProductID].Translations[t.Locale] = Translation{Title: t.Title, Description: t.Description}
	}
	var ops []optionRow
	if err := tx.NewSelect().Model(&ops).Where("tenant_id = ? AND product_id IN (?)", tenantID, bun.In(ids)).
		OrderExpr("position, code").Scan(ctx); err != nil {
		return nil, err
	}
	for _, o := range ops {
		p := at[o.ProductID]
		p.Options = append(p.Options, Option{Code: o.Code, Name: o.Name, Values: o.Values, Position: o.Position})
	}
	var imgs []imageRow
	if err := tx.NewSelect().Model(&imgs).Where("tenant_id = ? AND product_id IN (?)", tenantID, bun.In(ids)).
		OrderExpr("position, id").Scan(ctx); err != nil {
		return nil, err
	}
	for _, im := range imgs {
		p := at[im.ProductID]
		p.Images = append(p.Images, Image{ID: im.ID, Key: im.Key, Alt: im.Alt, Position: im.Position})
	}
	var vs []variantRow
	if err := tx.NewSelect().Model(&vs).Where("tenant_id = ? AND product_id IN (?)", tenantID, bun.In(ids)).
		OrderExpr("position, id").Scan(ctx); err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return out, nil
	}
	vids := make([]uuid.UUID, len(vs))
	for i, v := range vs {
		vids[i] = v.ID
	}
	var prs []priceRow
	if err := tx.NewSelect().Model(&prs).Where("tenant_id = ? AND variant_id IN (?)", tenantID, bun.In(vids)).
		OrderExpr("currency").Scan(ctx); err != nil {
		return nil, err
	}
	prices := map[uuid.UUID][]Price{}
	for _, pr := range prs {
		prices[pr.VariantID] = append(prices[pr.VariantID], Price{Currency: pr.Currency, AmountMinor: pr.AmountMinor, CompareAtMinor: pr.CompareAtMinor})
	}
	for _, v := range vs {
		p := at[v.ProductID]
		p.Variants = append(p.Variants, v.variant(prices[v.ID]))
	}
	return out, nil
}
