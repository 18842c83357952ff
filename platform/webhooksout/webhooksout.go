// Package webhooksout delivers signed events to tenants' and merchants' HTTPS endpoints:
// endpoint management, signing, the SSRF guard, delivery attempts with backoff, the delivery
// log, replay and auto-disable.
//
// How an event travels: a slice calls Queue inside the transaction that changes its state;
// Queue writes one pending delivery per subscribed endpoint and hands each to the Jobs seam
// (an outbox row). A task then calls Deliver, which makes one signed POST through the SSRF
// guard, records the outcome and, on failure, schedules the next attempt through Jobs again,
// until it succeeds or three days have passed since the first attempt.
package webhooksout

import (
	"context"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
)

// Errors the Service returns.
var (
	ErrEndpointNotFound = fault.New(fault.NotFound, "webhook_endpoint_not_found", "webhook endpoint not found")
	ErrDeliveryNotFound = fault.New(fault.NotFound, "webhook_delivery_not_found", "webhook delivery not found")
	ErrTooManyEndpoints = fault.New(fault.Unprocessable, "webhook_endpoint_limit", "at most 20 webhook endpoints per tenant or merchant")
	ErrEndpointDisabled = fault.New(fault.Conflict, "webhook_endpoint_disabled", "the webhook endpoint is disabled; enable it first")
	ErrStillPending     = fault.New(fault.Conflict, "webhook_delivery_pending", "the delivery is still being attempted")
	ErrDeliveryBusy     = fault.New(fault.Conflict, "webhook_delivery_busy", "another attempt of this delivery is in flight; retry later")
	ErrUnknownEventType = fault.New(fault.Invalid, "webhook_unknown_event_type", "unknown webhook event type")
	ErrPayloadTooLarge  = fault.New(fault.TooLarge, "webhook_payload_too_large", "the event payload is larger than 256 KiB")
)

// EventType is one kind of event an endpoint can subscribe to.
type EventType struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Merchant    bool   `json:"merchant" doc:"merchants' own endpoints may subscribe to it"`
}

// EventTypes is the declared list. Slices queue only these; endpoints subscribe only to these.
// Names are noun.verb in the past tense, as integrators know them from other platforms.
func EventTypes() []EventType {
	return []EventType{
		{"order.created", "a shopper placed an order (before payment)", false},
		{"order.paid", "an order's payment succeeded", false},
		{"order.payment_failed", "an order's payment failed", false},
		{"order.cancelled", "an order was cancelled", false},
		{"merchant_order.created", "a merchant received a paid order to fulfil", true},
		{"merchant_order.shipped", "a merchant shipped (part of) an order; carries tracking", true},
		{"merchant_order.delivered", "the carrier reported a shipment delivered", true},
		{"return.requested", "a shopper asked to return lines", true},
		{"refund.issued", "money was refunded to a shopper", true},
		{"payout.sent", "a payout left for a merchant's bank", true},
		{"merchant.applied", "someone applied to sell in the marketplace", false},
		{"merchant.approved", "the tenant approved a merchant", true},
		{"merchant.suspended", "the tenant suspended a merchant", true},
		{"product.created", "a product was listed", true},
		{"product.updated", "a product changed", true},
		{"product.deleted", "a product was removed", true},
		{"inventory.low", "a variant's available stock fell below its threshold", true},
		{"review.created", "a shopper reviewed a product", true},
	}
}

func lookupEventType(name string) (EventType, bool) {
	i := slices.IndexFunc(EventTypes(), func(e EventType) bool { return e.Name == name })
	if i < 0 {
		return EventType{}, false
	}
	return EventTypes()[i], true
}

// Endpoint statuses.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Endpoint is a URL that receives a tenant's or a merchant's events. The secret is never part
// of it: CreateEndpoint and RotateSecret return it once.
type Endpoint struct {
	ID                  uuid.UUID  `json:"id"`
	MerchantID          *uuid.UUID `json:"merchant_id,omitempty" doc:"set for a merchant's endpoint, which hears only that merchant's events"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	EventTypes          []string   `json:"event_types"`
	Status              string     `json:"status" enum:"active,disabled"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	CreatedAt           time.Time  `json:"created_at"`
}

