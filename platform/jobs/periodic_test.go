package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"mercato/platform/jobs"
)

func TestPeriodStart(t *testing.T) {
	at := func(s string) time.Time { return must(time.Parse(time.RFC3339, s)) }
	tests := []struct {
		t             string
		every, offset time.Duration
		want          string
	}{
		{"2026-03-04T10:59:59Z", time.Hour, 0, "2026-03-04T10:00:00Z"},
		{"2026-03-04T11:00:00Z", time.Hour, 0, "2026-03-04T11:00:00Z"},
		{"2026-03-04T01:30:00Z", 24 * time.Hour, 2 * time.Hour, "2026-03-03T02:00:00Z"},
		{"2026-03-04T02:00:00Z", 24 * time.Hour, 2 * time.Hour, "2026-03-04T02:00:00Z"},
		{"2026-03-04T12:07:00+08:00", 15 * time.Minute, 0, "2026-03-04T04:00:00Z"}, // zones do not matter
	}
	for _, tc := range tests {
		if got := jobs.PeriodStart(at(tc.t), tc.every, tc.offset); !got.Equal(at(tc.want)) {
			t.Errorf("PeriodStart(%s, %v, %v) = %v, want %s", tc.t, tc.every, tc.offset, got, tc.want)
		}
	}
}

// Two schedulers (two worker replicas) run a 1-second entry for a few seconds: each period's
// task runs once.
func TestSchedulerOncePerPeriod(t *testing.T) {
	q := queue(t)
	calls := newCalls()
	startServer(t, testRedis, q, quietLog(), 4, jobs.Mux(jobs.Kind{Name: "maintenance:tick", Handler: func(_ context.Context, p jobs.Payload) error {
		calls.add(p.TaskID)
		return nil
	}}))
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	done := make(chan error, 2)
	for range 2 {
		s := &jobs.Scheduler{Client: newClient(t, testRedis), Log: quietLog(), Check: 20 * time.Millisecond,
			Entries: []jobs.Periodic{{Kind: "maintenance:tick", Every: time.Second, Queue: q}}}
		go func() { done <- s.Run(ctx) }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the last period's task finishes
	got := calls.snapshot()
	// 3.5 s touch at most 5 one-second periods; a second replica's run would be one more.
	if len(got) < 3 || len(got) > 5 {
		t.Errorf("%d tasks ran in 3.5 s, want one per period (3 to 5): %v", len(got), got)
	}
	for id, n := range got {
		if n != 1 || !strings.HasPrefix(id, "periodic:maintenance:tick:") {
			t.Errorf("task %s ran %d times; want once, with the id periodic:maintenance:tick:<period start>", id, n)
		}
	}

	bad := &jobs.Scheduler{Client: newClient(t, testRedis), Entries: []jobs.Periodic{{Kind: "x.y", Every: time.Millisecond}}}
	if err := bad.Run(context.Background()); err == nil {
		t.Error("an entry shorter than a second was accepted")
	}
}
