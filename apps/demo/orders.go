package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/fulfillment"
	"mercato/tenants/orders"
)

// OrderDeps are the services the demo orders go through: the shopper's cart and checkout, the
// payment arriving, and the merchant shipping with the manual carrier and marking delivery.
// Nothing is written behind a service's back, so the timelines, audit entries, stock
// movements and shipped mails are the ones a real order leaves.
type OrderDeps struct {
	Platform    *db.Platform
	DB          *db.DB
	Orders      *orders.Service
	Carts       *cart.Service
	Fulfillment *fulfillment.Service
}

// ShippingRates are the demo merchants' shipping tables, by "tenant/handle", in the tenant's
// currency: flat rates (one with free shipping over an amount) and a weight table for
// furniture.
var ShippingRates = map[string][]orders.ShippingRateInput{
	"lumen/northwind-lighting": {
		{Name: "Standard (3–5 days)", Kind: orders.RateFlat, FlatMinor: 695, FreeOverMinor: ptr64(15000)},
		{Name: "Express (next day)", Kind: orders.RateFlat, FlatMinor: 1995},
	},
	"lumen/oak-and-ash": {
		{Name: "Freight", Kind: orders.RateWeight, Brackets: []orders.Bracket{
			{UpToGrams: 5000, PriceMinor: 2500}, {UpToGrams: 20000, PriceMinor: 6000}, {UpToGrams: 100000, PriceMinor: 15000}}},
	},
	"panda/xiangyun-tea": {{Name: "顺丰标快 SF Standard", Kind: orders.RateFlat, FlatMinor: 1200, FreeOverMinor: ptr64(19900)}},
	"panda/jade-studio":  {{Name: "保价快递 Insured courier", Kind: orders.RateFlat, FlatMinor: 2500}},
	"nordic/nordic-knits": {
		{Name: "Posti parcel", Kind: orders.RateWeight, Brackets: []orders.Bracket{{UpToGrams: 1000, PriceMinor: 590}, {UpToGrams: 5000, PriceMinor: 990}}},
	},
}

// TaxRates are the demo tenants' tax rates: US sales tax on top of the price, Chinese and
// Finnish VAT included in it.
var TaxRates = map[string][]orders.TaxRateInput{
	"lumen":  {{Country: "US", Name: "Sales tax", RateBP: 825}, {Country: "US", Region: "OR", Name: "Oregon (no sales tax)", RateBP: 0}},
	"panda":  {{Country: "CN", Name: "增值税 VAT", RateBP: 1300, Inclusive: true}},
	"nordic": {{Country: "FI", Name: "ALV", RateBP: 2550, Inclusive: true}},
}

// Item is a quantity of a variant, by SKU.
type Item struct {
	SKU string
	Qty int
}

// Order is a demo order and the state the demo leaves it in: pending_payment, cancelled,
// paid, partially_fulfilled (the first merchant has shipped), fulfilled (every merchant has
// shipped, parcels in transit) or completed (delivered).
type Order struct {
	Tenant, Shopper string
	Items           []Item
	Coupon          string
	State           string
}

