package identity

import (
	"context"

	"github.com/google/uuid"

	"mercato/platform/scope"
)

// Kind says what sort of credential a principal presented.
type Kind string

// The kinds of principal.
const (
	KindAnonymous Kind = "anonymous" // no credential
	KindStaff     Kind = "staff"     // staff session cookie
	KindShopper   Kind = "shopper"   // shopper session cookie
	KindGuest     Kind = "guest"     // shopper cookie of a visitor who has not signed in
	KindAPIKey    Kind = "apikey"    // Authorization: Bearer mk_…
	KindToken     Kind = "token"     // Authorization: Bearer <access token>
)

// Principal is who is calling, as far as authentication knows; authorization decides what
// they may do.
type Principal struct {
	Kind         Kind
	UserID       uuid.UUID // staff
	ShopperID    uuid.UUID // shopper
	KeyID        uuid.UUID // apikey, token: the API key
	SessionID    uuid.UUID // staff, shopper, guest: the session (what CSRF tokens and guest carts hang on)
	TenantID     uuid.UUID // shopper, guest, apikey, token; staff get theirs from the tenant middleware
	MerchantID   uuid.UUID // merchant API keys and their tokens
	PlatformRole string    // staff with a platform role
	Scopes       []string  // apikey, token
	TokenID      string    // token: its jti
}

// Authenticated reports whether any credential was presented and accepted.
func (p Principal) Authenticated() bool { return p.Kind != KindAnonymous && p.Kind != "" }

// ViaCookie reports whether the credential was a session cookie, which browsers send on
// their own and which therefore needs CSRF protection.
func (p Principal) ViaCookie() bool {
	return p.Kind == KindStaff || p.Kind == KindShopper || p.Kind == KindGuest
}

// HasScope reports whether an API key or token principal holds scope ("products:read");
// write includes read. Other principals hold no scopes: their rights come from roles.
func (p Principal) HasScope(scope string) bool { return scopeAllows(p.Scopes, scope) }

// Actor is how audit rows name the principal.
func (p Principal) Actor() scope.Actor {
	switch p.Kind {
	case KindStaff:
		return scope.Actor("user:" + p.UserID.String())
	case KindShopper:
		return scope.Actor("shopper:" + p.ShopperID.String())
	case KindGuest:
		return scope.Actor("guest:" + p.SessionID.String())
	case KindAPIKey, KindToken:
		return scope.Actor("apikey:" + p.KeyID.String())
	}
	return "anonymous"
}

type principalKey struct{}

// WithPrincipal records the principal of a request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of a request; an anonymous one when none was recorded.
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Kind: KindAnonymous}
}
