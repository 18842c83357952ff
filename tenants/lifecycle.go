package tenants

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
)

// Lifecycle errors.
var (
	ErrNotSuspended      = fault.New(fault.Conflict, "tenant_not_suspended", "the tenant is not suspended")
	ErrAlreadySuspended  = fault.New(fault.Conflict, "tenant_already_suspended", "the tenant is already suspended")
	ErrDeleteUnconfirmed = fault.New(fault.Invalid, "delete_unconfirmed", "confirm the deletion by sending the tenant's slug")
)

// Directory is the operators' side of tenants: creating, listing, suspending, exporting and
// deleting them. Every call crosses tenants, so it runs through the audited platform role.
type Directory struct {
	platform *db.Platform
	baseHost string
	now      func() time.Time
}

// NewDirectory builds the operator service.
func NewDirectory(p *db.Platform, baseHost string) *Directory {
	return &Directory{platform: p, baseHost: baseHost, now: time.Now}
}

// NewTenant is what an operator supplies to create a tenant.
type NewTenant struct {
	Slug     string   `json:"slug" doc:"3–40 of a-z, 0-9 and -; the tenant is reachable at {slug}.{base host}"`
	Name     string   `json:"name" minLength:"1" maxLength:"200"`
	Plan     string   `json:"plan" doc:"plan code, e.g. starter"`
	Locale   string   `json:"locale,omitempty" enum:"en,zh-CN" doc:"default en"`
	Currency string   `json:"currency,omitempty" doc:"ISO 4217, default USD"`
	Domains  []string `json:"domains,omitempty" maxItems:"10" doc:"custom host names the storefront answers on"`
}

