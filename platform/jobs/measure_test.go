package jobs_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"mercato/platform/db/dbtest"
	"mercato/platform/jobs"
)

// TestThroughputAndLatency measures the relay (outbox rows to enqueued tasks per second)
// against raw asynq enqueues in the same run, and the latency from a business commit to its
// handler's start under a burst of 2,000 commits. Run with -v to see the figures.
func TestThroughputAndLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	const n = 2000
	f := dbtest.New(t)
	ctx := context.Background()
	client := newClient(t, testRedis)

	// Rounds interleave the baseline (asynq.Client.Enqueue with a task id) and the relay
	// draining a backlog, so both see the same machine; medians are reported.
	su := superuser(t, f)
	const rounds = 3
	rates := map[string][]float64{}
	measure := func(name string, fn func()) {
		start := time.Now()
		fn()
		rates[name] = append(rates[name], n/time.Since(start).Seconds())
	}
	for range rounds {
		for _, par := range []int{1, 8} {
			q := queue(t)
			measure(fmt.Sprintf("baseline: raw asynq Enqueue, %d in flight", par), func() {
				parallel(par, n, func(int) {
					if _, err := client.Enqueue(asynq.NewTask("bench.raw", []byte(`{"data":1}`)),
						asynq.TaskID(uuid.Must(uuid.NewV7()).String()), asynq.Queue(q), asynq.Retention(time.Hour)); err != nil {
						t.Error(err)
					}
				})
			})
		}
		for _, par := range []int{1, 8} {
			q := queue(t)
			if _, err := su.Exec(ctx, `INSERT INTO outbox (tenant_id, kind, queue, payload, max_retry, timeout_seconds)
				SELECT $1, 'bench.relay', $2, jsonb_build_object('tenant_id', $1::uuid, 'data', i), 25, 600
				FROM generate_series(1, $3) i`, uuid.Must(uuid.NewV7()), q, n); err != nil {
				t.Fatal(err)
			}
			relay := &jobs.Relay{Platform: f.Platform, Client: client, Log: quietLog(), Parallel: par}
			measure(fmt.Sprintf("relay: backlog of %d rows, batches of 500, %d enqueues in flight", n, par), func() {
				for total := 0; total < n; {
					k, err := relay.RunOnce(ctx)
					if err != nil || k == 0 {
						t.Fatalf("RunOnce = %d, %v after %d rows", k, err, total)
					}
					total += k
				}
			})
		}
	}
	names := slices.Sorted(maps.Keys(rates))
	for _, name := range names {
		r := rates[name]
		slices.Sort(r)
		t.Logf("%s: median %.0f/s (rounds: %.0f)", name, r[len(r)/2], r)
	}

	// Commit to handler start: a server and a relay running, n commits from 8 writers; once
	// with the trigger's NOTIFY waking a LISTENing relay, once with it off and a 100 ms poll.
	for _, mode := range []struct {
		name   string
		notify bool
	}{{"NOTIFY + LISTEN", true}, {"trigger off, poll 100 ms", false}} {
		t.Run(mode.name, func(t *testing.T) {
			if !mode.notify {
				if _, err := su.Exec(ctx, "ALTER TABLE outbox DISABLE TRIGGER outbox_notify"); err != nil {
					t.Fatal(err)
				}
				defer su.Exec(ctx, "ALTER TABLE outbox ENABLE TRIGGER outbox_notify") //nolint:errcheck
			}
			endToEnd(t, f, client, mode.notify, n)
		})
	}
}

