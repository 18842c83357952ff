package merchants

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
)

type merchantOutput struct {
	Body Merchant
}

type listInput struct {
	Status string `query:"status" enum:"pending,active,suspended,rejected"`
	httpx.PageParams
}

type listOutput struct {
	Body httpx.Page[Merchant]
}

type decideInput struct {
	ID     uuid.UUID `path:"id"`
	Action string    `path:"action" enum:"approve,reject,suspend,reactivate"`
	Body   struct {
		Note string `json:"note,omitempty" maxLength:"500" doc:"shown to the merchant"`
	}
}

type inviteInput struct {
	Body struct {
		Email        string `json:"email" format:"email" maxLength:"254"`
		MerchantName string `json:"merchant_name" minLength:"1" maxLength:"200"`
	}
}

type inviteOutput struct {
	Body struct {
		Invitation
		Token string `json:"token" doc:"shown once; the invitee opens /merchant-invitations/{token} on the tenant's host"`
	}
}

// Routes registers the tenant's merchant API.
func Routes(api huma.API, s *Service) {
	const tag = "Merchants"
	httpx.Register(api, huma.Operation{
		OperationID: "list-merchants", Method: http.MethodGet, Path: "/v1/merchants", Tags: []string{tag},
		Summary: "List merchants", Description: "Newest first. Merchant staff see only their own merchant.",
	}, func(ctx context.Context, in *listInput) (*listOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.List(ctx, t, ListFilter{Status: in.Status, PageParams: in.PageParams})
		return &listOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-merchant", Method: http.MethodGet, Path: "/v1/merchants/{id}", Tags: []string{tag},
		Summary: "Get a merchant", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		ID uuid.UUID `path:"id"`
	}) (*merchantOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		m, err := s.Get(ctx, t, in.ID)
		return &merchantOutput{Body: m}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "decide-merchant", Method: http.MethodPost, Path: "/v1/merchants/{id}/{action}", Tags: []string{tag},
		Summary:     "Approve, reject, suspend or reactivate a merchant",
		Description: "pending → approve/reject; active → suspend; suspended → reactivate. Approving checks the plan's merchant limit.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *decideInput) (*merchantOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		m, err := s.Decide(ctx, t, in.ID, in.Action, in.Body.Note)
		return &merchantOutput{Body: m}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "invite-merchant", Method: http.MethodPost, Path: "/v1/merchants/invitations", Tags: []string{tag},
		Summary: "Invite a merchant", DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *inviteInput) (*inviteOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		token, inv, err := s.Invite(ctx, t, in.Body.Email, in.Body.MerchantName)
		if err != nil {
			return nil, err
		}
		out := &inviteOutput{}
		out.Body.Invitation, out.Body.Token = inv, token
		return out, nil
	})
}

// StorefrontRoutes registers the public "sell with us" application, resolved by host.
func StorefrontRoutes(api huma.API, s *Service) {
	httpx.Register(api, huma.Operation{
		OperationID: "apply-as-merchant", Security: httpx.Public(), Method: http.MethodPost, Path: "/v1/storefront/merchant-applications",
		Tags: []string{"Storefront"}, Summary: "Apply to sell in this marketplace", DefaultStatus: http.StatusCreated,
		Description: "Creates a pending merchant (approved at once when the tenant auto-approves and its plan has room).",
		Errors:      []int{http.StatusBadRequest, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body Application }) (*merchantOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		m, err := s.Apply(ctx, t, in.Body)
		return &merchantOutput{Body: m}, err
	})
}
