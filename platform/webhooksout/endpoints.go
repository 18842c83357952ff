package webhooksout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// EndpointInput is what CreateEndpoint takes.
type EndpointInput struct {
	URL         string     `json:"url" maxLength:"2048" doc:"https URL that receives POSTs"`
	Description string     `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string   `json:"event_types" minItems:"1" maxItems:"100"`
	MerchantID  *uuid.UUID `json:"merchant_id,omitempty" doc:"make it a merchant's endpoint; merchant staff always create their own merchant's"`
}

// EndpointUpdate changes an endpoint; nil fields stay as they are.
type EndpointUpdate struct {
	URL         *string  `json:"url,omitempty" maxLength:"2048"`
	Description *string  `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string `json:"event_types,omitempty" maxItems:"100"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"true re-enables a disabled endpoint and clears its failure count"`
}

// inScope narrows to the merchant when the caller works for one, so merchant staff see and
// change only their merchant's endpoints and deliveries (the merchant fence).
func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

// validateURL checks a URL for an endpoint, with the guard's static rules.
func (s *Service) validateURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > 2048 {
		return "", fault.Fields(map[string]string{"body.url": "at most 2048 characters"})
	}
	if err := s.guard.CheckURL(raw); err != nil {
		var b *BlockedError
		if errors.As(err, &b) {
			return "", fault.Fields(map[string]string{"body.url": b.Reason})
		}
		return "", fault.Fields(map[string]string{"body.url": "not a valid URL"})
	}
	return raw, nil
}

// validateEventTypes returns the types sorted and without duplicates; a merchant's endpoint
// may subscribe only to types that concern a merchant.
func validateEventTypes(types []string, merchant bool) ([]string, error) {
	if len(types) == 0 {
		return nil, fault.Fields(map[string]string{"body.event_types": "choose at least one event type"})
	}
	out := slices.Clone(types)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, t := range out {
		et, ok := lookupEventType(t)
		if !ok {
			return nil, fault.Fields(map[string]string{"body.event_types": fmt.Sprintf("unknown event type %q", t)})
		}
		if merchant && !et.Merchant {
			return nil, fault.Fields(map[string]string{"body.event_types": fmt.Sprintf("%q is not available to a merchant's endpoint", t)})
		}
	}
	return out, nil
}

// CreateEndpoint registers an endpoint and returns it with its signing secret. The secret is
// shown this once; only a sealed copy is stored. Errors: invalid fields (body.url,
// body.description, body.event_types, body.merchant_id), ErrTooManyEndpoints.
func (s *Service) CreateEndpoint(ctx context.Context, tenantID uuid.UUID, in EndpointInput) (Endpoint, string, error) {
	if m, ok := scope.MerchantFrom(ctx); ok {
		in.MerchantID = &m
	}
	u, err := s.validateURL(in.URL)
	if err != nil {
		return Endpoint{}, "", err
	}
	in.Description = strings.TrimSpace(in.Description)
	if len(in.Description) > 500 {
		return Endpoint{}, "", fault.Fields(map[string]string{"body.description": "at most 500 characters"})
	}
	types, err := validateEventTypes(in.EventTypes, in.MerchantID != nil)
	if err != nil {
		return Endpoint{}, "", err
	}
	now := s.now().UTC()
	row := endpointRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), MerchantID: in.MerchantID, URL: u,
		Description: in.Description, EventTypes: types, Status: StatusActive, CreatedAt: now, UpdatedAt: now}
	secret := newSecret()
	row.SecretSealed = s.seal(tenantID, row.ID, secret)
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		// Serialise creations per owner so two at once cannot both pass the limit.
		owner := tenantID.String()
		if in.MerchantID != nil {
			owner += "/" + in.MerchantID.String()
		}
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "webhook endpoints "+owner); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*endpointRow)(nil)).Where("tenant_id = ?", tenantID).
			Where("merchant_id IS NOT DISTINCT FROM ?", in.MerchantID).Count(ctx)
		if err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return ErrTooManyEndpoints
		}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			if isForeignKeyViolation(err) {
				return fault.Fields(map[string]string{"body.merchant_id": "no such merchant"})
			}
			return err
		}
		return s.audit.Record(ctx, tx, "webhook_endpoint.create", "webhook_endpoint", row.ID.String(), nil, row.endpoint())
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("create webhook endpoint: %w", err)
	}
	return row.endpoint(), secret, nil
}

// Endpoint returns one endpoint. Errors: ErrEndpointNotFound (also for another tenant's, or in
// a merchant scope another merchant's).
func (s *Service) Endpoint(ctx context.Context, tenantID, endpointID uuid.UUID) (Endpoint, error) {
	var row endpointRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewSelect().Model(&row).Where("tenant_id = ? AND id = ?", tenantID, endpointID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, ErrEndpointNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("get webhook endpoint: %w", err)
	}
	return row.endpoint(), nil
}

