package tenants

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
)

// The operators' read models: the dashboard's aggregates, the sortable tenant table and one
// tenant's details. Each call is one audited platform transaction, like the rest of Directory.

// Stats is what the operators' dashboard shows about the tenant directory.
type Stats struct {
	Total           int64
	ByStatus        map[string]int64    // status -> tenants
	ByPlan          map[uuid.UUID]int64 // plan id -> tenants
	TopByMerchants  []TenantMerchants   // at most 10, most merchants first
	CreatedPerMonth []MonthCount        // the last 12 calendar months (UTC), oldest first, zeros included
}

// TenantMerchants is one tenant and how many merchants it has (any status).
type TenantMerchants struct {
	ID        uuid.UUID
	Slug      string
	Name      string
	Merchants int64
}

// MonthCount is how many tenants were created in the calendar month starting at Month (UTC).
type MonthCount struct {
	Month   time.Time
	Tenants int64
}

// statsMonths is how far back the creation chart reaches.
const statsMonths = 12

// Stats counts tenants by status and plan, finds the ten with the most merchants and counts
// tenants created per month over the last twelve months, in one snapshot.
func (d *Directory) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByStatus: map[string]int64{}, ByPlan: map[uuid.UUID]int64{}}
	now := d.now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(statsMonths - 1), 0)
	err := d.platform.Do(ctx, "tenant.stats", func(tx bun.IDB) error {
		var groups []struct {
			Status  string    `bun:"status"`
			PlanID  uuid.UUID `bun:"plan_id"`
			Tenants int64     `bun:"tenants"`
		}
		if err := tx.NewRaw("SELECT status, plan_id, count(*) AS tenants FROM tenants GROUP BY status, plan_id").
			Scan(ctx, &groups); err != nil {
			return err
		}
		for _, g := range groups {
			st.Total += g.Tenants
			st.ByStatus[g.Status] += g.Tenants
			st.ByPlan[g.PlanID] += g.Tenants
		}
		if err := tx.NewRaw(`
			SELECT t.id, t.slug, t.name, count(m.id) AS merchants
			FROM tenants t LEFT JOIN merchants m ON m.tenant_id = t.id
			GROUP BY t.id ORDER BY merchants DESC, t.name, t.id LIMIT 10`).Scan(ctx, &st.TopByMerchants); err != nil {
			return err
		}
		var months []struct {
			Month   time.Time `bun:"month"`
			Tenants int64     `bun:"tenants"`
		}
		if err := tx.NewRaw(`
			SELECT date_trunc('month', created_at, 'UTC') AS month, count(*) AS tenants
			FROM tenants WHERE created_at >= ? GROUP BY 1`, first).Scan(ctx, &months); err != nil {
			return err
		}
		perMonth := map[time.Time]int64{}
		for _, m := range months {
			perMonth[m.Month.UTC()] = m.Tenants
		}
		for i := range statsMonths {
			m := first.AddDate(0, i, 0)
			st.CreatedPerMonth = append(st.CreatedPerMonth, MonthCount{Month: m, Tenants: perMonth[m]})
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("tenant stats: %w", err)
	}
	return st, nil
}

// Sort keys of Browse.
const (
	SortCreated = "created"
	SortName    = "name"
	SortSlug    = "slug"
)

// browseColumns maps each sort key onto its column, so no input ever reaches the SQL text.
var browseColumns = map[string]string{SortCreated: "created_at", SortName: "name", SortSlug: "slug"}

// BrowseFilter narrows and orders the operators' tenant table.
type BrowseFilter struct {
	Status string // "", active or suspended
	Query  string // part of the slug or name
	Sort   string // SortCreated (default), SortName or SortSlug
	Desc   bool
	httpx.PageParams
}

// browseCursor is the sort key of the last row of a page: the sorted column as text, and the
// id that breaks ties.
type browseCursor struct {
	Value string    `json:"v"`
	ID    uuid.UUID `json:"id"`
}

// Browse pages through tenants like List, in the order the filter asks for. The cursor is
// bound to that order: one from another order is answered with httpx.ErrBadCursor or, when
// it happens to decode, with a page that starts elsewhere; it never reveals anything List
// would not. Errors: httpx.ErrBadCursor.
func (d *Directory) Browse(ctx context.Context, f BrowseFilter) (httpx.Page[Tenant], error) {
	col, ok := browseColumns[f.Sort]
	if !ok {
		col, f.Sort = browseColumns[SortCreated], SortCreated
	}
	var after browseCursor
	first, err := httpx.DecodeCursor(f.Cursor, &after)
	if err != nil {
		return httpx.Page[Tenant]{}, err
	}
	var at time.Time
	if !first && f.Sort == SortCreated {
		if at, err = time.Parse(time.RFC3339Nano, after.Value); err != nil {
			return httpx.Page[Tenant]{}, httpx.ErrBadCursor
		}
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	var rows []tenantRow
	err = d.platform.Do(ctx, "tenant.list", func(tx bun.IDB) error {
		q := tx.NewSelect().Model(&rows).
			OrderExpr("? "+dir+", id "+dir, bun.Ident(col)).
			Limit(int64(f.Size() + 1))
		switch {
		case first:
		case f.Sort == SortCreated:
			q = q.Where("(created_at, id) "+cmp+" (?, ?)", at, after.ID)
		default:
			q = q.Where("(?, id) "+cmp+" (?, ?)", bun.Ident(col), after.Value, after.ID)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if f.Query != "" {
			like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(f.Query)) + "%"
			q = q.Where("(slug LIKE ? OR lower(name) LIKE ?)", like, like)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return httpx.Page[Tenant]{}, fmt.Errorf("browse tenants: %w", err)
	}
	out := make([]Tenant, len(rows))
	for i, r := range rows {
		out[i] = r.tenant()
	}
	return httpx.PageOf(out, f.PageParams, func(t Tenant) any {
		c := browseCursor{ID: t.ID}
		switch f.Sort {
		case SortName:
			c.Value = t.Name
		case SortSlug:
			c.Value = t.Slug
		default:
			c.Value = t.CreatedAt.UTC().Format(time.RFC3339Nano)
		}
		return c
	}), nil
}

// CustomDomain is a custom host name a tenant's storefront answers on.
type CustomDomain struct {
	Host    string
	Primary bool
}

// Details is one tenant as the operators' detail page shows it.
type Details struct {
	Tenant
	Domains   []CustomDomain   // primary first, then by name
	Merchants map[string]int64 // merchant status -> count
}

// Details returns a tenant with its custom domains and its merchants counted by status.
// Errors: ErrNotFound.
func (d *Directory) Details(ctx context.Context, id uuid.UUID) (Details, error) {
	out := Details{Merchants: map[string]int64{}}
	err := d.platform.Do(ctx, "tenant.get", func(tx bun.IDB) error {
		var row tenantRow
		if err := tx.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
			return notFound(err)
		}
		out.Tenant = row.tenant()
		if err := tx.NewRaw(`SELECT host, is_primary AS "primary" FROM tenant_domains WHERE tenant_id = ?
			ORDER BY is_primary DESC, host`, id).Scan(ctx, &out.Domains); err != nil {
			return err
		}
		var counts []struct {
			Status string `bun:"status"`
			N      int64  `bun:"n"`
		}
		if err := tx.NewRaw("SELECT status, count(*) AS n FROM merchants WHERE tenant_id = ? GROUP BY status", id).
			Scan(ctx, &counts); err != nil {
			return err
		}
		for _, c := range counts {
			out.Merchants[c.Status] = c.N
		}
		return nil
	})
	if err != nil {
		return Details{}, fmt.Errorf("tenant details: %w", err)
	}
	return out, nil
}

// Footprint counts the tenant's rows in every table that holds tenant rows, the tenants row
// itself included, so an operator sees what a delete will remove before confirming it.
// Tables without rows of the tenant are left out. Errors: ErrNotFound.
func (d *Directory) Footprint(ctx context.Context, id uuid.UUID) (map[string]int64, error) {
	out := map[string]int64{}
	err := d.platform.Do(ctx, "tenant.footprint", func(tx bun.IDB) error {
		var n int64
		if err := tx.NewRaw("SELECT count(*) FROM tenants WHERE id = ?", id).Scan(ctx, &n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		out["tenants"] = n
		tables, err := tenantTables(ctx, tx)
		if err != nil {
			return err
		}
		for _, table := range tables {
			if err := tx.NewRaw("SELECT count(*) FROM ? WHERE tenant_id = ?", bun.Ident(table), id).Scan(ctx, &n); err != nil {
				return fmt.Errorf("count %s: %w", table, err)
			}
			if n > 0 {
				out[table] = n
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tenant footprint: %w", err)
	}
	return out, nil
}