// Orders are the demo orders, one or more in every state a shopper or merchant meets.
var Orders = []Order{
	{"lumen", "ava@example.com", []Item{{"ARC-BRASS-DESK-LAMP-BRASS", 1}, {"WINDSOR-OAK-CHAIR-NATURAL", 2}}, Coupon, orders.StatusCompleted},
	{"lumen", "liam@example.com", []Item{{"LINEN-DRUM-PENDANT-40CM", 1}, {"ASH-SIDE-TABLE", 1}}, "", orders.StatusPartiallyFulfilled},
	{"lumen", "mia@example.com", []Item{{"CLIP-ON-READING-LIGHT", 1}, {"ARC-BRASS-DESK-LAMP-BRASS", 1}}, "", orders.StatusFulfilled},
	{"lumen", "liam@example.com", []Item{{"WINDSOR-OAK-CHAIR-SMOKED", 1}}, "", orders.StatusPaid},
	{"lumen", "mia@example.com", []Item{{"WALNUT-DINING-TABLE-180CM", 1}}, "", orders.StatusPendingPayment},
	{"lumen", "ava@example.com", []Item{{"LINEN-DRUM-PENDANT-60CM", 1}}, "", orders.StatusCancelled},
	{"panda", "wang.fang@example.com", []Item{{"WEST-LAKE-LONGJING-100G", 2}, {"CELADON-GAIWAN", 1}}, Coupon, orders.StatusCompleted},
	{"panda", "li.na@example.com", []Item{{"TIEGUANYIN-OOLONG", 1}, {"HETIAN-JADE-PENDANT", 1}}, "", orders.StatusPartiallyFulfilled},
	{"panda", "li.na@example.com", []Item{{"AGED-PUER-CAKE", 1}}, "", orders.StatusFulfilled},
	{"panda", "ava@example.com", []Item{{"JADE-BANGLE-56MM", 1}}, "", orders.StatusPendingPayment},
	{"nordic", "emil@example.com", []Item{{"FAIR-ISLE-SWEATER-M", 1}, {"MERINO-BEANIE-SEA", 2}}, "", orders.StatusCompleted},
	{"nordic", "emil@example.com", []Item{{"ALPACA-YARN-BUNDLE", 3}}, "", orders.StatusPaid},
}

// addresses are where each demo tenant's shoppers live, with the name on the parcel by e-mail.
var addresses = map[string]orders.Address{
	"lumen":  {Line1: "500 Market Street", City: "San Francisco", Region: "CA", PostalCode: "94105", Country: "US", Phone: "+1 415 555 0134"},
	"panda":  {Line1: "西湖区文三路 90 号", City: "杭州 Hangzhou", Region: "ZJ", PostalCode: "310012", Country: "CN", Phone: "+86 571 5555 0188"},
	"nordic": {Line1: "Mannerheimintie 12", City: "Helsinki", PostalCode: "00100", Country: "FI", Phone: "+358 40 555 0101"},
}

var names = map[string]string{
	"ava@example.com": "Ava Jensen", "liam@example.com": "Liam Chen", "mia@example.com": "Mia Okafor",
	"wang.fang@example.com": "王芳", "li.na@example.com": "李娜", "emil@example.com": "Emil Virtanen",
}

// LoadOrders gives the demo merchants their shipping rates, the tenants their tax rates, and
// places the demo orders, walking each to its state. Rates are added where a merchant or
// tenant has none; orders only in a tenant that has none yet, so a second load changes
// nothing, except that a tenant whose unpaid demo orders the expiry job has cancelled gets
// fresh unpaid ones (those stay cancelled, as real ones would).
func LoadOrders(ctx context.Context, d OrderDeps) error {
	ids, err := demoIDs(ctx, d.Platform)
	if err != nil {
		return fmt.Errorf("demo ids: %w", err)
	}
	// The demo loads before the worker starts: do the expiry job's work first, so unpaid orders
	// past their time count as the cancelled orders they are about to be.
	if _, err := d.Orders.ExpireUnpaid(ctx, d.Platform, time.Now(), 500); err != nil {
		return fmt.Errorf("demo: expire unpaid orders: %w", err)
	}
	for key, rates := range ShippingRates {
		slug, _, _ := strings.Cut(key, "/")
		if err := ensureRates(ctx, d, ids.tenants[slug], ids.merchants[key], currencyOf(slug), rates); err != nil {
			return fmt.Errorf("demo shipping rates of %s: %w", key, err)
		}
	}
	for slug, rates := range TaxRates {
		if err := ensureTax(ctx, d, ids.tenants[slug], rates); err != nil {
			return fmt.Errorf("demo tax rates of %s: %w", slug, err)
		}
	}
	for _, t := range Tenants {
		tid, ok := ids.tenants[t.Slug]
		if !ok {
			continue
		}
		page, err := d.Orders.List(ctx, tid, orders.ListFilter{})
		if err != nil {
			return fmt.Errorf("demo orders of %s: %w", t.Slug, err)
		}
		// A store with orders gets only its unpaid ones again, once the expiry job has
		// cancelled the last ones: the demo keeps an order awaiting payment to click.
		onlyUnpaid := len(page.Items) > 0
		if onlyUnpaid {
			unpaid, err := d.Orders.List(ctx, tid, orders.ListFilter{Status: orders.StatusPendingPayment})
			if err != nil {
				return fmt.Errorf("demo orders of %s: %w", t.Slug, err)
			}
			if len(unpaid.Items) > 0 {
				continue
			}
		}
		shoppers, err := shopperIDs(ctx, d.DB, tid)
		if err != nil {
			return fmt.Errorf("demo shoppers of %s: %w", t.Slug, err)
		}
		for i, o := range Orders {
			if o.Tenant != t.Slug || onlyUnpaid && o.State != orders.StatusPendingPayment {
				continue
			}
			if err := place(ctx, d, tid, t.Locale, shoppers[o.Shopper], o); err != nil {
				return fmt.Errorf("demo order %d (%s, %s): %w", i, o.Tenant, o.Shopper, err)
			}
		}
	}
	return nil
}