var (
	slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$`)
	hostRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
)

// validate normalises in and lists every bad field at once.
func (d *Directory) validate(in *NewTenant) error {
	bad := map[string]string{}
	in.Slug = strings.TrimSpace(in.Slug)
	if !slugRE.MatchString(in.Slug) {
		bad["body.slug"] = "3–40 characters of a-z, 0-9 and -, not starting or ending with -"
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		bad["body.name"] = "1–200 characters"
	}
	if in.Locale == "" {
		in.Locale = "en"
	}
	if in.Locale != "en" && in.Locale != "zh-CN" {
		bad["body.locale"] = "en or zh-CN"
	}
	if in.Currency == "" {
		in.Currency = "USD"
	}
	if _, err := money.ParseCurrency(in.Currency); err != nil {
		bad["body.currency"] = "an ISO 4217 code the platform supports"
	}
	for i, h := range in.Domains {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		in.Domains[i] = h
		switch {
		case !hostRE.MatchString(h) || len(h) > 253:
			bad[fmt.Sprintf("body.domains[%d]", i)] = "not a host name"
		case h == d.baseHost || strings.HasSuffix(h, "."+d.baseHost):
			bad[fmt.Sprintf("body.domains[%d]", i)] = "names under the platform domain are given by the slug"
		}
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// Create adds a tenant on a plan with its custom domains. Errors: invalid fields,
// ErrNoSuchPlan, ErrSlugTaken, ErrHostTaken.
func (d *Directory) Create(ctx context.Context, in NewTenant) (Tenant, error) {
	if err := d.validate(&in); err != nil {
		return Tenant{}, err
	}
	var row tenantRow
	err := d.platform.Do(ctx, "tenant.create", func(tx bun.IDB) error {
		var planID uuid.UUID
		if err := tx.NewRaw("SELECT id FROM plans WHERE code = ?", in.Plan).Scan(ctx, &planID); err != nil {
			return ErrNoSuchPlan
		}
		row = tenantRow{ID: uuid.Must(uuid.NewV7()), Slug: in.Slug, Name: in.Name, PlanID: planID, Status: StatusActive,
			DefaultLocale: in.Locale, DefaultCurrency: in.Currency, Theme: map[string]string{}, CreatedAt: d.now().UTC()}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			return uniqueToDomain(err)
		}
		for i, h := range in.Domains {
			if _, err := tx.ExecContext(ctx, "INSERT INTO tenant_domains (host, tenant_id, is_primary) VALUES (?, ?, ?)",
				h, row.ID, i == 0); err != nil {
				return uniqueToDomain(err)
			}
		}
		return recordInTenant(ctx, tx, row.ID, "tenant.create", nil, in)
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	return row.tenant(), nil
}

func uniqueToDomain(err error) error {
	switch c, ok := db.UniqueViolation(err); {
	case !ok:
		return err
	case strings.HasPrefix(c, "tenants_slug"):
		return ErrSlugTaken
	case strings.HasPrefix(c, "tenant_domains"):
		return ErrHostTaken
	}
	return err
}

// ListFilter narrows the operators' tenant list.
type ListFilter struct {
	Status string // "", active or suspended
	Query  string // matches slug or name
	httpx.PageParams
}

// List pages through tenants, newest first; Browse sorts by other columns too.
func (d *Directory) List(ctx context.Context, f ListFilter) (httpx.Page[Tenant], error) {
	return d.Browse(ctx, BrowseFilter{Status: f.Status, Query: f.Query, Sort: SortCreated, Desc: true, PageParams: f.PageParams})
}

// Get returns any tenant, for operators. Errors: ErrNotFound.
func (d *Directory) Get(ctx context.Context, id uuid.UUID) (Tenant, error) {
	var row tenantRow
	err := d.platform.Do(ctx, "tenant.get", func(tx bun.IDB) error {
		return tx.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	})
	if err != nil {
		return Tenant{}, notFound(err)
	}
	return row.tenant(), nil
}

// Suspend closes the tenant's storefront and refuses its writes; nothing is deleted.
// Errors: ErrNotFound, ErrAlreadySuspended.
func (d *Directory) Suspend(ctx context.Context, id uuid.UUID) (Tenant, error) {
	return d.setStatus(ctx, id, StatusActive, StatusSuspended, ErrAlreadySuspended)
}

// Reactivate reopens a suspended tenant. Errors: ErrNotFound, ErrNotSuspended.
func (d *Directory) Reactivate(ctx context.Context, id uuid.UUID) (Tenant, error) {
	return d.setStatus(ctx, id, StatusSuspended, StatusActive, ErrNotSuspended)
}

func (d *Directory) setStatus(ctx context.Context, id uuid.UUID, from, to string, wrongState error) (Tenant, error) {
	var row tenantRow
	err := d.platform.Do(ctx, "tenant."+verbOf[to], func(tx bun.IDB) error {
		if err := tx.NewSelect().Model(&row).Where("id = ?", id).For("UPDATE").Scan(ctx); err != nil {
			return notFound(err)
		}
		if row.Status != from {
			return wrongState
		}
		before := row.tenant()
		row.Status = to
		if _, err := tx.NewUpdate().Model(&row).Column("status").Set("updated_at = now()").WherePK().Exec(ctx); err != nil {
			return err
		}
		return recordInTenant(ctx, tx, id, "tenant."+verbOf[to], before, row.tenant())
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("set tenant status: %w", err)
	}
	return row.tenant(), nil
}

var verbOf = map[string]string{StatusSuspended: "suspend", StatusActive: "reactivate"}

// recordInTenant writes an operator's change into the tenant's own audit chain too, so the
// tenant sees who suspended it and when; the platform chain records the call as well.
func recordInTenant(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, action string, before, after any) error {
	if err := audit.UseTenant(ctx, tx, tenantID); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "tenant", ResourceID: tenantID.String(), Before: before, After: after})
}

func notFound(err error) error {
	if errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "no rows") {
		return ErrNotFound
	}
	return err
}

// tenantTables lists every table that holds tenant rows (a tenant_id column), from the
// catalog, so export and delete cover tables added by later migrations without a code change.
func tenantTables(ctx context.Context, tx bun.IDB) ([]string, error) {
	var names []string
	err := tx.NewRaw(`
		SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
		  AND a.attname = 'tenant_id' AND NOT a.attisdropped AND NOT c.relispartition
		ORDER BY c.relname`).Scan(ctx, &names)
	return names, err
}

// ExportManifest describes an export archive.
type ExportManifest struct {
	TenantID   uuid.UUID      `json:"tenant_id"`
	Slug       string         `json:"slug"`
	ExportedAt time.Time      `json:"exported_at"`
	Tables     map[string]int `json:"tables" doc:"rows per table"`
}

// Export writes every row of the tenant, one NDJSON file per table plus manifest.json, as a
// gzipped tar archive to w, from one consistent snapshot. Errors: ErrNotFound.
func (d *Directory) Export(ctx context.Context, id uuid.UUID, w io.Writer) (ExportManifest, error) {
	man := ExportManifest{TenantID: id, ExportedAt: d.now().UTC(), Tables: map[string]int{}}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	err := d.platform.Do(ctx, "tenant.export", func(tx bun.IDB) error {
		var t tenantRow
		if err := tx.NewSelect().Model(&t).Where("id = ?", id).Scan(ctx); err != nil {
			return notFound(err)
		}
		man.Slug = t.Slug
		tables, err := tenantTables(ctx, tx)
		if err != nil {
			return err
		}
		if err := exportRows(ctx, tx, tw, "tenants", "SELECT row_to_json(t)::text FROM tenants t WHERE id = ?", id, man.Tables, man.ExportedAt); err != nil {
			return err
		}
		for _, table := range tables {
			q := fmt.Sprintf("SELECT row_to_json(t)::text FROM %s t WHERE tenant_id = ? ORDER BY 1", bun.Ident(table))
			if err := exportRows(ctx, tx, tw, table, q, id, man.Tables, man.ExportedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ExportManifest{}, fmt.Errorf("export tenant: %w", err)
	}
	b, _ := json.MarshalIndent(man, "", "  ")
	if err := writeFile(tw, "manifest.json", b, man.ExportedAt); err != nil {
		return ExportManifest{}, err
	}
	if err := tw.Close(); err != nil {
		return ExportManifest{}, err
	}
	return man, gz.Close()
}

func exportRows(ctx context.Context, tx bun.IDB, tw *tar.Writer, table, query string, id uuid.UUID, counts map[string]int, at time.Time) error {
	rows, err := tx.QueryContext(ctx, query, id)
	if err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	defer rows.Close()
	var buf []byte
	n := 0
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	counts[table] = n
	return writeFile(tw, table+".ndjson", buf, at)
}

func writeFile(tw *tar.Writer, name string, b []byte, at time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: at}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// DeleteReport proves a hard delete: the rows removed per table and what is left (always 0).
type DeleteReport struct {
	Deleted   map[string]int64 `json:"deleted"`
	Remaining int64            `json:"remaining" doc:"rows with this tenant_id left in any table, counted after the delete"`
}

// Delete removes every row of the tenant from every table, then counts what is left across
// all tenant tables in the same transaction; anything left aborts the delete. confirmSlug
// must equal the tenant's slug. Errors: ErrNotFound, ErrDeleteUnconfirmed.
func (d *Directory) Delete(ctx context.Context, id uuid.UUID, confirmSlug string) (DeleteReport, error) {
	rep := DeleteReport{Deleted: map[string]int64{}}
	err := d.platform.Do(ctx, "tenant.delete", func(tx bun.IDB) error {
		var slug string
		if err := tx.NewRaw("SELECT slug FROM tenants WHERE id = ? FOR UPDATE", id).Scan(ctx, &slug); err != nil {
			return notFound(err)
		}
		if slug != confirmSlug {
			return ErrDeleteUnconfirmed
		}
		tables, err := tenantTables(ctx, tx)
		if err != nil {
			return err
		}
		// Count first: the cascade from tenants removes referencing rows with it, so counting
		// deletes afterwards would hide them.
		for _, table := range tables {
			var n int64
			if err := tx.NewRaw(fmt.Sprintf("SELECT count(*) FROM %s WHERE tenant_id = ?", bun.Ident(table)), id).Scan(ctx, &n); err != nil {
				return err
			}
			if n > 0 {
				rep.Deleted[table] = n
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM tenants WHERE id = ?", id); err != nil {
			return err
		}
		rep.Deleted["tenants"] = 1
		for _, table := range tables {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE tenant_id = ?", bun.Ident(table)), id); err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
		}
		for _, table := range tables {
			var n int64
			if err := tx.NewRaw(fmt.Sprintf("SELECT count(*) FROM %s WHERE tenant_id = ?", bun.Ident(table)), id).Scan(ctx, &n); err != nil {
				return err
			}
			rep.Remaining += n
		}
		if rep.Remaining != 0 {
			return fmt.Errorf("%d rows of the tenant remain after delete", rep.Remaining)
		}
		return nil
	})
	if err != nil {
		return DeleteReport{}, fmt.Errorf("delete tenant: %w", err)
	}
	return rep, nil
}
