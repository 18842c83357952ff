package webhooksout_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
	"mercato/platform/webhooksout"
)

// TestSSRFDeliveries: endpoints that lead to internal addresses (stored while the rules were
// looser, or made internal later through DNS or a redirect) are refused at delivery time, with
// 0 connections to a loopback listener that counts them, and each delivery is recorded as
// failed with the reason.
func TestSSRFDeliveries(t *testing.T) {
	fx := setup(t)
	v4 := listenCounter(t, "127.0.0.1:0")
	v6 := listenCounter(t, "[::1]:0")
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	redirAddr := netip.MustParseAddrPort(redirector.Listener.Addr().String())
	names := resolver(map[string]string{"example.com": "127.0.0.1", "rebind.example.net": "127.0.0.1"})
	tlsCfg := redirector.Client().Transport.(*http.Transport).TLSClientConfig
	metadata := netip.MustParseAddrPort("169.254.169.254:80")

	// The endpoints are registered through a service whose guard lets them in, as an old
	// row or a dev setting would have; the production-like guard below must stop them.
	loose := fx.service(t, webhooksout.Guard{AllowInsecure: true, AllowLoopback: true, AllowAddrs: []netip.AddrPort{metadata}}, nil, nil)
	strict := fx.service(t, webhooksout.Guard{AllowInsecure: true, AllowAddrs: []netip.AddrPort{redirAddr}, LookupIP: names, TLS: tlsCfg}, nil, nil)

	v4URL := fmt.Sprintf("http://127.0.0.1:%d/hook", v4.port())
	cases := map[string]string{ // URL → what the recorded error must say
		v4URL: "loopback",
		fmt.Sprintf("http://localhost:%d/hook", v4.port()):                                                          "loopback",
		fmt.Sprintf("http://rebind.example.net:%d/hook", v4.port()):                                                 "loopback",
		"http://169.254.169.254/latest/meta-data/":                                                                  "metadata",
		fmt.Sprintf("https://example.com:%d/r?to=%s", redirAddr.Port(), v4URL):                                      "loopback",
		fmt.Sprintf("https://example.com:%d/r?to=%s", redirAddr.Port(), "http://169.254.169.254/latest/meta-data/"): "metadata",
	}
	if v6 != nil {
		v6URL := fmt.Sprintf("http://[::1]:%d/hook", v6.port())
		cases[v6URL] = "loopback"
		cases[fmt.Sprintf("https://example.com:%d/r?to=%s", redirAddr.Port(), v6URL)] = "loopback"
	}
	byEndpoint := map[uuid.UUID]string{}
	for u := range cases {
		e, _ := fx.create(t, loose, fx.ctx, webhooksout.EndpointInput{URL: u, EventTypes: []string{"order.paid"}})
		byEndpoint[e.ID] = u
	}
	ids := fx.queue(t, strict, uuid.Nil, "order.paid", map[string]string{"order_id": "o1"})
	if len(ids) != len(cases) {
		t.Fatalf("queued %d deliveries for %d endpoints", len(ids), len(cases))
	}
	for _, id := range ids {
		res, err := strict.Deliver(fx.ctx, fx.a, id)
		if err != nil {
			t.Fatal(err)
		}
		d := must(strict.Delivery(fx.ctx, fx.a, id))(t)
		u := byEndpoint[d.EndpointID]
		if res.Status != "failed" || !res.Attempted || !res.RetryAt.IsZero() || d.Status != "failed" || d.NextAttemptAt != nil {
			t.Errorf("%s: result %+v, delivery status %s: want failed for good, no retry", u, res, d.Status)
		}
		if !strings.Contains(d.Error, "blocked destination") || !strings.Contains(d.Error, cases[u]) || d.ResponseCode != 0 {
			t.Errorf("%s: recorded error %q (code %d), want a refusal naming %q", u, d.Error, d.ResponseCode, cases[u])
		}
	}
	if n := v4.hits.Load(); n != 0 {
		t.Errorf("IPv4 loopback listener accepted %d connections, want 0", n)
	}
	if v6 != nil && v6.hits.Load() != 0 {
		t.Errorf("IPv6 loopback listener accepted %d connections, want 0", v6.hits.Load())
	}

	// Control: the loose service does reach the listener, so the counter counts.
	e, _ := fx.create(t, loose, fx.ctx, webhooksout.EndpointInput{URL: v4URL, EventTypes: []string{"refund.issued"}})
	ctl := fx.queue(t, loose, uuid.Nil, "refund.issued", map[string]string{})
	if res, err := loose.Deliver(fx.ctx, fx.a, ctl[0]); err != nil || res.Status != "succeeded" || v4.hits.Load() == 0 {
		t.Errorf("control delivery to %s: %+v %v, %d connections", e.URL, res, err, v4.hits.Load())
	}
}

