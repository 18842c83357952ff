package console

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/web"
	"mercato/tenants/fulfillment"
	"mercato/tenants/orders"
)

// fulfilmentPages are the shipping pages of an order: its lines with what is left to ship and
// the form that ships them (merchant staff), and every parcel's tracking timeline (tenant staff
// read them too). The capability is the API's /v1/shipments.
func (h *handlers) fulfilmentPages() []page {
	const object, capability = Prefix + "/orders", "/v1/shipments"
	return []page{
		{fiber.MethodGet, "/orders/:id/fulfil", object, capability, authz.ActionRead, false, h.fulfilPage},
		{fiber.MethodPost, "/orders/:id/fulfil", object, capability, authz.ActionWrite, false, h.fulfil},
		{fiber.MethodPost, "/orders/:id/shipments/:shipment/events", object, capability, authz.ActionWrite, false, h.addTrackingEvent},
	}
}

type fulfilLine struct {
	orders.Line
	Remaining int
	Field     string // the quantity input's name
}

type fulfilGroup struct {
	MerchantOrder orders.MerchantOrder
	Lines         []fulfilLine
	Shipments     []fulfillment.Shipment
	Shippable     bool // this person may ship it now
}

type fulfilData struct {
	Order    orders.Order
	Groups   []fulfilGroup
	Carriers []web.Option
	Statuses []web.Option
	Form     web.Form
	CanShip  bool
}

// fulfilData reads the order as the person may see it and lays out one group per merchant
// order: merchant staff see only their own.
func (h *handlers) fulfilData(c *fiber.Ctx, s *session, form web.Form) (fulfilData, error) {
	id, err := paramID(c, "id")
	if err != nil {
		return fulfilData{}, err
	}
	v, err := h.Fulfillment.OrderView(c.UserContext(), s.member.TenantID, id)
	if errors.Is(err, orders.ErrNotFound) {
		return fulfilData{}, errNotFound
	}
	if err != nil {
		return fulfilData{}, err
	}
	d := fulfilData{Order: v.Order, Form: form, CanShip: s.merchantScope() && h.allowed(s, "/v1/shipments", authz.ActionWrite)}
	for _, code := range h.Fulfillment.Carriers() {
		d.Carriers = append(d.Carriers, web.Option{Value: code, Label: "fulfil.carrier." + code})
	}
	for _, st := range fulfillment.Statuses() {
		d.Statuses = append(d.Statuses, web.Option{Value: st, Label: "tracking.status." + st})
	}
	for _, mo := range v.Order.Merchants {
		g := fulfilGroup{MerchantOrder: mo}
		left := 0
		for _, l := range mo.Lines {
			fl := fulfilLine{Line: l, Remaining: l.Quantity - l.FulfilledQty, Field: "qty." + l.ID.String()}
			left += fl.Remaining
			if _, typed := form.Values[fl.Field]; !typed {
				form.Values[fl.Field] = strconv.Itoa(fl.Remaining) // ship everything left, unless told otherwise
			}
			g.Lines = append(g.Lines, fl)
		}
		for _, sh := range v.Shipments {
			if sh.MerchantOrderID == mo.ID {
				g.Shipments = append(g.Shipments, sh)
			}
		}
		g.Shippable = d.CanShip && left > 0 && (mo.Status == orders.StatusPaid || mo.Status == orders.StatusPartiallyFulfilled)
		d.Groups = append(d.Groups, g)
	}
	if form.Values["carrier"] == "" && len(d.Carriers) > 0 {
		form.Values["carrier"] = d.Carriers[len(d.Carriers)-1].Value // a real carrier when one is configured
	}
	return d, nil
}

func (h *handlers) fulfilPage(c *fiber.Ctx, s *session) error {
	d, err := h.fulfilData(c, s, web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "fulfil", d)
}

// fulfil ships the quantities typed for the person's merchant order; lines left at 0 stay.
func (h *handlers) fulfil(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	in := fulfillment.NewShipment{Carrier: values["carrier"], TrackingNumber: values["tracking_number"],
		CreateLabel: values["create_label"] == "on"}
	v, err := h.Fulfillment.OrderView(ctx, s.member.TenantID, id)
	if errors.Is(err, orders.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	bad := map[string]string{}
	var fields []string // the form field of each line sent, to place the service's errors
	for _, mo := range v.Order.Merchants {
		if mo.MerchantID != s.member.MerchantID {
			continue
		}
		in.MerchantOrderID = mo.ID
		for _, l := range mo.Lines {
			name := "qty." + l.ID.String()
			raw := strings.TrimSpace(values[name])
			if raw == "" {
				continue
			}
			n, err := strconv.Atoi(raw)
			switch {
			case err != nil || n < 0:
				bad["body."+name] = "fulfil.qty_invalid"
			case n > l.Quantity-l.FulfilledQty:
				bad["body."+name] = "fulfil.qty_too_many"
			case n > 0:
				in.Lines = append(in.Lines, fulfillment.ShipmentLine{OrderLineID: l.ID, Quantity: n})
				fields = append(fields, name)
			}
		}
	}
	if in.MerchantOrderID == uuid.Nil {
		return errNotFound
	}
	if len(bad) == 0 && len(in.Lines) == 0 {
		bad[""] = "fulfil.nothing_selected"
	}
	err = fault.Fields(bad)
	if len(bad) == 0 {
		var sh fulfillment.Shipment
		sh, err = h.Fulfillment.Create(ctx, s.member.TenantID, in)
		if err == nil {
			h.r.Flash(c, web.FlashSuccess, "fulfil.shipped", sh.TrackingNumber)
			return c.Redirect(fmt.Sprintf("%s/orders/%s/fulfil", Prefix, id), fiber.StatusSeeOther)
		}
	}
	if !web.Fixable(err) {
		return err
	}
	form := h.form(c, err, values)
	if bad[""] != "" {
		form.Errors[""] = bad[""] // the console's own words, not the generic "some inputs are not valid"
	}
	// The service names lines by their place in the request; the form by their id.
	for k, msg := range form.Errors {
		var i int
		var field string
		if n, _ := fmt.Sscanf(k, "lines[%d].%s", &i, &field); n == 2 && i >= 0 && i < len(fields) {
			delete(form.Errors, k)
			form.Errors[fields[i]] = msg
		}
	}
	d, derr := h.fulfilData(c, s, form)
	if derr != nil {
		return derr
	}
	return h.r.Render(c, fiber.StatusUnprocessableEntity, "fulfil", d)
}

// addTrackingEvent records a status the merchant enters for a parcel with the manual carrier.
func (h *handlers) addTrackingEvent(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	shipmentID, err := paramID(c, "shipment")
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	_, err = h.Fulfillment.AddEvent(c.UserContext(), s.member.TenantID, shipmentID, fulfillment.NewEvent{
		Status: values["status"], Description: values["description"], Location: values["location"]})
	back := fmt.Sprintf("%s/orders/%s/fulfil", Prefix, id)
	switch {
	case err == nil:
		h.r.Flash(c, web.FlashSuccess, "fulfil.event_added")
	case web.Fixable(err):
		h.r.Flash(c, web.FlashError, h.message(c, err))
	default:
		return err
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}
