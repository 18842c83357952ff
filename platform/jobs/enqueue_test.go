package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"mercato/platform/db/dbtest"
	"mercato/platform/jobs"
	"mercato/platform/scope"
)

type outboxRow struct {
	tenant, id            uuid.UUID
	kind, queue           string
	payload               map[string]any
	runAt                 time.Time
	maxRetry, timeoutSecs int
	sent                  bool
	attempts              int
	lastError             string
	createdAt             time.Time
}

func readRow(t *testing.T, f *dbtest.Fixture, id uuid.UUID) (outboxRow, bool) {
	t.Helper()
	c := superuser(t, f)
	var r outboxRow
	var payload []byte
	err := c.QueryRow(context.Background(), `SELECT tenant_id, id, kind, queue, payload, run_at, max_retry, timeout_seconds,
		sent_at IS NOT NULL, attempts, last_error, created_at FROM outbox WHERE id = $1`, id).
		Scan(&r.tenant, &r.id, &r.kind, &r.queue, &payload, &r.runAt, &r.maxRetry, &r.timeoutSecs, &r.sent, &r.attempts, &r.lastError, &r.createdAt)
	if err != nil {
		return r, false
	}
	if err := json.Unmarshal(payload, &r.payload); err != nil {
		t.Fatal(err)
	}
	return r, true
}

func TestEnqueue(t *testing.T) {
	f := dbtest.New(t)
	tenantA, tenantB := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	ctx := scope.WithActor(scope.WithRequestID(context.Background(), "req-1"), "user:42")
	runAt := time.Now().Add(time.Hour).Truncate(time.Microsecond)

	t.Run("commits with the transaction, envelope from the transaction and ctx", func(t *testing.T) {
		var id uuid.UUID
		err := f.App.WithTenant(ctx, tenantA, func(tx bun.IDB) error {
			var err error
			id, err = jobs.Enqueue(ctx, tx, jobs.Task{Kind: "orders.paid", Payload: map[string]any{"order": "o-1"}, RunAt: runAt})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r, ok := readRow(t, f, id)
		if !ok {
			t.Fatal("row missing after commit")
		}
		if r.tenant != tenantA || r.kind != "orders.paid" || r.queue != jobs.QueueDefault || r.sent || r.attempts != 0 {
			t.Errorf("row = %+v", r)
		}
		if r.maxRetry != jobs.DefaultMaxRetry || r.timeoutSecs != int(jobs.DefaultTimeout/time.Second) || !r.runAt.Equal(runAt) {
			t.Errorf("defaults: max_retry %d timeout %d run_at %v, want %d %v %v", r.maxRetry, r.timeoutSecs, r.runAt,
				jobs.DefaultMaxRetry, jobs.DefaultTimeout, runAt)
		}
		want := map[string]any{"tenant_id": tenantA.String(), "request_id": "req-1", "actor": "user:42", "data": map[string]any{"order": "o-1"}}
		if got, _ := json.Marshal(r.payload); string(got) != string(must(json.Marshal(want))) {
			t.Errorf("envelope %s, want %s", got, must(json.Marshal(want)))
		}
		// RLS: the row is tenant A's only.
		var n int
		if err := f.App.WithTenant(ctx, tenantB, func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM outbox").Scan(ctx, &n)
		}); err != nil || n != 0 {
			t.Errorf("tenant B sees %d outbox rows (err %v), want 0", n, err)
		}
	})

	t.Run("rolls back with the transaction", func(t *testing.T) {
		var id uuid.UUID
		boom := errors.New("business rule failed")
		err := f.App.WithTenant(ctx, tenantA, func(tx bun.IDB) error {
			var err error
			if id, err = jobs.Enqueue(ctx, tx, jobs.Task{Kind: "orders.paid"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || id == uuid.Nil {
			t.Fatalf("err %v id %v", err, id)
		}
		if _, ok := readRow(t, f, id); ok {
			t.Error("a rolled-back transaction left its outbox row")
		}
	})

	t.Run("platform scope is the nil tenant; limits and queue are kept", func(t *testing.T) {
		var id uuid.UUID
		err := f.App.WithPlatformScope(ctx, func(tx bun.IDB) error {
			var err error
			id, err = jobs.Enqueue(ctx, tx, jobs.Task{Kind: "maintenance:sweep", Queue: jobs.QueueLow, MaxRetry: jobs.NoRetry, Timeout: 90 * time.Second})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := readRow(t, f, id)
		if r.tenant != uuid.Nil || r.queue != "low" || r.maxRetry != 0 || r.timeoutSecs != 90 || r.payload["data"] != nil {
			t.Errorf("row = %+v", r)
		}
	})

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name string
			run  func() error
			want error
		}{
			{"no tenant in the transaction", func() error {
				return f.App.Bun().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					_, err := jobs.Enqueue(ctx, tx, jobs.Task{Kind: "orders.paid"})
					return err
				})
			}, jobs.ErrNoTenant},
			{"empty kind", enqueueIn(f, tenantA, jobs.Task{}), jobs.ErrBadTask},
			{"upper-case kind", enqueueIn(f, tenantA, jobs.Task{Kind: "Orders.Paid"}), jobs.ErrBadTask},
			{"bad queue", enqueueIn(f, tenantA, jobs.Task{Kind: "orders.paid", Queue: "crit ical"}), jobs.ErrBadTask},
			{"too many retries", enqueueIn(f, tenantA, jobs.Task{Kind: "orders.paid", MaxRetry: 101}), jobs.ErrBadTask},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.run(); !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
			})
		}
		if _, err := jobs.Enqueue(ctx, f.App.Bun(), jobs.Task{Kind: "x.y", Payload: func() {}}); err == nil {
			t.Error("a payload JSON cannot encode was accepted")
		}
	})
}

func enqueueIn(f *dbtest.Fixture, tenant uuid.UUID, task jobs.Task) func() error {
	return func() error {
		return f.App.WithTenant(context.Background(), tenant, func(tx bun.IDB) error {
			_, err := jobs.Enqueue(context.Background(), tx, task)
			return err
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The outbox trigger wakes listening relays when rows commit, unless turned off.
func TestOutboxNotify(t *testing.T) {
	f := dbtest.New(t)
	ctx := context.Background()
	listener, err := pgx.Connect(ctx, f.Roles.PlatformURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close(ctx) })
	if _, err := listener.Exec(ctx, "LISTEN "+jobs.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	tenant := uuid.Must(uuid.NewV7())
	tests := []struct {
		name    string
		setting string // mercato.outbox_notify for the transaction; "" leaves it unset
		fail    bool   // roll the transaction back
		want    bool
	}{
		{"commit", "", false, true},
		{"rollback", "", true, false},
		{"turned off", "off", false, false},
		{"turned on explicitly", "on", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.App.WithTenant(ctx, tenant, func(tx bun.IDB) error {
				if tc.setting != "" {
					if _, err := tx.ExecContext(ctx, "SELECT set_config('mercato.outbox_notify', ?, true)", tc.setting); err != nil {
						return err
					}
				}
				if _, err := jobs.Enqueue(ctx, tx, jobs.Task{Kind: "orders.paid"}); err != nil {
					return err
				}
				if tc.fail {
					return errors.New("rolled back")
				}
				return nil
			})
			if (err != nil) != tc.fail {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err = listener.WaitForNotification(wctx)
			if got := err == nil; got != tc.want {
				t.Errorf("notified: %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}
