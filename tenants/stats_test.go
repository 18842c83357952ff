package tenants_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants"
)

// The dashboard's numbers: statuses, plans, merchants per tenant, and tenants per month with
// empty months as zeros and nothing older than a year.
func TestStats(t *testing.T) {
	f, _ := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := scope.WithActor(context.Background(), "user:operator")
	old, err := dir.Create(ctx, tenants.NewTenant{Slug: "oldie", Name: "Oldie", Plan: "starter"})
	if err != nil {
		t.Fatal(err)
	}
	spring, err := dir.Create(ctx, tenants.NewTenant{Slug: "spring", Name: "Spring", Plan: "scale"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	err = f.Platform.Do(ctx, "test.backdate", func(tx bun.IDB) error {
		if _, err := tx.ExecContext(ctx, "UPDATE tenants SET created_at = ? WHERE id = ?", thisMonth.AddDate(-1, -1, 3), old.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE tenants SET created_at = ? WHERE id = ?", thisMonth.AddDate(0, -3, 10), spring.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	nordic := tenantID(t, dir, "nordic")
	if _, err := dir.Suspend(ctx, nordic); err != nil {
		t.Fatal(err)
	}

	st, err := dir.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 5 || st.ByStatus[tenants.StatusActive] != 4 || st.ByStatus[tenants.StatusSuspended] != 1 {
		t.Errorf("counts: total %d, by status %v; want 5, 4 active, 1 suspended", st.Total, st.ByStatus)
	}
	var planTotal int64
	for _, n := range st.ByPlan {
		planTotal += n
	}
	if len(st.ByPlan) != 3 || planTotal != 5 {
		t.Errorf("by plan %v", st.ByPlan)
	}
	var top []string
	var counts []int64
	for _, tm := range st.TopByMerchants {
		top = append(top, tm.Slug)
		counts = append(counts, tm.Merchants)
	}
	if !slices.Equal(top[:3], []string{"lumen", "panda", "nordic"}) || !slices.Equal(counts, []int64{4, 3, 1, 0, 0}) {
		t.Errorf("top by merchants %v %v", top, counts)
	}
	if len(st.CreatedPerMonth) != 12 {
		t.Fatalf("%d months, want 12", len(st.CreatedPerMonth))
	}
	for i, m := range st.CreatedPerMonth {
		want := int64(0)
		switch i {
		case 11:
			want = 3 // the demo tenants
		case 8:
			want = 1 // spring
		}
		if !m.Month.Equal(thisMonth.AddDate(0, i-11, 0)) || m.Tenants != want {
			t.Errorf("month %d: %s %d, want %s %d", i, m.Month, m.Tenants, thisMonth.AddDate(0, i-11, 0), want)
		}
	}
}

func tenantID(t *testing.T, dir *tenants.Directory, slug string) uuid.UUID {
	t.Helper()
	page, err := dir.Browse(context.Background(), tenants.BrowseFilter{Query: slug})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		if tn.Slug == slug {
			return tn.ID
		}
	}
	t.Fatalf("no tenant %s", slug)
	return uuid.Nil
}

// Every order pages through every tenant exactly once, in that order, two at a time.
func TestBrowseSortsAndPages(t *testing.T) {
	f, _ := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := context.Background()
	for _, in := range []tenants.NewTenant{
		{Slug: "alpha", Name: "Zebra Supplies", Plan: "starter"},
		{Slug: "zulu", Name: "Apple Market", Plan: "starter"},
		{Slug: "mid", Name: "Mid Town", Plan: "growth"},
	} {
		if _, err := dir.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// Two tenants created in the same microsecond sort by id: the cursor's tie-breaker.
	err := f.Platform.Do(ctx, "test.same_time", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "UPDATE tenants SET created_at = '2026-01-01T00:00:00Z' WHERE slug IN ('alpha', 'zulu', 'mid')")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	all := func(f tenants.BrowseFilter) []string {
		t.Helper()
		f.Limit = 2
		var out []string
		for range 10 {
			page, err := dir.Browse(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range page.Items {
				out = append(out, tn.Slug)
			}
			if page.NextCursor == "" {
				return out
			}
			f.Cursor = page.NextCursor
		}
		t.Fatal("more than 10 pages")
		return nil
	}
	for _, tc := range []struct {
		name string
		f    tenants.BrowseFilter
		want []string
	}{
		{"slug", tenants.BrowseFilter{Sort: tenants.SortSlug}, []string{"alpha", "lumen", "mid", "nordic", "panda", "zulu"}},
		{"slug desc", tenants.BrowseFilter{Sort: tenants.SortSlug, Desc: true}, []string{"zulu", "panda", "nordic", "mid", "lumen", "alpha"}},
		{"name", tenants.BrowseFilter{Sort: tenants.SortName}, []string{"zulu", "lumen", "mid", "nordic", "alpha", "panda"}},
		{"status", tenants.BrowseFilter{Sort: tenants.SortSlug, Status: tenants.StatusSuspended}, nil},
		{"query", tenants.BrowseFilter{Sort: tenants.SortSlug, Query: "MAR"}, []string{"panda", "zulu"}},
	} {
		if got := all(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// By creation: the three backdated ones first (by id among themselves), every tenant once.
	created := all(tenants.BrowseFilter{Sort: tenants.SortCreated})
	if len(created) != 6 || !slices.Contains(created[:3], "alpha") || !slices.Contains(created[:3], "zulu") || !slices.Contains(created[:3], "mid") {
		t.Errorf("created: %v", created)
	}
	desc := all(tenants.BrowseFilter{Sort: tenants.SortCreated, Desc: true})
	slices.Reverse(desc)
	if !slices.Equal(desc, created) {
		t.Errorf("created desc is not the reverse of asc: %v vs %v", desc, created)
	}
	if _, err := dir.Browse(ctx, tenants.BrowseFilter{PageParams: httpx.PageParams{Cursor: "not-a-cursor"}}); !errors.Is(err, httpx.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestDetails(t *testing.T) {
	f, _ := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := context.Background()
	created, err := dir.Create(ctx, tenants.NewTenant{Slug: "harbor", Name: "Harbor Books", Plan: "growth",
		Domains: []string{"z.harbor.test", "a.harbor.test"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dir.Details(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Slug != "harbor" || len(d.Domains) != 2 || d.Domains[0] != (tenants.CustomDomain{Host: "z.harbor.test", Primary: true}) ||
		d.Domains[1].Host != "a.harbor.test" || len(d.Merchants) != 0 {
		t.Errorf("harbor: %+v", d)
	}
	lumen, err := dir.Details(ctx, tenantID(t, dir, "lumen"))
	if err != nil {
		t.Fatal(err)
	}
	if lumen.Merchants["active"] != 2 || lumen.Merchants["pending"] != 1 || lumen.Merchants["suspended"] != 1 {
		t.Errorf("lumen merchants %v", lumen.Merchants)
	}
	if _, err := dir.Details(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

// The footprint counts every row of the tenant, table by table, and nothing of the others.
func TestFootprint(t *testing.T) {
	f, _ := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := context.Background()
	got, err := dir.Footprint(ctx, tenantID(t, dir, "lumen"))
	if err != nil {
		t.Fatal(err)
	}
	// Lumen: 4 merchants, 3 shoppers, 1 domain, 4 staff memberships (owner, moderator, and
	// two of Northwind Lighting).
	for table, want := range map[string]int64{"tenants": 1, "merchants": 4, "shoppers": 3, "tenant_domains": 1, "memberships": 4} {
		if got[table] != want {
			t.Errorf("%s: %d rows, want %d (all: %v)", table, got[table], want, got)
		}
	}
	if _, err := dir.Footprint(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
}
