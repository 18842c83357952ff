package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"mercato/platform/jobs"
	"mercato/tenants/orders"
)

// A paid order's notices, as the worker runs them from the outbox: the confirmation is handed
// the order once, and each merchant's note its own merchant order; a notice about an order
// that is gone, or a merchant order not in it, goes to the archive instead of retrying.
func TestPaidNotices(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	w := fx.twoMerchants(t)
	o := must(fx.s.Checkout(shopperCtx(w.shopper), lumen, w.input())).Order
	if err := fx.s.MarkPaid(staff(), lumen, o.ID, "pi_notice"); err != nil {
		t.Fatal(err)
	}
	var paid []uuid.UUID
	merchants := map[uuid.UUID]uuid.UUID{} // merchant order → merchant
	kinds := map[string]jobs.Kind{}
	for _, k := range fx.s.Kinds(fx.f.Platform, orders.Notices{
		Paid: func(_ context.Context, tenantID uuid.UUID, got orders.Order) error {
			if tenantID != lumen || got.Status != orders.StatusPaid {
				t.Errorf("confirmation of %s in %s, status %s", got.ID, tenantID, got.Status)
			}
			paid = append(paid, got.ID)
			return nil
		},
		MerchantNewOrder: func(_ context.Context, _ uuid.UUID, got orders.Order, mo orders.MerchantOrder) error {
			if mo.OrderID != got.ID {
				t.Errorf("merchant order %s is not part of %s", mo.ID, got.ID)
			}
			merchants[mo.ID] = mo.MerchantID
			return nil
		},
	}, nil) {
		kinds[k.Name] = k
	}
	var rows []struct {
		Kind string          `bun:"kind"`
		Data json.RawMessage `bun:"data"`
	}
	if err := fx.f.Platform.Do(staff(), "test.outbox", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT kind, payload->'data' AS data FROM outbox WHERE tenant_id = ? AND kind LIKE 'orders.%' ORDER BY id", lumen).
			Scan(context.Background(), &rows)
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := kinds[r.Kind].Handler(staff(), jobs.Payload{Kind: r.Kind, TenantID: lumen, Data: r.Data}); err != nil {
			t.Errorf("%s: %v", r.Kind, err)
		}
	}
	if len(paid) != 1 || paid[0] != o.ID {
		t.Errorf("confirmations for %v, want [%s]", paid, o.ID)
	}
	if len(merchants) != 2 || merchants[o.Merchants[0].ID] != o.Merchants[0].MerchantID || merchants[o.Merchants[1].ID] != o.Merchants[1].MerchantID {
		t.Errorf("new-order notes for %v, want both merchant orders of %s", merchants, o.ID)
	}

	gone, _ := json.Marshal(map[string]any{"order_id": uuid.Must(uuid.NewV7())})
	stray, _ := json.Marshal(map[string]any{"order_id": o.ID, "merchant_order_id": uuid.Must(uuid.NewV7())})
	for name, p := range map[string]jobs.Payload{
		"confirmation of an order that is gone": {Kind: orders.KindPaid, TenantID: lumen, Data: gone},
		"note for a merchant order not in it":   {Kind: orders.KindMerchantNewOrder, TenantID: lumen, Data: stray},
	} {
		if err := kinds[p.Kind].Handler(staff(), p); !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s: %v, want SkipRetry", name, err)
		}
	}
}
