package storefront

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/money"
	"mercato/tenants/orders"
)

// shopperOf is whose orders the visit may see: the signed-in shopper's, or those placed in
// this guest session.
func shopperOf(v *visit) (orders.Shopper, bool) {
	switch v.principal.Kind {
	case identity.KindShopper:
		return orders.Shopper{ShopperID: v.principal.ShopperID}, true
	case identity.KindGuest:
		return orders.Shopper{GuestSessionID: v.principal.SessionID}, v.principal.SessionID != uuid.Nil
	}
	return orders.Shopper{}, false
}

// statusBadge is the badge kind and catalogue key of an order status; pending payment reads
// "awaiting payment" to the shopper.
func statusBadge(status string) (kind, key string) {
	key = "storefront.orders.status." + status
	switch status {
	case orders.StatusPendingPayment:
		return "warning", key
	case orders.StatusCancelled, orders.StatusRefunded:
		return "neutral", key
	case orders.StatusCompleted, orders.StatusFulfilled:
		return "success", key
	}
	return "info", key
}

// hasOrders reports whether the visitor has placed any order.
func (s *storefront) hasOrders(c *fiber.Ctx, v *visit) (bool, error) {
	sh, ok := shopperOf(v)
	if !ok {
		return false, nil
	}
	p, err := s.d.Orders.ShopperOrders(c.UserContext(), v.tenant.ID, sh, httpx.PageParams{Limit: 1})
	return len(p.Items) > 0, err
}

type ordersPage struct {
	Orders []orderRow
	Next   string // the next page's link; "" on the last
}

type orderRow struct {
	ID, Number      string
	Placed          time.Time
	StatusKind, Key string
	Total           money.Amount
}

func (s *storefront) myOrders(c *fiber.Ctx, v *visit) error {
	sh, ok := shopperOf(v)
	if !ok { // a visitor without a session has placed nothing here yet
		return s.r.Render(c, fiber.StatusOK, "orders", ordersPage{})
	}
	p, err := s.d.Orders.ShopperOrders(c.UserContext(), v.tenant.ID, sh, httpx.PageParams{Limit: 20, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	page := ordersPage{}
	if p.NextCursor != "" {
		page.Next = "/account/orders?cursor=" + p.NextCursor
	}
	for _, o := range p.Items {
		kind, key := statusBadge(o.Status)
		page.Orders = append(page.Orders, orderRow{ID: o.ID.String(), Number: o.Number, Placed: o.CreatedAt, StatusKind: kind, Key: key,
			Total: amount(o.TotalMinor, o.Currency)})
	}
	return s.r.Render(c, fiber.StatusOK, "orders", page)
}

type orderPage struct {
	Order      orders.Order
	StatusKind string
	StatusKey  string
	Awaiting   bool
	Totals     orderTotals
	Merchants  []orderMerchant
	Events     []orderEvent
	Parcels    []parcel // the "parcels" partial of tracking.go
}

type orderMerchant struct {
	Name, Shipping  string
	StatusKind, Key string
	Lines           []checkoutLine
	Totals          orderTotals
}

type orderEvent struct {
	At        time.Time
	Key       string
	Merchant  string
	Note      string
	IsCurrent bool
}

func (s *storefront) myOrder(c *fiber.Ctx, v *visit) error {
	sh, ok := shopperOf(v)
	if !ok {
		return orders.ErrNotFound
	}
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return orders.ErrNotFound
	}
	o, err := s.d.Orders.ShopperOrder(c.UserContext(), v.tenant.ID, sh, id)
	if err != nil {
		return err
	}
	kind, key := statusBadge(o.Status)
	page := orderPage{Order: o, StatusKind: kind, StatusKey: key, Awaiting: o.Status == orders.StatusPendingPayment,
		Totals: totalsOf(o.Amounts, o.Currency)}
	names := map[uuid.UUID]string{}
	for _, mo := range o.Merchants {
		names[mo.ID] = mo.MerchantName
		k, key := statusBadge(mo.Status)
		m := orderMerchant{Name: mo.MerchantName, Shipping: mo.ShippingName, StatusKind: k, Key: key, Totals: totalsOf(mo.Amounts, o.Currency)}
		for _, l := range mo.Lines {
			m.Lines = append(m.Lines, checkoutLine{Title: l.Title, Options: optionText(l.OptionValues), Quantity: l.Quantity,
				Unit: amount(l.UnitPriceMinor, o.Currency), Total: amount(l.SubtotalMinor, o.Currency)})
		}
		page.Merchants = append(page.Merchants, m)
	}
	for i, e := range o.Events {
		ev := orderEvent{At: e.At, Key: "storefront.orders.event." + e.To, Note: e.Note, IsCurrent: i == len(o.Events)-1}
		if e.MerchantOrderID != nil {
			ev.Merchant = names[*e.MerchantOrderID]
		}
		page.Events = append(page.Events, ev)
	}
	if page.Parcels, err = s.parcelsOf(c.UserContext(), v.tenant.ID, o); err != nil {
		return err
	}
	return s.r.Render(c, fiber.StatusOK, "order", page)
}
