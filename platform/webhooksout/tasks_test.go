package webhooksout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
	"mercato/platform/jobs"
	"mercato/platform/mail"
	"mercato/platform/webhooksout"
)

// testRedisDB is this package's Redis database; other packages' tests use others.
const testRedisDB = 10

var testRedis = asynq.RedisClientOpt{Addr: "127.0.0.1:6379", DB: testRedisDB}

// TestMain empties this package's Redis database (only it) before the tests.
func TestMain(m *testing.M) {
	rdb := redis.NewClient(&redis.Options{Addr: testRedis.Addr, DB: testRedisDB})
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		fmt.Fprintf(os.Stderr, "webhooksout tests need Redis at %s: %v\n", testRedis.Addr, err)
		os.Exit(1)
	}
	rdb.Close()
	os.Exit(m.Run())
}

// worker is the job side of one test: a real jobs.Server running the webhook kinds, and a
// relay the test runs by hand, so it decides when outbox rows reach Redis.
type worker struct {
	t     *testing.T
	relay *jobs.Relay
	insp  *asynq.Inspector
}

func startWorker(t *testing.T, fx *fixture, s *webhooksout.Service, notify func(context.Context, uuid.UUID, webhooksout.Endpoint, string) error) *worker {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := jobs.NewServer(testRedis, jobs.Config{Concurrency: 4, Queues: map[string]int{jobs.QueueDefault: 1},
		ShutdownTimeout: 2 * time.Second, PollInterval: 20 * time.Millisecond, Log: quiet})
	if err := srv.Start(jobs.Mux(s.Kinds(notify)...)); err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(testRedis)
	insp := asynq.NewInspector(testRedis)
	t.Cleanup(func() {
		srv.Shutdown()
		client.Close()
		insp.Close()
	})
	return &worker{t: t, relay: &jobs.Relay{Platform: fx.f.Platform, Client: client, Log: quiet}, insp: insp}
}

