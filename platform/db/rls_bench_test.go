package db_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
)

// BenchmarkRLSOverhead runs the same tenant-scoped primary-key read, in the same transaction
// shape, against merchants (RLS) and merchants_plain (a copy without RLS), interleaved so both
// see the same machine noise, and reports the ratio rls/plain (target ≤ 1.10).
func BenchmarkRLSOverhead(b *testing.B) {
	f := dbtest.New(b)
	ctx := scope.WithActor(context.Background(), "system:bench")
	const tenants, perTenant = 20, 500
	err := f.Platform.Do(ctx, "bench.seed", func(tx bun.IDB) error {
		for _, s := range []string{
			`INSERT INTO plans (code, name, price_minor, currency) VALUES ('bench', 'Bench', 0, 'USD')`,
			`INSERT INTO tenants (slug, name, plan_id) SELECT 'bench-' || g, 'Bench ' || g, (SELECT id FROM plans) FROM generate_series(1, 20) g`,
			`INSERT INTO merchants (tenant_id, handle, name, status)
			   SELECT t.id, 'shop-' || g, 'Shop ' || g, 'active' FROM tenants t, generate_series(1, 500) g`,
		} {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ownerDB, err := db.Open(ctx, f.Roles.OwnerURL, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer ownerDB.Close()
	for _, s := range []string{
		`CREATE TABLE merchants_plain (LIKE merchants INCLUDING ALL)`,
		`GRANT SELECT ON merchants_plain TO mercato_app`,
		`GRANT INSERT ON merchants_plain TO mercato_platform`, // the owner is under FORCE RLS; the platform role copies
	} {
		if _, err := ownerDB.Bun().ExecContext(ctx, s); err != nil {
			b.Fatal(s, err)
		}
	}
	var keys []struct {
		TenantID uuid.UUID `bun:"tenant_id"`
		ID       uuid.UUID `bun:"id"`
	}
	if err := f.Platform.Do(ctx, "bench.keys", func(tx bun.IDB) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO merchants_plain SELECT * FROM merchants`); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT tenant_id, id FROM merchants`).Scan(ctx, &keys)
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := ownerDB.Bun().ExecContext(ctx, `ANALYZE merchants; ANALYZE merchants_plain`); err != nil {
		b.Fatal(err)
	}
	if len(keys) != tenants*perTenant {
		b.Fatalf("%d keys", len(keys))
	}
	read := func(table string, k int) error {
		key := keys[k]
		return f.App.WithTenant(ctx, key.TenantID, func(tx bun.IDB) error {
			var name string
			return tx.NewRaw("SELECT name FROM "+table+" WHERE tenant_id = ? AND id = ?", key.TenantID, key.ID).Scan(ctx, &name)
		})
	}
	var rlsTime, plainTime time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := rand.IntN(len(keys))
		first, second := "merchants", "merchants_plain"
		if i%2 == 1 {
			first, second = second, first
		}
		for _, table := range []string{first, second} {
			start := time.Now()
			if err := read(table, k); err != nil {
				b.Fatal(table, err)
			}
			if table == "merchants" {
				rlsTime += time.Since(start)
			} else {
				plainTime += time.Since(start)
			}
		}
	}
	b.ReportMetric(float64(rlsTime.Nanoseconds())/float64(b.N), "rls-ns/read")
	b.ReportMetric(float64(plainTime.Nanoseconds())/float64(b.N), "plain-ns/read")
	b.ReportMetric(float64(rlsTime)/float64(plainTime), "rls/plain")
}
