package tenants_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants"
)

func TestCreateValidatesAndRefusesDuplicates(t *testing.T) {
	f, s := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := scope.WithActor(context.Background(), "user:operator")

	_, err := dir.Create(ctx, tenants.NewTenant{Slug: "-Bad", Name: " ", Plan: "starter", Locale: "fr", Currency: "XYZ",
		Domains: []string{"shop.example.com", "not a host", "x.localhost"}})
	fe := fault.As(err)
	if fe == nil || fe.Kind != fault.Invalid {
		t.Fatalf("invalid input: %v", err)
	}
	var locs []string
	for _, e := range fe.Fields {
		locs = append(locs, e.Location)
	}
	if got := strings.Join(locs, ","); got != "body.currency,body.domains[1],body.domains[2],body.locale,body.name,body.slug" {
		t.Errorf("field errors %s", got)
	}

	created, err := dir.Create(ctx, tenants.NewTenant{Slug: "acme", Name: "Acme", Plan: "growth", Domains: []string{"Shop.Acme.Test."}})
	if err != nil {
		t.Fatal(err)
	}
	if created.DefaultLocale != "en" || created.DefaultCurrency != "USD" || created.Status != tenants.StatusActive {
		t.Errorf("defaults: %+v", created)
	}
	for host, want := range map[string]uuid.UUID{"acme.localhost": created.ID, "shop.acme.test": created.ID} {
		if got, err := s.ResolveHost(ctx, host); err != nil || got.ID != want {
			t.Errorf("%s resolves to %v (%v)", host, got.ID, err)
		}
	}
	for _, tc := range []struct {
		in   tenants.NewTenant
		want error
	}{
		{tenants.NewTenant{Slug: "acme", Name: "Again", Plan: "starter"}, tenants.ErrSlugTaken},
		{tenants.NewTenant{Slug: "acme2", Name: "Again", Plan: "starter", Domains: []string{"shop.acme.test"}}, tenants.ErrHostTaken},
		{tenants.NewTenant{Slug: "acme3", Name: "Again", Plan: "platinum"}, tenants.ErrNoSuchPlan},
	} {
		if _, err := dir.Create(ctx, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.in, err, tc.want)
		}
	}
	// Nothing of the refused creations was kept.
	if _, err := s.ResolveHost(ctx, "acme2.localhost"); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("a refused tenant was half-created: %v", err)
	}
}

