package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"mercato/platform/db/dbtest"
	"mercato/platform/jobs"
	"mercato/platform/scope"
)

// logBuffer collects JSON log records.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the records whose msg is msg.
func (b *logBuffer) records(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func jsonLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type seen struct {
	tenant    uuid.UUID
	hasTenant bool
	requestID string
	actor     scope.Actor
	payload   jobs.Payload
	order     string
}

func TestMiddlewareRestoresScope(t *testing.T) {
	f := dbtest.New(t)
	ctx := context.Background()
	q := queue(t)
	client := newClient(t, testRedis)
	log, logs := jsonLog()
	got := make(chan seen, 2)
	record := func(ctx context.Context, p jobs.Payload) error {
		s := seen{payload: p, requestID: scope.RequestIDFrom(ctx), actor: scope.ActorFrom(ctx)}
		s.tenant, s.hasTenant = scope.TenantFrom(ctx)
		if p.Kind == "orders.paid" {
			var in struct{ Order string }
			if err := p.Decode(&in); err != nil {
				return err
			}
			s.order = in.Order
		}
		got <- s
		return nil
	}
	startServer(t, testRedis, q, log, 2, jobs.Mux(
		jobs.Kind{Name: "orders.paid", Handler: record},
		jobs.Kind{Name: "maintenance:sweep", Handler: record},
	))

	tenant := uuid.Must(uuid.NewV7())
	var id uuid.UUID
	pctx := scope.WithActor(scope.WithRequestID(ctx, "req-77"), "user:5")
	if err := f.App.WithTenant(pctx, tenant, func(tx bun.IDB) error {
		var err error
		id, err = jobs.Enqueue(pctx, tx, jobs.Task{Kind: "orders.paid", Queue: q, Payload: map[string]string{"order": "o-9"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&jobs.Relay{Platform: f.Platform, Client: client, Log: quietLog()}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.tenant != tenant || !s.hasTenant || s.requestID != "req-77" || s.actor != "user:5" || s.order != "o-9" ||
		s.payload.TaskID != id.String() || s.payload.TenantID != tenant || s.payload.Retried != 0 {
		t.Errorf("handler saw %+v; want tenant %s, req-77, user:5, order o-9, task %s", s, tenant, id)
	}

	// A task without an envelope (platform maintenance) runs as the system, for no tenant.
	info, err := client.Enqueue(asynq.NewTask("maintenance:sweep", nil), asynq.Queue(q))
	if err != nil {
		t.Fatal(err)
	}
	s = <-got
	if s.hasTenant || s.actor != "system:maintenance:sweep" || s.requestID != "task:"+info.ID {
		t.Errorf("maintenance task saw %+v", s)
	}

	waitFor(t, 2*time.Second, "two 'task done' log records", func() bool { return len(logs.records("task done")) == 2 })
	done := logs.records("task done")[0]
	if done["task_id"] != id.String() || done["kind"] != "orders.paid" || done["tenant"] != tenant.String() ||
		done["request_id"] != "req-77" || done["retried"] != 0.0 || done["duration_ms"] == nil {
		t.Errorf("log record %v", done)
	}
	if n := len(logs.records("task started")); n != 2 {
		t.Errorf("%d 'task started' records, want 2", n)
	}
}

func TestFailures(t *testing.T) {
	q := queue(t)
	client := newClient(t, testRedis)
	insp := newInspector(t)
	log, logs := jsonLog()
	calls := newCalls()
	kind := func(name string, timeout time.Duration, fn func(ctx context.Context, p jobs.Payload) error) jobs.Kind {
		return jobs.Kind{Name: name, Timeout: timeout, Handler: func(ctx context.Context, p jobs.Payload) error {
			calls.add(p.TaskID)
			return fn(ctx, p)
		}}
	}
	startServer(t, testRedis, q, log, 4, jobs.Mux(
		kind("fail.permanent", 0, func(context.Context, jobs.Payload) error {
			return jobs.SkipRetry(errors.New("card number is not a number"))
		}),
		kind("fail.decode", 0, func(_ context.Context, p jobs.Payload) error {
			var n int
			return p.Decode(&n)
		}),
		kind("fail.panic", 0, func(context.Context, jobs.Payload) error { panic("nil map") }),
		kind("fail.transient", 0, func(context.Context, jobs.Payload) error { return errors.New("carrier API down") }),
		kind("fail.slow", 50*time.Millisecond, func(ctx context.Context, _ jobs.Payload) error {
			<-ctx.Done() // the kind's timeout, not the task's 10 minutes
			return ctx.Err()
		}),
	))

	tests := []struct {
		kind     string
		payload  []byte
		maxRetry int
		state    asynq.TaskState
		retried  int
		lastErr  string
	}{
		{"fail.permanent", nil, 5, asynq.TaskStateArchived, 0, "card number is not a number"},
		{"fail.decode", []byte(`{"data": "not a number"}`), 5, asynq.TaskStateArchived, 0, "decode fail.decode payload"},
		{"fail.panic", nil, 0, asynq.TaskStateArchived, 0, "panicked: nil map"},
		{"fail.transient", nil, 5, asynq.TaskStateRetry, 1, "carrier API down"},
		{"fail.slow", nil, 5, asynq.TaskStateRetry, 1, "deadline exceeded"},
		// An envelope that is not JSON can never be read.
		{"fail.transient", []byte(`not json`), 5, asynq.TaskStateArchived, 0, "decode fail.transient envelope"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+" "+string(tc.payload), func(t *testing.T) {
			info, err := client.Enqueue(asynq.NewTask(tc.kind, tc.payload), asynq.Queue(q), asynq.MaxRetry(tc.maxRetry))
			if err != nil {
				t.Fatal(err)
			}
			var ti *asynq.TaskInfo
			waitFor(t, 5*time.Second, "the task to fail", func() bool {
				ti, err = insp.GetTaskInfo(q, info.ID)
				return err == nil && (ti.State == asynq.TaskStateArchived || ti.State == asynq.TaskStateRetry)
			})
			if ti.State != tc.state || ti.Retried != tc.retried || !strings.Contains(ti.LastErr, tc.lastErr) {
				t.Errorf("state %v retried %d last error %q; want %v %d %q", ti.State, ti.Retried, ti.LastErr, tc.state, tc.retried, tc.lastErr)
			}
			archived := false
			for _, r := range logs.records("task archived") {
				archived = archived || r["task_id"] == info.ID
			}
			if archived != (tc.state == asynq.TaskStateArchived) {
				t.Errorf("'task archived' logged: %v, want %v", archived, tc.state == asynq.TaskStateArchived)
			}
		})
	}
	if n := len(logs.records("task panicked")); n != 1 {
		t.Errorf("%d 'task panicked' records, want 1", n)
	}
	for id, n := range calls.snapshot() {
		if n != 1 {
			t.Errorf("task %s ran %d times, want 1 (retries are minutes away)", id, n)
		}
	}
}

// SIGTERM with 200 tasks in flight: each task either completed or is back in its queue.
func TestGracefulShutdown(t *testing.T) {
	q := queue(t)
	client := newClient(t, testRedis)
	insp := newInspector(t)
	var mu sync.Mutex
	completed := map[string]int{}
	started := make(chan struct{}, 200)
	work := jobs.Mux(jobs.Kind{Name: "orders.ship", Handler: func(ctx context.Context, p jobs.Payload) error {
		var ms int
		if err := p.Decode(&ms); err != nil {
			return err
		}
		started <- struct{}{}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			mu.Lock()
			completed[p.TaskID]++
			mu.Unlock()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})

	ids := make([]string, 200)
	for i := range ids {
		env := fmt.Sprintf(`{"data": %d}`, 50+(i*37)%151) // 50..200 ms
		info, err := client.Enqueue(asynq.NewTask("orders.ship", []byte(env)), asynq.Queue(q), asynq.MaxRetry(3))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = info.ID
	}
	s := jobs.NewServer(testRedis, jobs.Config{Concurrency: 20, Queues: map[string]int{q: 1},
		ShutdownTimeout: 150 * time.Millisecond, PollInterval: 20 * time.Millisecond, Log: quietLog()})
	if err := s.Start(work); err != nil {
		t.Fatal(err)
	}
	<-started
	time.Sleep(100 * time.Millisecond)
	s.Shutdown()

	mu.Lock()
	done := len(completed)
	mu.Unlock()
	pending := map[string]bool{}
	for page := 1; ; page++ {
		ts, err := insp.ListPendingTasks(q, asynq.PageSize(100), asynq.Page(page))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range ts {
			pending[ti.ID] = true
		}
		if len(ts) < 100 {
			break
		}
	}
	qi, err := insp.GetQueueInfo(q)
	if err != nil {
		t.Fatal(err)
	}
	lost, both := 0, 0
	mu.Lock()
	for _, id := range ids {
		switch {
		case completed[id] == 0 && !pending[id]:
			lost++
		case completed[id] > 0 && pending[id]:
			both++ // finished just as its lease was given up: it will run again (at least once)
		}
	}
	mu.Unlock()
	t.Logf("at shutdown: %d completed, %d back in the queue, %d both", done, len(pending), both)
	if lost != 0 || qi.Active != 0 || qi.Retry != 0 || qi.Archived != 0 {
		t.Errorf("%d tasks lost; queue: %d active, %d retry, %d archived; want all 0", lost, qi.Active, qi.Retry, qi.Archived)
	}
	if done == 0 || len(pending) == 0 {
		t.Errorf("%d completed and %d requeued: the test must stop the server mid-work", done, len(pending))
	}

	// A new server finishes the rest.
	startServer(t, testRedis, q, quietLog(), 20, work)
	waitFor(t, 10*time.Second, "every task to complete", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(completed) == 200
	})
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		n        int
		min, max time.Duration
	}{
		{0, 5 * time.Second, 10 * time.Second},
		{1, 10 * time.Second, 20 * time.Second},
		{3, 40 * time.Second, 80 * time.Second},
		{8, 1280 * time.Second, 2560 * time.Second},
		{9, 30 * time.Minute, time.Hour}, // capped
		{25, 30 * time.Minute, time.Hour},
		{1000, 30 * time.Minute, time.Hour},
		{-1, 5 * time.Second, 10 * time.Second},
	}
	for _, tc := range tests {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 200 {
			d := jobs.Retry(tc.n, errors.New("x"), nil)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < tc.min || hi > tc.max || lo == hi {
			t.Errorf("Retry(%d) in [%v, %v], want within [%v, %v] and jittered", tc.n, lo, hi, tc.min, tc.max)
		}
	}
}

func TestIsFailure(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("carrier API down"), true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("run: %w", asynq.ErrLeaseExpired), false},
		{jobs.SkipRetry(errors.New("bad payload")), false},
	}
	for _, tc := range tests {
		if got := jobs.IsFailure(tc.err); got != tc.want {
			t.Errorf("IsFailure(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if err := jobs.SkipRetry(errors.New("bad payload")); !errors.Is(err, asynq.SkipRetry) || !strings.HasPrefix(err.Error(), "bad payload") {
		t.Errorf("SkipRetry = %v", err)
	}
	if jobs.SkipRetry(nil) != nil {
		t.Error("SkipRetry(nil) != nil")
	}
}
