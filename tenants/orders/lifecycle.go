package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/jobs"
	"mercato/platform/scope"
)

// reservationGrace keeps an order's stock held a little past the order's own expiry, so the
// expiry job cancels the order (releasing the stock itself) before inventory's sweep could
// expire the reservations under an order a late payment might still mark paid.
const reservationGrace = 5 * time.Minute

// lockOrder reads and locks an order's status.
func lockOrder(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (status, paymentRef string, err error) {
	var row struct {
		Status     string `bun:"status"`
		PaymentRef string `bun:"payment_ref"`
	}
	err = tx.NewRaw(`SELECT status, payment_ref FROM orders WHERE tenant_id = ? AND id = ? FOR UPDATE`, tenantID, id).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("lock order: %w", err)
	}
	return row.Status, row.PaymentRef, nil
}

func reservationIDs(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	if err := tx.NewRaw(`SELECT DISTINCT reservation_id FROM order_lines WHERE tenant_id = ? AND order_id = ? AND reservation_id IS NOT NULL`,
		tenantID, orderID).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("read reservations: %w", err)
	}
	return ids, nil
}

// moveMerchants moves every merchant order of the order that is in `from` to `to`.
func moveMerchants(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, to, note string) error {
	var mos []moRef
	if err := tx.NewRaw(`SELECT id, order_id, merchant_id, status FROM merchant_orders WHERE tenant_id = ? AND order_id = ? ORDER BY id FOR UPDATE`,
		tenantID, orderID).Scan(ctx, &mos); err != nil {
		return fmt.Errorf("lock merchant orders: %w", err)
	}
	for i := range mos {
		if err := setMerchantStatus(ctx, tx, tenantID, &mos[i], to, note); err != nil {
			return err
		}
	}
	return nil
}

// MarkPaid records that an order's money arrived: the order and its merchant orders become
// paid and the held stock is sold (inventory.CommitTx), in one transaction. The payments slice
// calls it when the provider confirms; the same paymentRef twice is a no-op, so a webhook
// applied twice pays once.
// Errors: ErrNotFound, ErrTransition (not pending payment, or paid with another reference),
// inventory.ErrReservationLapsed.
func (s *Service) MarkPaid(ctx context.Context, tenantID, orderID uuid.UUID, paymentRef string) error {
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		status, ref, err := lockOrder(ctx, tx, tenantID, orderID)
		if err != nil {
			return err
		}
		if status == StatusPaid && ref == paymentRef {
			return nil
		}
		if err := checkTransition(status, StatusPaid); err != nil {
			return err
		}
		ids, err := reservationIDs(ctx, tx, tenantID, orderID)
		if err != nil {
			return err
		}
		if err := s.inventory.CommitTx(ctx, tx, tenantID, ids); err != nil {
			return err
		}
		if _, err := tx.NewRaw(`UPDATE orders SET payment_ref = ? WHERE tenant_id = ? AND id = ?`, paymentRef, tenantID, orderID).
			Exec(ctx); err != nil {
			return fmt.Errorf("set payment ref: %w", err)
		}
		if err := moveMerchants(ctx, tx, tenantID, orderID, StatusPaid, ""); err != nil {
			return err
		}
		if err := setOrderStatus(ctx, tx, tenantID, orderID, status, StatusPaid, ""); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, tx, "order.paid", "order", orderID.String(),
			map[string]any{"status": status}, map[string]any{"status": StatusPaid, "payment_ref": paymentRef}); err != nil {
			return err
		}
		// The confirmation to the shopper and each merchant's new-order note go out exactly
		// when the payment commits, as separate tasks: one failing is retried alone and never
		// sends the others twice.
		if _, err := jobs.Enqueue(ctx, tx, jobs.Task{Kind: KindPaid, Payload: paidPayload{OrderID: orderID}, Queue: jobs.QueueDefault}); err != nil {
			return err
		}
		var mos []uuid.UUID
		if err := tx.NewRaw("SELECT id FROM merchant_orders WHERE tenant_id = ? AND order_id = ? ORDER BY id", tenantID, orderID).
			Scan(ctx, &mos); err != nil {
			return err
		}
		for _, mo := range mos {
			if _, err := jobs.Enqueue(ctx, tx, jobs.Task{Kind: KindMerchantNewOrder, Queue: jobs.QueueDefault,
				Payload: paidPayload{OrderID: orderID, MerchantOrderID: mo}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark order paid: %w", err)
	}
	return nil
}

// Cancel cancels an unpaid order: its merchant orders too, the held stock goes back on sale,
// and the coupon use and flash-sale units are given back. Tenant staff, or the shopper whose
// order it is (merchant staff cannot cancel other merchants' parts); the expiry job cancels
// as the system.
// Errors: ErrTenantOnly, ErrNotFound, ErrTransition (already paid: refund it instead).
func (s *Service) Cancel(ctx context.Context, tenantID, orderID uuid.UUID, note string) (Order, error) {
	if err := tenantStaff(ctx); err != nil {
		// Merchant staff learn nothing of orders that are not theirs: those are not found.
		if _, gerr := s.Get(ctx, tenantID, orderID); gerr != nil {
			return Order{}, gerr
		}
		return Order{}, err
	}
	sh, isShopper := shopperOf(ctx)
	var o Order
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if isShopper {
			// The policy lets shoppers write /v1/orders: they may cancel only their own.
			cond, arg := sh.where()
			var mine bool
			if err := tx.NewRaw(`SELECT EXISTS (SELECT 1 FROM orders WHERE tenant_id = ? AND id = ? AND `+cond+`)`, tenantID, orderID, arg).
				Scan(ctx, &mine); err != nil {
				return err
			}
			if !mine {
				return ErrNotFound
			}
		}
		if err := s.cancelTx(ctx, tx, tenantID, orderID, note); err != nil {
			return err
		}
		var err error
		o, err = readOrder(ctx, tx, tenantID, orderID, false)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("cancel order: %w", err)
	}
	return o, nil
}

