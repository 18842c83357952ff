package webhooksout

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
)

// Event is the JSON body every delivery posts: the envelope around the event's data.
type Event struct {
	ID         uuid.UUID       `json:"id" doc:"the event's id; the same in every delivery and replay of it"`
	Type       string          `json:"type"`
	CreatedAt  time.Time       `json:"created_at"`
	TenantID   uuid.UUID       `json:"tenant_id"`
	MerchantID *uuid.UUID      `json:"merchant_id,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// Queue records eventType for every active endpoint of the tenant subscribed to it (and, when
// merchantID is set, of that merchant), one pending delivery each, in the caller's
// transaction tx, and schedules each through Jobs. It is idempotent per event: queuing the
// same eventID again adds nothing. It returns the new deliveries' ids.
//
// tx must be a tenant transaction (db.WithTenant) for tenantID. If it is merchant-scoped,
// Queue lifts the merchant fence for its own statements and restores it: the tenant's
// endpoints must hear a merchant's events, and Queue returns no endpoint data to its caller.
// Errors: ErrUnknownEventType, ErrPayloadTooLarge, the database's and Jobs'.
func (s *Service) Queue(ctx context.Context, tx bun.IDB, tenantID, merchantID uuid.UUID, eventType string, eventID uuid.UUID, payload any) ([]uuid.UUID, error) {
	if _, ok := lookupEventType(eventType); !ok {
		return nil, fmt.Errorf("queue webhook %q: %w", eventType, ErrUnknownEventType)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("queue webhook %s: encode payload: %w", eventType, err)
	}
	now := s.now().UTC()
	ev := Event{ID: eventID, Type: eventType, CreatedAt: now, TenantID: tenantID, Data: data}
	var merchant *uuid.UUID
	if merchantID != uuid.Nil {
		merchant = &merchantID
		ev.MerchantID = merchant
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("queue webhook %s: %w", eventType, err)
	}
	if len(body) > MaxPayloadBytes {
		return nil, fmt.Errorf("queue webhook %s: %w", eventType, ErrPayloadTooLarge)
	}
	var fence string
	if err := tx.NewRaw("SELECT coalesce(current_setting('app.merchant_id', true), '')").Scan(ctx, &fence); err != nil {
		return nil, fmt.Errorf("queue webhook %s: %w", eventType, err)
	}
	if fence != "" {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.merchant_id', '', true)"); err != nil {
			return nil, fmt.Errorf("queue webhook %s: %w", eventType, err)
		}
		defer tx.ExecContext(ctx, "SELECT set_config('app.merchant_id', ?, true)", fence) //nolint:errcheck // an aborted tx rolls back anyway
	}
	var ids []uuid.UUID
	err = tx.NewRaw(`INSERT INTO webhook_deliveries
			(tenant_id, id, endpoint_id, merchant_id, event_id, event_type, payload, next_attempt_at, created_at)
		SELECT tenant_id, uuidv7(), id, merchant_id, ?, ?, ?::jsonb, ?, ?
		FROM webhook_endpoints
		WHERE tenant_id = ? AND status = 'active' AND ? = ANY (event_types) AND (merchant_id IS NULL OR merchant_id = ?)
		ON CONFLICT (tenant_id, endpoint_id, event_id) WHERE replay_of IS NULL DO NOTHING
		RETURNING id`,
		eventID, eventType, string(body), now, now, tenantID, eventType, merchant).Scan(ctx, &ids)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queue webhook %s: %w", eventType, err)
	}
	for _, id := range ids {
		if err := s.schedule(ctx, tx, tenantID, id, now); err != nil {
			return nil, fmt.Errorf("queue webhook %s: %w", eventType, err)
		}
	}
	return ids, nil
}

func (s *Service) schedule(ctx context.Context, tx bun.IDB, tenantID, deliveryID uuid.UUID, at time.Time) error {
	if s.jobs == nil {
		return nil
	}
	return s.jobs.ScheduleDelivery(ctx, tx, tenantID, deliveryID, at)
}

// Result is what one Deliver call did.
type Result struct {
	Status    string    // the delivery's status afterwards: pending, succeeded or failed
	Attempt   int       // attempts made so far
	Attempted bool      // this call posted the event (false: it was not due, or already done)
	RetryAt   time.Time // when the next attempt is due (already scheduled through Jobs); zero if none
	// EndpointDisabled says this call turned the endpoint off, so its owner must be told.
	// Jobs.EndpointDisabled was called in the same transaction; this is for callers without Jobs.
	EndpointDisabled bool
	Endpoint         Endpoint
	DisabledReason   string
}

// Deliver makes one attempt of a delivery: POST the event as JSON to the endpoint through
// the SSRF guard, signed, with a 10 s timeout; record the response code, latency and error;
// on failure schedule the next attempt with backoff (about 1 m, 5 m, 30 m, 2 h, 5 h, then
// every 10 h, ±10 %) until 3 days after the first attempt. A destination the guard refuses
// fails the delivery at once. After 3 days of failures, or DisableAfterFailed failed
// deliveries in a row, the endpoint is disabled and Result.EndpointDisabled is set.
//
// It is safe to call more than once for one delivery (tasks run at least once): a finished
// delivery is left alone, one not yet due returns its RetryAt without posting, and one whose
// attempt is in flight elsewhere returns ErrDeliveryBusy (retry the task later).
// Errors: ErrDeliveryNotFound (the endpoint was deleted: drop the task), ErrDeliveryBusy,
// the database's. A failed attempt is not an error: it is in the Result and the log.
func (s *Service) Deliver(ctx context.Context, tenantID, deliveryID uuid.UUID) (Result, error) {
	var (
		d       deliveryRow
		ep      endpointRow
		res     Result
		attempt bool
	)
	now := s.now().UTC()
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		err := tx.NewSelect().Model(&d).Where("tenant_id = ? AND id = ?", tenantID, deliveryID).For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrDeliveryNotFound
		}
		if err != nil {
			return err
		}
		res.Status, res.Attempt = d.Status, d.Attempt
		switch {
		case d.Status != DeliveryPending:
			return nil
		case d.LeasedUntil != nil && d.LeasedUntil.After(now):
			return ErrDeliveryBusy
		case d.NextAttemptAt.After(now):
			res.RetryAt = *d.NextAttemptAt
			return nil
		}
		if err := tx.NewSelect().Model(&ep).Where("tenant_id = ? AND id = ?", tenantID, d.EndpointID).Scan(ctx); err != nil {
			return err
		}
		if ep.Status != StatusActive {
			// Nothing is posted to a disabled endpoint; its owner can replay once it is fixed.
			d.Status, d.NextAttemptAt, d.Error = DeliveryFailed, nil, "not attempted: the endpoint is disabled"
			res.Status = d.Status
			_, err := tx.NewUpdate().Model(&d).Column("status", "next_attempt_at", "error").WherePK().Exec(ctx)
			return err
		}
		lease := now.Add(attemptLease)
		d.Attempt++
		d.LeasedUntil, d.LastAttemptAt = &lease, &now
		if d.FirstAttemptAt == nil {
			d.FirstAttemptAt = &now
		}
		attempt = true
		_, err = tx.NewUpdate().Model(&d).Column("attempt", "leased_until", "last_attempt_at", "first_attempt_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("deliver webhook %s: %w", deliveryID, err)
	}
	if !attempt {
		return res, nil
	}
	code, latency, attemptErr := s.post(ctx, &ep, &d, now)
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		return s.record(ctx, tx, &d, code, latency, attemptErr, &res)
	})
	if err != nil {
		return res, fmt.Errorf("deliver webhook %s: record attempt: %w", deliveryID, err)
	}
	return res, nil
}

// post makes the HTTP request of one attempt. It returns the status code (0 without a
// response), the latency, and why the attempt failed (nil for a 2xx answer).
func (s *Service) post(ctx context.Context, ep *endpointRow, d *deliveryRow, now time.Time) (int, time.Duration, error) {
	secrets, err := s.signingSecrets(ep, now)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set(SignatureHeader, Sign(now, d.Payload, secrets...))
	req.Header.Set("Mercato-Event-Id", d.EventID.String())
	req.Header.Set("Mercato-Event-Type", d.EventType)
	req.Header.Set("Mercato-Delivery-Id", d.ID.String())
	req.Header.Set("Mercato-Delivery-Attempt", strconv.Itoa(d.Attempt))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	// Read a little of the body so the connection can be reused; receivers should answer fast
	// and say nothing, and nothing they say is kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	latency := time.Since(start)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, latency, fmt.Errorf("the endpoint answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, latency, nil
}

// signingSecrets are the secrets a delivery is signed with: the current one, and the one it
// replaced while RotationGrace lasts.
func (s *Service) signingSecrets(ep *endpointRow, now time.Time) ([]string, error) {
	cur, err := s.open(ep.TenantID, ep.ID, ep.SecretSealed)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if ep.PreviousSecretSealed != nil && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		if prev, err := s.open(ep.TenantID, ep.ID, ep.PreviousSecretSealed); err == nil {
			out = append(out, prev)
		}
	}
	return out, nil
}

// record writes an attempt's outcome, moves the endpoint's failure streak, disables the
// endpoint when the streak is long enough, and schedules the next attempt.
func (s *Service) record(ctx context.Context, tx bun.IDB, d *deliveryRow, code int, latency time.Duration, attemptErr error, res *Result) error {
	done := s.now().UTC()
	d.LeasedUntil, d.ResponseCode, d.LatencyMS = nil, nil, nil
	if code != 0 {
		d.ResponseCode = &code
	}
	if ms := int(latency / time.Millisecond); latency > 0 {
		d.LatencyMS = &ms
	}
	var blocked *BlockedError
	switch {
	case attemptErr == nil:
		d.Status, d.Error, d.NextAttemptAt, d.DeliveredAt = DeliverySucceeded, "", nil, &done
	case errors.As(attemptErr, &blocked):
		d.Status, d.Error, d.NextAttemptAt = DeliveryFailed, describe(attemptErr), nil
	default:
		d.Status, d.Error = DeliveryPending, describe(attemptErr)
		next, ok := s.nextAttempt(d.Attempt, *d.FirstAttemptAt, done)
		if ok {
			d.NextAttemptAt = &next
		} else {
			d.Status, d.NextAttemptAt = DeliveryFailed, nil
		}
	}
	if _, err := tx.NewUpdate().Model(d).Column("status", "error", "response_code", "latency_ms", "next_attempt_at",
		"leased_until", "delivered_at").WherePK().Exec(ctx); err != nil {
		return err
	}
	res.Status, res.Attempt, res.Attempted = d.Status, d.Attempt, true
	if d.NextAttemptAt != nil {
		res.RetryAt = *d.NextAttemptAt
		if err := s.schedule(ctx, tx, d.TenantID, d.ID, res.RetryAt); err != nil {
			return err
		}
	}

	var ep endpointRow
	if err := tx.NewSelect().Model(&ep).Where("tenant_id = ? AND id = ?", d.TenantID, d.EndpointID).For("UPDATE").Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // deleted while the attempt was in flight
			return nil
		}
		return err
	}
	if attemptErr == nil {
		if ep.ConsecutiveFailures == 0 && ep.FailingSince == nil {
			return nil
		}
		ep.ConsecutiveFailures, ep.FailingSince = 0, nil
		_, err := tx.NewUpdate().Model(&ep).Column("consecutive_failures", "failing_since").WherePK().Exec(ctx)
		return err
	}
	// The streak counts deliveries, not attempts: a delivery adds to it on its first failure
	// (or on any failure that starts a streak), so one event retried for days counts once.
	if d.Attempt == 1 || ep.ConsecutiveFailures == 0 {
		ep.ConsecutiveFailures++
	}
	if ep.FailingSince == nil {
		ep.FailingSince = &done
	}
	cols := []string{"consecutive_failures", "failing_since"}
	if ep.Status == StatusActive {
		reason := ""
		switch {
		case ep.ConsecutiveFailures >= DisableAfterFailed:
			reason = fmt.Sprintf("%d deliveries in a row failed; the last: %s", ep.ConsecutiveFailures, d.Error)
		case done.Sub(*ep.FailingSince) >= RetryWindow:
			reason = fmt.Sprintf("deliveries failed for 3 days since %s; the last: %s", ep.FailingSince.Format(time.RFC3339), d.Error)
		}
		if reason != "" {
			if len(reason) > 500 {
				reason = reason[:497] + "..."
			}
			ep.Status, ep.DisabledReason, ep.UpdatedAt = StatusDisabled, reason, done
			cols = append(cols, "status", "disabled_reason", "updated_at")
			res.EndpointDisabled, res.DisabledReason = true, reason
			res.Endpoint = ep.endpoint()
			if s.jobs != nil {
				if err := s.jobs.EndpointDisabled(ctx, tx, d.TenantID, ep.endpoint(), reason); err != nil {
					return err
				}
			}
		}
	}
	_, err := tx.NewUpdate().Model(&ep).Column(cols...).WherePK().Exec(ctx)
	return err
}

// nextAttempt is when attempt n+1 is due after the nth failed at done: the backoff step with
// ±10 % jitter, so endpoints that failed together do not retry together. Past the window it
// is clamped to the window's end once, so the last try happens at the 3-day mark; after that
// there is none.
func (s *Service) nextAttempt(n int, first, done time.Time) (time.Time, bool) {
	step := backoff(n)
	jittered := time.Duration(float64(step) * (0.9 + 0.2*s.jitter()))
	next := done.Add(jittered)
	deadline := first.Add(RetryWindow)
	if next.After(deadline) {
		if deadline.Sub(done) < time.Minute {
			return time.Time{}, false
		}
		next = deadline
	}
	return next, true
}

// backoff is the wait after the nth failed attempt.
func backoff(n int) time.Duration {
	switch n {
	case 1:
		return time.Minute
	case 2:
		return 5 * time.Minute
	case 3:
		return 30 * time.Minute
	case 4:
		return 2 * time.Hour
	case 5:
		return 5 * time.Hour
	}
	return 10 * time.Hour
}

func randomFraction() float64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

// describe turns an attempt's error into one line for the delivery log, without the
// "Post <url>:" prefix the owner already knows.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			err = errors.New("no answer within the timeout (10 s)")
		} else {
			err = ue.Err
		}
	}
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:997] + "..."
	}
	return msg
}

// Replay queues a new delivery of the same event to the same endpoint: the same body and
// event id (receivers deduplicate by it), a new delivery id, attempts from zero. Errors:
// ErrDeliveryNotFound, ErrStillPending, ErrEndpointDisabled.
func (s *Service) Replay(ctx context.Context, tenantID, deliveryID uuid.UUID) (Delivery, error) {
	var out deliveryRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var orig deliveryRow
		err := tx.NewSelect().Model(&orig).Where("tenant_id = ? AND id = ?", tenantID, deliveryID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrDeliveryNotFound
		}
		if err != nil {
			return err
		}
		if orig.Status == DeliveryPending {
			return ErrStillPending
		}
		var ep endpointRow
		if err := s.lockEndpoint(ctx, tx, tenantID, orig.EndpointID, &ep); err != nil {
			return err
		}
		if ep.Status != StatusActive {
			return ErrEndpointDisabled
		}
		now := s.now().UTC()
		out = deliveryRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), EndpointID: orig.EndpointID, MerchantID: orig.MerchantID,
			EventID: orig.EventID, EventType: orig.EventType, Payload: orig.Payload, Status: DeliveryPending,
			NextAttemptAt: &now, ReplayOf: &orig.ID, CreatedAt: now}
		if _, err := tx.NewInsert().Model(&out).Exec(ctx); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, tx, "webhook_delivery.replay", "webhook_delivery", out.ID.String(),
			nil, map[string]any{"replay_of": orig.ID, "event_id": orig.EventID, "endpoint_id": orig.EndpointID}); err != nil {
			return err
		}
		return s.schedule(ctx, tx, tenantID, out.ID, now)
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("replay webhook delivery: %w", err)
	}
	return out.delivery(), nil
}

// Delivery returns one delivery of the log. Errors: ErrDeliveryNotFound.
func (s *Service) Delivery(ctx context.Context, tenantID, deliveryID uuid.UUID) (Delivery, error) {
	var row deliveryRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewSelect().Model(&row).Where("tenant_id = ? AND id = ?", tenantID, deliveryID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, ErrDeliveryNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("get webhook delivery: %w", err)
	}
	return row.delivery(), nil
}

// Deliveries pages through an endpoint's delivery log, newest first. Errors:
// ErrEndpointNotFound.
func (s *Service) Deliveries(ctx context.Context, tenantID, endpointID uuid.UUID, p httpx.PageParams) (httpx.Page[Delivery], error) {
	var after uuid.UUID
	if _, err := httpx.DecodeCursor(p.Cursor, &after); err != nil {
		return httpx.Page[Delivery]{}, err
	}
	var rows []deliveryRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		exists, err := tx.NewSelect().Model((*endpointRow)(nil)).Where("tenant_id = ? AND id = ?", tenantID, endpointID).Exists(ctx)
		if err != nil {
			return err
		}
		if !exists {
			return ErrEndpointNotFound
		}
		q := tx.NewSelect().Model(&rows).Where("tenant_id = ? AND endpoint_id = ?", tenantID, endpointID).
			OrderExpr("id DESC").Limit(int64(p.Size() + 1))
		if after != uuid.Nil {
			q = q.Where("id < ?", after)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return httpx.Page[Delivery]{}, fmt.Errorf("list webhook deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return httpx.PageOf(out, p, func(d Delivery) any { return d.ID }), nil
}

func isForeignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23503"
}
