package main

import (
	"cmp"
	"context"
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
// tenant's branding. Each is its own task (orders.Notices), retried alone.
func tellPaid(r *runtime, ts *tenants.Service, owners func(context.Context, uuid.UUID, *uuid.UUID) ([]string, error), cfg config.Config) orders.Notices {
	branding := tenantBranding(r.db, cfg.PublicURL)
	send := func(ctx context.Context, tenantID uuid.UUID, event string, locale func(tenants.Tenant) string,
		to func() ([]string, error), data func(tenants.Tenant) any) error {
		t, err := ts.Get(ctx, tenantID)
		if err != nil {
			return err
		}
		rcpt, err := to()
		if err != nil || len(rcpt) == 0 {
			return err
		}
		b, err := branding(ctx, tenantID)
		if err != nil {
			return err
		}
		subject, text, html, err := r.mailRenderer.Render(event, locale(t), b, data(t))
		if err != nil {
			return err
		}
		return r.mailSender.Send(ctx, mail.Message{To: rcpt, Subject: subject, Text: text, HTML: html})
	}
	return orders.Notices{
		Paid: func(ctx context.Context, tenantID uuid.UUID, o orders.Order) error {
			var all []orders.Line
			for _, mo := range o.Merchants {
				all = append(all, mo.Lines...)
			}
			placed := o.CreatedAt
			if o.PaidAt != nil {
				placed = *o.PaidAt
			}
			return send(ctx, tenantID, mail.EventOrderConfirmation,
				func(t tenants.Tenant) string { return cmp.Or(o.Locale, t.DefaultLocale) },
				func() ([]string, error) { return []string{o.Email}, nil },
				func(t tenants.Tenant) any {
					return mail.OrderConfirmation{ShopperName: o.Address.Name, OrderNumber: o.Number, PlacedAt: placed,
						Lines: mailLines(o.Currency, all), Shipping: amountIn(o.Currency, o.ShippingMinor), Total: amountIn(o.Currency, o.TotalMinor),
						OrderURL: storeURL(cfg, t.Slug) + "/account/orders/" + o.ID.String()}
				})
		},
		MerchantNewOrder: func(ctx context.Context, tenantID uuid.UUID, o orders.Order, mo orders.MerchantOrder) error {
			return send(ctx, tenantID, mail.EventMerchantNewOrder,
				func(t tenants.Tenant) string { return t.DefaultLocale },
				func() ([]string, error) { return owners(ctx, tenantID, &mo.MerchantID) },
				func(tenants.Tenant) any {
					return mail.MerchantNewOrder{MerchantName: mo.MerchantName, OrderNumber: o.Number, Lines: mailLines(o.Currency, mo.Lines),
						Total: amountIn(o.Currency, mo.TotalMinor), ShipTo: strings.TrimSpace(o.Address.City + ", " + o.Address.Country),
						OrderURL: strings.TrimSuffix(cfg.PublicURL, "/") + "/console/orders/" + o.ID.String()}
				})
		},
	}
}

func amountIn(currency string, minor int64) money.Amount {
	return money.Amount{Minor: minor, Currency: money.Currency(currency)}
}

// mailLines are order lines as a mail lists them.
func mailLines(currency string, ls []orders.Line) []mail.Line {
	out := make([]mail.Line, len(ls))
	for i, l := range ls {
		out[i] = mail.Line{Name: lineName(l), Quantity: l.Quantity, Total: amountIn(currency, l.UnitPriceMinor*int64(l.Quantity))}
	}
	return out
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
