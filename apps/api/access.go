package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants"
)

// Access errors. Another tenant's resources answer 404, so existence is not revealed.
var (
	errUnauthenticated = fault.New(fault.Unauthenticated, "unauthenticated", "sign in or send a valid API key or access token")
	errForbidden       = fault.New(fault.Forbidden, "forbidden", "your role does not allow this")
	errScope           = fault.New(fault.Forbidden, "insufficient_scope", "the API key or token lacks the scope for this")
	errTenantRequired  = fault.New(fault.Invalid, "tenant_required", "you work in several tenants: send X-Tenant-ID")
	errTenantUnknown   = fault.New(fault.NotFound, "tenant_not_found", "no such tenant")
	errTenantSuspended = fault.New(fault.Forbidden, "tenant_suspended", "this tenant is suspended; changes are refused")
	errNotHere         = fault.New(fault.NotFound, "not_found", "not found")
)

// TenantHeader names the tenant a staff request works in.
const TenantHeader = "X-Tenant-ID"

// access is the authorization step of the request path, run for every /v1 operation after
// authentication: it decides the Casbin domain and role of the caller, checks the operation's
// route against the policy (or an API key's scopes), refuses writes to suspended tenants, and
// puts the tenant and merchant scope into the context for the handler.
type access struct {
	enforcer *authz.Enforcer
	ids      *identity.Service
	tenants  *tenants.Service
	// customRoles holds the tenants' own staff roles (tenants/staff); nil means none exist.
	customRoles interface {
		RolePermissions(ctx context.Context, tenantID uuid.UUID, name string) ([][2]string, bool, error)
	}
}

func (a *access) middleware() func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		op := hctx.Operation()
		if op.Security != nil && len(op.Security) == 0 {
			next(hctx)
			return
		}
		ctx, err := a.authorize(hctx.Context(), hctx.Header(TenantHeader), op)
		if err != nil {
			httpx.WriteProblem(hctx, err)
			return
		}
		next(huma.WithContext(hctx, ctx))
	}
}

func (a *access) authorize(ctx context.Context, tenantHeader string, op *huma.Operation) (context.Context, error) {
	path := op.Path
	object, action := routeObject(path), actionOf(op.Method)
	p := identity.PrincipalFrom(ctx)
	if httpx.IsPlatformOnly(op) && (p.Kind != identity.KindStaff || p.PlatformRole == "" || tenantHeader != "") {
		if !p.Authenticated() {
			return ctx, errUnauthenticated
		}
		return ctx, errNotHere
	}
	var domain, role string
	switch p.Kind {
	case identity.KindAPIKey, identity.KindToken:
		// Keys and tokens belong to one tenant (authentication put it in scope); their rights
		// are their scopes, by resource family.
		need := familyOf(path) + ":write"
		if action == authz.ActionRead {
			need = familyOf(path) + ":read"
		}
		if !p.HasScope(need) {
			return ctx, errScope
		}
		return a.refuseSuspendedWrites(ctx, p.TenantID, action)
	case identity.KindShopper, identity.KindGuest:
		domain, role = p.TenantID.String(), "shopper"
	case identity.KindStaff:
		var err error
		if ctx, domain, role, err = a.staffDomain(ctx, p, tenantHeader); err != nil {
			return ctx, err
		}
	default:
		return ctx, errUnauthenticated
	}
	ok, err := a.enforcer.EnforceRole(role, domain, object, action)
	if errors.Is(err, authz.ErrUnknownRole) && p.Kind == identity.KindStaff && domain != authz.PlatformDomain {
		ok, err = a.customRole(ctx, role, domain, object, action)
	}
	if err != nil && !errors.Is(err, authz.ErrUnknownRole) {
		return ctx, err
	}
	if !ok {
		return ctx, errForbidden
	}
	if domain == authz.PlatformDomain {
		return ctx, nil
	}
	t, _ := uuid.Parse(domain)
	return a.refuseSuspendedWrites(ctx, t, action)
}

// customRole decides for a membership role that is not built in: the tenant's custom role of
// that name, read for this request like the membership itself. A name the tenant does not
// define is denied.
func (a *access) customRole(ctx context.Context, role, domain, object, action string) (bool, error) {
	if a.customRoles == nil {
		return false, nil
	}
	t, err := uuid.Parse(domain)
	if err != nil {
		return false, err
	}
	perms, found, err := a.customRoles.RolePermissions(ctx, t, role)
	if err != nil || !found {
		return false, err
	}
	return a.enforcer.AllowedBy(perms, object, action)
}

// staffDomain picks the tenant a staff request works in: X-Tenant-ID (which must be one of the
// user's memberships, else 404), or the platform for operators, or the only tenant of a user
// who has one.
func (a *access) staffDomain(ctx context.Context, p identity.Principal, header string) (context.Context, string, string, error) {
	if header == "" && p.PlatformRole != "" {
		return ctx, authz.PlatformDomain, p.PlatformRole, nil
	}
	ms, err := a.ids.Memberships(ctx, p.UserID)
	if err != nil {
		return ctx, "", "", err
	}
	var m *identity.Membership
	switch {
	case header != "":
		want, err := uuid.Parse(header)
		if err != nil {
			return ctx, "", "", errTenantUnknown
		}
		for i := range ms {
			if ms[i].TenantID == want {
				m = &ms[i]
			}
		}
		if m == nil {
			return ctx, "", "", errTenantUnknown
		}
	case len(ms) == 1:
		m = &ms[0]
	case len(ms) == 0:
		return ctx, "", "", errForbidden
	default:
		return ctx, "", "", errTenantRequired
	}
	ctx = scope.WithTenant(ctx, m.TenantID)
	if m.MerchantID != uuid.Nil {
		ctx = scope.WithMerchant(ctx, m.MerchantID)
	}
	return ctx, m.TenantID.String(), m.Role, nil
}

func (a *access) refuseSuspendedWrites(ctx context.Context, tenantID uuid.UUID, action string) (context.Context, error) {
	if action == authz.ActionRead {
		return ctx, nil
	}
	t, err := a.tenants.Get(ctx, tenantID)
	if err != nil {
		return ctx, err
	}
	if t.Status != tenants.StatusActive {
		return ctx, errTenantSuspended
	}
	return ctx, nil
}

// routeObject turns huma's "/v1/merchants/{id}" into the policy's "/v1/merchants/:id".
func routeObject(path string) string {
	var b strings.Builder
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			b.WriteString(":" + seg[1:len(seg)-1])
			continue
		}
		b.WriteString(seg)
	}
	return b.String()
}

// familyOf is the resource family of a route, which API key scopes are granted by:
// "/v1/merchants/{id}" → "merchants".
func familyOf(path string) string {
	parts := strings.SplitN(strings.TrimPrefix(path, "/v1/"), "/", 2)
	return parts[0]
}

func actionOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return authz.ActionRead
	case http.MethodDelete:
		return authz.ActionDelete
	}
	return authz.ActionWrite
}