// Delivery is one event for one endpoint, as the delivery log shows it.
type Delivery struct {
	ID            uuid.UUID       `json:"id"`
	EndpointID    uuid.UUID       `json:"endpoint_id"`
	EventID       uuid.UUID       `json:"event_id"`
	EventType     string          `json:"event_type"`
	Payload       json.RawMessage `json:"payload" doc:"the exact JSON body posted"`
	Attempt       int             `json:"attempt" doc:"attempts made so far"`
	Status        string          `json:"status" enum:"pending,succeeded,failed"`
	ResponseCode  int             `json:"response_code,omitempty" doc:"HTTP status of the last attempt; absent if no response"`
	LatencyMS     int             `json:"latency_ms,omitempty"`
	Error         string          `json:"error,omitempty"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	ReplayOf      *uuid.UUID      `json:"replay_of,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	DeliveredAt   *time.Time      `json:"delivered_at,omitempty"`
}

// Jobs is what this package needs from the job system. Both calls happen inside the
// transaction that makes them necessary, so an implementation should write an outbox row in
// tx rather than talk to Redis: the delivery and its task commit or roll back together.
type Jobs interface {
	// ScheduleDelivery arranges for Deliver(tenantID, deliveryID) to run at or after at.
	ScheduleDelivery(ctx context.Context, tx bun.IDB, tenantID, deliveryID uuid.UUID, at time.Time) error
	// EndpointDisabled tells the endpoint's owner (the tenant's admins, or the merchant's)
	// that it was turned off; reason says why.
	EndpointDisabled(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, e Endpoint, reason string) error
}

// Recorder writes the audit entry of a change in the change's transaction (audit.Recorder).
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// Config is what New needs.
type Config struct {
	SecretKey string   // MERCATO_SECRET_KEY; seals the endpoints' signing secrets
	Guard     Guard    // the SSRF guard; MERCATO_WEBHOOKS_ALLOW_INSECURE sets its Allow fields in dev
	Jobs      Jobs     // nil: nothing is scheduled (tests that call Deliver themselves)
	Audit     Recorder // required
	UserAgent string   // default "Mercato-Webhooks/1"
	// Now is the clock; tests move it to walk the retry schedule.
	Now func() time.Time
}

// Limits and schedule. The backoff steps are the waits after the 1st, 2nd, ... failed
// attempt; the last step repeats until RetryWindow after the first attempt.
const (
	MaxEndpoints       = 20
	MaxPayloadBytes    = 256 << 10
	RetryWindow        = 72 * time.Hour
	DisableAfterFailed = 50 // deliveries in a row with no success between them
	RotationGrace      = 24 * time.Hour
	attemptLease       = 2 * time.Minute // longer than the request timeout plus recording it
)

// Service manages endpoints and delivers to them.
type Service struct {
	db        *db.DB
	sealer    cipher.AEAD
	guard     Guard
	client    *http.Client
	jobs      Jobs
	audit     Recorder
	userAgent string
	now       func() time.Time
	jitter    func() float64 // in [0, 1)
}

// New builds the service. Errors: a secret key shorter than 32 characters, a nil Audit.
func New(d *db.DB, cfg Config) (*Service, error) {
	sealer, err := newSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if cfg.Audit == nil {
		return nil, errors.New("webhooksout: an audit recorder is required")
	}
	s := &Service{db: d, sealer: sealer, guard: cfg.Guard, client: cfg.Guard.Client(), jobs: cfg.Jobs, audit: cfg.Audit,
		userAgent: cfg.UserAgent, now: cfg.Now, jitter: randomFraction}
	if s.userAgent == "" {
		s.userAgent = "Mercato-Webhooks/1"
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}
