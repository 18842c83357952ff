// Package worker assembles the background side of Mercato: the job server with its task
// kinds, the outbox relay and the scheduler's periodic entries. The tables below are the one
// place to see which tasks exist and when they run.
package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"mercato/platform/db"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/jobs"
	"mercato/platform/webhooksout"
	"mercato/tenants/fulfillment"
	"mercato/tenants/inventory"
	"mercato/tenants/merchants"
	"mercato/tenants/orders"
)

// Task types.
const (
	TaskPurgeIdempotencyKeys = "maintenance:purge_idempotency_keys"
	TaskSweepSessions        = "maintenance:sweep_sessions"
	TaskRotateSigningKey     = "maintenance:rotate_signing_key"
	TaskExpireReservations   = "inventory:expire_reservations"
)

// Deps is what the worker needs; apps/mercato builds it.
type Deps struct {
	Log      *slog.Logger
	Redis    asynq.RedisConnOpt
	Platform *db.Platform
	// PlatformURL is the platform role's database URL: the relay LISTENs on it for the
	// outbox trigger's NOTIFY.
	PlatformURL     string
	Identity        *identity.Service
	Concurrency     int
	ShutdownTimeout time.Duration
	// Webhooks delivers outbound webhooks; NotifyWebhookDisabled tells an endpoint's owners
	// it was turned off (webhooksout.DisabledMail.Notify).
	Webhooks              *webhooksout.Service
	NotifyWebhookDisabled func(ctx context.Context, tenantID uuid.UUID, e webhooksout.Endpoint, reason string) error
	// Merchants tells approved merchants they may sell (TellMerchantApproved mails them).
	Merchants            *merchants.Service
	TellMerchantApproved func(ctx context.Context, tenantID uuid.UUID, m merchants.Merchant) error
	// Fulfillment polls carriers (logistics:poll) and sends the shipped and delivered notices
	// (TellShopper mails them); nil leaves both out.
	Fulfillment *fulfillment.Service
	TellShopper func(ctx context.Context, tenantID uuid.UUID, n fulfillment.Notice) error
	// Orders cancels unpaid orders whose stock hold ran out (orders.TaskExpireUnpaid) and sends
	// the paid notices (TellPaid mails the shopper and the merchants); nil Orders leaves both
	// out.
	Orders   *orders.Service
	TellPaid orders.Notices
}

// Worker is the job server, the outbox relay and the scheduler of one process.
type Worker struct {
	log       *slog.Logger
	server    *jobs.Server
	mux       *asynq.ServeMux
	client    *asynq.Client
	relay     *jobs.Relay
	scheduler *jobs.Scheduler
	cancel    context.CancelFunc
	running   sync.WaitGroup
}

