package inventory

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
)

type locationsInput struct {
	MerchantID uuid.UUID `query:"merchant_id" doc:"only this merchant's locations"`
	httpx.PageParams
}

type locationsOutput struct {
	Body httpx.Page[Location]
}

type locationOutput struct {
	Body Location
}

type levelsOutput struct {
	Body struct {
		Items []Level `json:"items"`
	}
}

type adjustOutput struct {
	Body struct {
		Adjustment Adjustment `json:"adjustment"`
		Level      Level      `json:"level"`
	}
}

type adjustmentsOutput struct {
	Body httpx.Page[Adjustment]
}

// Routes registers the stock API (family "inventory"). Merchant staff see and change only their
// own merchant's stock; reservations have no route: checkout calls the service.
func Routes(api huma.API, s *Service) {
	const tag = "Inventory"
	httpx.Register(api, huma.Operation{
		OperationID: "list-stock-locations", Method: http.MethodGet, Path: "/v1/inventory/locations", Tags: []string{tag},
		Summary: "List stock locations", Description: "By merchant, then oldest first. Merchant staff see only their own merchant's.",
	}, func(ctx context.Context, in *locationsInput) (*locationsOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.ListLocations(ctx, t, in.MerchantID, in.PageParams)
		return &locationsOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-stock-location", Method: http.MethodPost, Path: "/v1/inventory/locations", Tags: []string{tag},
		Summary: "Create a stock location", DefaultStatus: http.StatusCreated,
		Description: "A merchant's first location becomes its default; reservations take stock from the default first.",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body NewLocation }) (*locationOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		l, err := s.CreateLocation(ctx, t, in.Body)
		return &locationOutput{Body: l}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-stock-levels", Method: http.MethodGet, Path: "/v1/inventory/levels/{variant_id}", Tags: []string{tag},
		Summary: "Stock of a variant", Description: "On hand, reserved and available at each location, default location first.",
	}, func(ctx context.Context, in *struct {
		VariantID uuid.UUID `path:"variant_id"`
	}) (*levelsOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		ls, err := s.Levels(ctx, t, in.VariantID)
		out := &levelsOutput{}
		out.Body.Items = ls
		return out, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-stock-adjustment", Method: http.MethodPost, Path: "/v1/inventory/adjustments", Tags: []string{tag},
		Summary: "Adjust stock", DefaultStatus: http.StatusCreated,
		Description: "Adds delta to on hand at a location and records why. Refused (409) when on hand would fall below zero or below what is reserved.",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body NewAdjustment }) (*adjustOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		a, l, err := s.Adjust(ctx, t, in.Body)
		if err != nil {
			return nil, err
		}
		out := &adjustOutput{}
		out.Body.Adjustment, out.Body.Level = a, l
		return out, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "list-stock-adjustments", Method: http.MethodGet, Path: "/v1/inventory/adjustments", Tags: []string{tag},
		Summary: "Stock history", Description: "Adjustments and sales, newest first.",
	}, func(ctx context.Context, in *struct{ AdjustmentFilter }) (*adjustmentsOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.ListAdjustments(ctx, t, in.AdjustmentFilter)
		return &adjustmentsOutput{Body: p}, err
	})
}
