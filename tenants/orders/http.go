package orders

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/tenants/cart"
)

type orderOutput struct{ Body Order }

type ordersOutput struct{ Body httpx.Page[Summary] }

type orderPath struct {
	ID uuid.UUID `path:"id"`
}

// ErrNotShopper answers checkout called by anyone but a shopper or a guest session.
var ErrNotShopper = fault.New(fault.Forbidden, "shopper_only", "only shoppers check out")

// ownerOf is the cart owner of a storefront request: the signed-in shopper, or the guest's
// session.
func ownerOf(ctx context.Context) (cart.Owner, bool) {
	p := identity.PrincipalFrom(ctx)
	switch p.Kind {
	case identity.KindShopper:
		return cart.Owner{ShopperID: p.ShopperID}, true
	case identity.KindGuest:
		return cart.Owner{GuestSessionID: p.SessionID}, true
	}
	return cart.Owner{}, false
}

// Routes registers the staff order API (family "orders"): tenant staff see every order,
// merchant staff the orders with one of their merchant orders, and only those parts; shoppers,
// whom the policy lets read /v1/orders too, see only their own.
func Routes(api huma.API, s *Service) {
	const tag = "Orders"
	httpx.Register(api, huma.Operation{
		OperationID: "list-orders", Method: http.MethodGet, Path: "/v1/orders", Tags: []string{tag},
		Summary: "List orders", Description: "Newest first unless sort says otherwise. Merchant staff see orders with one of their merchant orders, and the total of their part.",
	}, func(ctx context.Context, in *struct{ ListFilter }) (*ordersOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		var p httpx.Page[Summary]
		if sh, ok := shopperOf(ctx); ok {
			p, err = s.ShopperOrders(ctx, t, sh, in.PageParams)
		} else {
			p, err = s.List(ctx, t, in.ListFilter)
		}
		return &ordersOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-order", Method: http.MethodGet, Path: "/v1/orders/{id}", Tags: []string{tag},
		Summary: "Get an order", Description: "With its merchant orders, lines and timeline.", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *orderPath) (*orderOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		o, err := s.Get(ctx, t, in.ID)
		return &orderOutput{Body: o}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-merchant-order", Method: http.MethodGet, Path: "/v1/orders/{id}/merchant-orders/{merchant_order_id}", Tags: []string{tag},
		Summary: "Get one merchant order of an order", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		ID              uuid.UUID `path:"id"`
		MerchantOrderID uuid.UUID `path:"merchant_order_id"`
	}) (*struct{ Body MerchantOrder }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		o, err := s.Get(ctx, t, in.ID)
		if err != nil {
			return nil, err
		}
		for _, mo := range o.Merchants {
			if mo.ID == in.MerchantOrderID {
				return &struct{ Body MerchantOrder }{Body: mo}, nil
			}
		}
		return nil, ErrMerchantOrderNotFound
	})
	httpx.Register(api, huma.Operation{
		OperationID: "cancel-order", Method: http.MethodPost, Path: "/v1/orders/{id}/cancel", Tags: []string{tag},
		Summary:     "Cancel an unpaid order",
		Description: "Releases the held stock and gives back the coupon use and flash-sale units. A paid order cannot be cancelled (409): refund it.",
		Errors:      []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body struct {
			Note string `json:"note,omitempty" maxLength:"1000"`
		}
	}) (*orderOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		o, err := s.Cancel(ctx, t, in.ID, in.Body.Note)
		return &orderOutput{Body: o}, err
	})

	httpx.Register(api, huma.Operation{
		OperationID: "list-shipping-rates", Method: http.MethodGet, Path: "/v1/shipping-rates", Tags: []string{tag},
		Summary: "List shipping rates", Description: "Merchant staff see their own merchant's; tenant staff every merchant's.",
	}, func(ctx context.Context, in *struct {
		MerchantID uuid.UUID `query:"merchant_id"`
	}) (*struct{ Body []ShippingRate }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		rs, err := s.ShippingRates(ctx, t, in.MerchantID, false)
		return &struct{ Body []ShippingRate }{Body: rs}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-shipping-rate", Method: http.MethodPost, Path: "/v1/shipping-rates", Tags: []string{tag},
		Summary: "Create a shipping rate", DefaultStatus: http.StatusCreated,
		Description: "Flat, or by weight brackets; optionally free over an amount of goods. Amounts in minor units of currency.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body ShippingRateInput }) (*struct{ Body ShippingRate }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.CreateShippingRate(ctx, t, in.Body)
		return &struct{ Body ShippingRate }{Body: r}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-shipping-rate", Method: http.MethodPut, Path: "/v1/shipping-rates/{id}", Tags: []string{tag},
		Summary: "Replace a shipping rate", Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body ShippingRateInput
	}) (*struct{ Body ShippingRate }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.UpdateShippingRate(ctx, t, in.ID, in.Body)
		return &struct{ Body ShippingRate }{Body: r}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "delete-shipping-rate", Method: http.MethodDelete, Path: "/v1/shipping-rates/{id}", Tags: []string{tag},
		Summary: "Delete a shipping rate", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *orderPath) (*struct{}, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		return &struct{}{}, s.DeleteShippingRate(ctx, t, in.ID)
	})

	httpx.Register(api, huma.Operation{
		OperationID: "list-tax-rates", Method: http.MethodGet, Path: "/v1/tax-rates", Tags: []string{tag},
		Summary: "List tax rates", Description: "By country, then region.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []TaxRate }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		rs, err := s.TaxRates(ctx, t)
		return &struct{ Body []TaxRate }{Body: rs}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-tax-rate", Method: http.MethodPost, Path: "/v1/tax-rates", Tags: []string{tag},
		Summary: "Create a tax rate", DefaultStatus: http.StatusCreated,
		Description: "For a country, or a region of it (which wins over the country's). Inclusive rates are contained in prices.",
		Errors:      []int{http.StatusForbidden, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body TaxRateInput }) (*struct{ Body TaxRate }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.CreateTaxRate(ctx, t, in.Body)
		return &struct{ Body TaxRate }{Body: r}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-tax-rate", Method: http.MethodPut, Path: "/v1/tax-rates/{id}", Tags: []string{tag},
		Summary: "Replace a tax rate", Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		ID   uuid.UUID `path:"id"`
		Body TaxRateInput
	}) (*struct{ Body TaxRate }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.UpdateTaxRate(ctx, t, in.ID, in.Body)
		return &struct{ Body TaxRate }{Body: r}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "delete-tax-rate", Method: http.MethodDelete, Path: "/v1/tax-rates/{id}", Tags: []string{tag},
		Summary: "Delete a tax rate", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *orderPath) (*struct{}, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		return &struct{}{}, s.DeleteTaxRate(ctx, t, in.ID)
	})
}

