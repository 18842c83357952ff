package fulfillment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/tenants/orders"
)

type shipmentRow struct {
	ID              uuid.UUID  `bun:"id"`
	OrderID         uuid.UUID  `bun:"order_id"`
	MerchantOrderID uuid.UUID  `bun:"merchant_order_id"`
	MerchantID      uuid.UUID  `bun:"merchant_id"`
	Carrier         string     `bun:"carrier"`
	TrackingNumber  string     `bun:"tracking_number"`
	LabelURL        string     `bun:"label_url"`
	Status          string     `bun:"status"`
	CreatedBy       string     `bun:"created_by"`
	DeliveredAt     *time.Time `bun:"delivered_at"`
	CreatedAt       time.Time  `bun:"created_at"`
	UpdatedAt       time.Time  `bun:"updated_at"`
}

const shipmentColumns = `id, order_id, merchant_order_id, merchant_id, carrier, tracking_number, label_url, status, created_by,
	delivered_at, created_at, updated_at`

func (r shipmentRow) shipment() Shipment {
	return Shipment{ID: r.ID, OrderID: r.OrderID, MerchantOrderID: r.MerchantOrderID, MerchantID: r.MerchantID, Carrier: r.Carrier,
		TrackingNumber: r.TrackingNumber, LabelURL: r.LabelURL, Status: r.Status, CreatedBy: r.CreatedBy, DeliveredAt: r.DeliveredAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Lines: []ShipmentLine{}, Events: []TrackingEvent{}}
}

