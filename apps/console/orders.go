package console

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/orders"
)

// orderPages are the orders list and an order's page with its merchant orders, lines and
// timeline, and cancelling an unpaid order. The capability is the API's /v1/orders; merchant
// staff see only the orders with one of their merchant orders, and only their part (the
// service and RLS narrow it), and cannot cancel.
func (h *handlers) orderPages() []page {
	const object, capability = Prefix + "/orders", "/v1/orders"
	return []page{
		{fiber.MethodGet, "/orders", object, capability, authz.ActionRead, false, h.ordersPage},
		{fiber.MethodGet, "/orders/:id", object, capability, authz.ActionRead, false, h.orderPage},
		{fiber.MethodPost, "/orders/:id/cancel", object, capability, authz.ActionWrite, true, h.cancelOrder},
	}
}

type ordersData struct {
	Table    web.TableState
	Status   string
	Statuses []web.Option
	Items    []orderItem
	Next     string
	Merchant bool // the list shows the merchant's part of each order
}

type orderItem struct {
	orders.Summary
	Total money.Amount
}

// orderSort maps the table's sort onto the service's.
func orderSort(t web.TableState) string {
	switch {
	case t.Sort == "total" && t.Desc:
		return "total_desc"
	case t.Sort == "total":
		return "total_asc"
	case !t.Desc:
		return "oldest"
	}
	return "newest"
}

func validOrderStatus(st string) bool {
	for _, s := range orders.Statuses() {
		if s == st {
			return true
		}
	}
	return false
}

// ordersPage is the orders table: status filter, search by the shopper's e-mail, sort by date
// or total, and paging.
func (h *handlers) ordersPage(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	table := web.TableFrom(c, "-created", "total")
	d := ordersData{Table: table, Status: c.Query("status"), Merchant: s.merchantScope()}
	if !validOrderStatus(d.Status) {
		d.Status = ""
	}
	d.Statuses = []web.Option{{Value: "", Label: "orders.all_statuses"}}
	for _, st := range orders.Statuses() {
		d.Statuses = append(d.Statuses, web.Option{Value: st, Label: "orders.status." + st})
	}
	f := orders.ListFilter{Status: d.Status, Email: table.Q, Sort: orderSort(table), PageParams: httpx.PageParams{Cursor: table.Cursor}}
	p, err := h.Orders.List(ctx, s.member.TenantID, f)
	if errors.Is(err, httpx.ErrBadCursor) { // a stale or edited link: start again
		f.Cursor = ""
		p, err = h.Orders.List(ctx, s.member.TenantID, f)
	}
	if err != nil {
		return err
	}
	for _, o := range p.Items {
		d.Items = append(d.Items, orderItem{Summary: o, Total: amountOf(o.TotalMinor, o.Currency)})
	}
	d.Next = p.NextCursor
	return h.r.Render(c, fiber.StatusOK, "orders", d)
}

type orderData struct {
	Order     orders.Order
	Totals    orderMoney
	Merchants []merchantOrderView
	Events    []orderEventView
	CanCancel bool
	Fulfil    bool // the fulfilment page exists for this order
	Merchant  bool
}

type orderMoney struct {
	Subtotal, Discount, Shipping, Tax, Total, Commission, PlatformFee money.Amount
}

type merchantOrderView struct {
	orders.MerchantOrder
	Money orderMoney
	Lines []orderLineView
}

type orderLineView struct {
	orders.Line
	Unit, Total, Commission, Payable money.Amount
}

type orderEventView struct {
	orders.Event
	Merchant string
}

func moneyOf(a orders.Amounts, commission, fee int64, cur string) orderMoney {
	return orderMoney{Subtotal: amountOf(a.SubtotalMinor, cur), Discount: amountOf(a.DiscountMinor, cur), Shipping: amountOf(a.ShippingMinor, cur),
		Tax: amountOf(a.TaxMinor, cur), Total: amountOf(a.TotalMinor, cur), Commission: amountOf(commission, cur), PlatformFee: amountOf(fee, cur)}
}

// orderPage shows one order as the person may see it: tenant staff all of it, merchant staff
// their merchant order only.
func (h *handlers) orderPage(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	o, err := h.Orders.Get(c.UserContext(), s.member.TenantID, id)
	if errors.Is(err, orders.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	d := orderData{Order: o, Totals: moneyOf(o.Amounts, o.CommissionMinor, o.PlatformFeeMinor, o.Currency), Merchant: s.merchantScope(),
		CanCancel: o.Status == orders.StatusPendingPayment && h.may(s, Prefix+"/orders", "/v1/orders", authz.ActionWrite, true),
		Fulfil:    h.Fulfillment != nil && o.Status != orders.StatusPendingPayment && o.Status != orders.StatusCancelled}
	names := map[string]string{}
	for _, mo := range o.Merchants {
		names[mo.ID.String()] = mo.MerchantName
		v := merchantOrderView{MerchantOrder: mo, Money: moneyOf(mo.Amounts, mo.CommissionMinor, mo.PlatformFeeMinor, o.Currency)}
		for _, l := range mo.Lines {
			v.Lines = append(v.Lines, orderLineView{Line: l, Unit: amountOf(l.UnitPriceMinor, o.Currency), Total: amountOf(l.TotalMinor, o.Currency),
				Commission: amountOf(l.CommissionMinor, o.Currency), Payable: amountOf(l.PayableMinor, o.Currency)})
		}
		d.Merchants = append(d.Merchants, v)
	}
	for _, e := range o.Events {
		v := orderEventView{Event: e}
		if e.MerchantOrderID != nil {
			v.Merchant = names[e.MerchantOrderID.String()]
		}
		d.Events = append(d.Events, v)
	}
	return h.r.Render(c, fiber.StatusOK, "order", d)
}

// cancelOrder cancels an unpaid order (the page asks for confirmation first) and shows the
// result on the order's page.
func (h *handlers) cancelOrder(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	back := Prefix + "/orders/" + id.String()
	_, err = h.Orders.Cancel(c.UserContext(), s.member.TenantID, id, c.FormValue("note"))
	switch {
	case errors.Is(err, orders.ErrNotFound):
		return errNotFound
	case errors.Is(err, orders.ErrTransition):
		h.r.Flash(c, web.FlashError, "orders.cancel_refused")
	case err != nil:
		return err
	default:
		h.r.Flash(c, web.FlashSuccess, "orders.cancelled")
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}
