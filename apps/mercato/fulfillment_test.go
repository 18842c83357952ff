package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/console"
	"mercato/apps/demo"
	"mercato/apps/storefront"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/config"
	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/mail"
	"mercato/platform/scope"
	"mercato/platform/web"
	"mercato/platform/web/browsertest"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/fulfillment"
	"mercato/tenants/fulfillment/carriersim"
	"mercato/tenants/merchants"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
	"mercato/tenants/search"
	"mercato/tenants/staff"
)

// TestFulfilmentJourneyInBrowser: a merchant ships a paid order from the console with the
// simulated carrier and a label; the simulator moves the parcel along and posts its webhooks
// to the platform; the shopper's tracking page on the store shows the journey up to delivered,
// and the order is completed.
func TestFulfilmentJourneyInBrowser(t *testing.T) {
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	const secret = "browser-test-carrier-secret"
	sim, err := carriersim.Start("127.0.0.1:0", carriersim.Options{Step: 400 * time.Millisecond, Secret: secret,
		WebhookURL: "http://" + ln.Addr().String() + "/webhooks/carriers/generic_http"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })

	mailer := &identity.CaptureMailer{}
	ids, err := identity.New(f.App, identity.Config{SecretKey: strings.Repeat("k", 40), Issuer: "http://localhost:" + port, Mailer: mailer})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ords := orders.NewService(f.App, orders.Config{Audit: audit.Recorder{}})
	ful := fulfillment.NewService(f.App, fulfillment.Config{Audit: audit.Recorder{}, Orders: ords, Platform: f.Platform,
		Carriers: []fulfillment.Carrier{&fulfillment.GenericHTTP{BaseURL: sim.URL(), Secret: secret}}})
	tenantSvc := tenants.NewService(f.App, "localhost")
	merchantSvc := merchants.NewService(f.App, tenants.NewPlanPolicy(pol), audit.Recorder{})
	flash := []byte("0123456789abcdef0123456789abcdef-fulfil")
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(app); err != nil {
		t.Fatal(err)
	}
	if err := storefront.Routes(app, storefront.Deps{Identity: ids, Tenants: tenantSvc, Merchants: merchantSvc, FlashKey: flash,
		BaseHost: "localhost", Search: search.NewService(f.App), Fulfillment: ful, Orders: ords,
		Cart: cart.NewService(f.App, catalog.NewService(f.App, pol, audit.Recorder{}), promotions.NewService(f.App, audit.Recorder{}))}); err != nil {
		t.Fatal(err)
	}
	app.Use(console.Prefix, identity.Authenticate(ids, identity.StaffCookie))
	if err := console.Routes(app, console.Deps{Identity: ids, Enforcer: enf, Tenants: tenantSvc, Merchants: merchantSvc,
		Staff: staff.NewService(f.App, staff.Config{Accounts: ids, Audit: audit.Recorder{}, Mailer: mailer}), DB: f.App, Mailer: mailer,
		FlashKey: flash, BaseHost: "localhost:" + port, Fulfillment: ful}); err != nil {
		t.Fatal(err)
	}
	fulfillment.WebhookRoute(app, ful)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })

	o := paidOrderOf(t, f, "lumen", "ava@example.com", "northwind-lighting", map[string]int{"Brass desk lamp": 2, "Linen lampshade": 1})

	b := browsertest.New(t)
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		b.Screenshot(name)
	}
	// The merchant signs in and opens the order's fulfil page.
	base := "http://localhost:" + port
	b.Visit(base + "/console/login")
	b.Fill("#f-email", "owner@northwind.test")
	b.Fill("#f-password", demo.Password)
	if st := b.Submit("#sign-in"); st != 200 {
		t.Fatalf("console sign-in: %d", st)
	}
	if st := b.Visit(base + "/console/orders/" + o.ID.String() + "/fulfil"); st != 200 {
		t.Fatalf("fulfil page: %d", st)
	}
	if got := b.Text("h1"); got != "Ship order "+o.Number {
		t.Errorf("h1 %q", got)
	}
	if n := b.Count("#fulfil-form input[type=number]"); n != 2 {
		t.Errorf("%d quantity inputs, want 2", n)
	}
	check("console-fulfil")

	// Nothing to ship is refused beside the form, and nothing is stored.
	for _, l := range o.Lines {
		b.Fill(`input[name="qty.`+l.String()+`"]`, "0")
	}
	if st := b.Submit("#ship"); st != 422 || !strings.Contains(b.Text(".form-summary"), "Enter a quantity for at least one line.") {
		t.Errorf("empty shipment: %d %q", st, b.Text(".form-summary"))
	}
	for i, l := range o.Lines {
		b.Fill(`input[name="qty.`+l.String()+`"]`, fmt.Sprint(o.Qty[i]))
	}
	b.Select("#f-carrier", fulfillment.CarrierGenericHTTP)
	b.Click("#f-create-label")
	if st := b.Submit("#ship"); st != 200 || !strings.Contains(b.Text(".flash"), "Shipped with tracking number SIM") {
		t.Fatalf("ship: %d %q", st, b.Text(".flash"))
	}
	number := strings.TrimSpace(b.Text(".tracking-number"))
	check("console-fulfil-shipped")

	// The simulator's clock and webhooks carry the parcel to the door.
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := ful.List(scope.WithTenant(ctx, o.Tenant), o.Tenant, fulfillment.ListFilter{OrderID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) == 1 && p.Items[0].Status == fulfillment.StatusDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parcel %s not delivered in 20 s: %+v", number, p.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Visit(base + "/console/orders/" + o.ID.String() + "/fulfil")
	if got := b.Text("#shipment-" + mustShipment(t, ful, ctx, o).String() + " .badge"); got != "Delivered" {
		t.Errorf("console shipment status %q", got)
	}

	// The shopper signs in on the store and follows the parcel.
	store := "http://lumen.localhost:" + port
	b.Visit(store + "/account/sign-in")
	b.Fill("#f-email", "ava@example.com")
	b.Fill("#f-password", demo.Password)
	if st := b.Submit("#sign-in"); st != 200 {
		t.Fatalf("store sign-in: %d", st)
	}
	if st := b.Visit(store + storefront.TrackingPath(o.ID)); st != 200 {
		t.Fatalf("tracking page: %d", st)
	}
	if got := b.Text("h1"); got != "Tracking for order "+o.Number {
		t.Errorf("tracking h1 %q", got)
	}
	var steps []string
	b.Eval(`[...document.querySelectorAll(".timeline li")].map(li => li.dataset.status)`, &steps)
	if strings.Join(steps, ",") != "label_created,in_transit,out_for_delivery,delivered" {
		t.Errorf("timeline %v", steps)
	}
	if got := b.Text(".parcel h3 .badge"); got != "Delivered" {
		t.Errorf("parcel status %q", got)
	}
	if !strings.Contains(b.Text(".parcel"), number) || !strings.Contains(b.Text(".parcel-items"), "Brass desk lamp × 2") {
		t.Errorf("parcel: %q", b.Text(".parcel"))
	}
	check("storefront-tracking-delivered")
	// The order page shows the same parcels below the order's own timeline.
	if st := b.Visit(store + "/account/orders/" + o.ID.String()); st != 200 {
		t.Fatalf("order page: %d", st)
	}
	if n := b.Count("#parcels .timeline li"); n != 4 || b.Text("#parcels h3 .badge") != "Delivered" {
		t.Errorf("order page parcels: %d steps, status %q", n, b.Text("#parcels h3 .badge"))
	}
	check("storefront-order-parcels")
	b.Viewport(390, 844)
	b.ScreenshotViewport("storefront-tracking-phone")

	// Someone else's order is not there at all.
	if st := b.Visit(store + storefront.TrackingPath(uuid.Must(uuid.NewV7()))); st != 404 {
		t.Errorf("unknown order: %d, want 404", st)
	}
	st, err := ords.Get(scope.WithTenant(ctx, o.Tenant), o.Tenant, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != orders.StatusCompleted || st.Merchants[0].DeliveredAt == nil {
		t.Errorf("order after delivery: %s, delivered_at %v", st.Status, st.Merchants[0].DeliveredAt)
	}
}

type testOrder struct {
	ID, Tenant uuid.UUID
	Number     string
	Lines      []uuid.UUID
	Qty        []int
}

// paidOrderOf writes a paid order of the shopper with one merchant's lines, as checkout and the
// payment webhook leave it, straight into orders' tables.
func paidOrderOf(t *testing.T, f *dbtest.Fixture, slug, email, handle string, lines map[string]int) testOrder {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	o := testOrder{ID: uuid.Must(uuid.NewV7())}
	o.Number = "L-" + strings.ToUpper(o.ID.String()[28:])
	err := f.Platform.Do(ctx, "test.order", func(tx bun.IDB) error {
		var ref struct {
			Tenant   uuid.UUID `bun:"tenant_id"`
			Shopper  uuid.UUID `bun:"shopper_id"`
			Merchant uuid.UUID `bun:"merchant_id"`
		}
		if err := tx.NewRaw(`SELECT t.id AS tenant_id, s.id AS shopper_id, m.id AS merchant_id FROM tenants t
			JOIN shoppers s ON s.tenant_id = t.id AND s.email = ? JOIN merchants m ON m.tenant_id = t.id AND m.handle = ?
			WHERE t.slug = ?`, email, handle, slug).Scan(ctx, &ref); err != nil {
			return err
		}
		o.Tenant = ref.Tenant
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (tenant_id, id, number, shopper_id, shopper_key, email, status, currency, address,
			subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, expires_at, paid_at)
			VALUES (?, ?, ?, ?, ?, ?, 'paid', 'USD', '{"name": "Ava"}', 0, 0, 0, 0, 0, now(), now())`,
			ref.Tenant, o.ID, o.Number, ref.Shopper, "shopper:"+ref.Shopper.String(), email); err != nil {
			return err
		}
		mo := uuid.Must(uuid.NewV7())
		if _, err := tx.ExecContext(ctx, `INSERT INTO merchant_orders (tenant_id, id, order_id, merchant_id, merchant_name, status, currency,
			subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor) VALUES (?, ?, ?, ?, 'Northwind Lighting', 'paid', 'USD', 0, 0, 0, 0, 0)`,
			ref.Tenant, mo, o.ID, ref.Merchant); err != nil {
			return err
		}
		i := 0
		for _, title := range []string{"Brass desk lamp", "Linen lampshade"} {
			q, ok := lines[title]
			if !ok {
				continue
			}
			id := uuid.Must(uuid.NewV7())
			o.Lines, o.Qty = append(o.Lines, id), append(o.Qty, q)
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (tenant_id, id, order_id, merchant_order_id, merchant_id, variant_id,
				product_id, title, quantity, unit_price_minor, list_price_minor, subtotal_minor, discount_minor, shipping_minor, tax_minor,
				total_minor, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1000, 1000, 0, 0, 0, 0, 0, ?)`,
				ref.Tenant, id, o.ID, mo, ref.Merchant, uuid.New(), uuid.New(), title, q, i); err != nil {
				return err
			}
			i++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("paid order: %v", err)
	}
	return o
}

func mustShipment(t *testing.T, s *fulfillment.Service, ctx context.Context, o testOrder) uuid.UUID {
	t.Helper()
	sh, err := s.ForOrder(scope.WithTenant(ctx, o.Tenant), o.Tenant, o.ID)
	if err != nil || len(sh) != 1 {
		t.Fatalf("shipments of %s: %v %d", o.ID, err, len(sh))
	}
	return sh[0].ID
}

// The shopper's mails about a parcel arrive over SMTP in the order's language, with the store's
// tracking link.
func TestTellShopperMails(t *testing.T) {
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	capture, err := mail.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer capture.Close()
	sender, err := mail.NewSender(capture.URL(), mail.SenderOptions{From: "Mercato <noreply@localhost>"})
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	r := &runtime{db: f.App, mailSender: sender, mailRenderer: renderer}
	cfg := config.Config{PublicURL: "http://localhost:8080", BaseHost: "localhost"}
	tell := tellShopper(r, tenants.NewService(f.App, "localhost"), cfg)
	o := paidOrderOf(t, f, "panda", "ava@example.com", "xiangyun-tea", map[string]int{"Brass desk lamp": 1})
	for _, n := range []fulfillment.Notice{
		{Kind: fulfillment.KindShipped, OrderID: o.ID, OrderNumber: o.Number, Email: "ava@example.com", Locale: "en",
			ShopperName: "Ava", MerchantName: "Xiangyun Tea", Carrier: "generic_http", TrackingNumber: "SIM0000000001"},
		{Kind: fulfillment.KindDelivered, OrderID: o.ID, OrderNumber: o.Number, Email: "ava@example.com",
			ShopperName: "Ava", MerchantName: "Xiangyun Tea", Carrier: "generic_http", TrackingNumber: "SIM0000000001"},
	} {
		if err := tell(ctx, o.Tenant, n); err != nil {
			t.Fatalf("%s: %v", n.Kind, err)
		}
	}
	msgs := capture.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want 2", len(msgs))
	}
	link := "http://panda.localhost:8080/account/orders/" + o.ID.String() + "/tracking"
	if m := msgs[0]; !strings.Contains(m.Subject, o.Number) || !strings.Contains(m.Text, "SIM0000000001") || !strings.Contains(m.Text, link) ||
		len(m.To) != 1 || m.To[0] != "ava@example.com" {
		t.Errorf("shipped mail: %q\n%s", m.Subject, m.Text)
	}
	// No locale on the order: the store's (panda's is zh-CN).
	if m := msgs[1]; !strings.Contains(m.Subject, o.Number) || !strings.Contains(m.Text, link) || !strings.ContainsRune(m.Subject+m.Text, '单') {
		t.Errorf("delivered mail: %q\n%s", m.Subject, m.Text)
	}
}