// readShipment reads one shipment with its lines and events, as tx's scope shows it.
func readShipment(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (Shipment, error) {
	out, err := readShipments(ctx, tx, tenantID, []uuid.UUID{id})
	if err != nil {
		return Shipment{}, err
	}
	if len(out) == 0 {
		return Shipment{}, ErrNotFound
	}
	return out[0], nil
}

// readShipments reads shipments in the order of ids, with their lines and events, in three
// queries whatever their number.
func readShipments(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) ([]Shipment, error) {
	out := []Shipment{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []shipmentRow
	if err := tx.NewRaw(`SELECT `+shipmentColumns+` FROM shipments WHERE tenant_id = ? AND id IN (?)`, tenantID, bun.In(ids)).
		Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read shipments: %w", err)
	}
	byID := map[uuid.UUID]*Shipment{}
	found := make([]Shipment, len(rows))
	for i, r := range rows {
		found[i] = r.shipment()
		byID[r.ID] = &found[i]
	}
	var lines []struct {
		ShipmentID  uuid.UUID `bun:"shipment_id"`
		OrderLineID uuid.UUID `bun:"order_line_id"`
		Quantity    int       `bun:"quantity"`
	}
	if err := tx.NewRaw(`SELECT shipment_id, order_line_id, quantity FROM shipment_lines WHERE tenant_id = ? AND shipment_id IN (?)
		ORDER BY shipment_id, order_line_id`, tenantID, bun.In(ids)).Scan(ctx, &lines); err != nil {
		return nil, fmt.Errorf("read shipment lines: %w", err)
	}
	for _, l := range lines {
		if s := byID[l.ShipmentID]; s != nil {
			s.Lines = append(s.Lines, ShipmentLine{OrderLineID: l.OrderLineID, Quantity: l.Quantity})
		}
	}
	var events []struct {
		ShipmentID uuid.UUID `bun:"shipment_id"`
		TrackingEvent
	}
	if err := tx.NewRaw(`SELECT shipment_id, status, description, location, occurred_at FROM tracking_events
		WHERE tenant_id = ? AND shipment_id IN (?) ORDER BY occurred_at, id`, tenantID, bun.In(ids)).Scan(ctx, &events); err != nil {
		return nil, fmt.Errorf("read tracking events: %w", err)
	}
	for _, e := range events {
		if s := byID[e.ShipmentID]; s != nil {
			e.OccurredAt = e.OccurredAt.UTC()
			s.Events = append(s.Events, e.TrackingEvent)
		}
	}
	for _, id := range ids {
		if s := byID[id]; s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// applied is what apply changed.
type applied struct {
	New       int    // events stored that were not there yet
	From, To  string // the shipment's status before and after
	Delivered bool   // the shipment became delivered now
	Completed bool   // and with it the merchant order
}

// apply stores a shipment's tracking events inside tx (tenant scope) and moves the shipment to
// the status of its latest event. Events already stored (same status and time) are skipped, so
// a poll and a webhook reporting the same scan, or one webhook delivered twice, change nothing
// the second time. A delivered or returned shipment keeps that status whatever arrives later.
// When the shipment becomes delivered, the shopper is mailed and, once every shipment of the
// merchant order is delivered and every line shipped, orders completes the merchant order.
func (s *Service) apply(ctx context.Context, tx bun.IDB, tenantID, shipmentID uuid.UUID, events []TrackingEvent, source string) (applied, error) {
	var sh struct {
		MerchantOrderID uuid.UUID `bun:"merchant_order_id"`
		MerchantID      uuid.UUID `bun:"merchant_id"`
		Status          string    `bun:"status"`
	}
	err := tx.NewRaw(`SELECT merchant_order_id, merchant_id, status FROM shipments WHERE tenant_id = ? AND id = ? FOR UPDATE`,
		tenantID, shipmentID).Scan(ctx, &sh)
	if errors.Is(err, sql.ErrNoRows) {
		return applied{}, ErrNotFound
	}
	if err != nil {
		return applied{}, fmt.Errorf("lock shipment: %w", err)
	}
	res := applied{From: sh.Status, To: sh.Status}
	for _, e := range knownEvents(events) {
		// PostgreSQL keeps microseconds: the same instant must compare equal after a round trip.
		at := e.OccurredAt.UTC().Truncate(time.Microsecond)
		r, err := tx.NewRaw(`INSERT INTO tracking_events (tenant_id, shipment_id, merchant_id, status, description, location, occurred_at, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, shipment_id, status, occurred_at) DO NOTHING`,
			tenantID, shipmentID, sh.MerchantID, e.Status, clip(e.Description, 500), clip(e.Location, 200), at, source).Exec(ctx)
		if err != nil {
			return res, fmt.Errorf("store tracking event: %w", err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			res.New++
		}
	}
	if res.New == 0 {
		return res, nil
	}
	if !final(sh.Status) {
		if err := s.moveToLatest(ctx, tx, tenantID, shipmentID, &res); err != nil {
			return res, err
		}
	}
	if err := s.audit.Record(ctx, tx, "shipment.track", "shipment", shipmentID.String(),
		map[string]any{"status": res.From}, map[string]any{"status": res.To, "source": source, "new_events": res.New}); err != nil {
		return res, err
	}
	if !res.Delivered {
		return res, nil
	}
	if err := enqueueNotice(ctx, tx, KindDelivered, shipmentID); err != nil {
		return res, err
	}
	res.Completed, err = s.completeIfDelivered(ctx, tx, tenantID, sh.MerchantOrderID)
	return res, err
}

// moveToLatest sets the shipment's status to its latest event's (by occurred_at) and, for
// delivered, its delivered_at to that event's time.
func (s *Service) moveToLatest(ctx context.Context, tx bun.IDB, tenantID, shipmentID uuid.UUID, res *applied) error {
	var latest struct {
		Status     string    `bun:"status"`
		OccurredAt time.Time `bun:"occurred_at"`
	}
	if err := tx.NewRaw(`SELECT status, occurred_at FROM tracking_events WHERE tenant_id = ? AND shipment_id = ?
		ORDER BY occurred_at DESC, id DESC LIMIT 1`, tenantID, shipmentID).Scan(ctx, &latest); err != nil {
		return fmt.Errorf("latest tracking event: %w", err)
	}
	if latest.Status == res.From {
		return nil
	}
	res.To = latest.Status
	res.Delivered = latest.Status == StatusDelivered
	var deliveredAt *time.Time
	if res.Delivered {
		deliveredAt = &latest.OccurredAt
	}
	if _, err := tx.NewRaw(`UPDATE shipments SET status = ?, delivered_at = coalesce(delivered_at, ?), updated_at = now()
		WHERE tenant_id = ? AND id = ?`, res.To, deliveredAt, tenantID, shipmentID).Exec(ctx); err != nil {
		return fmt.Errorf("update shipment status: %w", err)
	}
	return nil
}

// completeIfDelivered completes the merchant order when all its lines are shipped (orders
// says fulfilled) and every shipment of it is delivered. The merchant order is locked first,
// so two parcels delivered at once cannot both see the other still on its way.
func (s *Service) completeIfDelivered(ctx context.Context, tx bun.IDB, tenantID, merchantOrderID uuid.UUID) (bool, error) {
	var status string
	if err := tx.NewRaw(`SELECT status FROM merchant_orders WHERE tenant_id = ? AND id = ? FOR UPDATE`, tenantID, merchantOrderID).
		Scan(ctx, &status); err != nil {
		return false, fmt.Errorf("lock merchant order: %w", err)
	}
	if status != orders.StatusFulfilled {
		return false, nil
	}
	var open int
	if err := tx.NewRaw(`SELECT count(*) FROM shipments WHERE tenant_id = ? AND merchant_order_id = ? AND status <> ?`,
		tenantID, merchantOrderID, StatusDelivered).Scan(ctx, &open); err != nil {
		return false, fmt.Errorf("count undelivered shipments: %w", err)
	}
	if open > 0 {
		return false, nil
	}
	if err := s.orders.RecordDelivered(ctx, tx, tenantID, merchantOrderID); err != nil {
		return false, fmt.Errorf("complete merchant order: %w", err)
	}
	return true, nil
}

// clip cuts s to at most n characters, on a rune boundary: a carrier's long text is not worth
// refusing the event for.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
