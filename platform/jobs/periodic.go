package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Periodic is a kind the Scheduler enqueues once per period. Periods are aligned to the Unix
// epoch in UTC plus Offset: Every 24h with Offset 2h starts each day at 02:00 UTC.
type Periodic struct {
	Kind     string
	Every    time.Duration
	Offset   time.Duration
	Queue    string        // QueueDefault when empty
	MaxRetry int           // as in Task
	Timeout  time.Duration // as in Task
}

// Scheduler enqueues Periodic kinds. Every worker runs one, and each period still runs once
// cluster-wide: the task id names the kind and the period's start, so the replicas' enqueues
// of one period collide and all but the first are refused as ErrTaskIDConflict, and Redis
// keeps the id for a period after the task finishes. (asynq's own Scheduler with Unique does
// not promise this: "@every" ticks are relative to each replica's start, and the uniqueness
// lock is released when the task succeeds, so two replicas run an hourly task twice an hour.)
//
// A period whose task was never enqueued (every worker was down at its start) is enqueued as
// soon as a scheduler runs within it. The payload is empty: the handler runs as
// "system:<kind>" with no tenant, and sweeps tenants through db.Platform.
type Scheduler struct {
	Client  *asynq.Client
	Entries []Periodic
	Log     *slog.Logger  // slog.Default() when nil
	Check   time.Duration // how often to look at the clock; 1 s
}

// Run enqueues each entry's period as it begins until ctx ends; it returns nil then, or an
// error at once for an entry that cannot work.
func (s *Scheduler) Run(ctx context.Context) error {
	for _, e := range s.Entries {
		if _, err := normalize(Task{Kind: e.Kind, Queue: e.Queue, MaxRetry: e.MaxRetry, Timeout: e.Timeout}); err != nil || e.Every < time.Second {
			return fmt.Errorf("schedule %q: needs a valid kind and queue and Every of at least 1s", e.Kind)
		}
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	done := make([]time.Time, len(s.Entries))   // the last period handed to Redis
	warned := make([]time.Time, len(s.Entries)) // the last period a failure was logged for
	tick := time.NewTicker(orDefault(s.Check, time.Second))
	defer tick.Stop()
	for {
		now := time.Now()
		for i, e := range s.Entries {
			start := PeriodStart(now, e.Every, e.Offset)
			if start.Equal(done[i]) {
				continue
			}
			id, err := s.enqueue(ctx, e, start)
			switch {
			case err == nil:
				log.InfoContext(ctx, "periodic task enqueued", "kind", e.Kind, "task_id", id)
				done[i] = start
			case errors.Is(err, asynq.ErrTaskIDConflict):
				done[i] = start // another replica (or this one before a restart) enqueued it
			case ctx.Err() == nil && !warned[i].Equal(start):
				// Tried again every Check until the period ends; logged once per period.
				log.WarnContext(ctx, "periodic task not enqueued; retrying", "kind", e.Kind, "task_id", id, "error", err.Error())
				warned[i] = start
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (s *Scheduler) enqueue(ctx context.Context, e Periodic, start time.Time) (string, error) {
	t, _ := normalize(Task{Kind: e.Kind, Queue: e.Queue, MaxRetry: e.MaxRetry, Timeout: e.Timeout})
	id := "periodic:" + e.Kind + ":" + strconv.FormatInt(start.Unix(), 10)
	_, err := s.Client.EnqueueContext(ctx, asynq.NewTask(e.Kind, nil),
		asynq.TaskID(id), asynq.Queue(t.Queue), asynq.MaxRetry(t.MaxRetry), asynq.Timeout(t.Timeout),
		// Kept at least a minute so replicas whose clocks differ a little still collide.
		asynq.Retention(max(e.Every, time.Minute)))
	return id, err
}

// PeriodStart is the start of the period of length every (shifted by offset) that holds t.
func PeriodStart(t time.Time, every, offset time.Duration) time.Time {
	n := t.Add(-offset).UnixNano()
	n -= n % int64(every)
	return time.Unix(0, n).Add(offset).UTC()
}
