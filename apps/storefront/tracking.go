package storefront

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/tenants/fulfillment"
	"mercato/tenants/orders"
)

var errOrderNotFound = fault.New(fault.NotFound, "order_not_found", "order not found")

// trackingRoutes serves the parcels of a shopper's order with their journeys. The order page
// shows the same section (the "parcels" partial with parcelsOf); this page is where the
// shipped mail links.
func (s *storefront) trackingRoutes(app fiber.Router) {
	if s.d.Fulfillment == nil {
		return
	}
	app.Get("/account/orders/:id/tracking", s.page(s.trackingPage))
}

// TrackingPath is the shopper's tracking page of an order, as mail links to it.
func TrackingPath(orderID uuid.UUID) string {
	return "/account/orders/" + orderID.String() + "/tracking"
}

// parcelItem is one line in a parcel, as the shopper reads it.
type parcelItem struct {
	Title    string
	Quantity int
}

// parcel is one shipment as the shopper sees it: who sent it, what is in it, where it is.
type parcel struct {
	fulfillment.Shipment
	MerchantName string
	Items        []parcelItem
	Latest       *fulfillment.TrackingEvent // the newest event; nil before the first scan
}

// parcelsOf lays out an order's shipments for the "parcels" partial. o must be an order the
// caller may see (orders.Get or ShopperOrder returned it): the shipments are read by its id.
func (s *storefront) parcelsOf(ctx context.Context, tenantID uuid.UUID, o orders.Order) ([]parcel, error) {
	if s.d.Fulfillment == nil {
		return nil, nil
	}
	shipments, err := s.d.Fulfillment.ForOrder(ctx, tenantID, o.ID)
	if err != nil {
		return nil, err
	}
	return parcels(o, shipments), nil
}

func parcels(o orders.Order, shipments []fulfillment.Shipment) []parcel {
	names := map[uuid.UUID]string{}
	titles := map[uuid.UUID]string{}
	for _, mo := range o.Merchants {
		names[mo.ID] = mo.MerchantName
		for _, l := range mo.Lines {
			titles[l.ID] = l.Title
		}
	}
	out := make([]parcel, 0, len(shipments))
	for _, sh := range shipments {
		p := parcel{Shipment: sh, MerchantName: names[sh.MerchantOrderID]}
		for _, l := range sh.Lines {
			p.Items = append(p.Items, parcelItem{Title: titles[l.OrderLineID], Quantity: l.Quantity})
		}
		if n := len(sh.Events); n > 0 {
			p.Latest = &sh.Events[n-1]
		}
		out = append(out, p)
	}
	return out
}

type trackingData struct {
	Order   orders.Order
	Parcels []parcel
}

// trackingPage shows one of the shopper's orders' parcels; anyone else's order is 404.
func (s *storefront) trackingPage(c *fiber.Ctx, v *visit) error {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return errOrderNotFound
	}
	view, err := s.d.Fulfillment.OrderView(c.UserContext(), v.tenant.ID, id)
	if errors.Is(err, orders.ErrNotFound) {
		return errOrderNotFound
	}
	if err != nil {
		return err
	}
	return s.r.Render(c, fiber.StatusOK, "tracking", trackingData{Order: view.Order, Parcels: parcels(view.Order, view.Shipments)})
}