// New builds the worker; Start runs it.
func New(d Deps) (*Worker, error) {
	// Handlers run behind jobs.Middleware: tasks without a payload run as "system:<kind>".
	kinds := []jobs.Kind{
		{Name: TaskPurgeIdempotencyKeys, Queue: jobs.QueueLow, Handler: func(ctx context.Context, _ jobs.Payload) error {
			n, err := httpx.PurgeIdempotencyKeys(ctx, d.Platform)
			if err != nil {
				return err
			}
			d.Log.InfoContext(ctx, "purged expired idempotency keys", "count", n)
			return nil
		}},
		{Name: TaskSweepSessions, Queue: jobs.QueueLow, Handler: func(ctx context.Context, _ jobs.Payload) error {
			n, err := d.Identity.SweepExpired(ctx, d.Platform)
			if err != nil {
				return err
			}
			d.Log.InfoContext(ctx, "swept expired sessions, resets and login throttles", "count", n)
			return nil
		}},
		{Name: TaskRotateSigningKey, Queue: jobs.QueueLow, Handler: func(ctx context.Context, _ jobs.Payload) error {
			kid, err := d.Identity.Rotate(ctx)
			if err != nil {
				return err
			}
			d.Log.InfoContext(ctx, "rotated the access-token signing key", "kid", kid)
			return nil
		}},
		{Name: TaskExpireReservations, Queue: jobs.QueueCritical, Handler: func(ctx context.Context, _ jobs.Payload) error {
			n, err := inventory.ExpireDue(ctx, d.Platform, time.Now(), 500)
			if err != nil {
				return err
			}
			if n > 0 {
				d.Log.InfoContext(ctx, "released expired stock reservations", "count", n)
			}
			return nil
		}},
	}
	kinds = append(kinds, d.Webhooks.Kinds(d.NotifyWebhookDisabled)...)
	kinds = append(kinds, d.Merchants.Kinds(d.TellMerchantApproved)...)
	var periodic []jobs.Periodic
	if d.Fulfillment != nil {
		kinds = append(kinds, d.Fulfillment.Kinds(d.TellShopper, d.Log)...)
		// Each parcel on its way is asked about every fulfillment.PollEvery; carriers' webhooks
		// bring news in between.
		periodic = append(periodic, jobs.Periodic{Kind: fulfillment.KindPoll, Every: time.Minute, Queue: jobs.QueueLow,
			MaxRetry: jobs.NoRetry, Timeout: fulfillment.PollEvery})
	}
	if d.Orders != nil {
		kinds = append(kinds, d.Orders.Kinds(d.Platform, d.TellPaid, d.Log.InfoContext)...)
		// Unpaid orders are cancelled (stock back on sale) within a minute of their expiry,
		// before their reservations' own grace period runs out.
		periodic = append(periodic, jobs.Periodic{Kind: orders.TaskExpireUnpaid, Every: time.Minute, Queue: jobs.QueueCritical})
	}
	client := asynq.NewClient(d.Redis)
	return &Worker{
		log:    d.Log,
		server: jobs.NewServer(d.Redis, jobs.Config{Concurrency: d.Concurrency, ShutdownTimeout: d.ShutdownTimeout, Log: d.Log}),
		mux:    jobs.Mux(kinds...),
		client: client,
		relay:  &jobs.Relay{Platform: d.Platform, Client: client, ListenURL: d.PlatformURL, Log: d.Log},
		// Every replica runs the scheduler; each period's task still runs once (its task id
		// names the period).
		scheduler: &jobs.Scheduler{Client: client, Log: d.Log, Entries: append([]jobs.Periodic{
			{Kind: TaskPurgeIdempotencyKeys, Every: time.Hour, Queue: jobs.QueueLow},
			{Kind: TaskSweepSessions, Every: time.Hour, Queue: jobs.QueueLow},
			// Tokens live 15 minutes and retired keys verify for twice that, so monthly is plenty.
			{Kind: TaskRotateSigningKey, Every: 720 * time.Hour, Queue: jobs.QueueLow},
			// Held stock returns to sale within a minute of its checkout's expiry.
			{Kind: TaskExpireReservations, Every: time.Minute, Queue: jobs.QueueCritical},
		}, periodic...)},
	}, nil
}

// Start runs the server, the relay and the scheduler in the background.
func (w *Worker) Start() error {
	if err := w.server.Start(w.mux); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for name, run := range map[string]func(context.Context) error{"outbox relay": w.relay.Run, "scheduler": w.scheduler.Run} {
		w.running.Add(1)
		go func() {
			defer w.running.Done()
			if err := run(ctx); err != nil {
				w.log.Error(name+" stopped", "error", err.Error())
			}
		}()
	}
	return nil
}

// Shutdown stops the relay (after the batch under way) and the scheduler, then lets in-flight
// tasks finish, returning those still running after the shutdown timeout to their queue.
func (w *Worker) Shutdown() {
	if w.cancel != nil {
		w.cancel()
	}
	w.running.Wait()
	w.server.Shutdown()
	w.client.Close()
}
