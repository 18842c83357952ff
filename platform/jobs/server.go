package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"mercato/platform/scope"
)

// Config tunes a Server; zero fields take the defaults in their comments.
type Config struct {
	Concurrency int // tasks run at once by this process; 10
	// ShutdownTimeout is how long Shutdown lets in-flight tasks finish before it cancels them
	// and returns them to their queue; 8 s.
	ShutdownTimeout time.Duration
	// Queues maps queue names to weights; critical=6, default=3, low=1.
	Queues map[string]int
	// PollInterval is how often an idle server looks for new tasks (asynq polls; it does not
	// block on Redis). It bounds the latency from enqueue to start when queues are empty; 100 ms.
	PollInterval time.Duration
	Log          *slog.Logger // slog.Default() when nil
}

// Server is the asynq server of one worker process with Mercato's conventions: the queues and
// weights, Middleware around every task, Retry's backoff, and archived tasks logged as errors.
type Server struct {
	srv *asynq.Server
	log *slog.Logger
}

// NewServer builds a server; Start runs it.
func NewServer(redis asynq.RedisConnOpt, cfg Config) *Server {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 8 * time.Second
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency:       cfg.Concurrency,
		Queues:            cfg.Queues,
		ShutdownTimeout:   cfg.ShutdownTimeout,
		TaskCheckInterval: cfg.PollInterval,
		RetryDelayFunc:    Retry,
		IsFailure:         IsFailure,
		ErrorHandler:      archivedLogger(cfg.Log),
		Logger:            asynqLogger{cfg.Log},
	})
	return &Server{srv: srv, log: cfg.Log}
}

// Start runs h (usually a Mux) behind Middleware in the background.
func (s *Server) Start(h asynq.Handler) error {
	if err := s.srv.Start(Middleware(s.log)(h)); err != nil {
		return fmt.Errorf("start job server: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for the running ones; after ShutdownTimeout it
// cancels their contexts and puts them back in their queues, so no task is lost (it runs
// again later: handlers are idempotent).
func (s *Server) Shutdown() { s.srv.Shutdown() }

// Mux routes each task to its kind's handler. It panics, like asynq.ServeMux, on a kind
// registered twice, a bad name or a missing handler: those are wiring mistakes found at start.
func Mux(kinds ...Kind) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	for _, k := range kinds {
		if !kindRE.MatchString(k.Name) || k.Handler == nil {
			panic(fmt.Sprintf("jobs: kind %q needs a valid name and a handler", k.Name))
		}
		mux.Handle(k.Name, kindHandler{k})
	}
	return mux
}

type kindHandler struct{ k Kind }

func (h kindHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	// asynq's mux also routes by prefix ("orders.paid" would take "orders.paid_v2"); a kind
	// this worker does not know is an error, retried until a worker that knows it runs it.
	if t.Type() != h.k.Name {
		return fmt.Errorf("no handler for task kind %q", t.Type())
	}
	p, ok := ctx.Value(payloadKey{}).(Payload)
	if !ok {
		var err error
		if p, err = payloadOf(ctx, t); err != nil {
			return err
		}
	}
	// The task message carries its timeout too; this keeps the kind's limit when a producer
	// asked for more.
	if h.k.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.k.Timeout)
		defer cancel()
	}
	return h.k.Handler(ctx, p)
}

type payloadKey struct{}

// Middleware restores who and where a task runs for from its envelope (tenant, request id,
// actor) into the context, logs each run's start and end with its duration and retry count,
// and turns a panic into an error so the task is retried instead of the worker dying.
// A task without a payload (platform maintenance) runs as "system:<kind>".
func Middleware(log *slog.Logger) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			p, err := payloadOf(ctx, t)
			if err != nil {
				log.ErrorContext(ctx, "task payload unreadable", "kind", t.Type(), "error", err)
				return err
			}
			ctx = scope.WithActor(scope.WithRequestID(ctx, p.RequestID), p.Actor)
			if p.TenantID != uuid.Nil {
				ctx = scope.WithTenant(ctx, p.TenantID)
			}
			ctx = context.WithValue(ctx, payloadKey{}, p)
			attrs := []any{"task_id", p.TaskID, "kind", p.Kind, "tenant", p.TenantID.String(),
				"request_id", p.RequestID, "actor", string(p.Actor), "retried", p.Retried}
			log.DebugContext(ctx, "task started", attrs...)
			start := time.Now()
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("task %s panicked: %v", p.Kind, r)
					log.ErrorContext(ctx, "task panicked", append(attrs, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))...)
				}
				attrs = append(attrs, "duration_ms", time.Since(start).Milliseconds())
				if err != nil {
					log.WarnContext(ctx, "task failed", append(attrs, "error", err.Error())...)
					return
				}
				log.InfoContext(ctx, "task done", attrs...)
			}()
			return next.ProcessTask(ctx, t)
		})
	}
}

// payloadOf reads the envelope of t. An envelope that does not decode never will: SkipRetry.
func payloadOf(ctx context.Context, t *asynq.Task) (Payload, error) {
	p := Payload{Kind: t.Type(), Data: json.RawMessage("null")}
	p.TaskID, _ = asynq.GetTaskID(ctx)
	p.Retried, _ = asynq.GetRetryCount(ctx)
	if b := t.Payload(); len(b) > 0 {
		var env envelope
		if err := json.Unmarshal(b, &env); err != nil {
			return p, SkipRetry(fmt.Errorf("decode %s envelope: %w", t.Type(), err))
		}
		p.TenantID, p.RequestID, p.Actor = env.TenantID, env.RequestID, scope.Actor(env.Actor)
		if len(env.Data) > 0 {
			p.Data = env.Data
		}
	}
	if p.RequestID == "" {
		p.RequestID = "task:" + p.TaskID
	}
	if p.Actor == "" {
		p.Actor = scope.Actor("system:" + t.Type())
	}
	return p, nil
}

// Retry is the delay before retry n+1 (n counts failures so far): 10 s doubled per failure,
// capped at 1 h, of which a random half is jitter so tasks that failed together (an outage)
// do not come back together. For asynq.Config.RetryDelayFunc.
func Retry(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Hour
	if n < 9 { // 10 s << 9 is past the cap; shifting further could overflow
		d = min(10*time.Second<<max(n, 0), time.Hour)
	}
	return d/2 + rand.N(d/2+1)
}

// IsFailure says whether err uses up one of the task's retries (asynq.Config.IsFailure). A
// lost lease means this worker lost Redis, not that the task failed, so it is retried without
// counting. SkipRetry is listed for clarity: asynq archives such tasks before asking.
func IsFailure(err error) bool {
	return err != nil && !errors.Is(err, asynq.ErrLeaseExpired) && !errors.Is(err, asynq.SkipRetry)
}

// archivedLogger logs the failures that end in the archive (the dead letter operators look
// at): retries used up, or SkipRetry. Failures that will be retried are logged by Middleware.
func archivedLogger(log *slog.Logger) asynq.ErrorHandler {
	return asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if retried < maxRetry && !errors.Is(err, asynq.SkipRetry) {
			return
		}
		id, _ := asynq.GetTaskID(ctx)
		queue, _ := asynq.GetQueueName(ctx)
		p, _ := payloadOf(ctx, t)
		log.ErrorContext(ctx, "task archived", "task_id", id, "kind", t.Type(), "queue", queue,
			"tenant", p.TenantID.String(), "request_id", p.RequestID, "retried", retried, "error", err.Error())
	})
}

// asynqLogger sends asynq's own messages to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...), "component", "asynq") }
