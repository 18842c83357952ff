package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/db/dbtest"
)

// The catalog check: the runtime role can't bypass RLS, every tenant table is guarded, and
// every key that could join across tenants includes tenant_id.
func TestCatalog(t *testing.T) {
	f := dbtest.New(t)
	ctx := context.Background()
	q := func(sql string) []string {
		t.Helper()
		var out []string
		if err := f.App.Bun().NewRaw(sql).Scan(ctx, &out); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}

	var super, bypass bool
	if err := f.App.Bun().NewRaw(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(ctx, &super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Errorf("runtime role: superuser=%v bypassrls=%v, want both false", super, bypass)
	}
	if owned := q(`SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)`); len(owned) != 0 {
		t.Errorf("runtime role owns %v, want nothing", owned)
	}
	if bad := q(`
		SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
		  AND (c.relname = 'tenants' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'))
		  AND NOT (c.relrowsecurity AND c.relforcerowsecurity
		           AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))`); len(bad) != 0 {
		t.Errorf("tenant tables without ENABLE+FORCE RLS and a policy: %v", bad)
	}
	if bad := q(`
		SELECT relname FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind IN ('v', 'm')
		  AND NOT coalesce(array_to_string(reloptions, ',') ~* 'security_invoker=(true|on|1)', false)`); len(bad) != 0 {
		t.Errorf("views without security_invoker: %v", bad)
	}
	if bad := q(`SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prosecdef`); len(bad) != 0 {
		t.Errorf("SECURITY DEFINER functions: %v", bad)
	}
	// Keys of tenant tables (directory tables excepted for their global key) must include
	// tenant_id; so must every foreign key that points at another tenant table.
	if bad := q(`
		WITH tt AS (
		  SELECT c.oid, c.relname, a.attnum AS tcol,
		         coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'directory:%' AS directory
		  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
		  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p'))
		SELECT tt.relname || '.' || con.conname FROM pg_constraint con JOIN tt ON tt.oid = con.conrelid
		WHERE NOT tt.directory AND con.contype IN ('p', 'u') AND NOT tt.tcol = ANY (con.conkey)
		UNION ALL
		SELECT tt.relname || '.' || con.conname FROM pg_constraint con JOIN tt ON tt.oid = con.conrelid
		WHERE con.contype = 'f' AND con.confrelid IN (SELECT oid FROM tt) AND NOT tt.tcol = ANY (con.conkey)
		UNION ALL
		SELECT tt.relname || '.pk' FROM tt
		WHERE NOT tt.directory AND NOT EXISTS (
		  SELECT 1 FROM pg_constraint con WHERE con.conrelid = tt.oid AND con.contype = 'p' AND con.conkey[1] = tt.tcol)`); len(bad) != 0 {
		t.Errorf("tenant keys without tenant_id (first in the primary key): %v", bad)
	}
}

// Every tenant table must hold rows of both tenants in the tests below, or "0 rows" proves nothing.
func TestEveryTenantTableSeeded(t *testing.T) {
	f := dbtest.New(t)
	a, b := twoTenants(t, f)
	ctx := context.Background()
	for _, table := range tenantTables(t, f.App) {
		col := tenantColumn(table)
		err := f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
			var n int
			if err := tx.NewRaw(fmt.Sprintf("SELECT count(DISTINCT %s) FROM %s WHERE %s IN (?, ?)", col, table, col), a, b).Scan(ctx, &n); err != nil {
				return err
			}
			if n != 2 {
				t.Errorf("%s holds rows of %d of the 2 seeded tenants: extend twoTenants", table, n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// With app.tenant_id unset (or empty, as a pooled connection shows it after a transaction)
// every tenant table answers 0 rows to the runtime role.
func TestSettingUnsetShowsNothing(t *testing.T) {
	f := dbtest.New(t)
	twoTenants(t, f)
	ctx := context.Background()
	for _, table := range tenantTables(t, f.App) {
		var n int
		if err := f.App.Bun().NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows visible with app.tenant_id unset, want 0", table, n)
		}
		err := f.App.Bun().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', '', true)"); err != nil {
				return err
			}
			return tx.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n)
		})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows visible with app.tenant_id empty, want 0", table, n)
		}
	}
}

func TestWithTenantSeesOnlyItsRows(t *testing.T) {
	f := dbtest.New(t)
	a, b := twoTenants(t, f)
	ctx := context.Background()
	for _, table := range tenantTables(t, f.App) {
		col := tenantColumn(table)
		var seen []uuid.UUID
		err := f.App.WithTenant(ctx, a, func(tx bun.IDB) error {
			return tx.NewRaw(fmt.Sprintf("SELECT DISTINCT %s FROM %s", col, table)).Scan(ctx, &seen)
		})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if len(seen) != 1 || seen[0] != a {
			t.Errorf("%s as tenant A sees tenants %v, want only %v", table, seen, a)
		}
	}
	// Writes are fenced too: A cannot insert a row that belongs to B.
	err := f.App.WithTenant(ctx, a, func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO shoppers (tenant_id, email) VALUES (?, 'x@example.com')", b)
		return err
	})
	if err == nil {
		t.Error("tenant A inserted a shopper into tenant B")
	}
	if err := f.App.WithTenant(ctx, uuid.Nil, func(bun.IDB) error { return nil }); !errors.Is(err, db.ErrNoTenant) {
		t.Errorf("nil tenant: got %v, want ErrNoTenant", err)
	}
}

