// Package worker assembles the background side of Mercato: the asynq server with its queues
// and task handlers, and the scheduler's periodic entries. The tables below are the one place
// to see which tasks exist and when they run.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"mercato/platform/db"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
)

// Task types.
const (
	TaskPurgeIdempotencyKeys = "maintenance:purge_idempotency_keys"
	TaskSweepSessions        = "maintenance:sweep_sessions"
	TaskRotateSigningKey     = "maintenance:rotate_signing_key"
)

// Deps is what the worker needs; apps/mercato builds it.
type Deps struct {
	Log             *slog.Logger
	Redis           asynq.RedisConnOpt
	Platform        *db.Platform
	Identity        *identity.Service
	Concurrency     int
	ShutdownTimeout time.Duration
}

// Worker is the asynq server and scheduler of one process.
type Worker struct {
	server    *asynq.Server
	scheduler *asynq.Scheduler
	mux       *asynq.ServeMux
}

// New builds the worker; Start runs it.
func New(d Deps) (*Worker, error) {
	if d.Concurrency == 0 {
		d.Concurrency = 10
	}
	server := asynq.NewServer(d.Redis, asynq.Config{
		Concurrency:     d.Concurrency,
		Queues:          map[string]int{"critical": 6, "default": 3, "low": 1},
		ShutdownTimeout: d.ShutdownTimeout,
		Logger:          asynqLogger{d.Log},
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TaskPurgeIdempotencyKeys, func(ctx context.Context, _ *asynq.Task) error {
		ctx = scope.WithActor(ctx, "system:"+TaskPurgeIdempotencyKeys)
		n, err := httpx.PurgeIdempotencyKeys(ctx, d.Platform)
		if err != nil {
			return err
		}
		d.Log.InfoContext(ctx, "purged expired idempotency keys", "count", n)
		return nil
	})

	mux.HandleFunc(TaskSweepSessions, func(ctx context.Context, _ *asynq.Task) error {
		ctx = scope.WithActor(ctx, "system:"+TaskSweepSessions)
		n, err := d.Identity.SweepExpired(ctx, d.Platform)
		if err != nil {
			return err
		}
		d.Log.InfoContext(ctx, "swept expired sessions, resets and login throttles", "count", n)
		return nil
	})
	mux.HandleFunc(TaskRotateSigningKey, func(ctx context.Context, _ *asynq.Task) error {
		kid, err := d.Identity.Rotate(scope.WithActor(ctx, "system:"+TaskRotateSigningKey))
		if err != nil {
			return err
		}
		d.Log.InfoContext(ctx, "rotated the access-token signing key", "kid", kid)
		return nil
	})

	scheduler := asynq.NewScheduler(d.Redis, &asynq.SchedulerOpts{Logger: asynqLogger{d.Log}})
	// Unique keeps a second scheduler (another worker replica) from enqueueing the same tick.
	for _, e := range []struct {
		spec string
		task *asynq.Task
		opts []asynq.Option
	}{
		{"@every 1h", asynq.NewTask(TaskPurgeIdempotencyKeys, nil), []asynq.Option{asynq.Queue("low"), asynq.Unique(55 * time.Minute)}},
		{"@every 1h", asynq.NewTask(TaskSweepSessions, nil), []asynq.Option{asynq.Queue("low"), asynq.Unique(55 * time.Minute)}},
		// Tokens live 15 minutes and retired keys verify for twice that, so monthly is plenty.
		{"@every 720h", asynq.NewTask(TaskRotateSigningKey, nil), []asynq.Option{asynq.Queue("low"), asynq.Unique(24 * time.Hour)}},
	} {
		if _, err := scheduler.Register(e.spec, e.task, e.opts...); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", e.task.Type(), err)
		}
	}
	return &Worker{server: server, scheduler: scheduler, mux: mux}, nil
}

// Start runs the server and the scheduler in the background.
func (w *Worker) Start() error {
	if err := w.server.Start(w.mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	if err := w.scheduler.Start(); err != nil {
		w.server.Shutdown()
		return fmt.Errorf("start scheduler: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks, lets in-flight ones finish (or returns them to their queue
// after the shutdown timeout) and stops the scheduler.
func (w *Worker) Shutdown() {
	w.scheduler.Shutdown()
	w.server.Shutdown()
}

// asynqLogger sends asynq's own messages to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...), "component", "asynq") }
