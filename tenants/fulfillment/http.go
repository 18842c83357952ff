package fulfillment

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
	"mercato/platform/scope"
)

type shipmentOutput struct {
	Body Shipment
}

type shipmentsOutput struct {
	Body httpx.Page[Shipment]
}

type carriersOutput struct {
	Body struct {
		Items []string `json:"items"`
	}
}

// Routes registers the shipments API (family "shipments"). Merchant staff ship and read their
// own merchant's parcels; tenant staff read every merchant's.
func Routes(api huma.API, s *Service) {
	const tag = "Shipments"
	httpx.Register(api, huma.Operation{
		OperationID: "list-shipments", Method: http.MethodGet, Path: "/v1/shipments", Tags: []string{tag},
		Summary: "List shipments", Description: "Newest first, each with its lines and tracking events. Merchant staff see only their own merchant's.",
	}, func(ctx context.Context, in *struct{ ListFilter }) (*shipmentsOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.List(ctx, t, in.ListFilter)
		return &shipmentsOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "list-carriers", Method: http.MethodGet, Path: "/v1/shipments/carriers", Tags: []string{tag},
		Summary: "Carriers", Description: "The carriers a shipment may use: manual (statuses entered by the merchant) and those the platform configures.",
	}, func(ctx context.Context, _ *struct{}) (*carriersOutput, error) {
		if _, err := httpx.TenantOf(ctx); err != nil {
			return nil, err
		}
		out := &carriersOutput{}
		out.Body.Items = s.Carriers()
		return out, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-shipment", Method: http.MethodPost, Path: "/v1/shipments", Tags: []string{tag},
		Summary: "Ship lines of a merchant order", DefaultStatus: http.StatusCreated,
		Description: "Merchant staff only. Records the quantities shipped on the order (partial fulfilment by line) and mails the shopper. " +
			"With create_label the carrier books the parcel and assigns the tracking number.",
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct{ Body NewShipment }) (*shipmentOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		sh, err := s.Create(ctx, t, in.Body)
		return &shipmentOutput{Body: sh}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-shipment", Method: http.MethodGet, Path: "/v1/shipments/{id}", Tags: []string{tag},
		Summary: "Get a shipment", Description: "With its lines and tracking events, oldest first.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		ID uuid.UUID `path:"id"`
	}) (*shipmentOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		sh, err := s.Get(ctx, t, in.ID)
		return &shipmentOutput{Body: sh}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-tracking-event", Method: http.MethodPost, Path: "/v1/shipments/{id}/events", Tags: []string{tag},
		Summary: "Add a tracking status", DefaultStatus: http.StatusCreated,
		Description: "For shipments with the manual carrier: the merchant reports where the parcel is. Delivered completes the merchant order once every line is shipped and every parcel delivered.",
		Errors:      []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body NewEvent
	}) (*shipmentOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		sh, err := s.AddEvent(ctx, t, in.ID, in.Body)
		return &shipmentOutput{Body: sh}, err
	})
}

// WebhookPath is where carriers POST tracking webhooks; {carrier} is the carrier's code.
const WebhookPath = "/webhooks/carriers/:carrier"

// WebhookRoute mounts the public inbound carrier webhook. The signature is the credential
// (Carrier.ParseWebhook): a bad one is answered 400 and nothing is stored; a parcel Mercato
// does not know is answered 200 so the carrier stops retrying it.
func WebhookRoute(app fiber.Router, s *Service) {
	app.Post(WebhookPath, func(c *fiber.Ctx) error {
		carrier := strings.Clone(c.Params("carrier"))
		header := http.Header{}
		for k, v := range c.Request().Header.All() {
			header.Add(string(k), string(v))
		}
		body := append([]byte(nil), c.Body()...)
		ctx := scope.WithActor(c.UserContext(), scope.Actor("carrier:"+carrier))
		res, err := s.HandleWebhook(ctx, carrier, header, body)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"received": true, "shipments": res.Shipments, "new_events": res.Events})
	})
}