// TestBackoffAndDisableAfterThreeDays walks one failing delivery through its schedule with
// a test clock: 1 m, 5 m, 30 m, 2 h, 5 h, then 10 h steps, a last try at the 3-day mark, then
// failed; the endpoint is disabled and its owner to be told, exactly once.
func TestBackoffAndDisableAfterThreeDays(t *testing.T) {
	fx := setup(t)
	c := newClock()
	jobs := &jobsLog{t: t}
	s := fx.service(t, dev, c, jobs)
	webhooksout.SetJitter(s, func() float64 { return 0.5 }) // no jitter: the steps exactly
	r := newReceiver(t, http.StatusServiceUnavailable)
	e, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL, EventTypes: []string{"order.paid"}})
	start := c.Now()
	id := fx.queue(t, s, uuid.Nil, "order.paid", map[string]int{"n": 1})[0]
	if n, _ := jobs.count(); n != 1 || jobs.scheduled[0].at != start || jobs.scheduled[0].delivery != id {
		t.Fatalf("queue scheduled %+v", jobs.scheduled)
	}

	want := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
		10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	at := start
	for i, step := range want {
		res, err := s.Deliver(fx.ctx, fx.a, id)
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempt != i+1 || res.Status != "pending" || res.EndpointDisabled {
			t.Fatalf("attempt %d: %+v", i+1, res)
		}
		if got := res.RetryAt.Sub(at); got != step {
			t.Errorf("after attempt %d: next in %v, want %v", i+1, got, step)
		}
		// Early calls (a duplicate task) post nothing and report the same time.
		c.Set(res.RetryAt.Add(-time.Second))
		if early, err := s.Deliver(fx.ctx, fx.a, id); err != nil || early.Attempted || !early.RetryAt.Equal(res.RetryAt) {
			t.Errorf("early call: %+v %v", early, err)
		}
		at = res.RetryAt
		c.Set(at)
	}
	// 67 h have passed (1m+5m+30m+2h+5h+6×10h = 67h36m): the next step would pass the 3-day
	// window, so the last try is at exactly 72 h.
	res, err := s.Deliver(fx.ctx, fx.a, id)
	if err != nil || res.Status != "pending" || !res.RetryAt.Equal(start.Add(72*time.Hour)) {
		t.Fatalf("attempt 12: %+v %v, want the last try at the 72 h mark", res, err)
	}
	c.Set(res.RetryAt)
	res, err = s.Deliver(fx.ctx, fx.a, id)
	if err != nil || res.Status != "failed" || !res.RetryAt.IsZero() || res.Attempt != 13 {
		t.Fatalf("last attempt: %+v %v", res, err)
	}
	if !res.EndpointDisabled || res.Endpoint.ID != e.ID || !strings.Contains(res.DisabledReason, "3 days") {
		t.Errorf("endpoint not disabled after 3 days of failures: %+v", res)
	}
	if _, disabled := jobs.count(); disabled != 1 {
		t.Errorf("owner told %d times, want 1", disabled)
	}
	if len(r.requests()) != 13 {
		t.Errorf("receiver got %d requests, want 13", len(r.requests()))
	}
	scheduled, _ := jobs.count()
	if scheduled != 13 { // queue + 12 retries
		t.Errorf("scheduled %d times, want 13", scheduled)
	}
	got := must(s.Endpoint(fx.ctx, fx.a, e.ID))(t)
	if got.Status != "disabled" || got.ConsecutiveFailures != 1 {
		t.Errorf("endpoint %+v", got)
	}
	d := must(s.Delivery(fx.ctx, fx.a, id))(t)
	if d.ResponseCode != 503 || d.Attempt != 13 || !strings.Contains(d.Error, "503") {
		t.Errorf("log: %+v", d)
	}
	// Calling again does nothing.
	if again, err := s.Deliver(fx.ctx, fx.a, id); err != nil || again.Attempted || again.Status != "failed" {
		t.Errorf("finished delivery: %+v %v", again, err)
	}
}