// Endpoints pages through the endpoints, newest first: all of the tenant's, or in a merchant
// scope that merchant's.
func (s *Service) Endpoints(ctx context.Context, tenantID uuid.UUID, p httpx.PageParams) (httpx.Page[Endpoint], error) {
	var after uuid.UUID
	if _, err := httpx.DecodeCursor(p.Cursor, &after); err != nil {
		return httpx.Page[Endpoint]{}, err
	}
	var rows []endpointRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr("id DESC").Limit(int64(p.Size() + 1))
		if after != uuid.Nil {
			q = q.Where("id < ?", after)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return httpx.Page[Endpoint]{}, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := make([]Endpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return httpx.PageOf(out, p, func(e Endpoint) any { return e.ID }), nil
}

// UpdateEndpoint changes the URL, description, event types or status. Enabling clears the
// failure count, so a fixed receiver starts with a clean slate; disabling by hand stops
// deliveries without losing the log. Errors: ErrEndpointNotFound, invalid fields.
func (s *Service) UpdateEndpoint(ctx context.Context, tenantID, endpointID uuid.UUID, up EndpointUpdate) (Endpoint, error) {
	var row endpointRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		if err := s.lockEndpoint(ctx, tx, tenantID, endpointID, &row); err != nil {
			return err
		}
		before := row.endpoint()
		if up.URL != nil {
			u, err := s.validateURL(*up.URL)
			if err != nil {
				return err
			}
			row.URL = u
		}
		if up.Description != nil {
			d := strings.TrimSpace(*up.Description)
			if len(d) > 500 {
				return fault.Fields(map[string]string{"body.description": "at most 500 characters"})
			}
			row.Description = d
		}
		if up.EventTypes != nil {
			types, err := validateEventTypes(up.EventTypes, row.MerchantID != nil)
			if err != nil {
				return err
			}
			row.EventTypes = types
		}
		if up.Enabled != nil {
			switch {
			case *up.Enabled && row.Status == StatusDisabled:
				row.Status, row.DisabledReason, row.ConsecutiveFailures, row.FailingSince = StatusActive, "", 0, nil
			case !*up.Enabled && row.Status == StatusActive:
				row.Status, row.DisabledReason = StatusDisabled, "disabled by "+string(scope.ActorFrom(ctx))
			}
		}
		row.UpdatedAt = s.now().UTC()
		if _, err := tx.NewUpdate().Model(&row).Column("url", "description", "event_types", "status", "disabled_reason",
			"consecutive_failures", "failing_since", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "webhook_endpoint.update", "webhook_endpoint", endpointID.String(), before, row.endpoint())
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("update webhook endpoint: %w", err)
	}
	return row.endpoint(), nil
}

// RotateSecret gives the endpoint a new signing secret and returns it, once. For
// RotationGrace the old secret keeps signing too (a second v1= in the header), so receivers
// can switch without dropping events. Errors: ErrEndpointNotFound.
func (s *Service) RotateSecret(ctx context.Context, tenantID, endpointID uuid.UUID) (string, error) {
	secret := newSecret()
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var row endpointRow
		if err := s.lockEndpoint(ctx, tx, tenantID, endpointID, &row); err != nil {
			return err
		}
		expires := s.now().UTC().Add(RotationGrace)
		row.PreviousSecretSealed, row.PreviousSecretExpiresAt = row.SecretSealed, &expires
		row.SecretSealed = s.seal(tenantID, endpointID, secret)
		row.UpdatedAt = s.now().UTC()
		if _, err := tx.NewUpdate().Model(&row).Column("secret_sealed", "previous_secret_sealed",
			"previous_secret_expires_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "webhook_endpoint.rotate_secret", "webhook_endpoint", endpointID.String(), nil, nil)
	})
	if err != nil {
		return "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	return secret, nil
}

// DeleteEndpoint removes the endpoint and its delivery log; pending deliveries are dropped.
// Errors: ErrEndpointNotFound.
func (s *Service) DeleteEndpoint(ctx context.Context, tenantID, endpointID uuid.UUID) error {
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var row endpointRow
		if err := s.lockEndpoint(ctx, tx, tenantID, endpointID, &row); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(&row).WherePK().Exec(ctx); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "webhook_endpoint.delete", "webhook_endpoint", endpointID.String(), row.endpoint(), nil)
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	return nil
}

func (s *Service) lockEndpoint(ctx context.Context, tx bun.IDB, tenantID, endpointID uuid.UUID, row *endpointRow) error {
	err := tx.NewSelect().Model(row).Where("tenant_id = ? AND id = ?", tenantID, endpointID).For("UPDATE").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrEndpointNotFound
	}
	return err
}
