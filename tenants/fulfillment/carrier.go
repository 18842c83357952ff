package fulfillment

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Tracking statuses, in the order a parcel normally moves through them. failed_delivery is a
// detour (the courier tries again, or sends the parcel back: returned).
const (
	StatusLabelCreated   = "label_created"
	StatusInTransit      = "in_transit"
	StatusOutForDelivery = "out_for_delivery"
	StatusDelivered      = "delivered"
	StatusFailedDelivery = "failed_delivery"
	StatusReturned       = "returned"
)

// Statuses lists every tracking status.
func Statuses() []string {
	return []string{StatusLabelCreated, StatusInTransit, StatusOutForDelivery, StatusDelivered, StatusFailedDelivery, StatusReturned}
}

func validStatus(s string) bool {
	switch s {
	case StatusLabelCreated, StatusInTransit, StatusOutForDelivery, StatusDelivered, StatusFailedDelivery, StatusReturned:
		return true
	}
	return false
}

// final reports whether a parcel in status s has ended its journey: nothing more to poll.
func final(s string) bool { return s == StatusDelivered || s == StatusReturned }

// Built-in carrier codes.
const (
	CarrierManual      = "manual"       // the merchant enters each status in the console
	CarrierGenericHTTP = "generic_http" // the documented JSON tracking API (GenericHTTP)
)

// Errors of carriers.
var (
	// ErrUnsupported: the carrier cannot do this (the manual carrier prints no labels and
	// sends no webhooks).
	ErrUnsupported = errors.New("carrier: not supported by this carrier")
	// ErrParcelUnknown: the carrier has no parcel with this number (yet).
	ErrParcelUnknown = errors.New("carrier: no such parcel")
	// ErrBadSignature: a webhook whose signature is missing, wrong or too old.
	ErrBadSignature = errors.New("carrier: webhook signature missing, invalid or too old")
)

// TrackingEvent is one scan of a parcel as a carrier reports it.
type TrackingEvent struct {
	Status      string    `json:"status" enum:"label_created,in_transit,out_for_delivery,delivered,failed_delivery,returned"`
	Description string    `json:"description"`
	Location    string    `json:"location"`
	OccurredAt  time.Time `json:"occurred_at"`
}

// LabelRequest is what a carrier needs to print a label.
type LabelRequest struct {
	Reference string // the shipment's id: the carrier echoes it back
}

// Label is a printed label: the parcel's number and the events the carrier has for it already.
type Label struct {
	TrackingNumber string
	LabelURL       string
	Events         []TrackingEvent
}

// Carrier is what the fulfillment slice needs of a carrier. Implementations: Manual,
// GenericHTTP (and, in tests, the simulator behind GenericHTTP).
type Carrier interface {
	// Code names the carrier in shipments and in the webhook route (/webhooks/carriers/{code}).
	Code() string
	// CreateLabel books a parcel and returns its number. Errors: ErrUnsupported.
	CreateLabel(ctx context.Context, in LabelRequest) (Label, error)
	// Track returns every event the carrier has for a parcel, in any order.
	// Errors: ErrUnsupported, ErrParcelUnknown.
	Track(ctx context.Context, trackingNumber string) ([]TrackingEvent, error)
	// ParseWebhook verifies an inbound webhook's signature and returns the parcel it is about
	// and the events it reports. Errors: ErrBadSignature, ErrUnsupported, or a decoding error.
	ParseWebhook(header http.Header, body []byte) (string, []TrackingEvent, error)
}

// Manual is the carrier for parcels the merchant tracks by hand: no labels, no polling, no
// webhooks; the merchant adds each status (Service.AddEvent).
type Manual struct{}

var _ Carrier = Manual{}

// Code is "manual".
func (Manual) Code() string { return CarrierManual }

// CreateLabel is not supported.
func (Manual) CreateLabel(context.Context, LabelRequest) (Label, error) {
	return Label{}, ErrUnsupported
}

// Track is not supported: the merchant's entries are all there is.
func (Manual) Track(context.Context, string) ([]TrackingEvent, error) { return nil, ErrUnsupported }

// ParseWebhook is not supported.
func (Manual) ParseWebhook(http.Header, []byte) (string, []TrackingEvent, error) {
	return "", nil, ErrUnsupported
}

// SignatureHeader carries a carrier webhook's signature: "t=<unix seconds>,v1=<hex HMAC-SHA256
// of "<t>.<body>" keyed with the shared secret>". Several v1 values may be present while a
// secret is rotated; one matching is enough.
const SignatureHeader = "Carrier-Signature"