func (s *Service) cancelTx(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, note string) error {
	status, _, err := lockOrder(ctx, tx, tenantID, orderID)
	if err != nil {
		return err
	}
	if err := checkTransition(status, StatusCancelled); err != nil {
		return err
	}
	ids, err := reservationIDs(ctx, tx, tenantID, orderID)
	if err != nil {
		return err
	}
	if err := s.inventory.ReleaseTx(ctx, tx, tenantID, ids); err != nil {
		return err
	}
	if r, ok := s.promos.(UsageReleaser); ok {
		if err := r.ReleaseOrder(ctx, tx, tenantID, orderID); err != nil {
			return fmt.Errorf("give back promotions: %w", err)
		}
	}
	if err := moveMerchants(ctx, tx, tenantID, orderID, StatusCancelled, note); err != nil {
		return err
	}
	if err := setOrderStatus(ctx, tx, tenantID, orderID, status, StatusCancelled, note); err != nil {
		return err
	}
	return s.audit.Record(ctx, tx, "order.cancel", "order", orderID.String(),
		map[string]any{"status": status}, map[string]any{"status": StatusCancelled, "note": note})
}

// TaskExpireUnpaid is the periodic task that cancels orders whose payment did not come.
const TaskExpireUnpaid = "orders:expire_unpaid"

// ExpireUnpaid cancels pending_payment orders whose expires_at is not after now, across
// tenants, up to limit per batch until none are left, and returns how many it cancelled. The
// due orders are found through the audited platform entry point; each is cancelled in its own
// tenant's transaction as "system:orders.expire". An order paid or cancelled meanwhile is
// left alone, so several workers may sweep at once.
func (s *Service) ExpireUnpaid(ctx context.Context, platform *db.Platform, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 200
	}
	ctx = scope.WithActor(ctx, "system:orders.expire")
	total := 0
	for {
		var due []struct {
			TenantID uuid.UUID `bun:"tenant_id"`
			ID       uuid.UUID `bun:"id"`
		}
		err := platform.Do(ctx, "orders.find_unpaid_due", func(tx bun.IDB) error {
			return tx.NewRaw(`SELECT tenant_id, id FROM orders WHERE status = 'pending_payment' AND expires_at <= ?
				ORDER BY expires_at LIMIT ?`, now.UTC(), limit).Scan(ctx, &due)
		})
		if err != nil {
			return total, fmt.Errorf("find unpaid orders: %w", err)
		}
		n := 0
		for _, d := range due {
			err := s.db.WithTenant(ctx, d.TenantID, func(tx bun.IDB) error {
				return s.cancelTx(ctx, tx, d.TenantID, d.ID, "payment did not arrive in time")
			})
			if errors.Is(err, ErrTransition) {
				continue // paid or cancelled since it was found
			}
			if err != nil {
				return total, fmt.Errorf("expire order %s: %w", d.ID, err)
			}
			n++
		}
		total += n
		if len(due) < limit || n == 0 {
			return total, nil
		}
	}
}