func TestListSuspendReactivate(t *testing.T) {
	f, s := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := context.Background()

	page, err := dir.List(ctx, tenants.ListFilter{PageParams: httpx.PageParams{Limit: 2}})
	if err != nil || len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %v %+v", err, page)
	}
	next, err := dir.List(ctx, tenants.ListFilter{PageParams: httpx.PageParams{Limit: 2, Cursor: page.NextCursor}})
	if err != nil || len(next.Items) != 1 || next.NextCursor != "" || next.Items[0].ID == page.Items[1].ID {
		t.Fatalf("second page: %v %+v", err, next)
	}
	found, err := dir.List(ctx, tenants.ListFilter{Query: "PANDA"})
	if err != nil || len(found.Items) != 1 || found.Items[0].Slug != "panda" {
		t.Fatalf("search: %v %+v", err, found)
	}
	panda := found.Items[0]

	if _, err := dir.Reactivate(ctx, panda.ID); !errors.Is(err, tenants.ErrNotSuspended) {
		t.Errorf("reactivate an active tenant: %v", err)
	}
	if got, err := dir.Suspend(ctx, panda.ID); err != nil || got.Status != tenants.StatusSuspended {
		t.Fatalf("suspend: %v %+v", err, got)
	}
	if _, err := dir.Suspend(ctx, panda.ID); !errors.Is(err, tenants.ErrAlreadySuspended) {
		t.Errorf("suspend twice: %v", err)
	}
	if _, err := s.ResolveHost(ctx, "panda.localhost"); !errors.Is(err, tenants.ErrSuspended) {
		t.Errorf("storefront of a suspended tenant: %v", err)
	}
	if suspended, _ := dir.List(ctx, tenants.ListFilter{Status: tenants.StatusSuspended}); len(suspended.Items) != 1 {
		t.Errorf("filter by status: %+v", suspended)
	}
	if _, err := dir.Reactivate(ctx, panda.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveHost(ctx, "panda.localhost"); err != nil {
		t.Errorf("reactivated tenant: %v", err)
	}
	// The tenant sees the operator's actions in its own audit log, and its chain verifies.
	err = f.App.WithTenant(ctx, panda.ID, func(tx bun.IDB) error {
		page, err := audit.List(ctx, tx, audit.Filter{ResourceType: "tenant"})
		if err != nil {
			return err
		}
		var actions []string
		for _, e := range page.Items {
			actions = append(actions, e.Action)
		}
		if got := strings.Join(actions, ","); got != "tenant.reactivate,tenant.suspend" {
			t.Errorf("tenant's audit log: %s", got)
		}
		rep, err := audit.Verify(ctx, tx, panda.ID)
		if err != nil || !rep.OK() {
			t.Errorf("tenant chain: %v %+v", err, rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Suspend(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
}

func TestExportHoldsEveryRowOfTheTenantOnly(t *testing.T) {
	f, _ := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := context.Background()
	lumen, _ := dir.List(ctx, tenants.ListFilter{Query: "lumen"})
	id := lumen.Items[0].ID

	var buf bytes.Buffer
	man, err := dir.Export(ctx, id, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if man.Tables["merchants"] != 4 || man.Tables["shoppers"] != 3 || man.Tables["tenants"] != 1 {
		t.Errorf("manifest counts: %+v", man.Tables)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]int{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Name == "manifest.json" {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var row map[string]any
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			owner, _ := row["tenant_id"].(string)
			if h.Name == "tenants.ndjson" {
				owner, _ = row["id"].(string)
			}
			if owner != id.String() {
				t.Errorf("%s holds a row of tenant %s", h.Name, owner)
			}
			files[strings.TrimSuffix(h.Name, ".ndjson")]++
		}
	}
	for table, n := range man.Tables {
		if files[table] != n {
			t.Errorf("%s: %d rows in the archive, manifest says %d", table, files[table], n)
		}
	}
	if _, err := dir.Export(ctx, uuid.Must(uuid.NewV7()), io.Discard); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("export of an unknown tenant: %v", err)
	}
}

func TestDeleteRemovesEveryRowAndNothingElse(t *testing.T) {
	f, s := setup(t)
	dir := tenants.NewDirectory(f.Platform, "localhost")
	ctx := context.Background()
	lumen, _ := dir.List(ctx, tenants.ListFilter{Query: "lumen"})
	id := lumen.Items[0].ID

	if _, err := dir.Delete(ctx, id, "panda"); !errors.Is(err, tenants.ErrDeleteUnconfirmed) {
		t.Fatalf("delete with the wrong slug: %v", err)
	}
	rep, err := dir.Delete(ctx, id, "lumen")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Remaining != 0 || rep.Deleted["tenants"] != 1 || rep.Deleted["merchants"] != 4 || rep.Deleted["shoppers"] != 3 {
		t.Errorf("report: %+v", rep)
	}
	// Count over every table with a tenant_id, independently of the code under test.
	var tables []string
	var left, others int
	err = f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
		if err := tx.NewRaw(`SELECT table_name FROM information_schema.columns
			WHERE table_schema = 'public' AND column_name = 'tenant_id'`).Scan(ctx, &tables); err != nil {
			return err
		}
		for _, table := range tables {
			var n, m int
			if err := tx.NewRaw("SELECT count(*) FILTER (WHERE tenant_id = ?), count(*) FILTER (WHERE tenant_id <> ?) FROM "+table, id, id).Scan(ctx, &n, &m); err != nil {
				return err
			}
			left += n
			others += m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 || others == 0 {
		t.Errorf("after delete: %d rows of the tenant left, %d rows of others (want >0)", left, others)
	}
	if _, err := s.ResolveHost(ctx, "lumen-goods.test"); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("deleted tenant still resolves: %v", err)
	}
	if _, err := s.ResolveHost(ctx, "panda.localhost"); err != nil {
		t.Errorf("another tenant was harmed: %v", err)
	}
}
