package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"mercato/platform/db/dbtest"
	"mercato/platform/jobs"
	"mercato/platform/scope"
)

func platformAuditEntries(t *testing.T, f *dbtest.Fixture) int {
	t.Helper()
	return count(t, superuser(t, f), "SELECT count(*) FROM audit_entries WHERE tenant_id = $1", uuid.Nil)
}

func TestRelayRunOnce(t *testing.T) {
	f := dbtest.New(t)
	ctx := context.Background()
	q := queue(t)
	client := newClient(t, testRedis)
	insp := newInspector(t)
	su := superuser(t, f)
	tenant := uuid.Must(uuid.NewV7())
	later := time.Now().Add(time.Hour)

	tasks := []jobs.Task{
		{Kind: "orders.paid", Queue: q, Payload: map[string]string{"order": "o-1"}},
		{Kind: "reservations.expire", Queue: q, RunAt: later},
		{Kind: "media.thumbnail", Queue: q, MaxRetry: 3, Timeout: 45 * time.Second},
	}
	ids := make([]uuid.UUID, len(tasks))
	rctx := scope.WithRequestID(scope.WithActor(ctx, "user:7"), "req-9")
	if err := f.App.WithTenant(rctx, tenant, func(tx bun.IDB) error {
		for i, task := range tasks {
			var err error
			if ids[i], err = jobs.Enqueue(rctx, tx, task); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	relay := &jobs.Relay{Platform: f.Platform, Client: client, Log: quietLog()}
	audits := platformAuditEntries(t, f)
	n, err := relay.RunOnce(ctx)
	if err != nil || n != 3 {
		t.Fatalf("RunOnce = %d, %v; want 3, nil", n, err)
	}
	for i, id := range ids {
		info, err := insp.GetTaskInfo(q, id.String())
		if err != nil {
			t.Fatalf("task %d (%s) not in Redis: %v", i, id, err)
		}
		wantState, wantRetry, wantTimeout := asynq.TaskStatePending, jobs.DefaultMaxRetry, jobs.DefaultTimeout
		switch i {
		case 1:
			wantState = asynq.TaskStateScheduled
		case 2:
			wantRetry, wantTimeout = 3, 45*time.Second
		}
		if info.Type != tasks[i].Kind || info.State != wantState || info.MaxRetry != wantRetry || info.Timeout != wantTimeout {
			t.Errorf("task %d: type %s state %v max_retry %d timeout %v; want %s %v %d %v",
				i, info.Type, info.State, info.MaxRetry, info.Timeout, tasks[i].Kind, wantState, wantRetry, wantTimeout)
		}
		if i == 1 && info.NextProcessAt.Unix() != later.Unix() {
			t.Errorf("scheduled for %v, want %v", info.NextProcessAt, later)
		}
		var env map[string]any
		if err := json.Unmarshal(info.Payload, &env); err != nil {
			t.Fatal(err)
		}
		if env["tenant_id"] != tenant.String() || env["actor"] != "user:7" || env["request_id"] != "req-9" {
			t.Errorf("task %d envelope %v", i, env)
		}
	}
	if got := count(t, su, "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND id = ANY($1)", ids); got != 3 {
		t.Errorf("%d rows marked sent, want 3", got)
	}
	if got := platformAuditEntries(t, f); got != audits+1 {
		t.Errorf("a batch wrote %d platform audit entries, want 1", got-audits)
	}

	// Nothing left: no work, and no audit entry for looking.
	audits = platformAuditEntries(t, f)
	if n, err := relay.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("second RunOnce = %d, %v; want 0, nil", n, err)
	}
	if got := platformAuditEntries(t, f); got != audits {
		t.Errorf("an idle run wrote %d platform audit entries, want 0", got-audits)
	}

	t.Run("a row whose task is already in Redis is marked sent, not enqueued again", func(t *testing.T) {
		var id uuid.UUID
		if err := f.App.WithTenant(ctx, tenant, func(tx bun.IDB) error {
			var err error
			id, err = jobs.Enqueue(ctx, tx, jobs.Task{Kind: "orders.paid", Queue: q})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// As if an earlier relay had handed it over and then failed to mark it.
		if _, err := client.Enqueue(asynq.NewTask("orders.paid", []byte(`"first"`)), asynq.TaskID(id.String()), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
		if n, err := relay.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v; want 1, nil", n, err)
		}
		info, err := insp.GetTaskInfo(q, id.String())
		if err != nil || string(info.Payload) != `"first"` {
			t.Errorf("task payload %q, err %v: the first hand-over must stand", info.Payload, err)
		}
		if r, _ := readRow(t, f, id); !r.sent {
			t.Error("row not marked sent")
		}
	})

	t.Run("housekeeping deletes rows sent more than a week ago", func(t *testing.T) {
		var oldID, recentID uuid.UUID
		for _, age := range []struct {
			id  *uuid.UUID
			ago string
		}{{&oldID, "8 days"}, {&recentID, "6 days"}} {
			if err := su.QueryRow(ctx, `INSERT INTO outbox (tenant_id, kind, payload, max_retry, timeout_seconds, sent_at)
				VALUES ($1, 'old.task', '{}', 0, 60, now() - $2::interval) RETURNING id`, tenant, age.ago).Scan(age.id); err != nil {
				t.Fatal(err)
			}
		}
		fresh := &jobs.Relay{Platform: f.Platform, Client: client, Log: quietLog()} // housekeeping is due at its first run
		if _, err := fresh.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := readRow(t, f, oldID); ok {
			t.Error("a row sent 8 days ago is still there")
		}
		if _, ok := readRow(t, f, recentID); !ok {
			t.Error("a row sent 6 days ago was deleted")
		}
	})
}

// Two relays at once over 1,000 rows: every row is handed over exactly once.
func TestRelaysConcurrently(t *testing.T) {
	f := dbtest.New(t)
	ctx := context.Background()
	q := queue(t)
	su := superuser(t, f)
	commitTasks(t, f, uuid.Must(uuid.NewV7()), "orders.paid", q, 1000)

	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		relay := &jobs.Relay{Platform: f.Platform, Client: newClient(t, testRedis), Log: quietLog(), Batch: 100, Parallel: 4}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
				n, err := relay.RunOnce(ctx)
				if err != nil {
					errs <- err
					return
				}
				total.Add(int64(n))
				if n == 0 && total.Load() >= 1000 {
					return
				}
			}
			errs <- errors.New("relay did not finish in 30 s")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A row handed over by both relays would count twice here (the second as a task id
	// conflict), even though Redis would still hold one task.
	if total.Load() != 1000 {
		t.Errorf("relays marked %d rows sent, want 1000", total.Load())
	}
	qi, err := newInspector(t).GetQueueInfo(q)
	if err != nil {
		t.Fatal(err)
	}
	if qi.Size != 1000 {
		t.Errorf("queue holds %d tasks, want 1000", qi.Size)
	}
	if n := count(t, su, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"); n != 0 {
		t.Errorf("%d rows unsent", n)
	}
}

// asynq itself: the same task id enqueued 50 times at once is accepted once.
func TestTaskIDDedup(t *testing.T) {
	client := newClient(t, testRedis)
	q := queue(t)
	id := uuid.Must(uuid.NewV7()).String()
	var ok, conflict, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := client.Enqueue(asynq.NewTask("orders.paid", nil), asynq.TaskID(id), asynq.Queue(q))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, asynq.ErrTaskIDConflict):
				conflict.Add(1)
			default:
				t.Error(err)
				other.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != 49 {
		t.Errorf("accepted %d, conflicts %d, other errors %d; want 1, 49, 0", ok.Load(), conflict.Load(), other.Load())
	}
}

// Orders commit while Redis is stopped; Redis comes back; every order's job runs, once.
func TestRedisDownAtCommit(t *testing.T) {
	f := dbtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	su := superuser(t, f)
	rs := newRedisServer(t)
	rs.start()
	opt := asynq.RedisClientOpt{Addr: rs.addr()}
	q := queue(t)

	calls := newCalls()
	startServer(t, opt, q, quietLog(), 10, jobs.Mux(jobs.Kind{Name: "orders.paid", Handler: func(ctx context.Context, p jobs.Payload) error {
		calls.add(p.TaskID)
		return nil
	}}))
	relay := &jobs.Relay{Platform: f.Platform, Client: newClient(t, opt), ListenURL: f.Roles.PlatformURL, Log: quietLog(),
		Poll: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-relayDone })

	rs.stop()
	ids, _ := commitTasks(t, f, uuid.Must(uuid.NewV7()), "orders.paid", q, 200)

	// While Redis is down the rows stay, and each failed hand-over is on record.
	waitFor(t, 10*time.Second, "every row to record a failed attempt", func() bool {
		return count(t, su, "SELECT count(*) FROM outbox WHERE attempts > 0 AND last_error <> '' AND sent_at IS NULL AND id = ANY($1)", ids) == 200
	})
	if n := count(t, su, "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"); n != 0 {
		t.Fatalf("%d rows marked sent while Redis was down", n)
	}

	rs.start()
	want := map[string]int{}
	for _, id := range ids {
		want[id.String()] = 1
	}
	waitFor(t, 30*time.Second, "all 200 jobs to run", func() bool { return len(calls.snapshot()) == 200 })
	time.Sleep(500 * time.Millisecond) // room for a duplicate to show up
	if got := calls.snapshot(); !reflect.DeepEqual(got, want) {
		lost, dup := 0, 0
		for id := range want {
			switch got[id] {
			case 0:
				lost++
			case 1:
			default:
				dup++
			}
		}
		t.Errorf("%d jobs lost, %d run more than once, %d unknown", lost, dup, len(got)+lost-len(want))
	}
	if n := count(t, su, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"); n != 0 {
		t.Errorf("%d rows still unsent", n)
	}
}

// With a poll of a minute, only the trigger's NOTIFY can bring a fresh row to Redis quickly.
func TestRelayWakesOnNotify(t *testing.T) {
	f := dbtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	q := queue(t)
	relay := &jobs.Relay{Platform: f.Platform, Client: newClient(t, testRedis), ListenURL: f.Roles.PlatformURL,
		Log: quietLog(), Poll: time.Minute}
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	time.Sleep(500 * time.Millisecond) // the listener connects and the first (empty) pass ends

	ids, _ := commitTasks(t, f, uuid.Must(uuid.NewV7()), "orders.paid", q, 1)
	insp := newInspector(t)
	waitFor(t, 3*time.Second, "the row to reach Redis", func() bool {
		_, err := insp.GetTaskInfo(q, ids[0].String())
		return err == nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
