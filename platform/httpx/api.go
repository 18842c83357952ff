package httpx

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/scope"
)

// NewAPI describes the routes registered on it in an OpenAPI 3.1 document served at
// /openapi.json (and /openapi.yaml); apps/api renders the reference page at /docs itself,
// so nothing is loaded from a CDN.
func NewAPI(app *fiber.App, title, version, description string) huma.API {
	cfg := huma.DefaultConfig(title, version)
	cfg.Info.Description = description
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil // no $schema links injected into response bodies
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT or API key"},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	return humafiber.New(app, cfg)
}

// Public is the security requirement of operations anyone may call: none. Operations without
// it inherit the API's bearer requirement and pass through authorization.
func Public() []map[string][]string { return []map[string][]string{} }

// PlatformOnly marks operations that exist only for operators: they are answered in the
// platform's domain and look absent (404) from inside any tenant, whatever a tenant role's
// policy says about the same path.
func PlatformOnly() map[string]any { return map[string]any{"platform_only": true} }

// IsPlatformOnly reports whether op was marked with PlatformOnly.
func IsPlatformOnly(op *huma.Operation) bool {
	v, _ := op.Metadata["platform_only"].(bool)
	return v
}

// Register adds an operation whose handler returns domain errors; they are mapped to
// problem+json by the same rules as the Fiber error handler, and internal causes are kept for
// the access log instead of being shown to the client.
func Register[I, O any](api huma.API, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := handler(ctx, in)
		if err == nil {
			return out, nil
		}
		p, internal := problemFor(err, scope.RequestIDFrom(ctx))
		if internal {
			if s := stateFrom(ctx); s != nil {
				s.cause = err
			}
		}
		if p.Status == http.StatusTooManyRequests {
			return nil, &retryAfterProblem{p}
		}
		return nil, p
	})
}

type retryAfterProblem struct{ *Problem }

func (p *retryAfterProblem) GetHeaders() http.Header { return http.Header{"Retry-After": {"1"}} }

// WriteProblem answers err from a huma middleware (authorization, say) the way Register
// answers a handler's error.
func WriteProblem(hctx huma.Context, err error) {
	ctx := hctx.Context()
	p, internal := problemFor(err, scope.RequestIDFrom(ctx))
	if internal {
		if s := stateFrom(ctx); s != nil {
			s.cause = err
		}
	}
	p.Instance = hctx.URL().Path
	if p.Status == http.StatusUnauthorized {
		hctx.SetHeader("WWW-Authenticate", `Bearer realm="mercato"`)
	}
	hctx.SetHeader("Content-Type", ProblemContentType)
	hctx.SetStatus(p.Status)
	_ = json.NewEncoder(hctx.BodyWriter()).Encode(p)
}

// ErrNoTenant is answered when a tenant route is called without a tenant in scope.
var ErrNoTenant = fault.New(fault.Invalid, "tenant_required", "this route works inside one tenant: send X-Tenant-ID or use the tenant's host")

// TenantOf is the tenant a /v1 handler works for, as authorization put it in scope.
func TenantOf(ctx context.Context) (uuid.UUID, error) {
	t, ok := scope.TenantFrom(ctx)
	if !ok {
		return uuid.Nil, ErrNoTenant
	}
	return t, nil
}
