package promotions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// FlashSale is a time-boxed price for a limited number of units of one variant.
type FlashSale struct {
	ID              uuid.UUID `json:"id"`
	MerchantID      uuid.UUID `json:"merchant_id"`
	VariantID       uuid.UUID `json:"variant_id"`
	SKU             string    `json:"sku"`
	Currency        string    `json:"currency"`
	PriceMinor      int64     `json:"price_minor"`
	Quantity        int       `json:"quantity" doc:"units offered at the sale price"`
	Sold            int       `json:"sold" doc:"units claimed by orders; never above quantity"`
	PerShopperLimit int       `json:"per_shopper_limit" doc:"units one shopper may buy; 0: no limit"`
	StartsAt        time.Time `json:"starts_at"`
	EndsAt          time.Time `json:"ends_at"`
	Active          bool      `json:"active"`
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// FlashSaleInput creates a flash sale. The price is a decimal in major units of the tenant's
// currency and must be below the variant's regular price.
type FlashSaleInput struct {
	VariantID       uuid.UUID  `json:"variant_id,omitempty" doc:"the variant, or give its sku"`
	SKU             string     `json:"sku,omitempty" doc:"the variant's SKU, instead of variant_id"`
	Price           string     `json:"price" doc:"decimal in major units, e.g. 9.99"`
	Quantity        int        `json:"quantity" minimum:"1" maximum:"1000000"`
	PerShopperLimit int        `json:"per_shopper_limit,omitempty" minimum:"0" maximum:"1000" doc:"0: no limit"`
	StartsAt        *time.Time `json:"starts_at,omitempty" doc:"default now"`
	EndsAt          time.Time  `json:"ends_at"`
}

// FlashPrice is a running flash sale as a cart or product page shows it.
type FlashPrice struct {
	SaleID, VariantID uuid.UUID
	PriceMinor        int64
	Currency          string
	Remaining         int
	PerShopperLimit   int
	StartsAt, EndsAt  time.Time
}

type flashRow struct {
	bun.BaseModel `bun:"table:flash_sales"`

	TenantID        uuid.UUID `bun:"tenant_id,pk"`
	ID              uuid.UUID `bun:"id,pk"`
	MerchantID      uuid.UUID `bun:"merchant_id"`
	VariantID       uuid.UUID `bun:"variant_id"`
	Currency        string    `bun:"currency"`
	PriceMinor      int64     `bun:"price_minor"`
	Quantity        int       `bun:"quantity"`
	Sold            int       `bun:"sold"`
	PerShopperLimit int       `bun:"per_shopper_limit"`
	StartsAt        time.Time `bun:"starts_at"`
	EndsAt          time.Time `bun:"ends_at"`
	Active          bool      `bun:"active"`
	CreatedBy       string    `bun:"created_by"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
}

func (r flashRow) sale() FlashSale {
	return FlashSale{ID: r.ID, MerchantID: r.MerchantID, VariantID: r.VariantID, Currency: r.Currency, PriceMinor: r.PriceMinor,
		Quantity: r.Quantity, Sold: r.Sold, PerShopperLimit: r.PerShopperLimit, StartsAt: r.StartsAt, EndsAt: r.EndsAt,
		Active: r.Active, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// CreateFlashSale puts a variant on sale. Merchant staff can only name their own variants (the
// merchant fence hides the others). One variant has at most one active sale at a time.
// Errors: invalid fields, ErrVariantNotFound, ErrFlashOverlap.
func (s *Service) CreateFlashSale(ctx context.Context, tenantID uuid.UUID, in FlashSaleInput) (FlashSale, error) {
	bad := map[string]string{}
	if in.Quantity < 1 || in.Quantity > 1_000_000 {
		bad["body.quantity"] = "1 to 1000000"
	}
	if in.PerShopperLimit < 0 || in.PerShopperLimit > 1000 {
		bad["body.per_shopper_limit"] = "0 (no limit) to 1000"
	}
	now := s.now().UTC()
	starts := now
	if in.StartsAt != nil {
		starts = in.StartsAt.UTC()
	}
	if !in.EndsAt.After(starts) {
		bad["body.ends_at"] = "after the start"
	} else if !in.EndsAt.After(now) {
		bad["body.ends_at"] = "in the future"
	}
	in.SKU = strings.TrimSpace(in.SKU)
	if in.VariantID == uuid.Nil && in.SKU == "" {
		bad["body.sku"] = "required"
	}
	var out FlashSale
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		cur, err := tenantCurrency(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		price := parseMoney(bad, "body.price", in.Price, cur, false)
		if len(bad) > 0 {
			return fault.Fields(bad)
		}
		var v struct {
			ID         uuid.UUID `bun:"id"`
			SKU        string    `bun:"sku"`
			MerchantID uuid.UUID `bun:"merchant_id"`
			Regular    *int64    `bun:"regular"`
		}
		q := tx.NewRaw(`SELECT v.id, v.sku, v.merchant_id, vp.amount_minor AS regular FROM variants v
			LEFT JOIN variant_prices vp ON vp.tenant_id = v.tenant_id AND vp.variant_id = v.id AND vp.currency = ?
			WHERE v.tenant_id = ? AND v.id = ?`, string(cur), tenantID, in.VariantID)
		if in.VariantID == uuid.Nil {
			q = tx.NewRaw(`SELECT v.id, v.sku, v.merchant_id, vp.amount_minor AS regular FROM variants v
			LEFT JOIN variant_prices vp ON vp.tenant_id = v.tenant_id AND vp.variant_id = v.id AND vp.currency = ?
			WHERE v.tenant_id = ? AND v.sku = ?`, string(cur), tenantID, in.SKU)
		}
		if err := q.Scan(ctx, &v); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrVariantNotFound
			}
			return err
		}
		in.VariantID = v.ID
		if v.Regular == nil || price >= *v.Regular {
			return fault.Fields(map[string]string{"body.price": "below the variant's regular price in " + string(cur)})
		}
		// Serialise sale creation per variant so two overlapping sales cannot both pass the check.
		if _, err := tx.NewRaw("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "flash:"+tenantID.String()+":"+in.VariantID.String()).Exec(ctx); err != nil {
			return err
		}
		var overlapping int
		if err := tx.NewRaw(`SELECT count(*) FROM flash_sales WHERE tenant_id = ? AND variant_id = ? AND active
			AND starts_at < ? AND ? < ends_at`, tenantID, in.VariantID, in.EndsAt.UTC(), starts).Scan(ctx, &overlapping); err != nil {
			return err
		}
		if overlapping > 0 {
			return ErrFlashOverlap
		}
		r := flashRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), MerchantID: v.MerchantID, VariantID: in.VariantID,
			Currency: string(cur), PriceMinor: price, Quantity: in.Quantity, PerShopperLimit: in.PerShopperLimit,
			StartsAt: starts, EndsAt: in.EndsAt.UTC(), Active: true, CreatedBy: string(scope.ActorFrom(ctx)), CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			return err
		}
		out = r.sale()
		out.SKU = v.SKU
		return s.audit.Record(ctx, tx, "flash_sale.create", "flash_sale", r.ID.String(), nil, out)
	})
	if err != nil {
		return FlashSale{}, fmt.Errorf("create flash sale: %w", err)
	}
	return out, nil
}

// FlashFilter narrows ListFlashSales.
type FlashFilter struct {
	Active    *bool
	VariantID uuid.UUID
	httpx.PageParams
}

// ListFlashSales pages through flash sales, newest first; merchant staff see only their own.
func (s *Service) ListFlashSales(ctx context.Context, tenantID uuid.UUID, f FlashFilter) (httpx.Page[FlashSale], error) {
	var rows []flashRow
	err := s.pageNewest(ctx, tenantID, f.PageParams, f.Active, &rows, func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.VariantID != uuid.Nil {
			q = q.Where("variant_id = ?", f.VariantID)
		}
		return q
	})
	if err != nil {
		return httpx.Page[FlashSale]{}, fmt.Errorf("list flash sales: %w", err)
	}
	out := make([]FlashSale, len(rows))
	for i, r := range rows {
		out[i] = r.sale()
	}
	if err := s.withSKUs(ctx, tenantID, out); err != nil {
		return httpx.Page[FlashSale]{}, fmt.Errorf("list flash sales: %w", err)
	}
	return httpx.PageOf(out, f.PageParams, func(fs FlashSale) any { return fs.ID }), nil
}

func getFlash(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID, lock bool) (flashRow, error) {
	return getRow[flashRow](ctx, tx, tenantID, id, lock, ErrNoSuchFlashSale)
}

// GetFlashSale returns one flash sale. Errors: ErrNoSuchFlashSale.
func (s *Service) GetFlashSale(ctx context.Context, tenantID, id uuid.UUID) (FlashSale, error) {
	var out FlashSale
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		r, err := getFlash(ctx, tx, tenantID, id, false)
		out = r.sale()
		return err
	})
	if err == nil {
		sales := []FlashSale{out}
		err = s.withSKUs(ctx, tenantID, sales)
		out = sales[0]
	}
	if err != nil {
		return FlashSale{}, fmt.Errorf("get flash sale: %w", err)
	}
	return out, nil
}

// DeactivateFlashSale ends a flash sale now; units already claimed stay sold.
// Errors: ErrNoSuchFlashSale, ErrInactive.
func (s *Service) DeactivateFlashSale(ctx context.Context, tenantID, id uuid.UUID) (FlashSale, error) {
	var out FlashSale
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		r, err := getFlash(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if !r.Active {
			return ErrInactive
		}
		before := r.sale()
		r.Active, r.UpdatedAt = false, s.now().UTC()
		if _, err := tx.NewUpdate().Model(&r).Column("active", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		out = r.sale()
		return s.audit.Record(ctx, tx, "flash_sale.deactivate", "flash_sale", id.String(), before, out)
	})
	if err == nil {
		sales := []FlashSale{out}
		err = s.withSKUs(ctx, tenantID, sales)
		out = sales[0]
	}
	if err != nil {
		return FlashSale{}, fmt.Errorf("deactivate flash sale: %w", err)
	}
	return out, nil
}

// FlashPrices returns the running sale of each variant that has one in currency: active,
// started, not ended, units left. With more than one (which creation prevents) the lowest
// price wins.
func (s *Service) FlashPrices(ctx context.Context, tenantID uuid.UUID, variantIDs []uuid.UUID, currency string) (map[uuid.UUID]FlashPrice, error) {
	out := make(map[uuid.UUID]FlashPrice, len(variantIDs))
	if len(variantIDs) == 0 {
		return out, nil
	}
	// Product pages and carts ask on every view: one round trip (db.Read), the rows folded
	// into one JSON array.
	var raw []byte
	now := s.now()
	err := s.db.Read(ctx, tenantID, func(read db.RowFunc) error {
		return read(`SELECT coalesce(json_agg(json_build_object('SaleID', id, 'VariantID', variant_id, 'PriceMinor', price_minor,
				'Currency', currency, 'Remaining', quantity - sold, 'PerShopperLimit', per_shopper_limit,
				'StartsAt', starts_at, 'EndsAt', ends_at)), '[]')
			FROM (SELECT DISTINCT ON (variant_id) * FROM flash_sales
				WHERE tenant_id = ? AND variant_id IN (?) AND currency = ? AND active AND starts_at <= ? AND ? < ends_at AND sold < quantity
				ORDER BY variant_id, price_minor, id) AS running`,
			[]any{tenantID, bun.In(variantIDs), strings.ToUpper(currency), now, now}, &raw)
	})
	if err != nil {
		return nil, fmt.Errorf("flash prices: %w", err)
	}
	var prices []FlashPrice
	if err := json.Unmarshal(raw, &prices); err != nil {
		return nil, fmt.Errorf("flash prices: %w", err)
	}
	for _, p := range prices {
		p.StartsAt, p.EndsAt = p.StartsAt.UTC(), p.EndsAt.UTC()
		out[p.VariantID] = p
	}
	return out, nil
}

// ClaimFlash takes qty units of a flash sale for orderID inside the caller's (checkout's)
// transaction. The sale row is locked first, so claims of one sale queue on it: the shopper's
// earlier claims are summed under that lock, and sold moves only through a conditional UPDATE
// (sold + qty <= quantity) that a CHECK constraint backs, so the sale cannot oversell. On error
// nothing has been written.
// Errors: ErrFlashEnded (not running, or not this variant's), ErrFlashSoldOut, ErrFlashLimit,
// ErrFlashClaimed (the same order twice), invalid input.
func (s *Service) ClaimFlash(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, shopperKey string, saleID, variantID uuid.UUID, qty int) error {
	if err := checkShopperKey(shopperKey); err != nil {
		return err
	}
	if qty < 1 {
		return fault.Fields(map[string]string{"quantity": "at least 1"})
	}
	r, err := getFlash(ctx, tx, tenantID, saleID, true)
	if errors.Is(err, ErrNoSuchFlashSale) || err == nil && r.VariantID != variantID {
		return fmt.Errorf("claim flash: %w", ErrFlashEnded)
	}
	if err != nil {
		return fmt.Errorf("claim flash: %w", err)
	}
	now := s.now()
	if !r.Active || now.Before(r.StartsAt) || !now.Before(r.EndsAt) {
		return fmt.Errorf("claim flash: %w", ErrFlashEnded)
	}
	var claimed int
	if err := tx.NewRaw("SELECT count(*) FROM flash_claims WHERE tenant_id = ? AND sale_id = ? AND order_id = ?", tenantID, saleID, orderID).
		Scan(ctx, &claimed); err != nil {
		return fmt.Errorf("claim flash: %w", err)
	}
	if claimed > 0 {
		return fmt.Errorf("claim flash: %w", ErrFlashClaimed)
	}
	if r.Sold+qty > r.Quantity {
		return fmt.Errorf("claim flash: %w", ErrFlashSoldOut)
	}
	if r.PerShopperLimit > 0 {
		var had int
		if err := tx.NewRaw("SELECT coalesce(sum(quantity), 0) FROM flash_claims WHERE tenant_id = ? AND sale_id = ? AND shopper_key = ?",
			tenantID, saleID, shopperKey).Scan(ctx, &had); err != nil {
			return fmt.Errorf("claim flash: %w", err)
		}
		if had+qty > r.PerShopperLimit {
			return fmt.Errorf("claim flash: %w", ErrFlashLimit)
		}
	}
	res, err := tx.NewRaw(`UPDATE flash_sales SET sold = sold + ?, updated_at = now()
		WHERE tenant_id = ? AND id = ? AND sold + ? <= quantity`, qty, tenantID, saleID, qty).Exec(ctx)
	if err != nil {
		return fmt.Errorf("claim flash: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("claim flash: %w", ErrFlashSoldOut)
	}
	if _, err := tx.NewRaw(`INSERT INTO flash_claims (tenant_id, sale_id, merchant_id, order_id, shopper_key, quantity)
		VALUES (?, ?, ?, ?, ?, ?)`, tenantID, saleID, r.MerchantID, orderID, shopperKey, qty).Exec(ctx); err != nil {
		if _, dup := db.UniqueViolation(err); dup {
			return fmt.Errorf("claim flash: %w", ErrFlashClaimed)
		}
		return fmt.Errorf("claim flash: %w", err)
	}
	return nil
}

// withSKUs fills in the variants' SKUs, which staff know their stock by.
func (s *Service) withSKUs(ctx context.Context, tenantID uuid.UUID, sales []FlashSale) error {
	if len(sales) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(sales))
	for i, fs := range sales {
		ids[i] = fs.VariantID
	}
	var rows []struct {
		ID  uuid.UUID `bun:"id"`
		SKU string    `bun:"sku"`
	}
	if err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT id, sku FROM variants WHERE tenant_id = ? AND id IN (?)", tenantID, bun.In(ids)).Scan(ctx, &rows)
	}); err != nil {
		return err
	}
	sku := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		sku[r.ID] = r.SKU
	}
	for i := range sales {
		sales[i].SKU = sku[sales[i].VariantID]
	}
	return nil
}
