package tenants

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

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
		OperationID: "list-plans", Method: http.MethodGet, Path: "/v1/plans", Tags: []string{"Plans"},
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
		OperationID: "get-storefront", Method: http.MethodGet, Path: "/v1/storefront", Tags: []string{"Storefront"},
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
