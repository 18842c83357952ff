package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"mercato/platform/db"
	"mercato/platform/scope"
)

// NotifyChannel is what the outbox trigger NOTIFYs after an insert commits.
const NotifyChannel = "mercato_outbox"

// Relay hands committed outbox rows to asynq and marks them sent. Run one in every worker
// process: rows are claimed FOR UPDATE SKIP LOCKED, so relays share the work without waiting
// on each other, and each task's id is its row's id, so even a row handed over twice (Redis
// took it, then the marking transaction failed) becomes one task.
//
// It works across tenants through db.Platform.Do, one transaction and one audit entry
// ("outbox.relay") per batch that did something; a poll that finds nothing rolls back and
// leaves no entry, so an idle relay does not fill the platform's audit chain.
type Relay struct {
	Platform *db.Platform
	Client   *asynq.Client
	// ListenURL is the platform role's database URL: the relay LISTENs on a connection of
	// its own for the outbox trigger's NOTIFY and runs a batch at once. Empty: poll only.
	ListenURL string
	Log       *slog.Logger  // slog.Default() when nil
	Batch     int           // rows per claim, one transaction; 500
	Parallel  int           // enqueues in flight within a batch; 8
	Poll      time.Duration // the fallback when no notification comes; 1 s
	// Gather is the shortest time between two batches' starts (unless the first was full),
	// so that a stream of notifying commits is relayed in batches, not one by one; 50 ms.
	Gather time.Duration
	// MaxBackoff caps the wait after a failed batch (Redis or PostgreSQL down); 30 s.
	MaxBackoff time.Duration
	// Retention is how long Redis keeps a finished task, and so its id: a second hand-over
	// of the same row within it is refused as a duplicate. A second hand-over follows a
	// failed marking transaction within MaxBackoff of PostgreSQL answering again, and a task
	// that needs PostgreSQL cannot finish before that, so minutes suffice; every completed
	// task costs Redis memory (about half a kilobyte) for this long. 10 min.
	Retention time.Duration
	Keep      time.Duration // sent rows are deleted after this; 7 days

	lastSweep atomic.Int64 // unix nanos of the last housekeeping that committed
	sweepMore atomic.Bool  // the last housekeeping hit sweepLimit
}

// errIdle rolls back a batch that claimed nothing, so it leaves no audit entry.
var errIdle = errors.New("outbox: nothing to relay")

// Housekeeping deletes up to sweepLimit old sent rows per batch, once every sweepEvery, and
// at every batch while it keeps finding a full sweepLimit (a backlog of old rows).
const (
	sweepEvery = time.Hour
	sweepLimit = 10000
)

type outboxRow struct {
	TenantID       uuid.UUID `bun:"tenant_id"`
	ID             uuid.UUID `bun:"id"`
	Kind           string    `bun:"kind"`
	Queue          string    `bun:"queue"`
	Payload        []byte    `bun:"payload"`
	RunAt          time.Time `bun:"run_at"`
	MaxRetry       int       `bun:"max_retry"`
	TimeoutSeconds int       `bun:"timeout_seconds"`
}