func TestJitterStaysWithinTenPercent(t *testing.T) {
	fx := setup(t)
	c := newClock()
	s := fx.service(t, dev, c, nil)
	r := newReceiver(t, 500)
	fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL, EventTypes: []string{"order.paid"}})
	for _, j := range []float64{0, 0.999999} {
		webhooksout.SetJitter(s, func() float64 { return j })
		id := fx.queue(t, s, uuid.Nil, "order.paid", map[string]int{})[0]
		res := must(s.Deliver(fx.ctx, fx.a, id))(t)
		got := res.RetryAt.Sub(c.Now())
		if got < 54*time.Second || got > 66*time.Second {
			t.Errorf("jitter %v: first retry in %v, want 1 m ± 10 %%", j, got)
		}
	}
}

// TestDisableAfterFiftyFailedDeliveries: 50 deliveries in a row fail (each once) and the
// endpoint is disabled on the 50th; a success in between resets the count; nothing is sent to
// a disabled endpoint; enabling it again starts a new count.
func TestDisableAfterFiftyFailedDeliveries(t *testing.T) {
	fx := setup(t)
	jobs := &jobsLog{t: t}
	s := fx.service(t, dev, nil, jobs)
	r := newReceiver(t, 500)
	e, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL, EventTypes: []string{"product.updated"}})
	fail := func(n int) (last webhooksout.Result) {
		for range n {
			id := fx.queue(t, s, uuid.Nil, "product.updated", map[string]int{})[0]
			last = must(s.Deliver(fx.ctx, fx.a, id))(t)
		}
		return last
	}
	fail(30)
	r.setStatus(204)
	if res := fail(1); res.Status != "succeeded" {
		t.Fatalf("the success in between: %+v", res)
	}
	if got := must(s.Endpoint(fx.ctx, fx.a, e.ID))(t); got.ConsecutiveFailures != 0 {
		t.Errorf("a success left the count at %d", got.ConsecutiveFailures)
	}
	r.setStatus(500)
	if res := fail(49); res.EndpointDisabled {
		t.Fatal("disabled after 49")
	}
	res := fail(1)
	if !res.EndpointDisabled || !strings.Contains(res.DisabledReason, "50 deliveries in a row") || res.Endpoint.Status != "disabled" {
		t.Fatalf("50th failure: %+v", res)
	}
	if _, told := jobs.count(); told != 1 {
		t.Errorf("owner told %d times", told)
	}

	// A disabled endpoint gets no new deliveries, and pending ones end without a request.
	before := len(r.requests())
	if ids := fx.queue(t, s, uuid.Nil, "product.updated", map[string]int{}); len(ids) != 0 {
		t.Errorf("queued %d deliveries for a disabled endpoint", len(ids))
	}
	var pending uuid.UUID
	noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		// a delivery of the first batch, whose retry is due now
		return tx.NewRaw("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = (SELECT id FROM webhook_deliveries WHERE status = 'pending' ORDER BY id LIMIT 1) RETURNING id").Scan(fx.ctx, &pending)
	}))
	res = must(s.Deliver(fx.ctx, fx.a, pending))(t)
	if res.Attempted || res.Status != "failed" || len(r.requests()) != before {
		t.Errorf("delivery to a disabled endpoint: %+v, %d new requests", res, len(r.requests())-before)
	}

	on := true
	if got, err := s.UpdateEndpoint(fx.ctx, fx.a, e.ID, webhooksout.EndpointUpdate{Enabled: &on}); err != nil || got.Status != "active" || got.ConsecutiveFailures != 0 {
		t.Errorf("re-enable: %+v %v", got, err)
	}
	if res := fail(1); res.EndpointDisabled {
		t.Error("disabled again on the first failure after re-enabling")
	}
}

