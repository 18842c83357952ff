package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/config"
	"mercato/platform/db/dbtest"
	"mercato/platform/mail"
	"mercato/platform/scope"
	"mercato/tenants"
	"mercato/tenants/orders"
	"mercato/tenants/staff"
)

// A paid order's mails arrive over SMTP: the confirmation to the shopper in the order's
// language with the store's order link, and each merchant's part to that merchant's owners
// (a merchant without an owner account gets none).
func TestTellPaidMails(t *testing.T) {
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
	var ids struct {
		Lumen     uuid.UUID `bun:"lumen"`
		Northwind uuid.UUID `bun:"northwind"`
		Oak       uuid.UUID `bun:"oak"`
	}
	if err := f.Platform.Do(ctx, "test.ids", func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT t.id AS lumen, n.id AS northwind, o.id AS oak FROM tenants t
			JOIN merchants n ON n.tenant_id = t.id AND n.handle = 'northwind-lighting'
			JOIN merchants o ON o.tenant_id = t.id AND o.handle = 'oak-and-ash' WHERE t.slug = 'lumen'`).Scan(ctx, &ids)
	}); err != nil {
		t.Fatal(err)
	}
	r := &runtime{db: f.App, mailSender: sender, mailRenderer: renderer}
	cfg := config.Config{PublicURL: "http://localhost:8080", BaseHost: "localhost"}
	tell := tellPaid(r, tenants.NewService(f.App, "localhost"), ownerEmails(staff.NewService(f.App, staff.Config{})), cfg)

	paid := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	o := orders.Order{ID: uuid.Must(uuid.NewV7()), Number: "L-7Q2X9", Email: "ava@example.com", Currency: "USD", Locale: "en",
		Address: orders.Address{Name: "Ava Jensen", City: "San Francisco", Country: "US"}, PaidAt: &paid,
		Amounts: orders.Amounts{ShippingMinor: 2500, TotalMinor: 36300},
		Merchants: []orders.MerchantOrder{
			{MerchantID: ids.Northwind, MerchantName: "Northwind Lighting", Amounts: orders.Amounts{TotalMinor: 8900},
				Lines: []orders.Line{{Title: "Arc brass desk lamp", OptionValues: map[string]string{"finish": "brass"}, Quantity: 1, UnitPriceMinor: 8900}}},
			{MerchantID: ids.Oak, MerchantName: "Oak & Ash Furniture", Amounts: orders.Amounts{TotalMinor: 27400},
				Lines: []orders.Line{{Title: "Windsor oak chair", Quantity: 1, UnitPriceMinor: 24500}}},
		}}
	if err := tell.Paid(ctx, ids.Lumen, o); err != nil {
		t.Fatal(err)
	}
	for _, mo := range o.Merchants {
		if err := tell.MerchantNewOrder(ctx, ids.Lumen, o, mo); err != nil {
			t.Fatal(err)
		}
	}
	msgs := capture.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want 2 (the shopper's and Northwind's)", len(msgs))
	}
	shopper, merchant := msgs[0], msgs[1]
	if len(shopper.To) != 1 || shopper.To[0] != "ava@example.com" || !strings.Contains(shopper.Subject, o.Number) ||
		!strings.Contains(shopper.Text, "Arc brass desk lamp, brass") || !strings.Contains(shopper.Text, "$363.00") ||
		!strings.Contains(shopper.Text, "http://lumen.localhost:8080/account/orders/"+o.ID.String()) {
		t.Errorf("confirmation to %v: %q\n%s", shopper.To, shopper.Subject, shopper.Text)
	}
	if len(merchant.To) != 1 || merchant.To[0] != "owner@northwind.test" || !strings.Contains(merchant.Subject, o.Number) ||
		!strings.Contains(merchant.Text, "$89.00") || strings.Contains(merchant.Text, "Windsor") ||
		!strings.Contains(merchant.Text, "http://localhost:8080/console/orders/"+o.ID.String()) {
		t.Errorf("new order to %v: %q\n%s", merchant.To, merchant.Subject, merchant.Text)
	}
}
