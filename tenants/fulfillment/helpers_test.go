package fulfillment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants"
	"mercato/tenants/fulfillment"
	"mercato/tenants/fulfillment/carriersim"
	"mercato/tenants/orders"
)

const simSecret = "sim-secret-for-tests"

type fixture struct {
	f        *dbtest.Fixture
	s        *fulfillment.Service
	orders   *orders.Service
	sim      *carriersim.Sim
	carrier  *fulfillment.GenericHTTP
	hookURL  string // the webhook route of a running app
	tenant   map[string]uuid.UUID
	merchant map[string]uuid.UUID // by handle
}

// setup loads the demo, starts the carrier simulator (step: 0 moves parcels only on Advance)
// and an HTTP server with the carrier webhook route, which the simulator posts to.
func setup(t *testing.T, step time.Duration) *fixture {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	sim, err := carriersim.Start("127.0.0.1:0", carriersim.Options{Step: step, Secret: simSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	fx := &fixture{f: f, sim: sim, tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{},
		carrier: &fulfillment.GenericHTTP{BaseURL: sim.URL(), Secret: simSecret}}
	fx.orders = orders.NewService(f.App, orders.Config{Audit: audit.Recorder{}})
	fx.s = fulfillment.NewService(f.App, fulfillment.Config{Audit: audit.Recorder{}, Orders: fx.orders, Carriers: []fulfillment.Carrier{fx.carrier}, Platform: f.Platform})

	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	fulfillment.WebhookRoute(app, fx.s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	fx.hookURL = "http://" + ln.Addr().String() + "/webhooks/carriers/generic_http"
	sim.SetWebhookURL(fx.hookURL)

	page, err := tenants.NewDirectory(f.Platform, "localhost").List(ctx, tenants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		fx.tenant[tn.Slug] = tn.ID
	}
	var rows []struct {
		Handle string
		ID     uuid.UUID
	}
	if err := f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT handle, id FROM merchants").Scan(ctx, &rows)
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		fx.merchant[r.Handle] = r.ID
	}
	return fx
}

// as is merchant staff of handle in tenant slug.
func (fx *fixture) as(slug, handle string) context.Context {
	ctx := scope.WithActor(context.Background(), scope.Actor("user:packer-"+handle))
	ctx = scope.WithTenant(ctx, fx.tenant[slug])
	return scope.WithMerchant(ctx, fx.merchant[handle])
}

// staff is tenant-wide staff of slug.
func (fx *fixture) staff(slug string) context.Context {
	return scope.WithTenant(scope.WithActor(context.Background(), "user:tenant-staff"), fx.tenant[slug])
}

// paidOrder is an order placed and paid, with one merchant order per merchant handle given and
// one line per quantity: what checkout and the payment webhook leave behind, written straight
// into orders' tables so these tests need neither carts nor payments.
type paidOrder struct {
	ID             uuid.UUID
	MerchantOrders map[string]uuid.UUID   // by merchant handle
	Lines          map[string][]uuid.UUID // by merchant handle, in the order of the quantities
}

func (fx *fixture) paidOrder(t *testing.T, slug string, lines map[string][]int) paidOrder {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	tenantID := fx.tenant[slug]
	o := paidOrder{ID: uuid.Must(uuid.NewV7()), MerchantOrders: map[string]uuid.UUID{}, Lines: map[string][]uuid.UUID{}}
	err := fx.f.Platform.Do(ctx, "test.order", func(tx bun.IDB) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (tenant_id, id, number, shopper_key, email, status, currency, address,
			subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, expires_at, paid_at)
			VALUES (?, ?, ?, 'email:ava@example.com', 'ava@example.com', 'paid', 'USD', '{"name": "Ava"}', 0, 0, 0, 0, 0, now(), now())`,
			tenantID, o.ID, "T-"+o.ID.String()[24:]); err != nil {
			return err
		}
		for handle, qtys := range lines {
			mo := uuid.Must(uuid.NewV7())
			o.MerchantOrders[handle] = mo
			if _, err := tx.ExecContext(ctx, `INSERT INTO merchant_orders (tenant_id, id, order_id, merchant_id, merchant_name, status, currency,
				subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor) VALUES (?, ?, ?, ?, ?, 'paid', 'USD', 0, 0, 0, 0, 0)`,
				tenantID, mo, o.ID, fx.merchant[handle], handle); err != nil {
				return err
			}
			for i, q := range qtys {
				l := uuid.Must(uuid.NewV7())
				o.Lines[handle] = append(o.Lines[handle], l)
				if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (tenant_id, id, order_id, merchant_order_id, merchant_id, variant_id,
					product_id, title, quantity, unit_price_minor, list_price_minor, subtotal_minor, discount_minor, shipping_minor, tax_minor,
					total_minor, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1000, 1000, 1000 * ?, 0, 0, 0, 1000 * ?, ?)`,
					tenantID, l, o.ID, mo, fx.merchant[handle], uuid.New(), uuid.New(), "Lamp", q, q, q, i); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("paid order: %v", err)
	}
	return o
}

// status reads the order's and a merchant order's status as tenant staff see them.
func (fx *fixture) status(t *testing.T, slug string, orderID, merchantOrderID uuid.UUID) (order, merchantOrder string, deliveredAt *time.Time) {
	t.Helper()
	o, err := fx.orders.Get(fx.staff(slug), fx.tenant[slug], orderID)
	if err != nil {
		t.Fatalf("get order: %v", err)
	}
	for _, mo := range o.Merchants {
		if mo.ID == merchantOrderID {
			return o.Status, mo.Status, mo.DeliveredAt
		}
	}
	t.Fatalf("merchant order %s not in order %s", merchantOrderID, orderID)
	return
}

// count runs a count(*) across tenants.
func (fx *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	ctx := scope.WithActor(context.Background(), "system:test")
	if err := fx.f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
		return tx.NewRaw(query, args...).Scan(ctx, &n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// book registers a parcel with the simulator under a number the shipper chose.
func (fx *fixture) book(t *testing.T, number string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"tracking_number": number})
	req, _ := http.NewRequest(http.MethodPost, fx.sim.URL()+"/v1/parcels", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+simSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("book parcel %s: %d", number, resp.StatusCode)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statuses(sh fulfillment.Shipment) []string {
	var out []string
	for _, e := range sh.Events {
		out = append(out, e.Status)
	}
	return out
}
