// Package fulfillment owns logistics: the carriers parcels travel with (adapters behind one
// interface), the shipments merchants send for their merchant orders with the lines each
// holds, and the tracking events that carriers report by poll or webhook, up to delivery,
// which completes the merchant order.
package fulfillment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/orders"
)

// Errors returned by Service.
var (
	ErrNotFound            = fault.New(fault.NotFound, "shipment_not_found", "shipment not found")
	ErrMerchantOrder       = fault.New(fault.NotFound, "merchant_order_not_found", "merchant order not found")
	ErrMerchantOnly        = fault.New(fault.Forbidden, "merchant_staff_only", "only the merchant's staff ship its orders")
	ErrTrackingNumberTaken = fault.New(fault.Conflict, "tracking_number_taken", "a shipment with this carrier and tracking number exists")
	ErrNotShippable        = fault.New(fault.Conflict, "not_shippable", "only a paid merchant order with lines left to ship can be fulfilled")
	ErrNotManual           = fault.New(fault.Conflict, "carrier_not_manual", "this shipment's carrier reports its own events")
	ErrCarrierUnavailable  = fault.New(fault.Unavailable, "carrier_unavailable", "the carrier did not answer; try again")
	ErrCarrierNotFound     = fault.New(fault.NotFound, "carrier_not_found", "no such carrier")
	ErrBadWebhook          = fault.New(fault.Invalid, "bad_webhook", "the webhook's signature is missing, invalid or too old, or its body is unreadable")
)

// trackingNumberRE is what the migration's CHECK allows.
var trackingNumberRE = regexp.MustCompile(`^[A-Za-z0-9-]{4,64}$`)

// MaxLineQty bounds one line of a shipment.
const MaxLineQty = 100_000

