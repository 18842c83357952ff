package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/scope"
)

// PollStats is what one Poll did.
type PollStats struct {
	Shipments int // asked the carrier about
	Events    int // new events stored
	Failed    int // the carrier did not answer for these; they are asked again next time
}

// activeTarget is a parcel the poll asks about.
type activeTarget struct {
	TenantID       uuid.UUID `bun:"tenant_id"`
	ID             uuid.UUID `bun:"id"`
	Carrier        string    `bun:"carrier"`
	TrackingNumber string    `bun:"tracking_number"`
}

// claimBatch marks up to limit parcels still on their way, not asked since every, as asked
// now, across tenants, and returns them. SKIP LOCKED lets several workers poll at once without
// asking twice about one parcel.
const claimBatch = `
UPDATE shipments s SET polled_at = ?0
FROM (SELECT tenant_id, id FROM shipments
      WHERE status NOT IN ('delivered', 'returned') AND carrier <> 'manual' AND (polled_at IS NULL OR polled_at <= ?1)
      ORDER BY polled_at NULLS FIRST LIMIT ?2 FOR UPDATE SKIP LOCKED) due
WHERE s.tenant_id = due.tenant_id AND s.id = due.id
RETURNING s.tenant_id, s.id, s.carrier, s.tracking_number`

// Poll asks the carriers about every parcel still on its way that was not asked within every,
// in batches of limit across tenants (each claim one audited platform transaction,
// "logistics.poll"), and applies what they report, each parcel in its tenant's own
// transaction. A carrier that fails for one parcel does not stop the others.
func (s *Service) Poll(ctx context.Context, every time.Duration, limit int, log *slog.Logger) (PollStats, error) {
	if limit <= 0 {
		limit = 200
	}
	if every <= 0 {
		every = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st PollStats
	// One "now" for the whole run: a parcel claimed in this run is marked with it, so it is not
	// due again until the run is over, whatever every is. Microseconds, as PostgreSQL keeps
	// them: a stored mark a fraction earlier than now would make the parcel due again at once.
	now := s.now().UTC().Truncate(time.Microsecond)
	for {
		var batch []activeTarget
		err := s.platform.Do(ctx, "logistics.poll", func(tx bun.IDB) error {
			return tx.NewRaw(claimBatch, now, now.Add(-every), limit).Scan(ctx, &batch)
		})
		if err != nil {
			return st, fmt.Errorf("poll shipments: %w", err)
		}
		for _, t := range batch {
			c, ok := s.carriers[t.Carrier]
			if !ok {
				continue // a carrier no longer configured: nothing to ask
			}
			st.Shipments++
			events, err := c.Track(ctx, t.TrackingNumber)
			if errors.Is(err, ErrParcelUnknown) || errors.Is(err, ErrUnsupported) {
				continue // not scanned yet: ask again next round
			}
			if err != nil {
				st.Failed++
				log.WarnContext(ctx, "carrier poll failed", "carrier", t.Carrier, "shipment", t.ID.String(), "error", err.Error())
				continue
			}
			var res applied
			err = s.db.WithTenant(ctx, t.TenantID, func(tx bun.IDB) error {
				res, err = s.apply(ctx, tx, t.TenantID, t.ID, events, "poll")
				return err
			})
			if err != nil {
				return st, fmt.Errorf("apply polled events: %w", err)
			}
			st.Events += res.New
		}
		if len(batch) < limit {
			return st, nil
		}
	}
}

// WebhookResult is what an inbound carrier webhook did.
type WebhookResult struct {
	Shipments int // shipments the tracking number belongs to (0: unknown, ignored)
	Events    int // new events stored
}

// HandleWebhook verifies and applies an inbound carrier webhook at once. The parcel is found
// by carrier and tracking number across tenants (one audited platform read,
// "logistics.webhook"); an unknown number is ignored, because carriers report parcels booked
// before their shipment is saved and must not retry them forever.
// Errors: ErrCarrierNotFound, ErrBadWebhook (nothing is stored).
func (s *Service) HandleWebhook(ctx context.Context, carrier string, header http.Header, body []byte) (WebhookResult, error) {
	c, ok := s.carriers[carrier]
	if !ok {
		return WebhookResult{}, ErrCarrierNotFound
	}
	number, events, err := c.ParseWebhook(header, body)
	if errors.Is(err, ErrUnsupported) {
		return WebhookResult{}, ErrCarrierNotFound
	}
	if err != nil || !trackingNumberRE.MatchString(number) {
		return WebhookResult{}, ErrBadWebhook
	}
	ctx = scope.WithActor(ctx, scope.Actor("carrier:"+carrier))
	var targets []activeTarget
	err = s.platform.Do(ctx, "logistics.webhook", func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT tenant_id, id, carrier, tracking_number FROM shipments WHERE carrier = ? AND tracking_number = ?`,
			carrier, number).Scan(ctx, &targets)
	})
	if err != nil {
		return WebhookResult{}, fmt.Errorf("find shipment of webhook: %w", err)
	}
	res := WebhookResult{Shipments: len(targets)}
	for _, t := range targets {
		var a applied
		err := s.db.WithTenant(ctx, t.TenantID, func(tx bun.IDB) error {
			var err error
			a, err = s.apply(ctx, tx, t.TenantID, t.ID, events, "webhook")
			return err
		})
		if err != nil {
			return res, fmt.Errorf("apply webhook events: %w", err)
		}
		res.Events += a.New
	}
	return res, nil
}
