package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"mercato/billing/fees"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/config"
	"mercato/platform/mail"
	"mercato/platform/money"
	"mercato/tenants"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// commerce is the shopping services one process shares: promotions, carts over the catalog's
// offers, and orders.
type commerce struct {
	promos *promotions.Service
	carts  *cart.Service
	orders *orders.Service
}

// newCommerce wires checkout: the cart and promotions it reads and redeems, inventory for the
// stock it holds, billing/fees for the split frozen on each line (tenants may not import
// billing, so the adapter lives here), and no payment provider yet: orders wait in
// pending_payment until the payments issue plugs Stripe in as the PaymentStarter.
func newCommerce(r *runtime, policies *authz.Policies) commerce {
	promos := promotions.NewService(r.db, audit.Recorder{})
	carts := cart.NewService(r.db, catalog.NewService(r.db, policies, audit.Recorder{}), promos)
	ords := orders.NewService(r.db, orders.Config{Audit: audit.Recorder{}, Inventory: inventory.NewService(r.db, audit.Recorder{}),
		Carts: carts, Promos: promos, Fees: fees.ForOrders, Payments: orders.AwaitPayment{}})
	return commerce{promos: promos, carts: carts, orders: ords}
}

// tellPaid mails a paid order's confirmation to the shopper, in the order's language, and each
// merchant's part of it to that merchant's owners, in the tenant's language, both in the
// tenant's branding.
func tellPaid(r *runtime, ts *tenants.Service, owners func(context.Context, uuid.UUID, *uuid.UUID) ([]string, error), cfg config.Config) orders.Tell {
	branding := tenantBranding(r.db, cfg.PublicURL)
	return func(ctx context.Context, tenantID uuid.UUID, o orders.Order) error {
		t, err := ts.Get(ctx, tenantID)
		if err != nil {
			return err
		}
		b, err := branding(ctx, tenantID)
		if err != nil {
			return err
		}
		cur := money.Currency(o.Currency)
		amount := func(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: cur} }
		lines := func(ls []orders.Line) []mail.Line {
			out := make([]mail.Line, len(ls))
			for i, l := range ls {
				out[i] = mail.Line{Name: lineName(l), Quantity: l.Quantity, Total: amount(l.UnitPriceMinor * int64(l.Quantity))}
			}
			return out
		}
		send := func(event, locale string, to []string, data any) error {
			if len(to) == 0 {
				return nil
			}
			subject, text, html, err := r.mailRenderer.Render(event, locale, b, data)
			if err != nil {
				return err
			}
			return r.mailSender.Send(ctx, mail.Message{To: to, Subject: subject, Text: text, HTML: html})
		}
		var all []orders.Line
		for _, mo := range o.Merchants {
			all = append(all, mo.Lines...)
		}
		locale := o.Locale
		if locale == "" {
			locale = t.DefaultLocale
		}
		placed := o.CreatedAt
		if o.PaidAt != nil {
			placed = *o.PaidAt
		}
		// The shopper's mail is sent first and on its own: a retry after a merchant's mail
		// failed may send it again, which is better than never.
		if err := send(mail.EventOrderConfirmation, locale, []string{o.Email}, mail.OrderConfirmation{ShopperName: o.Address.Name,
			OrderNumber: o.Number, PlacedAt: placed, Lines: lines(all), Shipping: amount(o.ShippingMinor), Total: amount(o.TotalMinor),
			OrderURL: storeURL(cfg, t.Slug) + "/account/orders/" + o.ID.String()}); err != nil {
			return fmt.Errorf("order confirmation: %w", err)
		}
		for _, mo := range o.Merchants {
			to, err := owners(ctx, tenantID, &mo.MerchantID)
			if err != nil {
				return err
			}
			if err := send(mail.EventMerchantNewOrder, t.DefaultLocale, to, mail.MerchantNewOrder{MerchantName: mo.MerchantName,
				OrderNumber: o.Number, Lines: lines(mo.Lines), Total: amount(mo.TotalMinor),
				ShipTo:   strings.TrimSpace(o.Address.City + ", " + o.Address.Country),
				OrderURL: strings.TrimSuffix(cfg.PublicURL, "/") + "/console/orders/" + o.ID.String()}); err != nil {
				return fmt.Errorf("new order for %s: %w", mo.MerchantName, err)
			}
		}
		return nil
	}
}

// lineName is a line as a person reads it: the title, then the chosen options.
func lineName(l orders.Line) string {
	if len(l.OptionValues) == 0 {
		return l.Title
	}
	values := make([]string, 0, len(l.OptionValues))
	for _, k := range slices.Sorted(maps.Keys(l.OptionValues)) {
		values = append(values, l.OptionValues[k])
	}
	return l.Title + ", " + strings.Join(values, ", ")
}
