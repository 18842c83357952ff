package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/jobs"
	"mercato/platform/scope"
)

// Task kinds. The notices are enqueued in the transaction that ships or delivers, so the mail
// goes out exactly when that commits; the poll is a scheduler entry.
const (
	KindShipped   = "fulfillment.shipped"   // mail the shopper that a parcel left
	KindDelivered = "fulfillment.delivered" // mail the shopper that a parcel arrived
	KindPoll      = "logistics:poll"        // ask carriers about parcels still on their way
)

// PollEvery is how often a parcel on its way is asked about; the scheduler runs the poll this
// often, and webhooks bring news in between.
const PollEvery = 5 * time.Minute

type noticePayload struct {
	ShipmentID uuid.UUID `json:"shipment_id"`
}

func enqueueNotice(ctx context.Context, tx bun.IDB, kind string, shipmentID uuid.UUID) error {
	_, err := jobs.Enqueue(ctx, tx, jobs.Task{Kind: kind, Payload: noticePayload{ShipmentID: shipmentID}, Queue: jobs.QueueDefault})
	return err
}

// Notice is what the shopper is told about a parcel: Kind is KindShipped or KindDelivered.
type Notice struct {
	Kind           string
	OrderID        uuid.UUID
	OrderNumber    string
	Email          string
	Locale         string
	ShopperName    string
	MerchantName   string
	Carrier        string
	TrackingNumber string
}

// notice gathers what the mail about a shipment says.
func (s *Service) notice(ctx context.Context, tenantID, shipmentID uuid.UUID, kind string) (Notice, error) {
	sh, err := s.Get(ctx, tenantID, shipmentID)
	if err != nil {
		return Notice{}, err
	}
	o, err := s.orders.Get(ctx, tenantID, sh.OrderID)
	if err != nil {
		return Notice{}, err
	}
	n := Notice{Kind: kind, OrderID: o.ID, OrderNumber: o.Number, Email: o.Email, Locale: o.Locale, ShopperName: o.Address.Name,
		Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber}
	for _, mo := range o.Merchants {
		if mo.ID == sh.MerchantOrderID {
			n.MerchantName = mo.MerchantName
		}
	}
	return n, nil
}

// Kinds are the slice's task kinds: the two shopper notices, which tell sends (the
// notifications wiring renders and mails them), and the poll across tenants.
func (s *Service) Kinds(tell func(ctx context.Context, tenantID uuid.UUID, n Notice) error, log *slog.Logger) []jobs.Kind {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	handle := func(kind string) func(ctx context.Context, p jobs.Payload) error {
		return func(ctx context.Context, p jobs.Payload) error {
			var in noticePayload
			if err := p.Decode(&in); err != nil {
				return err
			}
			// Read as the system: the actor who shipped may be gone, and orders would read a
			// shopper's actor as the shopper.
			ctx = scope.WithActor(ctx, scope.Actor("system:"+kind))
			n, err := s.notice(ctx, p.TenantID, in.ShipmentID, kind)
			if errors.Is(err, ErrNotFound) {
				return jobs.SkipRetry(fmt.Errorf("%s %s: %w", kind, in.ShipmentID, err)) // gone: nothing to tell
			}
			if err != nil {
				return err
			}
			if n.Email == "" {
				return nil
			}
			return tell(ctx, p.TenantID, n)
		}
	}
	return []jobs.Kind{
		{Name: KindShipped, Queue: jobs.QueueDefault, Timeout: time.Minute, MaxRetry: 10, Handler: handle(KindShipped)},
		{Name: KindDelivered, Queue: jobs.QueueDefault, Timeout: time.Minute, MaxRetry: 10, Handler: handle(KindDelivered)},
		{Name: KindPoll, Queue: jobs.QueueLow, Timeout: PollEvery, MaxRetry: jobs.NoRetry, Handler: func(ctx context.Context, _ jobs.Payload) error {
			st, err := s.Poll(ctx, PollEvery, 200, log)
			if err != nil {
				return err
			}
			if st.Shipments > 0 {
				log.InfoContext(ctx, "polled carriers", "shipments", st.Shipments, "new_events", st.Events, "failed", st.Failed)
			}
			return nil
		}},
	}
}
