package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/money"
	"mercato/platform/scope"
)

// Shipping rate kinds.
const (
	RateFlat   = "flat"
	RateWeight = "weight"
)

// ErrTooHeavy says a parcel is heavier than a weight-based rate's last bracket.
var ErrTooHeavy = fault.New(fault.Unprocessable, "parcel_too_heavy", "the parcel is heavier than this shipping rate allows")

// Bracket is one step of a weight-based rate: parcels up to UpToGrams cost PriceMinor.
type Bracket struct {
	UpToGrams  int   `json:"up_to_grams" minimum:"1"`
	PriceMinor int64 `json:"price_minor" minimum:"0"`
}

// ShippingRate is how a merchant prices delivery in one currency.
type ShippingRate struct {
	ID            uuid.UUID `json:"id"`
	MerchantID    uuid.UUID `json:"merchant_id"`
	Name          string    `json:"name"`
	Currency      string    `json:"currency"`
	Kind          string    `json:"kind" enum:"flat,weight"`
	FlatMinor     int64     `json:"flat_minor" doc:"the price of a flat rate"`
	Brackets      []Bracket `json:"brackets" doc:"a weight-based rate's steps, ascending by weight"`
	FreeOverMinor *int64    `json:"free_over_minor,omitempty" doc:"free when the merchant's goods after discount reach this"`
	Active        bool      `json:"active"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ShippingRateInput creates or replaces a rate.
type ShippingRateInput struct {
	// MerchantID may be left zero in a merchant scope: the scope's merchant.
	MerchantID    uuid.UUID `json:"merchant_id,omitempty" doc:"required for tenant staff; merchant staff may omit it"`
	Name          string    `json:"name" maxLength:"100"`
	Currency      string    `json:"currency" maxLength:"3"`
	Kind          string    `json:"kind" enum:"flat,weight"`
	FlatMinor     int64     `json:"flat_minor,omitempty"`
	Brackets      []Bracket `json:"brackets,omitempty" maxItems:"50"`
	FreeOverMinor *int64    `json:"free_over_minor,omitempty"`
	Active        *bool     `json:"active,omitempty" doc:"default true"`
}

// Quote is what the rate charges for a merchant's parcel: goodsMinor is the merchant's goods
// after discount, grams the parcel's weight. Pure, so checkout and the pages price alike.
// Errors: ErrTooHeavy.
func (r ShippingRate) Quote(goodsMinor int64, grams int) (int64, error) {
	if r.FreeOverMinor != nil && goodsMinor >= *r.FreeOverMinor {
		return 0, nil
	}
	if r.Kind == RateFlat {
		return r.FlatMinor, nil
	}
	for _, b := range r.Brackets {
		if grams <= b.UpToGrams {
			return b.PriceMinor, nil
		}
	}
	return 0, ErrTooHeavy
}

type shippingRow struct {
	bun.BaseModel `bun:"table:shipping_rates"`
	TenantID      uuid.UUID `bun:"tenant_id,pk"`
	ID            uuid.UUID `bun:"id,pk"`
	MerchantID    uuid.UUID `bun:"merchant_id"`
	Name          string    `bun:"name"`
	Currency      string    `bun:"currency"`
	Kind          string    `bun:"kind"`
	FlatMinor     int64     `bun:"flat_minor"`
	Brackets      []Bracket `bun:"brackets,type:jsonb"`
	FreeOverMinor *int64    `bun:"free_over_minor"`
	Active        bool      `bun:"active"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

func (r shippingRow) rate() ShippingRate {
	b := r.Brackets
	if b == nil {
		b = []Bracket{}
	}
	return ShippingRate{ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, Currency: r.Currency, Kind: r.Kind, FlatMinor: r.FlatMinor,
		Brackets: b, FreeOverMinor: r.FreeOverMinor, Active: r.Active, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func validateRate(ctx context.Context, in *ShippingRateInput) error {
	bad := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		bad["body.name"] = "1–100 characters"
	}
	if !money.Currency(in.Currency).Known() {
		bad["body.currency"] = "a supported currency code such as USD"
	}
	switch in.Kind {
	case RateFlat:
		if in.FlatMinor < 0 {
			bad["body.flat_minor"] = "zero or more"
		}
		in.Brackets = nil
	case RateWeight:
		in.FlatMinor = 0
		if len(in.Brackets) == 0 || len(in.Brackets) > 50 {
			bad["body.brackets"] = "1–50 brackets"
		}
		for i, b := range in.Brackets {
			if b.UpToGrams <= 0 || b.PriceMinor < 0 || (i > 0 && b.UpToGrams <= in.Brackets[i-1].UpToGrams) {
				bad[fmt.Sprintf("body.brackets[%d]", i)] = "weights above zero and ascending, prices zero or more"
			}
		}
	default:
		bad["body.kind"] = "flat or weight"
	}
	if in.FreeOverMinor != nil && *in.FreeOverMinor < 0 {
		bad["body.free_over_minor"] = "zero or more"
	}
	if m, ok := scope.MerchantFrom(ctx); ok {
		if in.MerchantID == uuid.Nil {
			in.MerchantID = m
		} else if in.MerchantID != m {
			return ErrShippingRateNotFound
		}
	}
	if in.MerchantID == uuid.Nil {
		bad["body.merchant_id"] = "the merchant whose rate it is"
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// CreateShippingRate adds a rate. Merchant staff create rates for their own merchant only.
// Errors: invalid fields, ErrShippingRateNotFound (another merchant's id in a merchant scope,
// or an unknown merchant), ErrShippingRateTaken.
func (s *Service) CreateShippingRate(ctx context.Context, tenantID uuid.UUID, in ShippingRateInput) (ShippingRate, error) {
	if err := validateRate(ctx, &in); err != nil {
		return ShippingRate{}, err
	}
	now := s.now().UTC()
	row := shippingRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), MerchantID: in.MerchantID, Name: in.Name,
		Currency: in.Currency, Kind: in.Kind, FlatMinor: in.FlatMinor, Brackets: in.Brackets, FreeOverMinor: in.FreeOverMinor,
		Active: in.Active == nil || *in.Active, CreatedAt: now, UpdatedAt: now}
	if row.Brackets == nil {
		row.Brackets = []Bracket{}
	}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM merchants WHERE tenant_id = ? AND id = ?", tenantID, in.MerchantID).Scan(ctx, &n); err != nil {
			return fmt.Errorf("find merchant: %w", err)
		}
		if n == 0 {
			return ErrShippingRateNotFound
		}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrShippingRateTaken
			}
			return err
		}
		return s.audit.Record(ctx, tx, "shipping_rate.create", "shipping_rate", row.ID.String(), nil, row.rate())
	})
	if err != nil {
		return ShippingRate{}, fmt.Errorf("create shipping rate: %w", err)
	}
	return row.rate(), nil
}