// TestQueueRouting: tenant endpoints hear everything they subscribe to, merchants' endpoints
// only their merchant's events; queuing an event twice adds nothing; Queue works inside a
// merchant-scoped transaction and leaves its fence as it was.
func TestQueueRouting(t *testing.T) {
	fx := setup(t)
	jobs := &jobsLog{t: t}
	s := fx.service(t, dev, nil, jobs)
	r := newReceiver(t, 200)
	all, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL + "/all", EventTypes: []string{"payout.sent", "order.paid"}})
	fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL + "/other", EventTypes: []string{"product.created"}}) // hears none of these
	m1, _ := fx.create(t, s, fx.merchantCtx1, webhooksout.EndpointInput{URL: r.srv.URL + "/m1", EventTypes: []string{"payout.sent"}})
	m2, _ := fx.create(t, s, fx.merchantCtx2, webhooksout.EndpointInput{URL: r.srv.URL + "/m2", EventTypes: []string{"payout.sent"}})
	_, _, err := s.CreateEndpoint(fx.ctx, fx.b, webhooksout.EndpointInput{URL: r.srv.URL + "/b", EventTypes: []string{"payout.sent"}})
	if err != nil {
		t.Fatal(err)
	}
	endpointsOf := func(ids []uuid.UUID) map[uuid.UUID]bool {
		out := map[uuid.UUID]bool{}
		for _, id := range ids {
			out[must(s.Delivery(fx.ctx, fx.a, id))(t).EndpointID] = true
		}
		return out
	}
	if got := endpointsOf(fx.queue(t, s, fx.m1, "payout.sent", map[string]int{})); len(got) != 2 || !got[all.ID] || !got[m1.ID] {
		t.Errorf("M1's payout went to %v, want the tenant's and M1's", got)
	}
	if got := endpointsOf(fx.queue(t, s, uuid.Nil, "payout.sent", map[string]int{})); len(got) != 1 || !got[all.ID] {
		t.Errorf("a payout without a merchant went to %v", got)
	}
	if ids := fx.queue(t, s, fx.m1, "review.created", map[string]int{}); len(ids) != 0 {
		t.Errorf("an event nobody subscribes to made %d deliveries", len(ids))
	}

	// Twice for one event: one delivery per endpoint (tasks run at least once).
	eventID := uuid.Must(uuid.NewV7())
	var first, second []uuid.UUID
	for _, dst := range []*[]uuid.UUID{&first, &second} {
		noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
			var err error
			*dst, err = s.Queue(fx.ctx, tx, fx.a, fx.m2, "payout.sent", eventID, map[string]string{"payout_id": "po_1"})
			return err
		}))
	}
	if len(first) != 2 || len(second) != 0 {
		t.Errorf("queued %d then %d deliveries for one event, want 2 then 0", len(first), len(second))
	}

	// Inside merchant M2's scope: the tenant's endpoint still hears it, and afterwards the
	// transaction is still fenced to M2.
	var inScope []uuid.UUID
	var fenced int
	noErr(t, fx.f.App.WithMerchant(fx.ctx, fx.a, fx.m2, func(tx bun.IDB) error {
		var err error
		if inScope, err = s.Queue(fx.ctx, tx, fx.a, fx.m2, "payout.sent", uuid.Must(uuid.NewV7()), map[string]int{}); err != nil {
			return err
		}
		return tx.NewRaw("SELECT count(*) FROM webhook_endpoints").Scan(fx.ctx, &fenced)
	}))
	if got := endpointsOf(inScope); len(got) != 2 || !got[all.ID] || !got[m2.ID] {
		t.Errorf("queued in M2's scope to %v", got)
	}
	if fenced != 1 {
		t.Errorf("after Queue the merchant scope sees %d endpoints, want its 1", fenced)
	}

	// The body is the envelope, and the delivery carries the identifying headers.
	id := first[0]
	res := must(s.Deliver(fx.ctx, fx.a, id))(t)
	if res.Status != "succeeded" {
		t.Fatalf("deliver: %+v", res)
	}
	got := r.requests()[len(r.requests())-1]
	var ev webhooksout.Event
	if err := json.Unmarshal(got.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != eventID || ev.Type != "payout.sent" || ev.TenantID != fx.a || ev.MerchantID == nil || *ev.MerchantID != fx.m2 ||
		string(ev.Data) != `{"payout_id": "po_1"}` {
		t.Errorf("envelope %+v data %s", ev, ev.Data)
	}
	for k, want := range map[string]string{"Mercato-Event-Id": eventID.String(), "Mercato-Event-Type": "payout.sent",
		"Mercato-Delivery-Id": id.String(), "Mercato-Delivery-Attempt": "1", "Content-Type": "application/json",
		"User-Agent": "Mercato-Webhooks/1"} {
		if got.header.Get(k) != want {
			t.Errorf("header %s = %q, want %q", k, got.header.Get(k), want)
		}
	}

	if _, err := s.Queue(fx.ctx, nil, fx.a, uuid.Nil, "order.exploded", uuid.New(), nil); !errors.Is(err, webhooksout.ErrUnknownEventType) {
		t.Errorf("unknown type: %v", err)
	}
	big := strings.Repeat("x", webhooksout.MaxPayloadBytes)
	if _, err := s.Queue(fx.ctx, nil, fx.a, uuid.Nil, "order.paid", uuid.New(), big); !errors.Is(err, webhooksout.ErrPayloadTooLarge) {
		t.Errorf("oversize payload: %v", err)
	}
}