func endToEnd(t *testing.T, f *dbtest.Fixture, client *asynq.Client, notify bool, n int) {
	q := queue(t)
	var mu sync.Mutex
	startedAt := make(map[string]time.Time, n)
	startServer(t, testRedis, q, quietLog(), 20, jobs.Mux(jobs.Kind{Name: "bench.e2e", Handler: func(_ context.Context, p jobs.Payload) error {
		now := time.Now()
		mu.Lock()
		if _, dup := startedAt[p.TaskID]; dup {
			t.Errorf("task %s ran twice", p.TaskID)
		}
		startedAt[p.TaskID] = now
		mu.Unlock()
		return nil
	}}))
	relay := &jobs.Relay{Platform: f.Platform, Client: client, Log: quietLog()}
	if notify {
		relay.ListenURL = f.Roles.PlatformURL
	} else {
		relay.Poll = 100 * time.Millisecond
	}
	runRelay(t, relay)
	time.Sleep(300 * time.Millisecond) // the listener connects
	audits := platformAuditEntries(t, f)
	start := time.Now()
	_, committed := commitTasks(t, f, uuid.Must(uuid.NewV7()), "bench.e2e", q, n)
	commitSecs := time.Since(start).Seconds()
	waitFor(t, 60*time.Second, "every task to start", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(startedAt) == n
	})
	total := time.Since(start)
	batches := platformAuditEntries(t, f) - audits
	lat := make([]time.Duration, 0, n)
	mu.Lock()
	for id, at := range committed {
		lat = append(lat, startedAt[id.String()].Sub(at))
	}
	mu.Unlock()
	slices.Sort(lat)
	t.Logf("end to end: %d commits in %.2f s (%.0f/s); all handlers started after %.2f s; commit to handler start p50 %v, p99 %v, max %v; %d relay batches (audit entries)",
		n, commitSecs, float64(n)/commitSecs, total.Seconds(), lat[n/2].Round(time.Millisecond), lat[n*99/100].Round(time.Millisecond), lat[n-1].Round(time.Millisecond), batches)
}

func parallel(par, n int, fn func(i int)) {
	var wg sync.WaitGroup
	for w := range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += par {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// runRelay runs relay until the test ends.
func runRelay(t *testing.T, relay *jobs.Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// BenchmarkRelay hands over batches of 500 outbox rows and, interleaved so both see the same
// machine, enqueues 500 tasks straight through asynq (8 in flight, as the relay does), and
// reports relay rows/s, raw tasks/s and their ratio.
func BenchmarkRelay(b *testing.B) {
	const batch = 500
	f := dbtest.New(b)
	ctx := context.Background()
	client := asynq.NewClient(testRedis)
	defer client.Close()
	su := superuser(b, f)
	relay := &jobs.Relay{Platform: f.Platform, Client: client, Log: quietLog()}
	var relayTime, rawTime time.Duration
	for b.Loop() {
		q := "bench" + uuid.Must(uuid.NewV7()).String()[:8]
		if _, err := su.Exec(ctx, `INSERT INTO outbox (tenant_id, kind, queue, payload, max_retry, timeout_seconds)
			SELECT $1, 'bench.relay', $2, jsonb_build_object('tenant_id', $1::uuid, 'data', i), 25, 600
			FROM generate_series(1, $3) i`, uuid.Must(uuid.NewV7()), q, batch); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if n, err := relay.RunOnce(ctx); err != nil || n != batch {
			b.Fatalf("RunOnce = %d, %v", n, err)
		}
		relayTime += time.Since(start)
		start = time.Now()
		parallel(8, batch, func(int) {
			if _, err := client.Enqueue(asynq.NewTask("bench.raw", []byte(`{"data":1}`)),
				asynq.TaskID(uuid.Must(uuid.NewV7()).String()), asynq.Queue(q), asynq.Retention(time.Hour)); err != nil {
				b.Error(err)
			}
		})
		rawTime += time.Since(start)
	}
	rows := float64(b.N * batch)
	b.ReportMetric(rows/relayTime.Seconds(), "relay-rows/s")
	b.ReportMetric(rows/rawTime.Seconds(), "raw-tasks/s")
	b.ReportMetric(rawTime.Seconds()/relayTime.Seconds(), "relay/raw")
}