// The notices of a paid order, enqueued by MarkPaid and sent by the worker's Notices.
const (
	KindPaid             = "orders.paid"               // the shopper's order confirmation
	KindMerchantNewOrder = "orders.merchant_new_order" // one merchant's part of a paid order
)

type paidPayload struct {
	OrderID         uuid.UUID `json:"order_id"`
	MerchantOrderID uuid.UUID `json:"merchant_order_id,omitempty"`
}

// Notices send the mails about a paid order; the notifications wiring renders them. A nil
// func drops its notice, as in a worker without mail.
type Notices struct {
	Paid             func(ctx context.Context, tenantID uuid.UUID, o Order) error
	MerchantNewOrder func(ctx context.Context, tenantID uuid.UUID, o Order, mo MerchantOrder) error
}

// Kinds are the orders' task kinds for the worker: the expiry sweep, scheduled every minute,
// and the paid notices, handed to notices.
func (s *Service) Kinds(platform *db.Platform, notices Notices, log func(ctx context.Context, msg string, args ...any)) []jobs.Kind {
	// order reads the notice's order as the system: the payment's actor would not be allowed
	// to see it. An order that is gone has nothing to tell.
	order := func(ctx context.Context, kind string, p jobs.Payload) (Order, paidPayload, error) {
		var in paidPayload
		if err := p.Decode(&in); err != nil {
			return Order{}, in, err
		}
		o, err := s.Get(scope.WithActor(ctx, scope.Actor("system:"+kind)), p.TenantID, in.OrderID)
		if errors.Is(err, ErrNotFound) {
			return Order{}, in, jobs.SkipRetry(fmt.Errorf("%s %s: %w", kind, in.OrderID, err))
		}
		return o, in, err
	}
	return []jobs.Kind{{
		Name: TaskExpireUnpaid, Queue: jobs.QueueCritical, Timeout: 5 * time.Minute,
		Handler: func(ctx context.Context, _ jobs.Payload) error {
			n, err := s.ExpireUnpaid(ctx, platform, s.now(), 200)
			if err != nil {
				return err
			}
			if n > 0 && log != nil {
				log(ctx, "cancelled unpaid orders past their expiry", "count", n)
			}
			return nil
		},
	}, {
		Name: KindPaid, Queue: jobs.QueueDefault, Timeout: time.Minute, MaxRetry: 10,
		Handler: func(ctx context.Context, p jobs.Payload) error {
			if notices.Paid == nil {
				return nil
			}
			o, _, err := order(ctx, KindPaid, p)
			if err != nil {
				return err
			}
			return notices.Paid(ctx, p.TenantID, o)
		},
	}, {
		Name: KindMerchantNewOrder, Queue: jobs.QueueDefault, Timeout: time.Minute, MaxRetry: 10,
		Handler: func(ctx context.Context, p jobs.Payload) error {
			if notices.MerchantNewOrder == nil {
				return nil
			}
			o, in, err := order(ctx, KindMerchantNewOrder, p)
			if err != nil {
				return err
			}
			for _, mo := range o.Merchants {
				if mo.ID == in.MerchantOrderID {
					return notices.MerchantNewOrder(ctx, p.TenantID, o, mo)
				}
			}
			return jobs.SkipRetry(fmt.Errorf("%s: order %s has no merchant order %s", KindMerchantNewOrder, o.ID, in.MerchantOrderID))
		},
	}}
}