// UpdateShippingRate replaces a rate's terms; orders already placed keep what they paid.
// Errors: as CreateShippingRate.
func (s *Service) UpdateShippingRate(ctx context.Context, tenantID, id uuid.UUID, in ShippingRateInput) (ShippingRate, error) {
	var out ShippingRate
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var row shippingRow
		if err := tx.NewSelect().Model(&row).Where("tenant_id = ? AND id = ?", tenantID, id).For("UPDATE").Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrShippingRateNotFound
			}
			return err
		}
		if in.MerchantID == uuid.Nil {
			in.MerchantID = row.MerchantID
		}
		if in.MerchantID != row.MerchantID {
			return fault.Fields(map[string]string{"body.merchant_id": "a rate cannot move to another merchant"})
		}
		if err := validateRate(ctx, &in); err != nil {
			return err
		}
		before := row.rate()
		row.Name, row.Currency, row.Kind, row.FlatMinor, row.FreeOverMinor = in.Name, in.Currency, in.Kind, in.FlatMinor, in.FreeOverMinor
		row.Brackets = in.Brackets
		if row.Brackets == nil {
			row.Brackets = []Bracket{}
		}
		if in.Active != nil {
			row.Active = *in.Active
		}
		row.UpdatedAt = s.now().UTC()
		if _, err := tx.NewUpdate().Model(&row).WherePK().Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrShippingRateTaken
			}
			return err
		}
		out = row.rate()
		return s.audit.Record(ctx, tx, "shipping_rate.update", "shipping_rate", id.String(), before, out)
	})
	if err != nil {
		return ShippingRate{}, fmt.Errorf("update shipping rate: %w", err)
	}
	return out, nil
}

