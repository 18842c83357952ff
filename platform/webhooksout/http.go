package webhooksout

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// ErrNoTenant is answered when a webhook route is called without a tenant in scope.
var ErrNoTenant = fault.New(fault.Invalid, "tenant_required", "this route works inside one tenant: send X-Tenant-ID or use the tenant's host")

func tenantOf(ctx context.Context) (uuid.UUID, error) {
	t, ok := scope.TenantFrom(ctx)
	if !ok {
		return uuid.Nil, ErrNoTenant
	}
	return t, nil
}

// EventTypesFor lists the event types the caller may subscribe to: all of them for the
// tenant's staff, the ones that concern a merchant in a merchant scope.
func EventTypesFor(ctx context.Context) []EventType {
	all := EventTypes()
	if _, ok := scope.MerchantFrom(ctx); !ok {
		return all
	}
	out := make([]EventType, 0, len(all))
	for _, e := range all {
		if e.Merchant {
			out = append(out, e)
		}
	}
	return out
}

type endpointOutput struct {
	Body Endpoint
}

// endpointWithSecret is the only answer that carries a signing secret: creating an endpoint.
type endpointWithSecret struct {
	Body struct {
		Endpoint
		Secret string `json:"secret" doc:"the signing secret (whsec_...); shown this once, store it now"`
	}
}

type secretOutput struct {
	Body struct {
		EndpointID uuid.UUID `json:"endpoint_id"`
		Secret     string    `json:"secret" doc:"the new signing secret; shown this once. The old one keeps signing too for 24 hours."`
	}
}

type idPath struct {
	ID uuid.UUID `path:"id"`
}

type endpointsOutput struct {
	Body httpx.Page[Endpoint]
}

type deliveriesInput struct {
	ID uuid.UUID `path:"id"`
	httpx.PageParams
}

type deliveriesOutput struct {
	Body httpx.Page[Delivery]
}

type deliveryOutput struct {
	Body Delivery
}

type eventTypesOutput struct {
	Body struct {
		Items []EventType `json:"items"`
	}
}

// Routes registers the outbound webhook API under /v1/webhooks: endpoints, their secrets,
// the delivery log and replay, and the event types. The tenant comes from the request's
// scope; in a merchant scope the service narrows everything to that merchant's endpoints.
func Routes(api huma.API, s *Service) {
	const tag = "Webhooks"
	httpx.Register(api, huma.Operation{
		OperationID: "list-webhook-event-types", Method: http.MethodGet, Path: "/v1/webhooks/event-types", Tags: []string{tag},
		Summary:     "List the event types",
		Description: "The types an endpoint can subscribe to. Merchant staff and merchant keys see only the types a merchant's endpoint may hear.",
	}, func(ctx context.Context, _ *struct{}) (*eventTypesOutput, error) {
		if _, err := tenantOf(ctx); err != nil {
			return nil, err
		}
		out := &eventTypesOutput{}
		out.Body.Items = EventTypesFor(ctx)
		return out, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "list-webhook-endpoints", Method: http.MethodGet, Path: "/v1/webhooks/endpoints", Tags: []string{tag},
		Summary: "List webhook endpoints", Description: "Newest first. Merchant staff see only their merchant's endpoints.",
	}, func(ctx context.Context, in *struct{ httpx.PageParams }) (*endpointsOutput, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.Endpoints(ctx, t, in.PageParams)
		return &endpointsOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-webhook-endpoint", Method: http.MethodPost, Path: "/v1/webhooks/endpoints", Tags: []string{tag},
		Summary: "Register a webhook endpoint", DefaultStatus: http.StatusCreated,
		Description: "The answer carries the endpoint's signing secret, shown this once. The URL must be https on port 443, 8443, 80 or 8080 " +
			"and resolve to a public address. Merchant staff always create their own merchant's endpoint. At most 20 per tenant or merchant.",
		Errors: []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct{ Body EndpointInput }) (*endpointWithSecret, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		e, secret, err := s.CreateEndpoint(ctx, t, in.Body)
		if err != nil {
			return nil, err
		}
		out := &endpointWithSecret{}
		out.Body.Endpoint, out.Body.Secret = e, secret
		return out, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-webhook-endpoint", Method: http.MethodGet, Path: "/v1/webhooks/endpoints/{id}", Tags: []string{tag},
		Summary: "Get a webhook endpoint", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *idPath) (*endpointOutput, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		e, err := s.Endpoint(ctx, t, in.ID)
		return &endpointOutput{Body: e}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-webhook-endpoint", Method: http.MethodPatch, Path: "/v1/webhooks/endpoints/{id}", Tags: []string{tag},
		Summary:     "Change a webhook endpoint",
		Description: "Fields left out stay as they are. enabled=true turns a disabled endpoint back on and clears its failure count; enabled=false stops deliveries.",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body EndpointUpdate
	}) (*endpointOutput, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		e, err := s.UpdateEndpoint(ctx, t, in.ID, in.Body)
		return &endpointOutput{Body: e}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "delete-webhook-endpoint", Method: http.MethodDelete, Path: "/v1/webhooks/endpoints/{id}", Tags: []string{tag},
		Summary: "Delete a webhook endpoint", Description: "Removes the endpoint and its delivery log; pending deliveries are dropped.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *idPath) (*struct{}, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteEndpoint(ctx, t, in.ID)
	})
	httpx.Register(api, huma.Operation{
		OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/v1/webhooks/endpoints/{id}/rotate-secret", Tags: []string{tag},
		Summary: "Rotate an endpoint's signing secret",
		Description: "Returns the new secret, shown this once. For 24 hours deliveries carry a signature by the old secret too, " +
			"so receivers can switch without missing events.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *idPath) (*secretOutput, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		secret, err := s.RotateSecret(ctx, t, in.ID)
		if err != nil {
			return nil, err
		}
		out := &secretOutput{}
		out.Body.EndpointID, out.Body.Secret = in.ID, secret
		return out, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/v1/webhooks/endpoints/{id}/deliveries", Tags: []string{tag},
		Summary:     "List an endpoint's deliveries",
		Description: "The delivery log, newest first: each event sent, its attempts, the last response code, latency and error, and the exact body.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *deliveriesInput) (*deliveriesOutput, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.Deliveries(ctx, t, in.ID, in.PageParams)
		return &deliveriesOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "replay-webhook-delivery", Method: http.MethodPost, Path: "/v1/webhooks/deliveries/{id}/replay", Tags: []string{tag},
		Summary: "Send a delivery again", DefaultStatus: http.StatusAccepted,
		Description: "Queues a new delivery of a finished one (succeeded or failed): the same event id and body, a fresh signature. " +
			"Refused while the delivery is still being attempted and while its endpoint is disabled.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *idPath) (*deliveryOutput, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		d, err := s.Replay(ctx, t, in.ID)
		return &deliveryOutput{Body: d}, err
	})
}
