package merchants

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/httpx"
)

// BrowseFilter is what a person looking through the merchant table asks for: a status, a
// search over name, handle and contact e-mail, an order, and a page.
type BrowseFilter struct {
	Status string // one of Statuses(), "" for all
	Query  string // part of the name, handle or contact e-mail, any case
	Sort   string // "created" (the default), "name" or "status"
	Desc   bool
	httpx.PageParams
}

// browseColumns maps the sort keys a caller may ask for onto columns, so that no input
// reaches the SQL text; cast is how a cursor's value is read back.
var browseColumns = map[string]struct{ col, cast string }{
	"created": {"created_at", "::timestamptz"},
	"name":    {"name", ""},
	"status":  {"status", ""},
}

type browseCursor struct {
	V  string    `json:"v"`
	ID uuid.UUID `json:"id"`
}

// ErrBadFilter is answered for a status or sort key that does not exist.
var ErrBadFilter = fault.New(fault.Invalid, "bad_filter", "unknown status or sort order")

// Browse pages through the tenant's merchants in the order asked for, with keyset paging on
// (sort column, id), so a page costs the same however deep it is. In a merchant scope RLS
// shows only the caller's own merchant. Errors: ErrBadFilter, httpx.ErrBadCursor.
func (s *Service) Browse(ctx context.Context, tenantID uuid.UUID, f BrowseFilter) (httpx.Page[Merchant], error) {
	if f.Sort == "" {
		f.Sort = "created"
	}
	sortBy, ok := browseColumns[f.Sort]
	if !ok || (f.Status != "" && !slices.Contains(Statuses(), f.Status)) {
		return httpx.Page[Merchant]{}, ErrBadFilter
	}
	var after browseCursor
	first, err := httpx.DecodeCursor(f.Cursor, &after)
	if err != nil {
		return httpx.Page[Merchant]{}, err
	}
	dir, op := "ASC", ">"
	if f.Desc {
		dir, op = "DESC", "<"
	}
	var rows []merchantRow
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).
			OrderExpr(sortBy.col + " " + dir + ", id " + dir).Limit(int64(f.Size() + 1))
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if needle := strings.TrimSpace(f.Query); needle != "" {
			like := "%" + strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(needle) + "%"
			q = q.Where("(name ILIKE ? ESCAPE '!' OR handle ILIKE ? ESCAPE '!' OR contact_email ILIKE ? ESCAPE '!')", like, like, like)
		}
		if !first {
			q = q.Where(fmt.Sprintf("(%s, id) %s (?%s, ?)", sortBy.col, op, sortBy.cast), after.V, after.ID)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return httpx.Page[Merchant]{}, fmt.Errorf("browse merchants: %w", err)
	}
	out := make([]Merchant, len(rows))
	for i, r := range rows {
		out[i] = r.merchant()
	}
	return httpx.PageOf(out, f.PageParams, func(m Merchant) any {
		c := browseCursor{ID: m.ID}
		switch f.Sort {
		case "name":
			c.V = m.Name
		case "status":
			c.V = m.Status
		default:
			c.V = m.CreatedAt.Format(time.RFC3339Nano)
		}
		return c
	}), nil
}