// StorefrontRoutes registers the shopper's side (family "storefront"): checkout from the
// caller's own cart, and the caller's own orders. The tenant comes from the Host.
func StorefrontRoutes(api huma.API, s *Service) {
	const tag = "Storefront"
	httpx.Register(api, huma.Operation{
		OperationID: "checkout", Method: http.MethodPost, Path: "/v1/storefront/checkout", Tags: []string{tag},
		Summary: "Place an order from the cart", DefaultStatus: http.StatusCreated,
		Description: "Prices the caller's cart on the server, applies the coupon and flash sales, reserves the stock and " +
			"places one order split by merchant, awaiting payment. Send an Idempotency-Key: a retry returns the same order.",
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct{ Body CheckoutInput }) (*struct{ Body Placed }, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		owner, ok := ownerOf(ctx)
		if !ok {
			return nil, ErrNotShopper
		}
		in.Body.Owner = owner
		p, err := s.Checkout(ctx, t, in.Body)
		if err != nil && p.Order.ID == uuid.Nil {
			return nil, err
		}
		return &struct{ Body Placed }{Body: p}, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "list-my-orders", Method: http.MethodGet, Path: "/v1/storefront/orders", Tags: []string{tag},
		Summary: "List my orders", Description: "The signed-in shopper's (or this guest session's) orders, newest first.",
	}, func(ctx context.Context, in *struct{ httpx.PageParams }) (*ordersOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		sh, _ := shopperOf(ctx)
		p, err := s.ShopperOrders(ctx, t, sh, in.PageParams)
		return &ordersOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-my-order", Method: http.MethodGet, Path: "/v1/storefront/orders/{id}", Tags: []string{tag},
		Summary: "Get one of my orders", Description: "With its timeline. Anyone else's order is not found.", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *orderPath) (*orderOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		sh, _ := shopperOf(ctx)
		o, err := s.ShopperOrder(ctx, t, sh, in.ID)
		return &orderOutput{Body: o}, err
	})
}
