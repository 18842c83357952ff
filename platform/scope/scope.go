// Package scope carries who and where a unit of work runs for: the tenant, the merchant, the
// actor and the request id, as typed context values with WithX/XFrom pairs.
package scope

import (
	"context"

	"github.com/google/uuid"
)

type key int

const (
	tenantKey key = iota
	merchantKey
	actorKey
	requestIDKey
)

// WithTenant records the tenant a request or job works for.
func WithTenant(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, tenantKey, id)
}

// TenantFrom returns the tenant, and false when the work is not tenant-scoped.
func TenantFrom(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(tenantKey).(uuid.UUID)
	return id, ok && id != uuid.Nil
}

// WithMerchant records the merchant scope of merchant staff and merchant API keys.
func WithMerchant(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, merchantKey, id)
}

// MerchantFrom returns the merchant scope, and false when there is none.
func MerchantFrom(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(merchantKey).(uuid.UUID)
	return id, ok && id != uuid.Nil
}

// Actor is who performs a mutation, as written to audit rows: "user:<id>", "apikey:<id>",
// "shopper:<id>", "system:<job>" or "anonymous".
type Actor string

// WithActor records the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFrom returns the actor, "anonymous" when none was recorded.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey).(Actor); ok && a != "" {
		return a
	}
	return "anonymous"
}

// WithRequestID records the id that ties logs, errors and audit rows of one request together.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the request id, "" outside a request.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