// SignatureTolerance is how old (or how far in the future) a signed timestamp may be: a replay
// later than this is refused.
const SignatureTolerance = 5 * time.Minute

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a SignatureHeader value against body at now. Errors: ErrBadSignature.
func Verify(secret, header string, body []byte, now time.Time) error {
	if secret == "" || header == "" {
		return ErrBadSignature
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if age := now.Sub(time.Unix(sec, 0)); age > SignatureTolerance || age < -SignatureTolerance {
		return ErrBadSignature
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// GenericHTTP speaks the generic carrier tracking API (docs/jobs.md, "Logistics sync"):
//
//	POST {base}/v1/parcels            {"reference": "..."}  → 201 Parcel (a label)
//	GET  {base}/v1/parcels/{number}                         → 200 Parcel, 404 unknown
//	Parcel: {"tracking_number", "label_url", "status", "events": [{"status", "description", "location", "occurred_at"}]}
//
// Requests carry "Authorization: Bearer {secret}"; the carrier POSTs webhooks with the same
// Parcel body to /webhooks/carriers/generic_http, signed with the secret (SignatureHeader).
type GenericHTTP struct {
	BaseURL string // MERCATO_CARRIER_URL
	Secret  string // MERCATO_CARRIER_SECRET
	Client  *http.Client
	Now     func() time.Time // nil: time.Now
}

var _ Carrier = (*GenericHTTP)(nil)

// Parcel is the generic API's parcel, in requests' answers and in webhooks.
type Parcel struct {
	TrackingNumber string          `json:"tracking_number"`
	Reference      string          `json:"reference,omitempty"`
	LabelURL       string          `json:"label_url,omitempty"`
	Status         string          `json:"status,omitempty"`
	Events         []TrackingEvent `json:"events"`
}

// Code is "generic_http".
func (g *GenericHTTP) Code() string { return CarrierGenericHTTP }

func (g *GenericHTTP) client() *http.Client {
	if g.Client != nil {
		return g.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (g *GenericHTTP) do(ctx context.Context, method, path string, body any, want int) (Parcel, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Parcel{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(g.BaseURL, "/")+path, rd)
	if err != nil {
		return Parcel{}, err
	}
	req.Header.Set("Authorization", "Bearer "+g.Secret)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.client().Do(req)
	if err != nil {
		return Parcel{}, fmt.Errorf("carrier %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Parcel{}, fmt.Errorf("carrier %s %s: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return Parcel{}, ErrParcelUnknown
	}
	if resp.StatusCode != want {
		return Parcel{}, fmt.Errorf("carrier %s %s: status %d", method, path, resp.StatusCode)
	}
	var p Parcel
	if err := json.Unmarshal(raw, &p); err != nil {
		return Parcel{}, fmt.Errorf("carrier %s %s: decode: %w", method, path, err)
	}
	p.Events = knownEvents(p.Events)
	return p, nil
}

// CreateLabel books a parcel with the carrier.
func (g *GenericHTTP) CreateLabel(ctx context.Context, in LabelRequest) (Label, error) {
	p, err := g.do(ctx, http.MethodPost, "/v1/parcels", map[string]string{"reference": in.Reference}, http.StatusCreated)
	if err != nil {
		return Label{}, err
	}
	if !trackingNumberRE.MatchString(p.TrackingNumber) {
		return Label{}, fmt.Errorf("carrier label: bad tracking number %q", p.TrackingNumber)
	}
	return Label{TrackingNumber: p.TrackingNumber, LabelURL: p.LabelURL, Events: p.Events}, nil
}

// Track asks the carrier for a parcel's events.
func (g *GenericHTTP) Track(ctx context.Context, number string) ([]TrackingEvent, error) {
	p, err := g.do(ctx, http.MethodGet, "/v1/parcels/"+url.PathEscape(number), nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return p.Events, nil
}

// ParseWebhook verifies the signature over the raw body, then reads the Parcel in it.
func (g *GenericHTTP) ParseWebhook(h http.Header, body []byte) (string, []TrackingEvent, error) {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	if err := Verify(g.Secret, h.Get(SignatureHeader), body, now()); err != nil {
		return "", nil, err
	}
	var p Parcel
	if err := json.Unmarshal(body, &p); err != nil {
		return "", nil, fmt.Errorf("carrier webhook: decode: %w", err)
	}
	return p.TrackingNumber, knownEvents(p.Events), nil
}

// knownEvents drops events whose status Mercato has no word for (a carrier may report more
// kinds of scan than it knows) and events without a time.
func knownEvents(in []TrackingEvent) []TrackingEvent {
	out := make([]TrackingEvent, 0, len(in))
	for _, e := range in {
		if validStatus(e.Status) && !e.OccurredAt.IsZero() {
			out = append(out, e)
		}
	}
	return out
}
