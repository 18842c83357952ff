package webhooksout

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

type endpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`

	TenantID                uuid.UUID  `bun:"tenant_id,pk"`
	ID                      uuid.UUID  `bun:"id,pk"`
	MerchantID              *uuid.UUID `bun:"merchant_id"`
	URL                     string     `bun:"url"`
	Description             string     `bun:"description"`
	EventTypes              []string   `bun:"event_types,array"`
	SecretSealed            []byte     `bun:"secret_sealed"`
	PreviousSecretSealed    []byte     `bun:"previous_secret_sealed"`
	PreviousSecretExpiresAt *time.Time `bun:"previous_secret_expires_at"`
	Status                  string     `bun:"status"`
	DisabledReason          string     `bun:"disabled_reason"`
	ConsecutiveFailures     int        `bun:"consecutive_failures"`
	FailingSince            *time.Time `bun:"failing_since"`
	CreatedAt               time.Time  `bun:"created_at"`
	UpdatedAt               time.Time  `bun:"updated_at"`
}

func (r endpointRow) endpoint() Endpoint {
	return Endpoint{ID: r.ID, MerchantID: r.MerchantID, URL: r.URL, Description: r.Description, EventTypes: r.EventTypes,
		Status: r.Status, DisabledReason: r.DisabledReason, ConsecutiveFailures: r.ConsecutiveFailures, CreatedAt: r.CreatedAt}
}

type deliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	TenantID       uuid.UUID       `bun:"tenant_id,pk"`
	ID             uuid.UUID       `bun:"id,pk"`
	EndpointID     uuid.UUID       `bun:"endpoint_id"`
	MerchantID     *uuid.UUID      `bun:"merchant_id"`
	EventID        uuid.UUID       `bun:"event_id"`
	EventType      string          `bun:"event_type"`
	Payload        json.RawMessage `bun:"payload,type:jsonb"`
	Attempt        int             `bun:"attempt"`
	Status         string          `bun:"status"`
	ResponseCode   *int            `bun:"response_code"`
	LatencyMS      *int            `bun:"latency_ms"`
	Error          string          `bun:"error"`
	NextAttemptAt  *time.Time      `bun:"next_attempt_at"`
	LeasedUntil    *time.Time      `bun:"leased_until"`
	FirstAttemptAt *time.Time      `bun:"first_attempt_at"`
	LastAttemptAt  *time.Time      `bun:"last_attempt_at"`
	ReplayOf       *uuid.UUID      `bun:"replay_of"`
	CreatedAt      time.Time       `bun:"created_at"`
	DeliveredAt    *time.Time      `bun:"delivered_at"`
}

func (r deliveryRow) delivery() Delivery {
	d := Delivery{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType, Payload: r.Payload,
		Attempt: r.Attempt, Status: r.Status, Error: r.Error, NextAttemptAt: r.NextAttemptAt, ReplayOf: r.ReplayOf,
		CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt}
	if r.ResponseCode != nil {
		d.ResponseCode = *r.ResponseCode
	}
	if r.LatencyMS != nil {
		d.LatencyMS = *r.LatencyMS
	}
	return d
}
