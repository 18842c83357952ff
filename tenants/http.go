package tenants

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// StoreProfile is what anyone may know about a store: the storefront reads it to theme itself.
type StoreProfile struct {
	Name     string            `json:"name"`
	Slug     string            `json:"slug"`
	Locale   string            `json:"locale" enum:"en,zh-CN"`
	Currency string            `json:"currency" example:"USD"`
	Theme    map[string]string `json:"theme"`
}

type plansOutput struct {
	Body struct {
		Items []Plan `json:"items"`
	}
}

type storeOutput struct {
	Body StoreProfile
}

// Routes registers the tenant directory's public API.
func Routes(api huma.API, s *Service) {
	httpx.Register(api, huma.Operation{
		OperationID: "list-plans", Security: httpx.Public(), Method: http.MethodGet, Path: "/v1/plans", Tags: []string{"Plans"},
		Summary: "List plans", Description: "The subscription plans a tenant can choose, cheapest first.",
	}, func(ctx context.Context, _ *struct{}) (*plansOutput, error) {
		ps, err := s.Plans(ctx)
		if err != nil {
			return nil, err
		}
		out := &plansOutput{}
		out.Body.Items = ps
		return out, nil
	})

	httpx.Register(api, huma.Operation{
		OperationID: "get-storefront", Security: httpx.Public(), Method: http.MethodGet, Path: "/v1/storefront", Tags: []string{"Storefront"},
		Summary:     "Get the store at this host",
		Description: "The public profile of the tenant whose domain (or {slug}.{base host}) the request was sent to.",
		Errors:      []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*storeOutput, error) {
		id, ok := scope.TenantFrom(ctx)
		if !ok {
			return nil, ErrNotFound
		}
		t, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		theme := t.Theme
		if theme == nil {
			theme = map[string]string{}
		}
		return &storeOutput{Body: StoreProfile{Name: t.Name, Slug: t.Slug, Locale: t.DefaultLocale, Currency: t.DefaultCurrency, Theme: theme}}, nil
	})
}

// ByHost is middleware for storefront routes: it finds the tenant from the Host header and
// puts it in the request's scope. An unknown host is 404; a suspended tenant 503.
func ByHost(s *Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := s.ResolveHost(c.UserContext(), hostOnly(c.Hostname()))
		if err != nil {
			return err
		}
		c.SetUserContext(scope.WithTenant(c.UserContext(), t.ID))
		return c.Next()
	}
}

// hostOnly lower-cases the host and drops a port; the result is a copy, safe to keep.
func hostOnly(h string) string {
	b := []byte(h)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ':' {
			b = b[:i]
			break
		}
		if b[i] == ']' {
			break
		}
	}
	for i, r := range b {
		if 'A' <= r && r <= 'Z' {
			b[i] = r + 'a' - 'A'
		}
	}
	return string(b)
}

type tenantIDInput struct {
	ID uuid.UUID `path:"id" doc:"tenant id"`
}

type tenantOutput struct {
	Body Tenant
}

type tenantListInput struct {
	Status string `query:"status" enum:"active,suspended" doc:"only tenants in this status"`
	Q      string `query:"q" maxLength:"100" doc:"part of the slug or name"`
	httpx.PageParams
}

type tenantListOutput struct {
	Body httpx.Page[Tenant]
}

type exportOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

type deleteInput struct {
	ID      uuid.UUID `path:"id"`
	Confirm string    `query:"confirm" required:"true" doc:"the tenant's slug, to confirm"`
}

type deleteOutput struct {
	Body DeleteReport
}

// OperatorRoutes registers the operators' tenant directory (Casbin domain "platform").
func OperatorRoutes(api huma.API, d *Directory) {
	const tag = "Tenants (operators)"
	httpx.Register(api, huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: "/v1/tenants", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary: "List tenants", Description: "Newest first; filter by status or by part of the slug or name.",
	}, func(ctx context.Context, in *tenantListInput) (*tenantListOutput, error) {
		p, err := d.List(ctx, ListFilter{Status: in.Status, Query: in.Q, PageParams: in.PageParams})
		return &tenantListOutput{Body: p}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary: "Create a tenant", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict},
	}, func(ctx context.Context, in *struct{ Body NewTenant }) (*tenantOutput, error) {
		t, err := d.Create(ctx, in.Body)
		return &tenantOutput{Body: t}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{id}", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary: "Get a tenant", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *tenantIDInput) (*tenantOutput, error) {
		t, err := d.Get(ctx, in.ID)
		return &tenantOutput{Body: t}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "suspend-tenant", Method: http.MethodPost, Path: "/v1/tenants/{id}/suspend", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary:     "Suspend a tenant",
		Description: "The storefront answers 'store unavailable' and writes are refused; no data is removed.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *tenantIDInput) (*tenantOutput, error) {
		t, err := d.Suspend(ctx, in.ID)
		return &tenantOutput{Body: t}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "reactivate-tenant", Method: http.MethodPost, Path: "/v1/tenants/{id}/reactivate", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary: "Reactivate a suspended tenant", Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *tenantIDInput) (*tenantOutput, error) {
		t, err := d.Reactivate(ctx, in.ID)
		return &tenantOutput{Body: t}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "export-tenant", Method: http.MethodGet, Path: "/v1/tenants/{id}/export", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary:     "Export a tenant",
		Description: "Every row of the tenant as NDJSON, one file per table plus manifest.json, in a .tar.gz.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *tenantIDInput) (*exportOutput, error) {
		var buf bytes.Buffer
		man, err := d.Export(ctx, in.ID, &buf)
		if err != nil {
			return nil, err
		}
		return &exportOutput{ContentType: "application/gzip", Body: buf.Bytes(),
			ContentDisposition: fmt.Sprintf(`attachment; filename="%s-%s.tar.gz"`, man.Slug, man.ExportedAt.Format("20060102T150405Z"))}, nil
	})
	httpx.Register(api, huma.Operation{
		OperationID: "delete-tenant", Method: http.MethodDelete, Path: "/v1/tenants/{id}", Tags: []string{tag}, Metadata: httpx.PlatformOnly(),
		Summary:     "Delete a tenant and all its data",
		Description: "Irreversible. Every row with the tenant's id is removed; the answer counts what is left (0).",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *deleteInput) (*deleteOutput, error) {
		rep, err := d.Delete(ctx, in.ID, in.Confirm)
		return &deleteOutput{Body: rep}, err
	})
}
