package promotions

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
)

type couponOutput struct{ Body Coupon }

type flashOutput struct{ Body FlashSale }

type idPath struct {
	ID uuid.UUID `path:"id"`
}

type couponListInput struct {
	Status     string    `query:"status" enum:"active,inactive" doc:"active or deactivated coupons only"`
	MerchantID uuid.UUID `query:"merchant_id"`
	httpx.PageParams
}

type flashListInput struct {
	Status    string    `query:"status" enum:"active,inactive"`
	VariantID uuid.UUID `query:"variant_id"`
	httpx.PageParams
}

func activeFilter(status string) *bool {
	if status == "" {
		return nil
	}
	b := status == "active"
	return &b
}

// Routes registers the staff promotions API (family "promotions"): coupons and flash sales,
// created, listed, read and deactivated. Merchant staff see and make only their merchant's.
// Redeeming and claiming have no route: checkout calls the service in its transaction.
func Routes(api huma.API, s *Service) {
	const tag = "Promotions"
	tenant := httpx.TenantOf

	httpx.Register(api, huma.Operation{
		OperationID: "list-coupons", Method: http.MethodGet, Path: "/v1/promotions/coupons", Tags: []string{tag},
		Summary: "List coupons", Description: "Newest first, with how often each was used.",
	}, func(ctx context.Context, in *couponListInput) (*struct{ Body httpx.Page[Coupon] }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.ListCoupons(ctx, t, CouponFilter{Active: activeFilter(in.Status), MerchantID: in.MerchantID, PageParams: in.PageParams})
		return &struct{ Body httpx.Page[Coupon] }{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-coupon", Method: http.MethodPost, Path: "/v1/promotions/coupons", Tags: []string{tag},
		Summary: "Create a coupon", DefaultStatus: http.StatusCreated,
		Description: "In the marketplace's currency. Merchant staff create merchant-funded coupons for their own lines.",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body CouponInput }) (*couponOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.CreateCoupon(ctx, t, in.Body)
		return &couponOutput{Body: c}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-coupon", Method: http.MethodGet, Path: "/v1/promotions/coupons/{id}", Tags: []string{tag},
		Summary: "Get a coupon", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *idPath) (*couponOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.GetCoupon(ctx, t, in.ID)
		return &couponOutput{Body: c}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "deactivate-coupon", Method: http.MethodPost, Path: "/v1/promotions/coupons/{id}/deactivate", Tags: []string{tag},
		Summary: "Deactivate a coupon", Description: "For good; redemptions already made stay.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *idPath) (*couponOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.DeactivateCoupon(ctx, t, in.ID)
		return &couponOutput{Body: c}, err
	})

	httpx.Register(api, huma.Operation{
		OperationID: "list-flash-sales", Method: http.MethodGet, Path: "/v1/promotions/flash-sales", Tags: []string{tag},
		Summary: "List flash sales", Description: "Newest first, with units sold.",
	}, func(ctx context.Context, in *flashListInput) (*struct{ Body httpx.Page[FlashSale] }, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.ListFlashSales(ctx, t, FlashFilter{Active: activeFilter(in.Status), VariantID: in.VariantID, PageParams: in.PageParams})
		return &struct{ Body httpx.Page[FlashSale] }{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-flash-sale", Method: http.MethodPost, Path: "/v1/promotions/flash-sales", Tags: []string{tag},
		Summary: "Create a flash sale", DefaultStatus: http.StatusCreated,
		Description: "A price below the variant's regular one for a number of units and a period; at most one per variant at a time.",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body FlashSaleInput }) (*flashOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		f, err := s.CreateFlashSale(ctx, t, in.Body)
		return &flashOutput{Body: f}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-flash-sale", Method: http.MethodGet, Path: "/v1/promotions/flash-sales/{id}", Tags: []string{tag},
		Summary: "Get a flash sale", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *idPath) (*flashOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		f, err := s.GetFlashSale(ctx, t, in.ID)
		return &flashOutput{Body: f}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "deactivate-flash-sale", Method: http.MethodPost, Path: "/v1/promotions/flash-sales/{id}/deactivate", Tags: []string{tag},
		Summary: "End a flash sale now", Description: "Units already claimed stay sold.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *idPath) (*flashOutput, error) {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		f, err := s.DeactivateFlashSale(ctx, t, in.ID)
		return &flashOutput{Body: f}, err
	})
}