func TestReplay(t *testing.T) {
	fx := setup(t)
	jobs := &jobsLog{t: t}
	s := fx.service(t, dev, nil, jobs)
	r := newReceiver(t, 500)
	e, _ := fx.create(t, s, fx.merchantCtx1, webhooksout.EndpointInput{URL: r.srv.URL, EventTypes: []string{"refund.issued"}})
	id := fx.queue(t, s, fx.m1, "refund.issued", map[string]string{"refund_id": "re_1"})[0]

	if _, err := s.Replay(fx.ctx, fx.a, id); !errors.Is(err, webhooksout.ErrStillPending) {
		t.Errorf("replay of a pending delivery: %v", err)
	}
	// Finish it as failed, as three days of retries would.
	noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		_, err := tx.ExecContext(fx.ctx, "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL WHERE id = ?", id)
		return err
	}))
	if _, err := s.Replay(fx.merchantCtx2, fx.a, id); !errors.Is(err, webhooksout.ErrDeliveryNotFound) {
		t.Errorf("merchant M2 replayed M1's delivery: %v", err)
	}
	if _, err := s.Replay(fx.ctx, fx.b, id); !errors.Is(err, webhooksout.ErrDeliveryNotFound) {
		t.Errorf("tenant B replayed A's delivery: %v", err)
	}
	r.setStatus(200)
	before, _ := jobs.count()
	cp, err := s.Replay(fx.merchantCtx1, fx.a, id)
	if err != nil {
		t.Fatal(err)
	}
	orig := must(s.Delivery(fx.ctx, fx.a, id))(t)
	if cp.ID == id || cp.ReplayOf == nil || *cp.ReplayOf != id || cp.EventID != orig.EventID || string(cp.Payload) != string(orig.Payload) ||
		cp.Status != "pending" || cp.Attempt != 0 {
		t.Errorf("replay %+v of %+v", cp, orig)
	}
	if after, _ := jobs.count(); after != before+1 {
		t.Errorf("replay scheduled %d tasks", after-before)
	}
	res := must(s.Deliver(fx.ctx, fx.a, cp.ID))(t)
	if res.Status != "succeeded" {
		t.Fatalf("deliver replay: %+v", res)
	}
	last := r.requests()[len(r.requests())-1]
	if last.header.Get("Mercato-Event-Id") != orig.EventID.String() || last.header.Get("Mercato-Delivery-Id") != cp.ID.String() ||
		string(last.body) != string(orig.Payload) {
		t.Errorf("replayed request: %v %s", last.header, last.body)
	}
	// Replaying the replay is fine; replaying onto a disabled endpoint is not.
	off := false
	if _, err := s.UpdateEndpoint(fx.ctx, fx.a, e.ID, webhooksout.EndpointUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replay(fx.ctx, fx.a, cp.ID); !errors.Is(err, webhooksout.ErrEndpointDisabled) {
		t.Errorf("replay to a disabled endpoint: %v", err)
	}
}

