// Package carriersim is a carrier that lives on loopback: it implements the generic carrier
// tracking API (fulfillment.GenericHTTP) so that `mercato dev` and the tests can ship parcels
// and watch them travel without reaching the internet.
//
// A parcel is booked with POST /v1/parcels (a label; the body may name the tracking number) and
// read with GET /v1/parcels/{number}. Parcels advance label_created → in_transit →
// out_for_delivery → delivered, one stage per Step (or per Advance call), and every stage is
// POSTed, signed, to the webhook URL. A tracking number ending in "FAIL" misses its first
// delivery (failed_delivery) and is delivered on the second try; one ending in "RTS" fails and
// is returned to the sender.
package carriersim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"mercato/tenants/fulfillment"
)

// Options configure a simulator.
type Options struct {
	// Step is how long each stage of a parcel's journey takes; 0 means parcels move only
	// when Advance is called.
	Step time.Duration
	// WebhookURL receives every new event, signed with Secret; empty sends none.
	WebhookURL string
	// Secret authenticates API calls (Authorization: Bearer) and signs webhooks; empty
	// accepts any caller (webhooks are then not sent: nothing could verify them).
	Secret string
	Client *http.Client
	Log    *slog.Logger
}

type stage struct{ status, description, location string }

var (
	normal = []stage{
		{fulfillment.StatusLabelCreated, "Label created, awaiting pickup", "Shipper"},
		{fulfillment.StatusInTransit, "Arrived at sorting centre", "Central hub"},
		{fulfillment.StatusOutForDelivery, "Out for delivery", "Local depot"},
		{fulfillment.StatusDelivered, "Delivered, signed for at the door", "Recipient"},
	}
	failThenDeliver = []stage{
		normal[0], normal[1], normal[2],
		{fulfillment.StatusFailedDelivery, "Delivery attempted, nobody home", "Recipient"},
		{fulfillment.StatusOutForDelivery, "Out for delivery, second attempt", "Local depot"},
		normal[3],
	}
	returned = []stage{
		normal[0], normal[1], normal[2],
		{fulfillment.StatusFailedDelivery, "Address not found", "Recipient"},
		{fulfillment.StatusReturned, "Returned to sender", "Shipper"},
	}
)

// planFor picks a parcel's journey from its number's suffix.
func planFor(number string) []stage {
	switch {
	case strings.HasSuffix(number, "FAIL"):
		return failThenDeliver
	case strings.HasSuffix(number, "RTS"):
		return returned
	}
	return normal
}

type parcel struct {
	number, reference string
	plan              []stage
	events            []fulfillment.TrackingEvent
	next              time.Time // when the next stage is due (Step > 0)
}

func (p *parcel) view() fulfillment.Parcel {
	out := fulfillment.Parcel{TrackingNumber: p.number, Reference: p.reference, LabelURL: "/v1/parcels/" + p.number + "/label",
		Events: append([]fulfillment.TrackingEvent(nil), p.events...)}
	if n := len(p.events); n > 0 {
		out.Status = p.events[n-1].Status
	}
	return out
}

// Sim is a running simulator.
type Sim struct {
	o       Options
	mu      sync.Mutex
	parcels map[string]*parcel
	webhook string
	sent    int // webhooks answered 2xx
	srv     *http.Server
	ln      net.Listener
	stop    context.CancelFunc
	done    chan struct{}
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves the API; with a Step, a
// clock moves the parcels.
func Start(addr string, o Options) (*Sim, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("carrier simulator: %w", err)
	}
	s := New(o)
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.run(ctx)
	return s, nil
}

// New builds a simulator without a listener: serve Handler yourself and call Advance.
func New(o Options) *Sim {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Sim{o: o, parcels: map[string]*parcel{}, webhook: o.WebhookURL}
}

// URL is the simulator's base URL (MERCATO_CARRIER_URL).
func (s *Sim) URL() string { return "http://" + s.ln.Addr().String() }

// SetWebhookURL points the webhooks somewhere else (the API, once it listens).
func (s *Sim) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = u
}

// WebhooksDelivered counts webhooks the receiver answered with 2xx.
func (s *Sim) WebhooksDelivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Close stops the clock and the listener.
func (s *Sim) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	if s.srv != nil {
		return s.srv.Close()
	}
	return nil
}

var numberRE = regexp.MustCompile(`^[A-Za-z0-9-]{4,64}$`)

// Handler serves the generic carrier API.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/parcels", s.authorized(s.create))
	mux.HandleFunc("GET /v1/parcels/{number}", s.authorized(s.get))
	return mux
}