func ensureRates(ctx context.Context, d OrderDeps, tid, mid uuid.UUID, currency string, rates []orders.ShippingRateInput) error {
	have, err := d.Orders.ShippingRates(ctx, tid, mid, false)
	if err != nil || len(have) > 0 {
		return err
	}
	for _, in := range rates {
		in.MerchantID, in.Currency = mid, currency
		if _, err := d.Orders.CreateShippingRate(ctx, tid, in); err != nil {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	return nil
}

func ensureTax(ctx context.Context, d OrderDeps, tid uuid.UUID, rates []orders.TaxRateInput) error {
	have, err := d.Orders.TaxRates(ctx, tid)
	if err != nil || len(have) > 0 {
		return err
	}
	for _, in := range rates {
		if _, err := d.Orders.CreateTaxRate(ctx, tid, in); err != nil {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	return nil
}

// place puts the items in the shopper's cart, checks out with each merchant's first shipping
// option, and moves the order on to o.State the way payment and the merchants would.
func place(ctx context.Context, d OrderDeps, tid uuid.UUID, locale string, shopper uuid.UUID, o Order) error {
	if shopper == uuid.Nil {
		return fmt.Errorf("no shopper %s", o.Shopper)
	}
	owner := cart.Owner{ShopperID: shopper}
	sctx := scope.WithActor(ctx, scope.Actor("shopper:"+shopper.String()))
	variants, err := variantsBySKU(ctx, d.DB, tid)
	if err != nil {
		return err
	}
	shipping := map[uuid.UUID]uuid.UUID{}
	for _, it := range o.Items {
		v, ok := variants[it.SKU]
		if !ok {
			return fmt.Errorf("no variant %s", it.SKU)
		}
		if err := d.Carts.Add(sctx, tid, owner, v.ID, it.Qty); err != nil {
			return fmt.Errorf("add %s: %w", it.SKU, err)
		}
		if _, chosen := shipping[v.MerchantID]; !chosen {
			rates, err := d.Orders.ShippingRates(ctx, tid, v.MerchantID, true)
			if err != nil || len(rates) == 0 {
				return fmt.Errorf("shipping rates of %s: %v", it.SKU, err)
			}
			shipping[v.MerchantID] = rates[0].ID
		}
	}
	addr := addresses[o.Tenant]
	addr.Name = names[o.Shopper]
	placed, err := d.Orders.Checkout(sctx, tid, orders.CheckoutInput{Owner: owner, Email: o.Shopper, Address: addr,
		Shipping: shipping, CouponCode: o.Coupon, Locale: locale})
	if err != nil {
		return err
	}
	order := placed.Order
	switch o.State {
	case orders.StatusPendingPayment:
		return nil
	case orders.StatusCancelled:
		_, err := d.Orders.Cancel(sctx, tid, order.ID, "Ordered the wrong size")
		return err
	}
	if err := d.Orders.MarkPaid(ctx, tid, order.ID, "demo_"+order.ID.String()[24:]); err != nil {
		return err
	}
	for i, mo := range order.Merchants {
		ship := o.State == orders.StatusFulfilled || o.State == orders.StatusCompleted ||
			o.State == orders.StatusPartiallyFulfilled && i == 0
		if ship {
			if err := shipAll(ctx, d, tid, mo, o.State == orders.StatusCompleted); err != nil {
				return fmt.Errorf("ship: %w", err)
			}
		}
	}
	return nil
}

// shipAll sends every line of a merchant order in one parcel with the manual carrier, in
// transit, and delivered when asked (which completes the merchant order).
func shipAll(ctx context.Context, d OrderDeps, tid uuid.UUID, mo orders.MerchantOrder, delivered bool) error {
	mctx := scope.WithMerchant(ctx, mo.MerchantID)
	in := fulfillment.NewShipment{MerchantOrderID: mo.ID, Carrier: fulfillment.CarrierManual,
		TrackingNumber: "MC" + strings.ToUpper(strings.ReplaceAll(mo.ID.String(), "-", "")[20:])}
	for _, l := range mo.Lines {
		in.Lines = append(in.Lines, fulfillment.ShipmentLine{OrderLineID: l.ID, Quantity: l.Quantity})
	}
	sh, err := d.Fulfillment.Create(mctx, tid, in)
	if err != nil {
		return err
	}
	steps := []fulfillment.NewEvent{{Status: fulfillment.StatusInTransit, Description: "Collected by the courier", Location: "Sorting centre"}}
	if delivered {
		steps = append(steps,
			fulfillment.NewEvent{Status: fulfillment.StatusOutForDelivery, Description: "Out with the driver"},
			fulfillment.NewEvent{Status: fulfillment.StatusDelivered, Description: "Handed to the recipient"})
	}
	for _, e := range steps {
		if _, err := d.Fulfillment.AddEvent(mctx, tid, sh.ID, e); err != nil {
			return fmt.Errorf("%s: %w", e.Status, err)
		}
	}
	return nil
}

type demoVariant struct {
	ID         uuid.UUID `bun:"id"`
	MerchantID uuid.UUID `bun:"merchant_id"`
	SKU        string    `bun:"sku"`
}

func variantsBySKU(ctx context.Context, d *db.DB, tid uuid.UUID) (map[string]demoVariant, error) {
	var rows []demoVariant
	err := d.WithTenant(ctx, tid, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT id, merchant_id, sku FROM variants WHERE tenant_id = ?", tid).Scan(ctx, &rows)
	})
	out := make(map[string]demoVariant, len(rows))
	for _, r := range rows {
		out[r.SKU] = r
	}
	return out, err
}

func shopperIDs(ctx context.Context, d *db.DB, tid uuid.UUID) (map[string]uuid.UUID, error) {
	var rows []struct {
		ID    uuid.UUID `bun:"id"`
		Email string    `bun:"email"`
	}
	err := d.WithTenant(ctx, tid, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT id, email FROM shoppers WHERE tenant_id = ?", tid).Scan(ctx, &rows)
	})
	out := make(map[string]uuid.UUID, len(rows))
	for _, r := range rows {
		out[r.Email] = r.ID
	}
	return out, err
}

func currencyOf(slug string) string {
	for _, t := range Tenants {
		if t.Slug == slug {
			return t.Currency
		}
	}
	return ""
}

func ptr64(n int64) *int64 { return &n }