func TestDeliveryLog(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, nil)
	r := newReceiver(t, 200)
	e, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL, EventTypes: []string{"order.created"}})
	var ids []uuid.UUID
	for i := range 5 {
		if i == 3 {
			r.setStatus(418)
		}
		id := fx.queue(t, s, uuid.Nil, "order.created", map[string]int{"n": i})[0]
		must(s.Deliver(fx.ctx, fx.a, id))(t)
		ids = append(ids, id)
	}
	var seen []webhooksout.Delivery
	p := httpx.PageParams{Limit: 2}
	for {
		page := must(s.Deliveries(fx.ctx, fx.a, e.ID, p))(t)
		seen = append(seen, page.Items...)
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	if len(seen) != 5 || seen[0].ID != ids[4] || seen[4].ID != ids[0] {
		t.Fatalf("log order: got %d items", len(seen))
	}
	ok, teapot := seen[4], seen[0]
	if ok.Status != "succeeded" || ok.ResponseCode != 200 || ok.DeliveredAt == nil || ok.Error != "" || ok.Attempt != 1 {
		t.Errorf("success entry %+v", ok)
	}
	if teapot.Status != "pending" || teapot.ResponseCode != 418 || !strings.Contains(teapot.Error, "418") || teapot.NextAttemptAt == nil {
		t.Errorf("failure entry %+v", teapot)
	}
	if ok.LatencyMS < 0 || ok.LatencyMS > 5000 {
		t.Errorf("latency %d ms", ok.LatencyMS)
	}
	// Latency is measured, not invented: a slow receiver shows it.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(120 * time.Millisecond) }))
	t.Cleanup(slow.Close)
	se, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: slow.URL, EventTypes: []string{"inventory.low"}})
	id := fx.queue(t, s, uuid.Nil, "inventory.low", map[string]int{})[0]
	must(s.Deliver(fx.ctx, fx.a, id))(t)
	if d := must(s.Delivery(fx.ctx, fx.a, id))(t); d.LatencyMS < 120 || d.EndpointID != se.ID {
		t.Errorf("slow receiver: latency %d ms", d.LatencyMS)
	}
}

// TestDeliverLease: while an attempt is in flight a second call does not post again; once
// the lease has run out (the worker died) the delivery is attempted again.
func TestDeliverLease(t *testing.T) {
	fx := setup(t)
	c := newClock()
	s := fx.service(t, dev, c, nil)
	r := newReceiver(t, 200)
	fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL, EventTypes: []string{"order.paid"}})
	id := fx.queue(t, s, uuid.Nil, "order.paid", map[string]int{})[0]
	noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		_, err := tx.ExecContext(fx.ctx, "UPDATE webhook_deliveries SET attempt = 1, leased_until = ? WHERE id = ?", c.Now().Add(time.Minute), id)
		return err
	}))
	if _, err := s.Deliver(fx.ctx, fx.a, id); !errors.Is(err, webhooksout.ErrDeliveryBusy) || len(r.requests()) != 0 {
		t.Errorf("during the lease: %v, %d requests", err, len(r.requests()))
	}
	c.Set(c.Now().Add(2 * time.Minute))
	res, err := s.Deliver(fx.ctx, fx.a, id)
	if err != nil || res.Status != "succeeded" || res.Attempt != 2 || len(r.requests()) != 1 {
		t.Errorf("after the lease: %+v %v", res, err)
	}
	if _, err := s.Deliver(fx.ctx, fx.a, uuid.Must(uuid.NewV7())); !errors.Is(err, webhooksout.ErrDeliveryNotFound) {
		t.Errorf("unknown delivery: %v", err)
	}
}