func (s *Sim) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.o.Secret != "" && r.Header.Get("Authorization") != "Bearer "+s.o.Secret {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// create books a parcel: the body's tracking_number when given (a number the shipper already
// has), else a new "SIM…" number; it starts with its label_created event.
func (s *Sim) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Reference      string `json:"reference"`
		TrackingNumber string `json:"tracking_number"`
		Scenario       string `json:"scenario"` // "", "failed_delivery" or "returned"
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad json"})
		return
	}
	number := in.TrackingNumber
	if number == "" {
		number = newNumber(in.Scenario)
	}
	if !numberRE.MatchString(number) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "bad tracking_number"})
		return
	}
	s.mu.Lock()
	if _, ok := s.parcels[number]; ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, map[string]string{"error": "tracking_number taken"})
		return
	}
	p := &parcel{number: number, reference: in.Reference, plan: planFor(number)}
	s.parcels[number] = p
	ev := s.emit(p, time.Now())
	view := p.view()
	hook := s.webhook
	s.mu.Unlock()
	s.send(hook, p.number, p.reference, ev)
	writeJSON(w, http.StatusCreated, view)
}

func newNumber(scenario string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e10))
	suffix := map[string]string{"failed_delivery": "FAIL", "returned": "RTS"}[scenario]
	return fmt.Sprintf("SIM%010d%s", n.Int64(), suffix)
}

func (s *Sim) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.parcels[r.PathValue("number")]
	var view fulfillment.Parcel
	if ok {
		view = p.view()
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such parcel"})
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// emit appends the parcel's next stage (the caller holds mu) and returns it; nil when the
// journey is over.
func (s *Sim) emit(p *parcel, now time.Time) *fulfillment.TrackingEvent {
	i := len(p.events)
	if i >= len(p.plan) {
		return nil
	}
	st := p.plan[i]
	// Millisecond precision survives every hop (JSON, PostgreSQL) unchanged, so the same scan
	// read by poll and by webhook is the same row. Strictly increasing: stages never tie.
	at := now.UTC().Truncate(time.Millisecond)
	if i > 0 && !at.After(p.events[i-1].OccurredAt) {
		at = p.events[i-1].OccurredAt.Add(time.Millisecond)
	}
	ev := fulfillment.TrackingEvent{Status: st.status, Description: st.description, Location: st.location, OccurredAt: at}
	p.events = append(p.events, ev)
	if s.o.Step > 0 {
		p.next = now.Add(s.o.Step)
	}
	return &ev
}

// Advance moves one parcel to its next stage now, sends its webhook and returns the event;
// false when the parcel is unknown or already at the end of its journey.
func (s *Sim) Advance(number string) (fulfillment.TrackingEvent, bool) {
	s.mu.Lock()
	p, ok := s.parcels[number]
	var ev *fulfillment.TrackingEvent
	if ok {
		ev = s.emit(p, time.Now())
	}
	hook := s.webhook
	s.mu.Unlock()
	if ev == nil {
		return fulfillment.TrackingEvent{}, false
	}
	s.send(hook, p.number, p.reference, ev)
	return *ev, true
}

// run is the clock: every parcel whose next stage is due moves on.
func (s *Sim) run(ctx context.Context) {
	defer close(s.done)
	if s.o.Step <= 0 {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(max(s.o.Step/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			type due struct {
				number, ref string
				ev          *fulfillment.TrackingEvent
			}
			var out []due
			s.mu.Lock()
			for _, p := range s.parcels {
				if !p.next.IsZero() && !now.Before(p.next) {
					if ev := s.emit(p, now); ev != nil {
						out = append(out, due{p.number, p.reference, ev})
					}
				}
			}
			hook := s.webhook
			s.mu.Unlock()
			for _, d := range out {
				s.send(hook, d.number, d.ref, d.ev)
			}
		}
	}
}

// send POSTs one event, signed. A lost webhook is not retried: the platform's poll reads the
// parcel anyway, which is what real carriers rely on too.
func (s *Sim) send(hook, number, reference string, ev *fulfillment.TrackingEvent) {
	if hook == "" || s.o.Secret == "" || ev == nil {
		return
	}
	body, _ := json.Marshal(fulfillment.Parcel{TrackingNumber: number, Reference: reference, Status: ev.Status,
		Events: []fulfillment.TrackingEvent{*ev}})
	req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		s.o.Log.Warn("carrier simulator: webhook", "error", err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fulfillment.SignatureHeader, fulfillment.Sign(s.o.Secret, time.Now(), body))
	resp, err := s.o.Client.Do(req)
	if err != nil {
		s.o.Log.Warn("carrier simulator: webhook", "error", err.Error())
		return
	}
	resp.Body.Close()
	if resp.StatusCode < 300 {
		s.mu.Lock()
		s.sent++
		s.mu.Unlock()
	} else {
		s.o.Log.Warn("carrier simulator: webhook refused", "status", resp.StatusCode, "tracking_number", number)
	}
}
