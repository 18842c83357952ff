package inventory_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/db"
	"mercato/tenants/inventory"
)

// Flash sale, reservation half (TESTING.md): 500 concurrent buyers for 10 units, 20
// repetitions: exactly 10 reservations each time, stock never below 0, reserved = 10. It also
// measures Reserve against the same number of plain single-row UPDATEs of the same hot row
// (no condition, no reservation row) on the same pool, as a baseline.
func TestFlashSale(t *testing.T) {
	if testing.Short() {
		t.Skip("flash sale runs 20,000 transactions")
	}
	const (
		buyers = 500
		units  = 10
		reps   = 20
		conns  = 40 // PostgreSQL here allows 100 connections and other test packages run alongside
	)
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	ctx := staff()
	pool, err := db.Open(ctx, fx.f.Roles.AppURL, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := inventory.NewService(pool, audit.Recorder{})
	loc := fx.location(t, "lumen", "northwind-lighting", "Warehouse", false)

	// run starts n goroutines at once and returns how long they took to finish.
	run := func(n int, fn func(i int)) time.Duration {
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		ready.Add(n)
		done.Add(n)
		for i := range n {
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				fn(i)
			}()
		}
		ready.Wait()
		t0 := time.Now()
		close(start)
		done.Wait()
		return time.Since(t0)
	}

	var reserveTime, baseTime time.Duration
	for rep := range reps {
		v := fx.stock(t, "lumen", loc, units)
		var held, refused, failed atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		minAvail := atomic.Int64{}
		minAvail.Store(units)
		var sampler sync.WaitGroup
		sampler.Add(1)
		go func() { // watches available while buyers race: it must never read below 0
			defer sampler.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ls, err := s.Levels(ctx, lumen, v)
				if err == nil && len(ls) == 1 && int64(ls[0].Available) < minAvail.Load() {
					minAvail.Store(int64(ls[0].Available))
				}
				time.Sleep(time.Millisecond)
			}
		}()
		reserveTime += run(buyers, func(i int) {
			_, err := s.Reserve(ctx, lumen, []inventory.Line{{VariantID: v, Quantity: 1}}, "flash-"+uuid.NewString(), 10*time.Minute)
			switch {
			case err == nil:
				held.Add(1)
			case errors.Is(err, inventory.ErrInsufficientStock):
				refused.Add(1)
			default:
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		})
		close(stop)
		sampler.Wait()
		if held.Load() != units || refused.Load() != buyers-units || failed.Load() != 0 {
			t.Fatalf("rep %d: %d held, %d refused, %d failed (first: %v); want %d held", rep, held.Load(), refused.Load(), failed.Load(), firstErr.Load(), units)
		}
		wantLevel(t, fx.level(t, "lumen", v, loc.ID), units, units)
		if minAvail.Load() < 0 {
			t.Fatalf("rep %d: available read %d", rep, minAvail.Load())
		}
		if n := fx.count(t, "SELECT count(*) FROM reservations WHERE tenant_id = ? AND variant_id = ? AND status = 'held'", lumen, v); n != units {
			t.Fatalf("rep %d: %d held reservation rows, want %d", rep, n, units)
		}

		// Baseline: the same number of transactions, each one unconditional UPDATE of the same row.
		var baseFailed atomic.Int64
		baseTime += run(buyers, func(int) {
			err := pool.WithTenant(ctx, lumen, func(tx bun.IDB) error {
				_, err := tx.ExecContext(ctx, "UPDATE inventory_levels SET updated_at = now() WHERE tenant_id = ? AND variant_id = ? AND location_id = ?", lumen, v, loc.ID)
				return err
			})
			if err != nil {
				baseFailed.Add(1)
			}
		})
		if baseFailed.Load() != 0 {
			t.Fatalf("rep %d: %d baseline updates failed", rep, baseFailed.Load())
		}
	}
	calls := float64(buyers * reps)
	rps, bps := calls/reserveTime.Seconds(), calls/baseTime.Seconds()
	t.Logf("flash sale: %d reps x %d buyers for %d units on %d connections: Reserve %.0f calls/s (%v total), plain UPDATE baseline %.0f tx/s (%v total), ratio %.2f",
		reps, buyers, units, conns, rps, reserveTime.Round(time.Millisecond), bps, baseTime.Round(time.Millisecond), rps/bps)
}
