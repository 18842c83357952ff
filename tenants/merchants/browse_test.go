package merchants_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/merchants"
)

// Browse pages through every merchant exactly once, in the order asked for, whatever the sort
// key (including one with many ties) and direction; filters and the merchant scope narrow it.
func TestBrowse(t *testing.T) {
	fx := setup(t)
	ctx := staff(context.Background())
	lumen := fx.tenants["lumen"]
	for i := range 13 {
		if _, err := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: fmt.Sprintf("Shop %02d", 12-i), Handle: fmt.Sprintf("shop-%02d", i),
			ContactEmail: fmt.Sprintf("owner%d@shops.test", i)}); err != nil {
			t.Fatal(err)
		}
	}
	const total = 13 + 4 // the demo's four
	for _, sort := range []string{"created", "name", "status"} {
		for _, desc := range []bool{false, true} {
			var seen []merchants.Merchant
			cursor := ""
			for range 10 {
				p, err := fx.s.Browse(ctx, lumen, merchants.BrowseFilter{Sort: sort, Desc: desc, PageParams: httpx.PageParams{Limit: 5, Cursor: cursor}})
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, p.Items...)
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			ids := map[uuid.UUID]bool{}
			for _, m := range seen {
				ids[m.ID] = true
			}
			if len(seen) != total || len(ids) != total {
				t.Errorf("%s desc=%v: %d rows, %d distinct, want %d", sort, desc, len(seen), len(ids), total)
			}
			ordered := slices.IsSortedFunc(seen, func(a, b merchants.Merchant) int {
				var c int
				switch sort {
				case "name":
					c = compareText(a.Name, b.Name)
				case "status":
					c = compareText(a.Status, b.Status)
				default:
					c = a.CreatedAt.Compare(b.CreatedAt)
				}
				if desc {
					c = -c
				}
				return c
			})
			if !ordered {
				t.Errorf("%s desc=%v is out of order", sort, desc)
			}
		}
	}
	p, err := fx.s.Browse(ctx, lumen, merchants.BrowseFilter{Query: "SHOPS.TEST", Status: merchants.StatusPending, Sort: "name", PageParams: httpx.PageParams{Limit: 100}})
	if err != nil || len(p.Items) != 13 || p.Items[0].Name != "Shop 00" {
		t.Errorf("search and status: %d items, %v", len(p.Items), err)
	}
	if p, _ := fx.s.Browse(ctx, lumen, merchants.BrowseFilter{Query: "100%_"}); len(p.Items) != 0 {
		t.Errorf("LIKE wildcards in a search are matched literally: %d items", len(p.Items))
	}
	for _, bad := range []merchants.BrowseFilter{{Sort: "secret_column"}, {Status: "deleted"}} {
		if _, err := fx.s.Browse(ctx, lumen, bad); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// Merchant staff browse their own store only; counts follow the same scope.
	var northwind uuid.UUID
	all, _ := fx.s.Browse(ctx, lumen, merchants.BrowseFilter{Query: "northwind"})
	northwind = all.Items[0].ID
	mctx := scope.WithMerchant(ctx, northwind)
	if p, _ := fx.s.Browse(mctx, lumen, merchants.BrowseFilter{PageParams: httpx.PageParams{Limit: 100}}); len(p.Items) != 1 || p.Items[0].ID != northwind {
		t.Errorf("merchant scope browses %d merchants", len(p.Items))
	}
	counts, err := fx.s.CountByStatus(ctx, lumen)
	if err != nil || counts[merchants.StatusPending] != 14 || counts[merchants.StatusActive] != 2 || counts[merchants.StatusSuspended] != 1 || counts[merchants.StatusRejected] != 0 {
		t.Errorf("counts %v %v", counts, err)
	}
	if counts, _ := fx.s.CountByStatus(mctx, lumen); counts[merchants.StatusActive] != 1 || counts[merchants.StatusPending] != 0 {
		t.Errorf("merchant scope counts %v", counts)
	}
	if counts, _ := fx.s.CountByStatus(ctx, fx.tenants["nordic"]); counts[merchants.StatusActive] != 1 || counts[merchants.StatusPending] != 0 {
		t.Errorf("another tenant's counts %v", counts)
	}
}

// compareText orders as PostgreSQL's default collation does for these ASCII names: case
// and punctuation aside, alphabetically.
func compareText(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