// The same business key in two tenants is fine: uniques include tenant_id.
func TestSameKeyInTwoTenants(t *testing.T) {
	f := dbtest.New(t)
	a, b := twoTenants(t, f) // both already hold merchant "same-handle" and shopper same@example.com
	ctx := context.Background()
	for _, id := range []uuid.UUID{a, b} {
		var n int
		err := f.App.WithTenant(ctx, id, func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM merchants WHERE handle = 'same-handle'").Scan(ctx, &n)
		})
		if err != nil || n != 1 {
			t.Errorf("tenant %v: %d merchants with the shared handle (err %v), want 1", id, n, err)
		}
	}
	err := f.App.WithTenant(ctx, a, func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO merchants (tenant_id, handle, name) VALUES (?, 'same-handle', 'Dup')", a)
		return err
	})
	if _, ok := db.UniqueViolation(err); !ok {
		t.Errorf("duplicate handle inside one tenant: got %v, want a unique violation", err)
	}
}

// Merchant scope narrows merchant-owned tables to one merchant.
func TestMerchantFence(t *testing.T) {
	f := dbtest.New(t)
	a, _ := twoTenants(t, f)
	ctx := context.Background()
	var m1, m2 uuid.UUID
	err := f.App.WithTenant(ctx, a, func(tx bun.IDB) error {
		if err := tx.NewRaw("SELECT id FROM merchants WHERE handle = 'same-handle'").Scan(ctx, &m1); err != nil {
			return err
		}
		return tx.NewRaw("SELECT id FROM merchants WHERE handle = 'second'").Scan(ctx, &m2)
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen []uuid.UUID
	err = f.App.WithMerchant(ctx, a, m2, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT id FROM merchants").Scan(ctx, &seen)
	})
	if err != nil || len(seen) != 1 || seen[0] != m2 {
		t.Errorf("merchant scope M2 sees %v (err %v), want only %v", seen, err, m2)
	}
	// Memberships: M1's owner is invisible to M2's scope, visible to M1's and to the tenant.
	for _, tc := range []struct {
		merchant uuid.UUID
		want     int
	}{{m2, 0}, {m1, 1}, {uuid.Nil, 1}} {
		var n int
		read := func(tx bun.IDB) error { return tx.NewRaw("SELECT count(*) FROM memberships").Scan(ctx, &n) }
		if tc.merchant == uuid.Nil {
			err = f.App.WithTenant(ctx, a, read)
		} else {
			err = f.App.WithMerchant(ctx, a, tc.merchant, read)
		}
		if err != nil || n != tc.want {
			t.Errorf("memberships in merchant scope %v: %d (err %v), want %d", tc.merchant, n, err, tc.want)
		}
	}
	err = f.App.WithMerchant(ctx, a, m2, func(tx bun.IDB) error {
		res, err := tx.ExecContext(ctx, "UPDATE merchants SET name = 'taken' WHERE id = ?", m1)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 0 {
			return fmt.Errorf("merchant M2 updated %d rows of M1", n)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A pool of two connections, 1,000 goroutines alternating two tenants, aborted transactions
// mixed in: no read sees the other tenant, and outside a transaction the setting is empty.
func TestPooledConnectionsDoNotLeakTenant(t *testing.T) {
	f := dbtest.New(t)
	a, b := twoTenants(t, f)
	ctx := context.Background()
	pool, err := db.Open(ctx, f.Roles.AppURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	const goroutines, perGoroutine = 1000, 100
	var reads, leaks, aborted atomic.Int64
	errAbort := errors.New("abort on purpose")
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				want := a
				if (g+i)%2 == 1 {
					want = b
				}
				err := pool.WithTenant(ctx, want, func(tx bun.IDB) error {
					var got []uuid.UUID
					if err := tx.NewRaw("SELECT tenant_id FROM merchants").Scan(ctx, &got); err != nil {
						return err
					}
					reads.Add(1)
					for _, id := range got {
						if id != want {
							leaks.Add(1)
						}
					}
					switch i % 10 {
					case 3:
						return errAbort // rolled back by the caller
					case 7:
						_, err := tx.ExecContext(ctx, "SELECT 1/0") // aborted by the server
						return err
					}
					return nil
				})
				if err != nil {
					aborted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if reads.Load() != goroutines*perGoroutine {
		t.Fatalf("%d reads completed, want %d", reads.Load(), goroutines*perGoroutine)
	}
	if leaks.Load() != 0 {
		t.Errorf("%d of %d reads saw the other tenant", leaks.Load(), reads.Load())
	}
	if aborted.Load() != goroutines*perGoroutine/5 {
		t.Errorf("%d transactions aborted, want %d", aborted.Load(), goroutines*perGoroutine/5)
	}
	for range 4 {
		var setting string
		if err := pool.Bun().NewRaw("SELECT coalesce(current_setting('app.tenant_id', true), '')").Scan(ctx, &setting); err != nil {
			t.Fatal(err)
		}
		if setting != "" {
			t.Errorf("outside a transaction app.tenant_id = %q, want empty", setting)
		}
	}
	t.Logf("%d reads, %d aborted transactions, %d leaks", reads.Load(), aborted.Load(), leaks.Load())
}

func TestResolveHost(t *testing.T) {
	f := dbtest.New(t)
	a, _ := twoTenants(t, f)
	ctx := context.Background()
	var slug string
	if err := f.App.WithTenant(ctx, a, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT slug FROM tenants").Scan(ctx, &slug)
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		want uuid.UUID
		err  error
	}{
		{slug + ".localhost", a, nil},
		{slug + ".example.com", a, nil},
		{"nobody.localhost", uuid.Nil, db.ErrUnknownHost},
		{"evil.example.com", uuid.Nil, db.ErrUnknownHost},
		{"a.b.localhost", uuid.Nil, db.ErrUnknownHost},
	} {
		got, err := f.App.ResolveHost(ctx, tc.host, "localhost")
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ResolveHost(%q) = %v, %v; want %v, %v", tc.host, got, err, tc.want, tc.err)
		}
	}
}
