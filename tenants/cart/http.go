package cart

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/identity"
)

var errShopperOnly = fault.New(fault.Unauthenticated, "shopper_session_required", "carts belong to a storefront session: sign in or browse the storefront first")

// LineJSON is a cart line in the API.
type LineJSON struct {
	ID             uuid.UUID         `json:"id"`
	VariantID      uuid.UUID         `json:"variant_id"`
	ProductID      uuid.UUID         `json:"product_id"`
	MerchantID     uuid.UUID         `json:"merchant_id"`
	MerchantName   string            `json:"merchant_name"`
	ProductSlug    string            `json:"product_slug"`
	SKU            string            `json:"sku"`
	Title          string            `json:"title"`
	OptionValues   map[string]string `json:"option_values"`
	ImageKey       string            `json:"image_key,omitempty"`
	Quantity       int               `json:"quantity"`
	UnitPriceMinor int64             `json:"unit_price_minor" doc:"what one costs now, the flash price when a flash sale applies"`
	ListPriceMinor int64             `json:"list_price_minor" doc:"the regular price"`
	FlashSaleID    *uuid.UUID        `json:"flash_sale_id,omitempty"`
	Available      int               `json:"available"`
	Problem        string            `json:"problem,omitempty" enum:"price_changed,quantity_reduced,out_of_stock,unavailable"`
}

// GroupJSON is one merchant's part of the cart.
type GroupJSON struct {
	MerchantID    uuid.UUID  `json:"merchant_id"`
	MerchantName  string     `json:"merchant_name"`
	Lines         []LineJSON `json:"lines"`
	SubtotalMinor int64      `json:"subtotal_minor"`
}

// ViewJSON is a priced cart in the API.
type ViewJSON struct {
	ID            *uuid.UUID  `json:"id,omitempty" doc:"absent until something is added"`
	Currency      string      `json:"currency"`
	Groups        []GroupJSON `json:"groups"`
	SubtotalMinor int64       `json:"subtotal_minor" doc:"buyable lines only"`
	Count         int         `json:"count" doc:"units in the cart"`
}

func lineJSON(l Line) LineJSON {
	return LineJSON{ID: l.ID, VariantID: l.VariantID, ProductID: l.ProductID, MerchantID: l.MerchantID, MerchantName: l.MerchantName,
		ProductSlug: l.ProductSlug, SKU: l.SKU, Title: l.Title, OptionValues: l.OptionValues, ImageKey: l.ImageKey, Quantity: l.Quantity,
		UnitPriceMinor: l.UnitPriceMinor, ListPriceMinor: l.ListPriceMinor, FlashSaleID: l.FlashSaleID, Available: l.Available, Problem: l.Problem}
}

func viewJSON(v View) ViewJSON {
	out := ViewJSON{Currency: v.Currency, Groups: make([]GroupJSON, len(v.Groups)), SubtotalMinor: v.SubtotalMinor, Count: v.Count}
	if v.ID != uuid.Nil {
		id := v.ID
		out.ID = &id
	}
	for i, g := range v.Groups {
		lines := make([]LineJSON, len(g.Lines))
		for j, l := range g.Lines {
			lines[j] = lineJSON(l)
		}
		out.Groups[i] = GroupJSON{MerchantID: g.MerchantID, MerchantName: g.MerchantName, Lines: lines, SubtotalMinor: g.SubtotalMinor}
	}
	return out
}

// OwnerOf is the cart owner of a storefront request: the signed-in shopper, or the guest
// session. ok is false for any other caller.
func OwnerOf(ctx context.Context) (Owner, bool) {
	p := identity.PrincipalFrom(ctx)
	switch p.Kind {
	case identity.KindShopper:
		return Owner{ShopperID: p.ShopperID}, p.ShopperID != uuid.Nil
	case identity.KindGuest:
		return Owner{GuestSessionID: p.SessionID}, p.SessionID != uuid.Nil
	}
	return Owner{}, false
}

type viewOutput struct{ Body ViewJSON }

type localeQuery struct {
	Locale string `query:"locale" enum:"en,zh-CN" doc:"language of the titles; default en"`
}

// AddInput adds units of a variant.
type AddInput struct {
	VariantID uuid.UUID `json:"variant_id"`
	Quantity  int       `json:"quantity" minimum:"1" maximum:"99"`
}

// Routes registers the shopper's cart API under /v1/storefront/cart, authenticated by the
// storefront's session cookie (a shopper's or a guest's); each caller reaches only its own cart.
func Routes(api huma.API, s *Service) {
	const tag = "Storefront"
	whose := func(ctx context.Context) (uuid.UUID, Owner, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return uuid.Nil, Owner{}, err
		}
		o, ok := OwnerOf(ctx)
		if !ok {
			return uuid.Nil, Owner{}, errShopperOnly
		}
		return t, o, nil
	}
	view := func(ctx context.Context, t uuid.UUID, o Owner, locale string) (*viewOutput, error) {
		v, err := s.View(ctx, t, o, locale)
		if err != nil {
			return nil, err
		}
		return &viewOutput{Body: viewJSON(v)}, nil
	}

	httpx.Register(api, huma.Operation{
		OperationID: "get-cart", Method: http.MethodGet, Path: "/v1/storefront/cart", Tags: []string{tag},
		Summary: "The caller's cart, priced now", Errors: []int{http.StatusUnauthorized},
		Description: "Re-priced and re-checked on every call; lines that changed since they were added carry a problem.",
	}, func(ctx context.Context, in *localeQuery) (*viewOutput, error) {
		t, o, err := whose(ctx)
		if err != nil {
			return nil, err
		}
		return view(ctx, t, o, in.Locale)
	})
	httpx.Register(api, huma.Operation{
		OperationID: "add-cart-line", Method: http.MethodPost, Path: "/v1/storefront/cart/lines", Tags: []string{tag},
		Summary: "Add to the cart", DefaultStatus: http.StatusCreated,
		Description: "Units of a variant already in the cart are added to its line: 1 to 99 per line, not above stock, 100 lines per cart.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		localeQuery
		Body AddInput
	}) (*viewOutput, error) {
		t, o, err := whose(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.Add(ctx, t, o, in.Body.VariantID, in.Body.Quantity); err != nil {
			return nil, err
		}
		return view(ctx, t, o, in.Locale)
	})
	httpx.Register(api, huma.Operation{
		OperationID: "update-cart-line", Method: http.MethodPatch, Path: "/v1/storefront/cart/lines/{id}", Tags: []string{tag},
		Summary: "Change a line's quantity", Description: "0 removes the line. Takes the current price as seen.",
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ID uuid.UUID `path:"id"`
		localeQuery
		Body struct {
			Quantity int `json:"quantity" minimum:"0" maximum:"99"`
		}
	}) (*viewOutput, error) {
		t, o, err := whose(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.SetQuantity(ctx, t, o, in.ID, in.Body.Quantity); err != nil {
			return nil, err
		}
		return view(ctx, t, o, in.Locale)
	})
	httpx.Register(api, huma.Operation{
		OperationID: "remove-cart-line", Method: http.MethodDelete, Path: "/v1/storefront/cart/lines/{id}", Tags: []string{tag},
		Summary: "Remove a line", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		ID uuid.UUID `path:"id"`
	}) (*struct{}, error) {
		t, o, err := whose(ctx)
		if err != nil {
			return nil, err
		}
		return &struct{}{}, s.Remove(ctx, t, o, in.ID)
	})
}
