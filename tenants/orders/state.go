package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/scope"
)

// More errors of the state machine.
var (
	ErrLineNotFound = fault.New(fault.NotFound, "order_line_not_found", "the line is not part of this merchant order")
	ErrOverFulfil   = fault.New(fault.Conflict, "over_fulfilment", "more would be fulfilled than was ordered")
	ErrBadQuantity  = fault.New(fault.Invalid, "invalid_quantity", "quantities must be whole numbers above zero")
)

// Statuses lists every status, in the order an order moves through them.
func Statuses() []string {
	return []string{StatusPendingPayment, StatusPaid, StatusPartiallyFulfilled, StatusFulfilled, StatusCompleted,
		StatusCancelled, StatusRefunded}
}

// Transitions is the state machine of orders and merchant orders, the one table of what may
// follow what. Money taken is never "cancelled": once paid, the way out is a refund. Cancelled
// and refunded are final.
func Transitions(from string) []string {
	switch from {
	case StatusPendingPayment:
		return []string{StatusPaid, StatusCancelled}
	case StatusPaid:
		return []string{StatusPartiallyFulfilled, StatusFulfilled, StatusRefunded}
	case StatusPartiallyFulfilled:
		return []string{StatusFulfilled, StatusRefunded}
	case StatusFulfilled:
		return []string{StatusCompleted, StatusRefunded}
	case StatusCompleted:
		return []string{StatusRefunded}
	}
	return nil
}

// CanTransition reports whether an order or merchant order may go from one status to another.
func CanTransition(from, to string) bool { return slices.Contains(Transitions(from), to) }

// checkTransition is CanTransition as an error: ErrTransition naming both statuses.
func checkTransition(from, to string) error {
	if !CanTransition(from, to) {
		return fmt.Errorf("%s → %s: %w", from, to, ErrTransition)
	}
	return nil
}

