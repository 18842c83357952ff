package fulfillment_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mercato/tenants/fulfillment"
	"mercato/tenants/fulfillment/carriersim"
)

// The generic HTTP adapter against the simulator: book, track, and verify the webhooks the
// simulator really sends; every forged or stale webhook is refused.
func TestCarrierContract(t *testing.T) {
	var mu sync.Mutex
	var hooks []*http.Request
	var bodies [][]byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks, bodies = append(hooks, r), append(bodies, b)
		mu.Unlock()
	}))
	defer receiver.Close()
	sim, err := carriersim.Start("127.0.0.1:0", carriersim.Options{Secret: simSecret, WebhookURL: receiver.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := &fulfillment.GenericHTTP{BaseURL: sim.URL(), Secret: simSecret}
	ctx := context.Background()

	label, err := c.CreateLabel(ctx, fulfillment.LabelRequest{Reference: "ref-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(label.TrackingNumber, "SIM") || len(label.Events) != 1 || label.Events[0].Status != fulfillment.StatusLabelCreated {
		t.Fatalf("label: %+v", label)
	}
	for _, want := range []string{fulfillment.StatusInTransit, fulfillment.StatusOutForDelivery, fulfillment.StatusDelivered} {
		if ev, ok := sim.Advance(label.TrackingNumber); !ok || ev.Status != want {
			t.Fatalf("advance: %+v %v, want %s", ev, ok, want)
		}
	}
	if _, ok := sim.Advance(label.TrackingNumber); ok {
		t.Error("a delivered parcel advanced further")
	}
	events, err := c.Track(ctx, label.TrackingNumber)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range events {
		got = append(got, e.Status)
		if i > 0 && !e.OccurredAt.After(events[i-1].OccurredAt) {
			t.Errorf("event %d at %v, not after %v", i, e.OccurredAt, events[i-1].OccurredAt)
		}
	}
	if strings.Join(got, ",") != "label_created,in_transit,out_for_delivery,delivered" {
		t.Errorf("tracked: %v", got)
	}
	if _, err := c.Track(ctx, "NOSUCHPARCEL"); !errors.Is(err, fulfillment.ErrParcelUnknown) {
		t.Errorf("unknown parcel: %v", err)
	}
	if _, err := (&fulfillment.GenericHTTP{BaseURL: sim.URL(), Secret: "wrong"}).Track(ctx, label.TrackingNumber); err == nil {
		t.Error("the simulator answered a caller with the wrong secret")
	}

	// Four webhooks arrived, one per stage, each verifiable as the adapter receives it.
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 4 {
		t.Fatalf("%d webhooks, want 4", len(hooks))
	}
	for i, r := range hooks {
		number, evs, err := c.ParseWebhook(r.Header, bodies[i])
		if err != nil || number != label.TrackingNumber || len(evs) != 1 || evs[0].Status != got[i] {
			t.Errorf("webhook %d: %s %+v %v", i, number, evs, err)
		}
	}

	// Forgeries: 4 of 4 refused.
	body := bodies[3]
	now := time.Now()
	header := func(v string) http.Header { h := http.Header{}; h.Set(fulfillment.SignatureHeader, v); return h }
	for name, tc := range map[string]struct {
		h    http.Header
		body []byte
	}{
		"tampered body": {hooks[3].Header, []byte(strings.Replace(string(body), "delivered", "returned", 1))},
		"wrong secret":  {header(fulfillment.Sign("not-the-secret", now, body)), body},
		"301 s old":     {header(fulfillment.Sign(simSecret, now.Add(-301*time.Second), body)), body},
		"no header":     {http.Header{}, body},
	} {
		if _, _, err := c.ParseWebhook(tc.h, tc.body); !errors.Is(err, fulfillment.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	// A rotated secret: either signature verifies.
	ts := strconv.FormatInt(now.Unix(), 10)
	both := fulfillment.Sign("old-secret", now, body) + ",v1=" + strings.TrimPrefix(fulfillment.Sign(simSecret, now, body), "t="+ts+",v1=")
	if _, _, err := c.ParseWebhook(header(both), body); err != nil {
		t.Errorf("two signatures, one valid: %v", err)
	}
}

// The manual carrier does nothing by itself.
func TestManualCarrier(t *testing.T) {
	m := fulfillment.Manual{}
	if _, err := m.CreateLabel(context.Background(), fulfillment.LabelRequest{}); !errors.Is(err, fulfillment.ErrUnsupported) {
		t.Errorf("label: %v", err)
	}
	if _, err := m.Track(context.Background(), "X123"); !errors.Is(err, fulfillment.ErrUnsupported) {
		t.Errorf("track: %v", err)
	}
	if _, _, err := m.ParseWebhook(http.Header{}, nil); !errors.Is(err, fulfillment.ErrUnsupported) {
		t.Errorf("webhook: %v", err)
	}
}