// DeleteShippingRate removes a rate. Errors: ErrShippingRateNotFound.
func (s *Service) DeleteShippingRate(ctx context.Context, tenantID, id uuid.UUID) error {
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var row shippingRow
		if err := tx.NewDelete().Model(&row).Where("tenant_id = ? AND id = ?", tenantID, id).Returning("*").Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrShippingRateNotFound
			}
			return err
		}
		return s.audit.Record(ctx, tx, "shipping_rate.delete", "shipping_rate", id.String(), row.rate(), nil)
	})
	if err != nil {
		return fmt.Errorf("delete shipping rate: %w", err)
	}
	return nil
}

// ShippingRates lists the rates visible in scope, by merchant, currency and name; merchantID
// narrows to one merchant (uuid.Nil: all), activeOnly to rates a shopper may choose.
func (s *Service) ShippingRates(ctx context.Context, tenantID, merchantID uuid.UUID, activeOnly bool) ([]ShippingRate, error) {
	var rows []shippingRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		rows, err = shippingRates(ctx, tx, tenantID, merchantID, "", activeOnly)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list shipping rates: %w", err)
	}
	out := make([]ShippingRate, len(rows))
	for i, r := range rows {
		out[i] = r.rate()
	}
	return out, nil
}

func shippingRates(ctx context.Context, tx bun.IDB, tenantID, merchantID uuid.UUID, currency string, activeOnly bool) ([]shippingRow, error) {
	var rows []shippingRow
	q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr("merchant_id, currency, flat_minor, name")
	if merchantID != uuid.Nil {
		q = q.Where("merchant_id = ?", merchantID)
	}
	if currency != "" {
		q = q.Where("currency = ?", currency)
	}
	if activeOnly {
		q = q.Where("active")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	return rows, nil
}

// ShippingOption is one rate a shopper may choose for a merchant's parcel, priced.
type ShippingOption struct {
	RateID     uuid.UUID `json:"rate_id"`
	Name       string    `json:"name"`
	PriceMinor int64     `json:"price_minor"`
}

// ShippingOptions prices every active rate of each merchant in currency for its parcel
// (goods after discount and weight per merchant), cheapest first. Rates the parcel is too
// heavy for are left out. A merchant with no rate in the currency at all ships free and gets
// no options.
func (s *Service) ShippingOptions(ctx context.Context, tenantID uuid.UUID, currency string, parcels map[uuid.UUID]Parcel) (map[uuid.UUID][]ShippingOption, error) {
	out := map[uuid.UUID][]ShippingOption{}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		rates, err := shippingRates(ctx, tx, tenantID, uuid.Nil, currency, true)
		if err != nil {
			return err
		}
		out = shippingOptions(rates, parcels)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("shipping options: %w", err)
	}
	return out, nil
}

// Parcel is what one merchant ships in a checkout.
type Parcel struct {
	GoodsMinor  int64
	WeightGrams int
}

func shippingOptions(rates []shippingRow, parcels map[uuid.UUID]Parcel) map[uuid.UUID][]ShippingOption {
	out := map[uuid.UUID][]ShippingOption{}
	for _, r := range rates {
		p, ok := parcels[r.MerchantID]
		if !ok {
			continue
		}
		price, err := r.rate().Quote(p.GoodsMinor, p.WeightGrams)
		if err != nil {
			continue
		}
		out[r.MerchantID] = append(out[r.MerchantID], ShippingOption{RateID: r.ID, Name: r.Name, PriceMinor: price})
	}
	for m := range out {
		slices.SortStableFunc(out[m], func(a, b ShippingOption) int {
			switch {
			case a.PriceMinor < b.PriceMinor:
				return -1
			case a.PriceMinor > b.PriceMinor:
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
	return out
}
