package db_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"mercato/platform/db"
	"mercato/platform/db/dbtest"
)

// Read's one-round-trip statements are scoped like WithTenant: each tenant sees only its rows
// (a row of the other's is "no rows"), settings apply to the statement only, nothing of the
// tenant or the settings stays on the pooled connection afterwards, and the nil tenant is
// refused. Two connections, 200 goroutines alternating tenants: 0 leaks.
func TestReadScopedLikeWithTenant(t *testing.T) {
	f := dbtest.New(t)
	a, b := twoTenants(t, f)
	ctx := context.Background()
	pool, err := db.Open(ctx, f.Roles.AppURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	var wg sync.WaitGroup
	var reads, leaks atomic.Int64
	for g := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				want, other := a, b
				if (g+i)%2 == 1 {
					want, other = b, a
				}
				err := pool.Read(ctx, want, func(read db.RowFunc) error {
					var n, foreign int
					if err := read("SELECT count(*), count(*) FILTER (WHERE tenant_id <> ?) FROM merchants", []any{want}, &n, &foreign); err != nil {
						return err
					}
					if n == 0 || foreign != 0 {
						leaks.Add(1)
					}
					var id uuid.UUID
					if err := read("SELECT id FROM tenants WHERE id = ?", []any{other}, &id); !errors.Is(err, sql.ErrNoRows) {
						leaks.Add(1)
					}
					reads.Add(2)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if leaks.Load() != 0 || reads.Load() != 200*20*2 {
		t.Errorf("%d reads, %d leaks", reads.Load(), leaks.Load())
	}

	var threshold string
	if err := pool.Read(ctx, a, func(read db.RowFunc) error {
		return read("SELECT current_setting('pg_trgm.word_similarity_threshold', true)", nil, &threshold)
	}, db.Setting{Name: "pg_trgm.word_similarity_threshold", Value: "0.42"}); err != nil || threshold != "0.42" {
		t.Errorf("setting inside Read: %q %v", threshold, err)
	}
	for range 4 {
		var tenant, setting string
		if err := pool.Bun().NewRaw(`SELECT coalesce(current_setting('app.tenant_id', true), ''),
			coalesce(current_setting('pg_trgm.word_similarity_threshold', true), '')`).Scan(ctx, &tenant, &setting); err != nil {
			t.Fatal(err)
		}
		if tenant != "" || setting == "0.42" {
			t.Errorf("after Read the connection keeps app.tenant_id %q, threshold %q", tenant, setting)
		}
	}
	if err := pool.Read(ctx, uuid.Nil, func(db.RowFunc) error { return nil }); !errors.Is(err, db.ErrNoTenant) {
		t.Errorf("nil tenant: %v", err)
	}
}
