package tenants

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
)

type tenantRow struct {
	bun.BaseModel `bun:"table:tenants"`

	ID              uuid.UUID         `bun:"id,pk"`
	Slug            string            `bun:"slug"`
	Name            string            `bun:"name"`
	PlanID          uuid.UUID         `bun:"plan_id"`
	Status          string            `bun:"status"`
	DefaultLocale   string            `bun:"default_locale"`
	DefaultCurrency string            `bun:"default_currency"`
	Theme           map[string]string `bun:"theme,type:jsonb"`
	CreatedAt       time.Time         `bun:"created_at"`
}

func (r tenantRow) tenant() Tenant {
	return Tenant{ID: r.ID, Slug: r.Slug, Name: r.Name, PlanID: r.PlanID, Status: r.Status,
		DefaultLocale: r.DefaultLocale, DefaultCurrency: r.DefaultCurrency, Theme: r.Theme, CreatedAt: r.CreatedAt}
}

// getTenant reads one tenant in one round trip (db.Read): every storefront request asks for
// its tenant, so this is the hottest read there is.
func getTenant(ctx context.Context, d *db.DB, id uuid.UUID) (Tenant, error) {
	var row tenantRow
	err := d.Read(ctx, id, func(read db.RowFunc) error {
		return read(`SELECT id, slug, name, plan_id, status, default_locale, default_currency, theme, created_at
			FROM tenants WHERE id = ?`, []any{id}, &row.ID, &row.Slug, &row.Name, &row.PlanID, &row.Status,
			&row.DefaultLocale, &row.DefaultCurrency, &row.Theme, &row.CreatedAt)
	})
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, db.ErrNoTenant) {
		return Tenant{}, ErrNotFound
	}
	return row.tenant(), err
}

type planRow struct {
	bun.BaseModel `bun:"table:plans"`

	ID              uuid.UUID  `bun:"id,pk"`
	Code            string     `bun:"code"`
	Name            string     `bun:"name"`
	PriceMinor      int64      `bun:"price_minor"`
	Currency        string     `bun:"currency"`
	BillingInterval string     `bun:"billing_interval"`
	Limits          PlanLimits `bun:"limits,type:jsonb"`
}

func listPlans(ctx context.Context, d *db.DB) ([]Plan, error) {
	var rows []planRow
	if err := d.Bun().NewSelect().Model(&rows).Order("price_minor", "code").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]Plan, len(rows))
	for i, r := range rows {
		out[i] = r.plan()
	}
	return out, nil
}

func (r planRow) plan() Plan {
	return Plan{ID: r.ID, Code: r.Code, Name: r.Name, PriceMinor: r.PriceMinor, Currency: r.Currency,
		BillingInterval: r.BillingInterval, Limits: r.Limits}
}
