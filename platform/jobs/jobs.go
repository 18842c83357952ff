// Package jobs runs Mercato's background work: the transactional outbox, the relay that turns
// outbox rows into asynq tasks, the worker's middleware, and the queue and retry conventions
// every task kind follows.
//
// A producer never talks to Redis inside a business transaction: it calls Enqueue with the
// transaction, which writes an outbox row that commits or rolls back with the change. The
// Relay (in the worker) hands committed rows to asynq with the row id as the task id, so a
// row is never lost while Redis is down and never enqueued twice. Delivery is at least once:
// every handler must be idempotent.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/scope"
)

// The queues a Server processes, and how many of every 10 dequeues each gets under load.
const (
	QueueCritical = "critical" // money and anything a shopper waits on
	QueueDefault  = "default"
	QueueLow      = "low" // maintenance, rollups, exports
)

// Defaults for Task and Kind fields left zero.
const (
	DefaultMaxRetry = 25               // with Retry's backoff, about 13 hours of attempts
	DefaultTimeout  = 10 * time.Minute // a handler that runs longer is cancelled and retried
	// NoRetry as MaxRetry means one attempt only.
	NoRetry = -1
)

// Errors Enqueue returns.
var (
	ErrNoTenant = fault.New(fault.Internal, "jobs_no_tenant",
		"jobs: the transaction has no app.tenant_id; enqueue inside db.WithTenant or db.WithPlatformScope")
	ErrBadTask = fault.New(fault.Internal, "jobs_bad_task",
		"jobs: a task needs a kind and a queue of lower-case letters, digits and _ . : - , and MaxRetry <= 100, Timeout <= 24h")
)

var (
	kindRE  = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,99}$`)
	queueRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
)

// Task is one piece of work to run after the transaction that enqueues it commits.
type Task struct {
	Kind    string // the handler's name, e.g. "orders.paid"
	Payload any    // the kind's input, encoded as JSON; it must not hold secrets
	Queue   string // QueueCritical, QueueDefault (when empty) or QueueLow
	RunAt   time.Time
	// MaxRetry is how many times a failed run is retried: 0 means DefaultMaxRetry, NoRetry none.
	MaxRetry int
	Timeout  time.Duration // per run; 0 means DefaultTimeout
}

// Kind declares a task kind: its name, where it runs, how long and how often it may try, and
// the handler. The worker registers kinds with Mux; producers build tasks with Kind.Task, so
// both sides agree on the queue and the limits.
type Kind struct {
	Name     string
	Queue    string
	Timeout  time.Duration
	MaxRetry int
	// Handler does the work. It must be idempotent: a task can run again after a crash, a
	// lost lease or a shutdown that returned it to its queue. Return SkipRetry(err) for
	// failures a retry cannot fix.
	Handler func(ctx context.Context, p Payload) error
}

// Task is a Task of this kind with its queue and limits.
func (k Kind) Task(payload any) Task {
	return Task{Kind: k.Name, Payload: payload, Queue: k.Queue, MaxRetry: k.MaxRetry, Timeout: k.Timeout}
}

// envelope is the task payload every Mercato task carries, as JSON. The outbox builds it in
// SQL (see Enqueue), the Scheduler in Go; the middleware reads it.
type envelope struct {
	TenantID  uuid.UUID       `json:"tenant_id"`
	RequestID string          `json:"request_id"`
	Actor     string          `json:"actor"`
	Data      json.RawMessage `json:"data"`
}

// Payload is what a Kind's handler receives: the producer's data and where it came from.
type Payload struct {
	TaskID    string    // the outbox row's id for tasks that came through the outbox
	Kind      string    // the task type
	TenantID  uuid.UUID // uuid.Nil for platform work
	RequestID string    // the request that enqueued it, or the task id
	Actor     scope.Actor
	Retried   int             // failed runs before this one
	Data      json.RawMessage // Task.Payload as JSON; "null" when there was none
}

// Decode unmarshals the data into v. A payload that does not decode never will, so the
// error is wrapped in SkipRetry: return it as it is.
func (p Payload) Decode(v any) error {
	if err := json.Unmarshal(p.Data, v); err != nil {
		return SkipRetry(fmt.Errorf("decode %s payload: %w", p.Kind, err))
	}
	return nil
}

// Enqueue writes t to the outbox inside tx, the caller's transaction, and returns the row id,
// which becomes the asynq task id. The tenant is the transaction's app.tenant_id (the nil
// tenant in db.WithPlatformScope); the request id and the actor come from ctx. Nothing reaches
// Redis until the transaction commits and the relay picks the row up.
// Errors: ErrBadTask, ErrNoTenant, or the encoding's and database's.
func Enqueue(ctx context.Context, tx bun.IDB, t Task) (uuid.UUID, error) {
	t, err := normalize(t)
	if err != nil {
		return uuid.Nil, err
	}
	data, err := json.Marshal(t.Payload)
	if err != nil {
		return uuid.Nil, fmt.Errorf("enqueue %s: encode payload: %w", t.Kind, err)
	}
	var runAt *time.Time
	if !t.RunAt.IsZero() {
		runAt = &t.RunAt
	}
	// The envelope is built here, not in Go, because only the transaction knows its tenant;
	// a transaction without one inserts nothing.
	var id uuid.UUID
	err = tx.NewRaw(`
		INSERT INTO outbox (tenant_id, kind, queue, payload, run_at, max_retry, timeout_seconds)
		SELECT s.t, ?, ?, jsonb_build_object('tenant_id', s.t, 'request_id', ?::text, 'actor', ?::text, 'data', ?::jsonb),
		       coalesce(?::timestamptz, now()), ?, ?
		FROM (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid AS t) s
		WHERE s.t IS NOT NULL
		RETURNING id`,
		t.Kind, t.Queue, scope.RequestIDFrom(ctx), string(scope.ActorFrom(ctx)), string(data),
		runAt, t.MaxRetry, int(t.Timeout/time.Second)).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("enqueue %s: %w", t.Kind, ErrNoTenant)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("enqueue %s: %w", t.Kind, err)
	}
	return id, nil
}

// normalize fills defaults and checks what the outbox's constraints would refuse, so a bad
// task fails in the producer rather than as a row the relay can never hand over.
func normalize(t Task) (Task, error) {
	if t.Queue == "" {
		t.Queue = QueueDefault
	}
	switch {
	case t.MaxRetry == 0:
		t.MaxRetry = DefaultMaxRetry
	case t.MaxRetry < 0:
		t.MaxRetry = 0
	}
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.Timeout < time.Second {
		t.Timeout = time.Second
	}
	if !kindRE.MatchString(t.Kind) || !queueRE.MatchString(t.Queue) || t.MaxRetry > 100 || t.Timeout > 24*time.Hour {
		return t, fmt.Errorf("%w: kind %q queue %q", ErrBadTask, t.Kind, t.Queue)
	}
	return t, nil
}

// SkipRetry marks err as permanent: the task goes to the archive (the dead letter, visible to
// operators) at once instead of being retried. Use it for payloads that can never succeed.
func SkipRetry(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (%w)", err, asynq.SkipRetry)
}