// RunOnce hands over one batch: up to Batch unsent rows, oldest first. It returns how many
// rows it marked sent. When Redis fails it stops the batch, counts an attempt and the error
// on the rows it could not hand over (they stay unsent for the next run) and returns the
// error with the number sent before it.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	ctx = scope.WithActor(ctx, "system:outbox_relay")
	sweep := r.sweepMore.Load() || time.Since(time.Unix(0, r.lastSweep.Load())) >= sweepEvery
	var sent int
	var deleted int64
	var sendErr error
	err := r.Platform.Do(ctx, "outbox.relay", func(tx bun.IDB) error {
		sent, sendErr = 0, nil
		var rows []outboxRow
		if err := tx.NewRaw(`
			SELECT tenant_id, id, kind, queue, payload, run_at, max_retry, timeout_seconds FROM outbox
			WHERE sent_at IS NULL ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
			r.batch()).Scan(ctx, &rows); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		done, failed, err := r.send(ctx, rows)
		sendErr = err
		if len(done) > 0 {
			if _, err := tx.NewRaw(`UPDATE outbox o SET sent_at = now()
				FROM unnest(?::uuid[], ?::uuid[]) AS s(t, i) WHERE o.tenant_id = s.t AND o.id = s.i`,
				tenantsOf(done), idsOf(done)).Exec(ctx); err != nil {
				return fmt.Errorf("mark sent: %w", err)
			}
		}
		if len(failed) > 0 {
			msg := sendErr.Error()
			if len(msg) > 1000 {
				msg = msg[:1000]
			}
			if _, err := tx.NewRaw(`UPDATE outbox o SET attempts = attempts + 1, last_error = ?
				FROM unnest(?::uuid[], ?::uuid[]) AS s(t, i) WHERE o.tenant_id = s.t AND o.id = s.i`,
				msg, tenantsOf(failed), idsOf(failed)).Exec(ctx); err != nil {
				return fmt.Errorf("record attempts: %w", err)
			}
		}
		deleted = 0
		if sweep {
			// By ctid: a TID scan, where a key IN (...) would hash-join a seq scan of the table.
			res, err := tx.NewRaw(`DELETE FROM outbox WHERE ctid = ANY (ARRAY (
				SELECT ctid FROM outbox WHERE sent_at < now() - make_interval(secs => ?) LIMIT ?))`,
				r.keep().Seconds(), sweepLimit).Exec(ctx)
			if err != nil {
				return fmt.Errorf("delete sent rows: %w", err)
			}
			deleted, _ = res.RowsAffected()
		}
		if len(rows) == 0 && deleted == 0 {
			return errIdle
		}
		sent = len(done)
		return nil
	})
	switch {
	case errors.Is(err, errIdle):
	case err != nil:
		// Rows handed to Redis before the failure stay unsent; the next run hands them over
		// again and their task ids make that a no-op.
		return 0, fmt.Errorf("relay outbox: %w", err)
	}
	if sweep {
		r.lastSweep.Store(time.Now().UnixNano())
		r.sweepMore.Store(deleted == sweepLimit)
	}
	if sendErr != nil {
		return sent, fmt.Errorf("relay outbox: %w", sendErr)
	}
	return sent, nil
}

// send enqueues rows, Parallel at a time, and splits them into handed over (or already in
// Redis) and not. At the first error it starts no more: an error here is Redis failing (the
// rows passed Enqueue's checks and the table's), and the rest would fail the same way.
func (r *Relay) send(ctx context.Context, rows []outboxRow) (done, failed []outboxRow, err error) {
	if len(rows) == 0 {
		return nil, nil, nil
	}
	errs := make([]error, len(rows))
	tried := make([]bool, len(rows))
	var stop atomic.Bool
	sem := make(chan struct{}, r.parallel())
	var wg sync.WaitGroup
	for i := range rows {
		if stop.Load() {
			break
		}
		sem <- struct{}{}
		tried[i] = true
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.enqueue(ctx, rows[i]); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				errs[i] = err
				stop.Store(true)
			}
		}()
	}
	wg.Wait()
	for i, row := range rows {
		if tried[i] && errs[i] == nil {
			done = append(done, row)
		} else {
			failed = append(failed, row)
		}
	}
	for i := range rows {
		if errs[i] != nil {
			return done, failed, fmt.Errorf("enqueue %s %s: %w", rows[i].Kind, rows[i].ID, errs[i])
		}
	}
	return done, failed, nil
}

func (r *Relay) enqueue(ctx context.Context, row outboxRow) error {
	opts := []asynq.Option{
		asynq.TaskID(row.ID.String()),
		asynq.Queue(row.Queue),
		asynq.MaxRetry(row.MaxRetry),
		asynq.Timeout(time.Duration(row.TimeoutSeconds) * time.Second),
		asynq.Retention(r.retention()),
	}
	if row.RunAt.After(time.Now()) {
		opts = append(opts, asynq.ProcessAt(row.RunAt))
	}
	_, err := r.Client.EnqueueContext(ctx, asynq.NewTask(row.Kind, row.Payload), opts...)
	return err
}

// Run relays until ctx ends: a batch whenever the outbox trigger notifies, at least every
// Poll, at once again while batches come back full, and after a failure only when a backoff
// (1 s doubling up to MaxBackoff) has passed. It returns nil when ctx ends, after the batch
// under way.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.ListenURL != "" {
		wg.Add(1)
		go func() { defer wg.Done(); r.listen(ctx, wake) }()
	}
	failures := 0
	var last time.Time
	for {
		// Batches start at most every Gather apart unless the last one was full: commits that
		// notify one by one are relayed together, which bounds the batches (and the platform
		// audit entries) to 1/Gather a second under load for at most Gather of latency.
		if wait := r.gather() - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		last = time.Now()
		// A batch under way finishes when ctx ends (a shutdown), so that what it handed to
		// Redis is also marked sent; the timeout bounds a hung dependency.
		bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		n, err := r.RunOnce(bctx)
		bcancel()
		if ctx.Err() != nil {
			return nil
		}
		wait := r.poll() - time.Since(last) // a poll every Poll, however long the batch took
		switch {
		case err != nil:
			failures++
			wait = backoff(failures, r.maxBackoff())
			r.log().WarnContext(ctx, "outbox relay failed; backing off", "sent", n, "retry_in", wait.String(), "error", err.Error())
		case n >= r.batch():
			failures = 0
			last = time.Time{}
			continue
		default:
			failures = 0
		}
		timer := time.NewTimer(max(wait, 0))
		if failures > 0 {
			// Commits during an outage must not cut the backoff short.
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
			select {
			case <-wake:
			default:
			}
		} else {
			select {
			case <-ctx.Done():
			case <-wake:
			case <-timer.C:
			}
		}
		timer.Stop()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// listen forwards the outbox trigger's notifications to wake, reconnecting while ctx lives.
// After every (re)connect it wakes the loop once, for notifications sent while it was away.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for failures := 0; ctx.Err() == nil; {
		err := func() error {
			conn, err := pgx.Connect(ctx, r.ListenURL)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
				return err
			}
			failures = 0
			poke()
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					return err
				}
				poke()
			}
		}()
		if ctx.Err() != nil {
			return
		}
		failures++
		wait := backoff(failures, r.maxBackoff())
		r.log().WarnContext(ctx, "outbox listener lost its connection; polling meanwhile", "retry_in", wait.String(), "error", err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// backoff is 1 s doubled per consecutive failure, capped, with up to a quarter of jitter so
// that relays of several workers do not retry in step.
func backoff(failures int, ceiling time.Duration) time.Duration {
	d := ceiling
	if failures < 30 {
		d = min(time.Second<<max(failures-1, 0), ceiling)
	}
	return d - rand.N(d/4+1)
}

func (r *Relay) batch() int                { return orDefault(r.Batch, 500) }
func (r *Relay) parallel() int             { return orDefault(r.Parallel, 8) }
func (r *Relay) poll() time.Duration       { return orDefault(r.Poll, time.Second) }
func (r *Relay) gather() time.Duration     { return orDefault(r.Gather, 50*time.Millisecond) }
func (r *Relay) maxBackoff() time.Duration { return orDefault(r.MaxBackoff, 30*time.Second) }
func (r *Relay) retention() time.Duration  { return orDefault(r.Retention, 10*time.Minute) }
func (r *Relay) keep() time.Duration       { return orDefault(r.Keep, 7*24*time.Hour) }

func (r *Relay) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

func orDefault[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

func tenantsOf(rows []outboxRow) any {
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.TenantID
	}
	return pgdialect.Array(out)
}

func idsOf(rows []outboxRow) any {
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return pgdialect.Array(out)
}