// writeEvent appends one row to the order's timeline.
func writeEvent(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, mo *moRef, from, to, note string) error {
	var moID, mID any
	if mo != nil {
		moID, mID = mo.ID, mo.MerchantID
	}
	_, err := tx.NewRaw(`INSERT INTO order_events (tenant_id, order_id, merchant_order_id, merchant_id, actor, from_status, to_status, note)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenantID, orderID, moID, mID, string(scope.ActorFrom(ctx)), from, to, note).Exec(ctx)
	if err != nil {
		return fmt.Errorf("write order event: %w", err)
	}
	return nil
}

// moRef is the part of a merchant order the state machine needs.
type moRef struct {
	ID         uuid.UUID `bun:"id"`
	OrderID    uuid.UUID `bun:"order_id"`
	MerchantID uuid.UUID `bun:"merchant_id"`
	Status     string    `bun:"status"`
}

// setOrderStatus moves the order (locked by the caller) from → to and records it.
func setOrderStatus(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, from, to, note string) error {
	if err := checkTransition(from, to); err != nil {
		return err
	}
	res, err := tx.NewRaw(`UPDATE orders SET status = ?, updated_at = now(),
		paid_at = CASE WHEN ? = 'paid' THEN now() ELSE paid_at END,
		cancelled_at = CASE WHEN ? = 'cancelled' THEN now() ELSE cancelled_at END
		WHERE tenant_id = ? AND id = ? AND status = ?`, to, to, to, tenantID, orderID, from).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set order status: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("order moved meanwhile: %w", ErrTransition)
	}
	return writeEvent(ctx, tx, tenantID, orderID, nil, from, to, note)
}

// setMerchantStatus moves a merchant order (locked by the caller) to `to` and records it.
func setMerchantStatus(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, mo *moRef, to, note string) error {
	if err := checkTransition(mo.Status, to); err != nil {
		return err
	}
	if _, err := tx.NewRaw(`UPDATE merchant_orders SET status = ?, updated_at = now() WHERE tenant_id = ? AND id = ?`,
		to, tenantID, mo.ID).Exec(ctx); err != nil {
		return fmt.Errorf("set merchant order status: %w", err)
	}
	from := mo.Status
	mo.Status = to
	return writeEvent(ctx, tx, tenantID, mo.OrderID, mo, from, to, note)
}

// rollUp derives the order's status from its merchant orders after one of them moved: the
// order is as far along as its least advanced live merchant order. It runs in the tenant
// scope (the merchant fence would hide the other merchants' orders), so callers in a merchant
// scope pass a tenant-scoped tx; the order row is locked first so two merchants fulfilling at
// once roll up one after the other.
func rollUp(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, note string) error {
	var merchantScope string
	if err := tx.NewRaw(`SELECT coalesce(current_setting('app.merchant_id', true), '')`).Scan(ctx, &merchantScope); err != nil {
		return fmt.Errorf("read scope: %w", err)
	}
	if merchantScope != "" {
		// The fence would hide the other merchants' orders and the order would follow only this one.
		return errors.New("orders: merchant orders move in the tenant's scope (db.WithTenant), not a merchant's")
	}
	var current string
	if err := tx.NewRaw(`SELECT status FROM orders WHERE tenant_id = ? AND id = ? FOR UPDATE`, tenantID, orderID).
		Scan(ctx, &current); err != nil {
		return fmt.Errorf("lock order: %w", err)
	}
	var statuses []string
	if err := tx.NewRaw(`SELECT status FROM merchant_orders WHERE tenant_id = ? AND order_id = ?`, tenantID, orderID).
		Scan(ctx, &statuses); err != nil {
		return fmt.Errorf("read merchant orders: %w", err)
	}
	want := derived(statuses)
	if want == "" || want == current || !CanTransition(current, want) {
		return nil
	}
	return setOrderStatus(ctx, tx, tenantID, orderID, current, want, note)
}

// derived is the order status its merchant orders' statuses imply ("" for none).
func derived(statuses []string) string {
	rank := map[string]int{StatusPendingPayment: 0, StatusPaid: 1, StatusPartiallyFulfilled: 2, StatusFulfilled: 3, StatusCompleted: 4}
	lowest, anyProgress, live, refunded := 99, false, 0, false
	for _, st := range statuses {
		r, ok := rank[st]
		if !ok {
			refunded = refunded || st == StatusRefunded
			continue
		}
		live++
		lowest = min(lowest, r)
		anyProgress = anyProgress || r >= 2
	}
	switch {
	case len(statuses) == 0:
		return ""
	case live == 0 && refunded:
		return StatusRefunded
	case live == 0:
		return StatusCancelled
	case lowest == 1 && anyProgress:
		return StatusPartiallyFulfilled
	}
	for st, r := range rank {
		if r == lowest {
			return st
		}
	}
	return ""
}

// lockMerchantOrder reads and locks a merchant order visible in tx's scope.
func lockMerchantOrder(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (moRef, error) {
	var mo moRef
	err := tx.NewRaw(`SELECT id, order_id, merchant_id, status FROM merchant_orders WHERE tenant_id = ? AND id = ? FOR UPDATE`,
		tenantID, id).Scan(ctx, &mo)
	if errors.Is(err, sql.ErrNoRows) {
		return mo, ErrMerchantOrderNotFound
	}
	if err != nil {
		return mo, fmt.Errorf("lock merchant order: %w", err)
	}
	return mo, nil
}

// RecordFulfilment adds shipped quantities (order line id → quantity) to a paid merchant
// order's lines inside the caller's transaction, which must run in the tenant's scope (the
// logistics slice writes its shipment in the same transaction). The merchant order becomes
// partially_fulfilled, or fulfilled when every line is shipped in full, and the order follows.
// Errors: ErrBadQuantity, ErrMerchantOrderNotFound, ErrLineNotFound, ErrOverFulfil,
// ErrTransition (not paid, or cancelled).
func (s *Service) RecordFulfilment(ctx context.Context, tx bun.IDB, tenantID, merchantOrderID uuid.UUID, lineQty map[uuid.UUID]int) (MerchantOrder, error) {
	if len(lineQty) == 0 {
		return MerchantOrder{}, ErrBadQuantity
	}
	for _, q := range lineQty {
		if q <= 0 {
			return MerchantOrder{}, ErrBadQuantity
		}
	}
	mo, err := lockMerchantOrder(ctx, tx, tenantID, merchantOrderID)
	if err != nil {
		return MerchantOrder{}, err
	}
	if mo.Status != StatusPaid && mo.Status != StatusPartiallyFulfilled {
		return MerchantOrder{}, fmt.Errorf("fulfil a %s merchant order: %w", mo.Status, ErrTransition)
	}
	ids := make([]uuid.UUID, 0, len(lineQty))
	for id := range lineQty {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	for _, id := range ids {
		res, err := tx.NewRaw(`UPDATE order_lines SET fulfilled_quantity = fulfilled_quantity + ?
			WHERE tenant_id = ? AND id = ? AND merchant_order_id = ? AND fulfilled_quantity + ? <= quantity`,
			lineQty[id], tenantID, id, mo.ID, lineQty[id]).Exec(ctx)
		if err != nil {
			return MerchantOrder{}, fmt.Errorf("fulfil line: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists bool
			if err := tx.NewRaw(`SELECT EXISTS (SELECT 1 FROM order_lines WHERE tenant_id = ? AND id = ? AND merchant_order_id = ?)`,
				tenantID, id, mo.ID).Scan(ctx, &exists); err != nil {
				return MerchantOrder{}, fmt.Errorf("find line: %w", err)
			}
			if !exists {
				return MerchantOrder{}, ErrLineNotFound
			}
			return MerchantOrder{}, ErrOverFulfil
		}
	}
	var open int
	if err := tx.NewRaw(`SELECT count(*) FROM order_lines WHERE tenant_id = ? AND merchant_order_id = ? AND fulfilled_quantity < quantity`,
		tenantID, mo.ID).Scan(ctx, &open); err != nil {
		return MerchantOrder{}, fmt.Errorf("count open lines: %w", err)
	}
	to := StatusPartiallyFulfilled
	if open == 0 {
		to = StatusFulfilled
	}
	before := mo.Status
	if to != mo.Status {
		if err := setMerchantStatus(ctx, tx, tenantID, &mo, to, ""); err != nil {
			return MerchantOrder{}, err
		}
		if err := rollUp(ctx, tx, tenantID, mo.OrderID, ""); err != nil {
			return MerchantOrder{}, err
		}
	}
	if err := s.audit.Record(ctx, tx, "merchant_order.fulfil", "merchant_order", mo.ID.String(),
		map[string]any{"status": before}, map[string]any{"status": mo.Status, "lines": lineQty}); err != nil {
		return MerchantOrder{}, err
	}
	return readMerchantOrder(ctx, tx, tenantID, mo.ID)
}

// RecordDelivered marks a fulfilled merchant order completed inside the caller's transaction
// (tenant scope) and sets delivered_at, which starts the payout hold clock. Delivering a
// completed merchant order again changes nothing.
// Errors: ErrMerchantOrderNotFound, ErrTransition (not fulfilled).
func (s *Service) RecordDelivered(ctx context.Context, tx bun.IDB, tenantID, merchantOrderID uuid.UUID) error {
	mo, err := lockMerchantOrder(ctx, tx, tenantID, merchantOrderID)
	if err != nil {
		return err
	}
	if mo.Status == StatusCompleted {
		return nil
	}
	if err := setMerchantStatus(ctx, tx, tenantID, &mo, StatusCompleted, "delivered"); err != nil {
		return err
	}
	if _, err := tx.NewRaw(`UPDATE merchant_orders SET delivered_at = now() WHERE tenant_id = ? AND id = ?`, tenantID, mo.ID).
		Exec(ctx); err != nil {
		return fmt.Errorf("set delivered_at: %w", err)
	}
	if err := rollUp(ctx, tx, tenantID, mo.OrderID, "delivered"); err != nil {
		return err
	}
	return s.audit.Record(ctx, tx, "merchant_order.deliver", "merchant_order", mo.ID.String(),
		map[string]any{"status": StatusFulfilled}, map[string]any{"status": StatusCompleted})
}