// relayAll hands every committed outbox row to Redis and returns how many there were.
func (w *worker) relayAll() int {
	w.t.Helper()
	total := 0
	for {
		n, err := w.relay.RunOnce(context.Background())
		if err != nil {
			w.t.Fatalf("relay: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An event queued in a tenant transaction travels outbox → relay → task → one signed POST
// that Verify accepts; nothing reaches Redis before the relay runs, and running the relay
// and the worker again sends nothing more.
func TestQueuedEventIsDeliveredByTheWorker(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, webhooksout.JobsAdapter{})
	w := startWorker(t, fx, s, nil)
	rcv := newReceiver(t, http.StatusNoContent)
	e, secret := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: rcv.srv.URL + "/hook", EventTypes: []string{"order.paid"}})

	ids := fx.queue(t, s, uuid.Nil, "order.paid", map[string]string{"order_id": "o-42"})
	if len(ids) != 1 {
		t.Fatalf("queued %d deliveries", len(ids))
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("%d requests before the relay ran", n)
	}
	start := time.Now()
	if n := w.relayAll(); n != 1 {
		t.Fatalf("relayed %d outbox rows, want 1", n)
	}
	waitFor(t, 10*time.Second, "the delivery to succeed", func() bool {
		d, err := s.Delivery(fx.ctx, fx.a, ids[0])
		return err == nil && d.Status == webhooksout.DeliverySucceeded
	})
	t.Logf("relay to recorded success: %s", time.Since(start).Round(time.Millisecond))
	// Let a duplicate run, if one were coming.
	if n := w.relayAll(); n != 0 {
		t.Errorf("a successful delivery left %d outbox rows", n)
	}
	time.Sleep(300 * time.Millisecond)

	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	req := got[0]
	if err := webhooksout.Verify(secret, req.header.Get(webhooksout.SignatureHeader), req.body, time.Now(), 0); err != nil {
		t.Errorf("verify: %v", err)
	}
	var ev webhooksout.Event
	if err := json.Unmarshal(req.body, &ev); err != nil {
		t.Fatal(err)
	}
	var data map[string]string
	_ = json.Unmarshal(ev.Data, &data)
	if ev.Type != "order.paid" || ev.TenantID != fx.a || data["order_id"] != "o-42" ||
		req.header.Get("Mercato-Delivery-Id") != ids[0].String() || req.header.Get("Mercato-Event-Id") != ev.ID.String() {
		t.Errorf("the request: %s %v", req.body, req.header)
	}
	d := must(s.Delivery(fx.ctx, fx.a, ids[0]))(t)
	if d.Attempt != 1 || d.ResponseCode != http.StatusNoContent || d.EndpointID != e.ID {
		t.Errorf("delivery log: %+v", d)
	}
}

// A receiver answering 500 gets one attempt; the delivery stays pending and its next attempt
// is an asynq task scheduled for the delivery's next attempt time.
func TestFailedAttemptIsRescheduled(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, webhooksout.JobsAdapter{})
	w := startWorker(t, fx, s, nil)
	rcv := newReceiver(t, http.StatusInternalServerError)
	fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: rcv.srv.URL, EventTypes: []string{"merchant.approved"}})

	ids := fx.queue(t, s, fx.m1, "merchant.approved", map[string]string{"merchant_id": fx.m1.String()})
	w.relayAll()
	var d webhooksout.Delivery
	waitFor(t, 10*time.Second, "the first attempt to be recorded", func() bool {
		var err error
		d, err = s.Delivery(fx.ctx, fx.a, ids[0])
		return err == nil && d.Attempt == 1 && d.ResponseCode != 0
	})
	if d.Status != webhooksout.DeliveryPending || d.NextAttemptAt == nil || d.ResponseCode != http.StatusInternalServerError {
		t.Fatalf("after a 500: %+v", d)
	}
	if wait := time.Until(*d.NextAttemptAt); wait < 50*time.Second || wait > 70*time.Second {
		t.Errorf("next attempt in %s, want about a minute", wait)
	}
	// The retry is one more outbox row for this delivery, handed to Redis (by this relay, or
	// already by the first one's loop when the worker was quicker than it).
	w.relayAll()
	var rows, unsent int
	if err := fx.f.Platform.Do(context.Background(), "test.outbox", func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL) FROM outbox
			WHERE kind = ? AND payload->'data'->>'delivery_id' = ?`, webhooksout.KindDeliver, ids[0].String()).
			Scan(context.Background(), &rows, &unsent)
	}); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || unsent != 0 {
		t.Fatalf("%d outbox rows for the delivery, %d unsent; want the first and the retry, both relayed", rows, unsent)
	}
	tasks, err := w.insp.ListScheduledTasks(jobs.QueueDefault, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, task := range tasks {
		var env struct {
			TenantID uuid.UUID `json:"tenant_id"`
			Data     struct {
				DeliveryID uuid.UUID `json:"delivery_id"`
			} `json:"data"`
		}
		if task.Type != webhooksout.KindDeliver || json.Unmarshal(task.Payload, &env) != nil || env.Data.DeliveryID != ids[0] {
			continue
		}
		found++
		if env.TenantID != fx.a {
			t.Errorf("the retry runs for tenant %s", env.TenantID)
		}
		if diff := task.NextProcessAt.Sub(*d.NextAttemptAt).Abs(); diff > time.Second {
			t.Errorf("the retry is scheduled for %s, the delivery's next attempt is %s", task.NextProcessAt, d.NextAttemptAt)
		}
	}
	if found != 1 {
		t.Errorf("%d scheduled retries of the delivery, want 1 (of %d scheduled tasks)", found, len(tasks))
	}
	if n := len(rcv.requests()); n != 1 {
		t.Errorf("the receiver got %d requests, want 1", n)
	}
}

// Replaying through the API queues a new delivery through the outbox, which the worker sends:
// the same event id and body, a new delivery id, a valid signature.
func TestReplayThroughTheAPIIsDelivered(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, webhooksout.JobsAdapter{})
	w := startWorker(t, fx, s, nil)
	app := apiApp(t, s)
	rcv := newReceiver(t, http.StatusOK)
	e, secret := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: rcv.srv.URL, EventTypes: []string{"order.created"}})
	ids := fx.queue(t, s, uuid.Nil, "order.created", map[string]int{"n": 7})
	w.relayAll()
	waitFor(t, 10*time.Second, "the first delivery", func() bool { return len(rcv.requests()) == 1 })
	waitFor(t, 10*time.Second, "the first delivery to be recorded", func() bool {
		d, err := s.Delivery(fx.ctx, fx.a, ids[0])
		return err == nil && d.Status == webhooksout.DeliverySucceeded
	})

	r := call(t, app, caller{tenant: fx.a}, http.MethodPost, "/v1/webhooks/deliveries/"+ids[0].String()+"/replay", nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	var replay webhooksout.Delivery
	r.decode(t, &replay)
	if n := w.relayAll(); n != 1 {
		t.Fatalf("the replay wrote %d outbox rows, want 1", n)
	}
	waitFor(t, 10*time.Second, "the replay to arrive", func() bool { return len(rcv.requests()) == 2 })
	first, second := rcv.requests()[0], rcv.requests()[1]
	if second.header.Get("Mercato-Event-Id") != first.header.Get("Mercato-Event-Id") || string(second.body) != string(first.body) ||
		second.header.Get("Mercato-Delivery-Id") != replay.ID.String() {
		t.Errorf("the replay: %v %s", second.header, second.body)
	}
	if err := webhooksout.Verify(secret, second.header.Get(webhooksout.SignatureHeader), second.body, time.Now(), 0); err != nil {
		t.Errorf("verify the replay: %v", err)
	}
	log := must(s.Deliveries(fx.ctx, fx.a, e.ID, httpx.PageParams{Limit: 10}))(t)
	if len(log.Items) != 2 || log.Items[0].ID != replay.ID {
		t.Errorf("the log: %+v", log.Items)
	}
}

// When an attempt disables an endpoint, the worker runs the notify task, and DisabledMail
// sends the owners one mail (through a real SMTP capture server) naming the URL, the reason
// and the endpoint's console page.
func TestDisabledEndpointOwnersAreMailed(t *testing.T) {
	fx := setup(t)
	c := newClock()
	s := fx.service(t, dev, c, webhooksout.JobsAdapter{})
	capture, err := mail.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { capture.Close() })
	sender, err := mail.NewSender(capture.URL(), mail.SenderOptions{From: "Mercato <no-reply@mercato.test>"})
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []*uuid.UUID
	dm := webhooksout.DisabledMail{Renderer: renderer, Sender: sender, ConsoleURL: "https://mercato.test/console/",
		Recipients: func(_ context.Context, tenantID uuid.UUID, merchantID *uuid.UUID) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, merchantID)
			if tenantID != fx.a {
				return nil, errors.New("wrong tenant")
			}
			return []string{"owner@a.test", "admin@a.test"}, nil
		},
		Branding: func(context.Context, uuid.UUID) (mail.Branding, error) { return mail.Branding{Name: "Tenant A"}, nil },
		Locale:   func(context.Context, uuid.UUID) (string, error) { return "en", nil },
	}
	w := startWorker(t, fx, s, dm.Notify)
	rcv := newReceiver(t, http.StatusServiceUnavailable)
	e, _ := fx.create(t, s, fx.merchantCtx1, webhooksout.EndpointInput{URL: rcv.srv.URL + "/m1", EventTypes: []string{"product.created"}})

	// The first attempt fails now; the next one, three days later, fails too and disables it.
	ids := fx.queue(t, s, fx.m1, "product.created", map[string]int{"n": 1})
	if res := must(s.Deliver(fx.ctx, fx.a, ids[0]))(t); res.Status != webhooksout.DeliveryPending {
		t.Fatalf("first attempt: %+v", res)
	}
	c.Set(c.Now().Add(webhooksout.RetryWindow + time.Minute))
	res := must(s.Deliver(fx.ctx, fx.a, ids[0]))(t)
	if !res.EndpointDisabled || res.Status != webhooksout.DeliveryFailed {
		t.Fatalf("last attempt: %+v", res)
	}
	// The clock is the test's (2030): the delivery tasks the relay hands over are scheduled
	// for then and do not run; the notify task runs at once.
	w.relayAll()
	waitFor(t, 10*time.Second, "the mail", func() bool { return len(capture.Messages()) == 1 })
	time.Sleep(200 * time.Millisecond)
	msgs := capture.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(msgs))
	}
	m := msgs[0]
	if strings.Join(m.To, ",") != "owner@a.test,admin@a.test" || m.Subject != "Webhook endpoint disabled after repeated failures" {
		t.Errorf("mail to %v: %q", m.To, m.Subject)
	}
	for _, want := range []string{rcv.srv.URL + "/m1", "deliveries failed for 3 days", "https://mercato.test/console/webhooks/" + e.ID.String(), "Tenant A"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the mail does not say %q:\n%s", want, m.Text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] == nil || *asked[0] != fx.m1 {
		t.Errorf("recipients asked for %v, want merchant %s's", asked, fx.m1)
	}
}

// The deliver task's answers to the cases a retry cannot or need not fix, and the one it must
// retry: a run that came before the attempt it was scheduled for.
func TestDeliverTaskOutcomes(t *testing.T) {
	fx := setup(t)
	c := newClock()
	s := fx.service(t, dev, c, nil)
	rcv := newReceiver(t, http.StatusBadGateway)
	fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: rcv.srv.URL, EventTypes: []string{"order.paid"}})
	ids := fx.queue(t, s, uuid.Nil, "order.paid", map[string]int{"n": 1})
	res := must(s.Deliver(fx.ctx, fx.a, ids[0]))(t) // fails; the next attempt is a minute away
	if res.RetryAt.IsZero() {
		t.Fatalf("no retry: %+v", res)
	}
	var deliver jobs.Kind
	for _, k := range s.Kinds(nil) {
		if k.Name == webhooksout.KindDeliver {
			deliver = k
		}
	}
	payload := func(id uuid.UUID, at time.Time) jobs.Payload {
		b, _ := json.Marshal(map[string]any{"delivery_id": id, "at": at})
		return jobs.Payload{Kind: webhooksout.KindDeliver, TenantID: fx.a, Data: b}
	}
	for _, tc := range []struct {
		name    string
		p       jobs.Payload
		retried bool // a plain error: asynq tries again
		skipped bool // SkipRetry: straight to the archive
	}{
		{"early run of the scheduled attempt", payload(ids[0], res.RetryAt), true, false},
		{"stale duplicate of an earlier attempt", payload(ids[0], res.RetryAt.Add(-time.Minute)), false, false},
		{"delivery gone with its endpoint", payload(uuid.Must(uuid.NewV7()), c.Now()), false, false},
		{"payload that does not decode", jobs.Payload{Kind: webhooksout.KindDeliver, TenantID: fx.a, Data: json.RawMessage(`{"delivery_id": 5}`)}, false, true},
		{"no tenant", jobs.Payload{Kind: webhooksout.KindDeliver, Data: json.RawMessage(`{"delivery_id": "` + ids[0].String() + `"}`)}, false, true},
	} {
		err := deliver.Handler(fx.ctx, tc.p)
		skipped := errors.Is(err, asynq.SkipRetry)
		if (err != nil && !skipped) != tc.retried || skipped != tc.skipped {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if n := len(rcv.requests()); n != 1 {
		t.Errorf("the receiver got %d requests, want 1 (only the direct attempt)", n)
	}
	// Once due, the scheduled run attempts it.
	c.Set(res.RetryAt)
	if err := deliver.Handler(fx.ctx, payload(ids[0], res.RetryAt)); err != nil {
		t.Errorf("due run: %v", err)
	}
	if n := len(rcv.requests()); n != 2 {
		t.Errorf("the receiver got %d requests after the due run, want 2", n)
	}
}
