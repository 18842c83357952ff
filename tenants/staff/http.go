package staff

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
)

type listOutput struct {
	Body struct {
		Items []Member `json:"items"`
	}
}

type memberOutput struct {
	Body Member
}

type addInput struct {
	Body struct {
		Email      string     `json:"email" format:"email" maxLength:"254"`
		Role       string     `json:"role" pattern:"^[a-z][a-z0-9_]{1,62}$" doc:"a built-in role (tenant_owner, tenant_admin, tenant_staff, merchant_owner, merchant_staff) or a custom role of the tenant"`
		MerchantID *uuid.UUID `json:"merchant_id,omitempty" doc:"required for merchant_owner, merchant_staff and merchant-scoped custom roles, absent for tenant roles"`
	}
}

type changeInput struct {
	ID   uuid.UUID `path:"id" doc:"membership id"`
	Body struct {
		Role string `json:"role" pattern:"^[a-z][a-z0-9_]{1,62}$" doc:"a built-in role (tenant_owner, tenant_admin, tenant_staff, merchant_owner, merchant_staff) or a custom role of the tenant"`
	}
}

type idInput struct {
	ID uuid.UUID `path:"id" doc:"membership id"`
}

// Routes registers the tenant's staff API.
func Routes(api huma.API, s *Service) {
	const tag = "Staff"
	httpx.Register(api, huma.Operation{
		OperationID: "list-staff", Method: http.MethodGet, Path: "/v1/staff", Tags: []string{tag},
		Summary: "List staff", Description: "Members of the tenant and its merchants with their roles. Merchant staff see only their merchant's members.",
	}, func(ctx context.Context, _ *struct{}) (*listOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		ms, err := s.List(ctx, t)
		out := &listOutput{}
		out.Body.Items = ms
		return out, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "add-staff", Method: http.MethodPost, Path: "/v1/staff", Tags: []string{tag}, DefaultStatus: http.StatusCreated,
		Summary: "Add a staff member",
		Description: "Gives the person with this e-mail a built-in role. Someone without an account gets one and an e-mail to choose a password. " +
			"Tenant owners grant any role; tenant admins (and tenant API keys) grant tenant_staff and merchant roles; merchant owners (and merchant API keys) grant merchant_staff of their own merchant.",
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *addInput) (*memberOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		merchant := uuid.Nil
		if in.Body.MerchantID != nil {
			merchant = *in.Body.MerchantID
		}
		m, err := s.Add(ctx, t, in.Body.Email, in.Body.Role, merchant)
		if errors.Is(err, ErrInviteNotSent) {
			return &memberOutput{Body: m}, nil // added; the mail can be resent
		}
		return &memberOutput{Body: m}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "change-staff-role", Method: http.MethodPatch, Path: "/v1/staff/{id}", Tags: []string{tag},
		Summary: "Change a staff member's role", Description: "Tenant roles stay tenant roles and merchant roles stay with their merchant. The last tenant owner cannot be demoted.",
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *changeInput) (*memberOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		m, err := s.ChangeRole(ctx, t, in.ID, in.Body.Role)
		return &memberOutput{Body: m}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "remove-staff", Method: http.MethodDelete, Path: "/v1/staff/{id}", Tags: []string{tag}, DefaultStatus: http.StatusNoContent,
		Summary: "Remove a staff member", Description: "Ends the membership; the person keeps their account. The last tenant owner cannot be removed.",
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *idInput) (*struct{}, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.Remove(ctx, t, in.ID)
	})
}