// Shipment is one parcel of a merchant order.
type Shipment struct {
	ID              uuid.UUID       `json:"id"`
	OrderID         uuid.UUID       `json:"order_id"`
	MerchantOrderID uuid.UUID       `json:"merchant_order_id"`
	MerchantID      uuid.UUID       `json:"merchant_id"`
	Carrier         string          `json:"carrier"`
	TrackingNumber  string          `json:"tracking_number"`
	LabelURL        string          `json:"label_url,omitempty"`
	Status          string          `json:"status" enum:"label_created,in_transit,out_for_delivery,delivered,failed_delivery,returned" doc:"the latest tracking event's status"`
	CreatedBy       string          `json:"created_by"`
	DeliveredAt     *time.Time      `json:"delivered_at,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	Lines           []ShipmentLine  `json:"lines"`
	Events          []TrackingEvent `json:"events" doc:"oldest first"`
}

// ShipmentLine is how many of one order line travel in the parcel.
type ShipmentLine struct {
	OrderLineID uuid.UUID `json:"order_line_id"`
	Quantity    int       `json:"quantity" minimum:"1" maximum:"100000"`
}

// NewShipment is what Create takes.
type NewShipment struct {
	MerchantOrderID uuid.UUID      `json:"merchant_order_id"`
	Carrier         string         `json:"carrier" doc:"manual, or a configured carrier such as generic_http"`
	TrackingNumber  string         `json:"tracking_number,omitempty" doc:"4–64 letters, digits or dashes; leave empty with create_label"`
	CreateLabel     bool           `json:"create_label,omitempty" doc:"book the parcel with the carrier, which assigns the tracking number"`
	Lines           []ShipmentLine `json:"lines" doc:"the order lines and quantities in this parcel (partial fulfilment by line)"`
}

// NewEvent is a status the merchant enters for a manual shipment.
type NewEvent struct {
	Status      string     `json:"status" enum:"label_created,in_transit,out_for_delivery,delivered,failed_delivery,returned"`
	Description string     `json:"description,omitempty" maxLength:"500"`
	Location    string     `json:"location,omitempty" maxLength:"200"`
	OccurredAt  *time.Time `json:"occurred_at,omitempty" doc:"default now"`
}

// ListFilter narrows List; zero fields match everything.
type ListFilter struct {
	OrderID         uuid.UUID `query:"order_id"`
	MerchantOrderID uuid.UUID `query:"merchant_order_id"`
	Status          string    `query:"status" enum:"label_created,in_transit,out_for_delivery,delivered,failed_delivery,returned,"`
	httpx.PageParams
}

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// OrderBook is what fulfilment needs of orders: the order for notices, and the two state
// changes it makes inside its own transactions.
type OrderBook interface {
	Get(ctx context.Context, tenantID, id uuid.UUID) (orders.Order, error)
	RecordFulfilment(ctx context.Context, tx bun.IDB, tenantID, merchantOrderID uuid.UUID, lineQty map[uuid.UUID]int) (orders.MerchantOrder, error)
	RecordDelivered(ctx context.Context, tx bun.IDB, tenantID, merchantOrderID uuid.UUID) error
}

var _ OrderBook = (*orders.Service)(nil)

// Config is what NewService needs besides the database.
type Config struct {
	Audit  Recorder
	Orders OrderBook
	// Carriers are the configured carriers besides Manual, which is always there.
	Carriers []Carrier
	// Platform is the audited cross-tenant entry point the poll and inbound webhooks use to
	// find parcels before they know the tenant.
	Platform *db.Platform
}

// Service ships merchant orders and keeps their tracking. Reads run in the tenant's RLS scope,
// narrowed to the merchant for merchant staff; writes run in the tenant scope (orders rolls
// the order up across merchants in the same transaction) and check the merchant themselves.
type Service struct {
	db       *db.DB
	audit    Recorder
	orders   OrderBook
	platform *db.Platform
	carriers map[string]Carrier
	codes    []string
	now      func() time.Time
}

// NewService builds the service.
func NewService(d *db.DB, c Config) *Service {
	s := &Service{db: d, audit: c.Audit, orders: c.Orders, platform: c.Platform, carriers: map[string]Carrier{}, now: time.Now}
	for _, cr := range append([]Carrier{Manual{}}, c.Carriers...) {
		if _, dup := s.carriers[cr.Code()]; !dup {
			s.codes = append(s.codes, cr.Code())
		}
		s.carriers[cr.Code()] = cr
	}
	return s
}

// Carriers lists the codes of the carriers merchants may choose, manual first.
func (s *Service) Carriers() []string { return slices.Clone(s.codes) }

func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

func validateNew(in *NewShipment, carriers map[string]Carrier) (map[uuid.UUID]int, error) {
	bad := map[string]string{}
	if in.MerchantOrderID == uuid.Nil {
		bad["body.merchant_order_id"] = "required"
	}
	in.Carrier = strings.TrimSpace(in.Carrier)
	if _, ok := carriers[in.Carrier]; !ok {
		bad["body.carrier"] = "one of the configured carriers"
	}
	in.TrackingNumber = strings.TrimSpace(in.TrackingNumber)
	switch {
	case in.CreateLabel && in.TrackingNumber != "":
		bad["body.tracking_number"] = "leave empty: the carrier assigns it with the label"
	case !in.CreateLabel && !trackingNumberRE.MatchString(in.TrackingNumber):
		bad["body.tracking_number"] = "4–64 letters, digits or dashes"
	}
	qty := map[uuid.UUID]int{}
	if len(in.Lines) == 0 {
		bad["body.lines"] = "at least one line"
	}
	for i, l := range in.Lines {
		if l.OrderLineID == uuid.Nil {
			bad[fmt.Sprintf("body.lines[%d].order_line_id", i)] = "required"
		} else if _, dup := qty[l.OrderLineID]; dup {
			bad[fmt.Sprintf("body.lines[%d].order_line_id", i)] = "each line once"
		}
		if l.Quantity <= 0 || l.Quantity > MaxLineQty {
			bad[fmt.Sprintf("body.lines[%d].quantity", i)] = fmt.Sprintf("a whole number from 1 to %d", MaxLineQty)
		}
		qty[l.OrderLineID] = l.Quantity
	}
	if len(bad) > 0 {
		return nil, fault.Fields(bad)
	}
	return qty, nil
}

// Create ships lines of one of the caller's merchant orders: it books a label with the
// carrier when asked, then, in one transaction, records the fulfilment on the order (which
// moves to partially_fulfilled or fulfilled), writes the shipment, its lines and any events
// the label came with, the audit entry, and the outbox job that mails the shopper.
// Errors: invalid fields, ErrMerchantOnly, ErrMerchantOrder (also another merchant's or
// tenant's), ErrNotShippable, orders.ErrLineNotFound, orders.ErrOverFulfil,
// ErrTrackingNumberTaken, ErrCarrierUnavailable.
func (s *Service) Create(ctx context.Context, tenantID uuid.UUID, in NewShipment) (Shipment, error) {
	merchantID, ok := scope.MerchantFrom(ctx)
	if !ok {
		return Shipment{}, ErrMerchantOnly
	}
	qty, err := validateNew(&in, s.carriers)
	if err != nil {
		return Shipment{}, err
	}
	// Ask before booking a label: a label for an order that cannot ship would be wasted.
	var status string
	err = s.db.WithMerchant(ctx, tenantID, merchantID, func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT status FROM merchant_orders WHERE tenant_id = ? AND id = ?`, tenantID, in.MerchantOrderID).
			Scan(ctx, &status)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Shipment{}, ErrMerchantOrder
	}
	if err != nil {
		return Shipment{}, fmt.Errorf("create shipment: %w", err)
	}
	if status != orders.StatusPaid && status != orders.StatusPartiallyFulfilled {
		return Shipment{}, ErrNotShippable
	}
	id := uuid.Must(uuid.NewV7())
	var label Label
	if in.CreateLabel {
		label, err = s.carriers[in.Carrier].CreateLabel(ctx, LabelRequest{Reference: id.String()})
		if errors.Is(err, ErrUnsupported) {
			return Shipment{}, fault.Fields(map[string]string{"body.create_label": "this carrier prints no labels; enter the tracking number"})
		}
		if err != nil {
			return Shipment{}, fmt.Errorf("create label: %v: %w", err, ErrCarrierUnavailable)
		}
		in.TrackingNumber = label.TrackingNumber
	}
	actor := string(scope.ActorFrom(ctx))
	var out Shipment
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var orderID uuid.UUID
		err := tx.NewRaw(`SELECT order_id FROM merchant_orders WHERE tenant_id = ? AND id = ? AND merchant_id = ?`,
			tenantID, in.MerchantOrderID, merchantID).Scan(ctx, &orderID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrMerchantOrder
		}
		if err != nil {
			return fmt.Errorf("find merchant order: %w", err)
		}
		if _, err := s.orders.RecordFulfilment(ctx, tx, tenantID, in.MerchantOrderID, qty); err != nil {
			if errors.Is(err, orders.ErrTransition) {
				return ErrNotShippable
			}
			return err
		}
		_, err = tx.NewRaw(`INSERT INTO shipments (tenant_id, id, order_id, merchant_order_id, merchant_id, carrier, tracking_number, label_url, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenantID, id, orderID, in.MerchantOrderID, merchantID, in.Carrier,
			in.TrackingNumber, label.LabelURL, actor).Exec(ctx)
		if c, ok := db.UniqueViolation(err); ok && c == "shipments_tenant_id_carrier_tracking_number_key" {
			return ErrTrackingNumberTaken
		}
		if err != nil {
			return fmt.Errorf("insert shipment: %w", err)
		}
		for _, l := range in.Lines {
			if _, err := tx.NewRaw(`INSERT INTO shipment_lines (tenant_id, shipment_id, order_line_id, merchant_id, quantity) VALUES (?, ?, ?, ?, ?)`,
				tenantID, id, l.OrderLineID, merchantID, l.Quantity).Exec(ctx); err != nil {
				return fmt.Errorf("insert shipment line: %w", err)
			}
		}
		events, source := label.Events, "label"
		if in.Carrier == CarrierManual {
			// The merchant says the parcel is ready: that is the first event of its timeline.
			events, source = []TrackingEvent{{Status: StatusLabelCreated, Description: "Parcel prepared by the seller", OccurredAt: s.now()}}, "manual"
		}
		if _, err := s.apply(ctx, tx, tenantID, id, events, source); err != nil {
			return err
		}
		if out, err = readShipment(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, tx, "shipment.create", "shipment", id.String(), nil, out); err != nil {
			return err
		}
		return enqueueNotice(ctx, tx, KindShipped, id)
	})
	if err != nil {
		return Shipment{}, fmt.Errorf("create shipment: %w", err)
	}
	if in.Carrier != CarrierManual {
		out = s.catchUp(ctx, tenantID, out)
	}
	return out, nil
}

// catchUp asks the carrier about a parcel right after its shipment is saved: a webhook sent
// while the transaction was open found no shipment and was dropped, and a parcel that is
// delivered before the next poll would otherwise keep that gap for good. A carrier that does
// not answer now is asked again by the poll.
func (s *Service) catchUp(ctx context.Context, tenantID uuid.UUID, sh Shipment) Shipment {
	events, err := s.carriers[sh.Carrier].Track(ctx, sh.TrackingNumber)
	if err != nil || len(events) == 0 {
		return sh
	}
	var out Shipment
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if _, err := s.apply(ctx, tx, tenantID, sh.ID, events, "poll"); err != nil {
			return err
		}
		var err error
		out, err = readShipment(ctx, tx, tenantID, sh.ID)
		return err
	})
	if err != nil {
		return sh
	}
	return out
}

// AddEvent records a status the merchant enters for a shipment with the manual carrier, and
// applies it as a carrier's event would be (delivered completes the merchant order).
// Errors: invalid fields, ErrMerchantOnly, ErrNotFound, ErrNotManual.
func (s *Service) AddEvent(ctx context.Context, tenantID, shipmentID uuid.UUID, in NewEvent) (Shipment, error) {
	merchantID, ok := scope.MerchantFrom(ctx)
	if !ok {
		return Shipment{}, ErrMerchantOnly
	}
	bad := map[string]string{}
	if !validStatus(in.Status) {
		bad["body.status"] = "one of " + strings.Join(Statuses(), ", ")
	}
	in.Description, in.Location = strings.TrimSpace(in.Description), strings.TrimSpace(in.Location)
	if len(in.Description) > 500 {
		bad["body.description"] = "at most 500 characters"
	}
	if len(in.Location) > 200 {
		bad["body.location"] = "at most 200 characters"
	}
	at := s.now()
	if in.OccurredAt != nil {
		if in.OccurredAt.After(at.Add(time.Minute)) {
			bad["body.occurred_at"] = "not in the future"
		}
		at = *in.OccurredAt
	}
	if len(bad) > 0 {
		return Shipment{}, fault.Fields(bad)
	}
	var out Shipment
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var carrier string
		err := tx.NewRaw(`SELECT carrier FROM shipments WHERE tenant_id = ? AND id = ? AND merchant_id = ?`, tenantID, shipmentID, merchantID).
			Scan(ctx, &carrier)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("find shipment: %w", err)
		}
		if carrier != CarrierManual {
			return ErrNotManual
		}
		if _, err := s.apply(ctx, tx, tenantID, shipmentID, []TrackingEvent{{Status: in.Status, Description: in.Description,
			Location: in.Location, OccurredAt: at}}, "manual"); err != nil {
			return err
		}
		out, err = readShipment(ctx, tx, tenantID, shipmentID)
		return err
	})
	if err != nil {
		return Shipment{}, fmt.Errorf("add tracking event: %w", err)
	}
	return out, nil
}

// Get returns one shipment with its lines and events as the caller's scope shows it.
// Errors: ErrNotFound (also another merchant's or tenant's).
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Shipment, error) {
	var out Shipment
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		out, err = readShipment(ctx, tx, tenantID, id)
		return err
	})
	if err != nil {
		return Shipment{}, fmt.Errorf("get shipment: %w", err)
	}
	return out, nil
}

// List pages through the shipments the caller's scope shows, newest first, each with its
// lines and events. Errors: httpx.ErrBadCursor.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter) (httpx.Page[Shipment], error) {
	var after uuid.UUID
	first, err := httpx.DecodeCursor(f.Cursor, &after)
	if err != nil {
		return httpx.Page[Shipment]{}, err
	}
	if f.Status != "" && !validStatus(f.Status) {
		return httpx.Page[Shipment]{}, fault.Fields(map[string]string{"query.status": "one of " + strings.Join(Statuses(), ", ")})
	}
	var items []Shipment
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Table("shipments").Column("id").Where("tenant_id = ?", tenantID).
			OrderExpr("id DESC").Limit(int64(f.Size() + 1))
		if f.OrderID != uuid.Nil {
			q = q.Where("order_id = ?", f.OrderID)
		}
		if f.MerchantOrderID != uuid.Nil {
			q = q.Where("merchant_order_id = ?", f.MerchantOrderID)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if !first {
			q = q.Where("id < ?", after)
		}
		var ids []uuid.UUID
		if err := q.Scan(ctx, &ids); err != nil {
			return err
		}
		items, err = readShipments(ctx, tx, tenantID, ids)
		return err
	})
	if err != nil {
		return httpx.Page[Shipment]{}, fmt.Errorf("list shipments: %w", err)
	}
	return httpx.PageOf(items, f.PageParams, func(s Shipment) any { return s.ID }), nil
}

// ForOrder returns every shipment of an order, oldest first, with its events: what the
// shopper's order page shows. The caller has already established that the order is the
// shopper's (orders.ShopperOrder); this reads in the tenant's scope.
func (s *Service) ForOrder(ctx context.Context, tenantID, orderID uuid.UUID) ([]Shipment, error) {
	var out []Shipment
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var ids []uuid.UUID
		if err := tx.NewRaw(`SELECT id FROM shipments WHERE tenant_id = ? AND order_id = ? ORDER BY id`, tenantID, orderID).
			Scan(ctx, &ids); err != nil {
			return err
		}
		var err error
		out, err = readShipments(ctx, tx, tenantID, ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("shipments of order: %w", err)
	}
	return out, nil
}

// OrderView is an order with its shipments, as the caller may see them: the merchant's own
// part for merchant staff, the shopper's own order for a shopper (orders.Get decides by the
// context), everything for tenant staff.
type OrderView struct {
	Order     orders.Order
	Shipments []Shipment
}

// OrderView reads what the fulfil page and the shopper's tracking page show.
// Errors: orders.ErrNotFound (also another shopper's, merchant's or tenant's order).
func (s *Service) OrderView(ctx context.Context, tenantID, orderID uuid.UUID) (OrderView, error) {
	o, err := s.orders.Get(ctx, tenantID, orderID)
	if err != nil {
		return OrderView{}, err
	}
	sh, err := s.ForOrder(ctx, tenantID, o.ID)
	if err != nil {
		return OrderView{}, err
	}
	return OrderView{Order: o, Shipments: sh}, nil
}
