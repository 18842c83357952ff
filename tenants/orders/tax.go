package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
)

// TaxRate is the tax of one region of the tenant: a country, or a region code within it.
type TaxRate struct {
	ID        uuid.UUID `json:"id"`
	Country   string    `json:"country"`
	Region    string    `json:"region" doc:"empty for the whole country"`
	Name      string    `json:"name"`
	RateBP    int       `json:"rate_bp" doc:"basis points: 100 = 1%"`
	Inclusive bool      `json:"inclusive" doc:"prices already contain the tax"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TaxRateInput creates or replaces a tax rate.
type TaxRateInput struct {
	Country   string `json:"country" maxLength:"2" doc:"ISO 3166-1 alpha-2"`
	Region    string `json:"region,omitempty" maxLength:"10"`
	Name      string `json:"name" maxLength:"100"`
	RateBP    int    `json:"rate_bp" minimum:"0" maximum:"10000"`
	Inclusive bool   `json:"inclusive,omitempty"`
}

type taxRow struct {
	bun.BaseModel `bun:"table:tax_rates"`
	TenantID      uuid.UUID `bun:"tenant_id,pk"`
	ID            uuid.UUID `bun:"id,pk"`
	Country       string    `bun:"country"`
	Region        string    `bun:"region"`
	Name          string    `bun:"name"`
	RateBP        int       `bun:"rate_bp"`
	Inclusive     bool      `bun:"inclusive"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

func (r taxRow) rate() TaxRate {
	return TaxRate{ID: r.ID, Country: r.Country, Region: r.Region, Name: r.Name, RateBP: r.RateBP, Inclusive: r.Inclusive,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

var (
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	regionRE  = regexp.MustCompile(`^[A-Z0-9-]{0,10}$`)
)

func validateTax(in *TaxRateInput) error {
	bad := map[string]string{}
	in.Country = strings.ToUpper(strings.TrimSpace(in.Country))
	in.Region = strings.ToUpper(strings.TrimSpace(in.Region))
	in.Name = strings.TrimSpace(in.Name)
	if !countryRE.MatchString(in.Country) {
		bad["body.country"] = "two letters, e.g. US"
	}
	if !regionRE.MatchString(in.Region) {
		bad["body.region"] = "up to 10 letters, digits or -"
	}
	if in.Name == "" || len(in.Name) > 100 {
		bad["body.name"] = "1–100 characters"
	}
	if in.RateBP < 0 || in.RateBP > 10000 {
		bad["body.rate_bp"] = "0–10000"
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// CreateTaxRate adds a region's tax rate. Tenant staff only.
// Errors: invalid fields, ErrTenantOnly, ErrTaxRateTaken.
func (s *Service) CreateTaxRate(ctx context.Context, tenantID uuid.UUID, in TaxRateInput) (TaxRate, error) {
	if err := tenantStaff(ctx); err != nil {
		return TaxRate{}, err
	}
	if err := validateTax(&in); err != nil {
		return TaxRate{}, err
	}
	now := s.now().UTC()
	row := taxRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), Country: in.Country, Region: in.Region, Name: in.Name,
		RateBP: in.RateBP, Inclusive: in.Inclusive, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrTaxRateTaken
			}
			return err
		}
		return s.audit.Record(ctx, tx, "tax_rate.create", "tax_rate", row.ID.String(), nil, row.rate())
	})
	if err != nil {
		return TaxRate{}, fmt.Errorf("create tax rate: %w", err)
	}
	return row.rate(), nil
}

// UpdateTaxRate replaces a tax rate; placed orders keep the tax they were charged.
// Errors: as CreateTaxRate, ErrTaxRateNotFound.
func (s *Service) UpdateTaxRate(ctx context.Context, tenantID, id uuid.UUID, in TaxRateInput) (TaxRate, error) {
	if err := tenantStaff(ctx); err != nil {
		return TaxRate{}, err
	}
	if err := validateTax(&in); err != nil {
		return TaxRate{}, err
	}
	var out TaxRate
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var row taxRow
		if err := tx.NewSelect().Model(&row).Where("tenant_id = ? AND id = ?", tenantID, id).For("UPDATE").Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrTaxRateNotFound
			}
			return err
		}
		before := row.rate()
		row.Country, row.Region, row.Name, row.RateBP, row.Inclusive = in.Country, in.Region, in.Name, in.RateBP, in.Inclusive
		row.UpdatedAt = s.now().UTC()
		if _, err := tx.NewUpdate().Model(&row).WherePK().Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrTaxRateTaken
			}
			return err
		}
		out = row.rate()
		return s.audit.Record(ctx, tx, "tax_rate.update", "tax_rate", id.String(), before, out)
	})
	if err != nil {
		return TaxRate{}, fmt.Errorf("update tax rate: %w", err)
	}
	return out, nil
}

// DeleteTaxRate removes a tax rate. Errors: ErrTenantOnly, ErrTaxRateNotFound.
func (s *Service) DeleteTaxRate(ctx context.Context, tenantID, id uuid.UUID) error {
	if err := tenantStaff(ctx); err != nil {
		return err
	}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var row taxRow
		if err := tx.NewDelete().Model(&row).Where("tenant_id = ? AND id = ?", tenantID, id).Returning("*").Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrTaxRateNotFound
			}
			return err
		}
		return s.audit.Record(ctx, tx, "tax_rate.delete", "tax_rate", id.String(), row.rate(), nil)
	})
	if err != nil {
		return fmt.Errorf("delete tax rate: %w", err)
	}
	return nil
}

// TaxRates lists the tenant's tax rates by country and region.
func (s *Service) TaxRates(ctx context.Context, tenantID uuid.UUID) ([]TaxRate, error) {
	var rows []taxRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr("country, region").Scan(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("list tax rates: %w", err)
	}
	out := make([]TaxRate, len(rows))
	for i, r := range rows {
		out[i] = r.rate()
	}
	return out, nil
}

// taxFor finds the rate of an address: its region's, else its country's; none is no tax.
func taxFor(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, country, region string) (TaxRate, error) {
	var row taxRow
	err := tx.NewSelect().Model(&row).Where("tenant_id = ? AND country = ? AND region IN ('', ?)", tenantID, country, region).
		OrderExpr("region DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return TaxRate{}, nil
	}
	if err != nil {
		return TaxRate{}, fmt.Errorf("find tax rate: %w", err)
	}
	return row.rate(), nil
}

// TaxFor is the tax rate that applies to an address in the tenant (the zero TaxRate: none).
func (s *Service) TaxFor(ctx context.Context, tenantID uuid.UUID, country, region string) (TaxRate, error) {
	var r TaxRate
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		r, err = taxFor(ctx, tx, tenantID, strings.ToUpper(country), strings.ToUpper(region))
		return err
	})
	return r, err
}
