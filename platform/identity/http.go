package identity

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/scope"
)

// CookieKind says which session cookie an area of the site reads.
type CookieKind int

// The session cookies.
const (
	NoCookie      CookieKind = iota // the /v1 API: bearer credentials only
	StaffCookie                     // /admin and /console
	ShopperCookie                   // storefronts (tenant resolved by Host first)
)

// CookieName is the cookie's name: with the __Host- prefix when served over HTTPS, which
// makes browsers insist on Secure, Path=/ and no Domain, so a sibling subdomain cannot plant
// or overwrite it.
func (s *Service) CookieName(k CookieKind) string {
	name := "mercato_staff"
	if k == ShopperCookie {
		name = "mercato_shop"
	}
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// Visit returns the storefront visitor's visit nonce from their visit cookie, giving them a
// new one when they have none: what their forms' CSRF token is made from (VisitCSRFToken)
// until their first posted form starts a session. A random value, stored nowhere; HttpOnly,
// SameSite=Lax, host-only (__Host- over HTTPS) like the session cookie, ending with the
// browser session.
func (s *Service) Visit(c *fiber.Ctx) string {
	if v := c.Cookies(s.visitCookie()); v != "" && len(v) <= 128 {
		return v
	}
	v, _ := randomToken()
	c.Cookie(&fiber.Cookie{Name: s.visitCookie(), Value: v, Path: "/", Secure: s.secure, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode})
	return v
}

// visitOf is the visit nonce the request carries, "" for none.
func (s *Service) visitOf(c *fiber.Ctx) string { return c.Cookies(s.visitCookie()) }

func (s *Service) visitCookie() string {
	if s.secure {
		return "__Host-mercato_visit"
	}
	return "mercato_visit"
}

// CheckVisitForm reports whether the request's CSRF token (X-CSRF-Token, else the _csrf form
// field) is the one made from its visit cookie.
func (s *Service) CheckVisitForm(c *fiber.Ctx) bool {
	got := c.Get(CSRFHeader)
	if got == "" {
		got = c.FormValue(CSRFField)
	}
	return s.CheckVisitCSRF(s.visitOf(c), got)
}

// SetSessionCookie puts a session token into the browser: HttpOnly, SameSite=Lax, Path=/,
// Secure over HTTPS, expiring with the session's absolute end.
func (s *Service) SetSessionCookie(c *fiber.Ctx, k CookieKind, token string, sess Session) {
	c.Cookie(&fiber.Cookie{Name: s.CookieName(k), Value: token, Path: "/", Expires: sess.ExpiresAt,
		Secure: s.secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

// ClearSessionCookie removes the session cookie (with the same attributes, or browsers
// ignore the removal of a __Host- cookie).
func (s *Service) ClearSessionCookie(c *fiber.Ctx, k CookieKind) {
	c.Cookie(&fiber.Cookie{Name: s.CookieName(k), Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		Secure: s.secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

// Authenticate is middleware that finds the principal of a request: an Authorization: Bearer
// credential (an mk_ API key or an access token) first, else the session cookie of kind
// cookie. It records the principal and the actor, and for keys and tokens their tenant and
// merchant, in the request's context. A bearer credential that does not verify, or names
// another tenant than the one the request was resolved to, is answered 401 with
// WWW-Authenticate; a stale cookie is removed and the request goes on anonymous, like a
// request without any credential (authorization decides what anonymous callers may do).
func Authenticate(s *Service, cookie CookieKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		var p Principal
		if h := c.Get(fiber.HeaderAuthorization); h != "" {
			var err error
			if p, err = s.authenticateBearer(c, h); err != nil {
				if errors.Is(err, ErrUnauthenticated) {
					c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
				}
				return err
			}
			if t, ok := scope.TenantFrom(ctx); ok && t != p.TenantID {
				c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
				return ErrUnauthenticated
			}
			ctx = scope.WithTenant(ctx, p.TenantID)
			if p.MerchantID != uuid.Nil {
				ctx = scope.WithMerchant(ctx, p.MerchantID)
			}
		} else if token := s.sessionToken(c, cookie); token != "" {
			var err error
			p, err = s.authenticateCookie(c, cookie, token)
			if errors.Is(err, ErrUnauthenticated) {
				s.ClearSessionCookie(c, cookie)
			} else if err != nil {
				return err
			}
		}
		if p.Kind == "" {
			p.Kind = KindAnonymous
		}
		c.SetUserContext(scope.WithActor(WithPrincipal(ctx, p), p.Actor()))
		return c.Next()
	}
}

func (s *Service) sessionToken(c *fiber.Ctx, k CookieKind) string {
	if k == NoCookie {
		return ""
	}
	return c.Cookies(s.CookieName(k))
}

func (s *Service) authenticateBearer(c *fiber.Ctx, header string) (Principal, error) {
	scheme, cred, ok := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return Principal{}, ErrUnauthenticated
	}
	if strings.HasPrefix(cred, apiKeyPrefix) {
		return s.AuthenticateAPIKey(c.UserContext(), cred)
	}
	return s.VerifyToken(c.UserContext(), cred)
}

func (s *Service) authenticateCookie(c *fiber.Ctx, kind CookieKind, token string) (Principal, error) {
	ctx := c.UserContext()
	switch kind {
	case StaffCookie:
		sess, user, err := s.StaffSession(ctx, token)
		if err != nil {
			return Principal{}, err
		}
		return Principal{Kind: KindStaff, UserID: user.ID, SessionID: sess.ID, PlatformRole: user.PlatformRole}, nil
	case ShopperCookie:
		tenantID, ok := scope.TenantFrom(ctx)
		if !ok { // a shopper cookie means nothing outside a storefront
			return Principal{}, nil
		}
		sess, err := s.ShopperSession(ctx, tenantID, token)
		if err != nil {
			return Principal{}, err
		}
		if sess.Guest() {
			return Principal{Kind: KindGuest, SessionID: sess.ID, TenantID: tenantID}, nil
		}
		return Principal{Kind: KindShopper, ShopperID: sess.ShopperID, SessionID: sess.ID, TenantID: tenantID}, nil
	}
	return Principal{}, nil
}

// CSRF tokens travel in this form field or header.
const (
	CSRFField  = "_csrf"
	CSRFHeader = "X-CSRF-Token"
)

// RequireCSRF is middleware, after Authenticate, for areas that use cookie sessions: a POST,
// PUT, PATCH or DELETE authenticated by a cookie must carry CSRFToken of its session in the
// _csrf form field or the X-CSRF-Token header, else 403 csrf_failed. Bearer-authenticated
// requests are exempt (a browser never adds that header by itself). Any unsafe request a
// browser marks as cross-site is refused too, which also stops login CSRF on the sign-in
// forms that have no session yet.
func RequireCSRF(s *Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
			return c.Next()
		}
		p := PrincipalFrom(c.UserContext())
		if p.Kind == KindAPIKey || p.Kind == KindToken {
			return c.Next()
		}
		if c.Get("Sec-Fetch-Site") == "cross-site" {
			return ErrCSRF
		}
		if p.ViaCookie() {
			got := c.Get(CSRFHeader)
			if got == "" {
				got = c.FormValue(CSRFField)
			}
			// A storefront page served before the visitor had a session carries their visit's
			// token (another tab, say): it proves the same browser as well.
			if !s.checkCSRF(p.SessionID, got) && !s.CheckVisitCSRF(s.visitOf(c), got) {
				return ErrCSRF
			}
		}
		return c.Next()
	}
}

// Routes mounts the OAuth 2.0 token endpoint and the public keys that verify its tokens.
func Routes(r fiber.Router, s *Service) {
	r.Post("/oauth/token", tokenEndpoint(s))
	r.Get("/.well-known/jwks.json", func(c *fiber.Ctx) error {
		set, err := s.JWKS(c.UserContext())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		return c.JSON(set)
	})
}

// oauthError answers as RFC 6749 §5.2 says, not as problem+json: OAuth clients parse this.
func oauthError(c *fiber.Ctx, status int, code string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="mercato"`)
	}
	return c.Status(status).JSON(fiber.Map{"error": code})
}

// tokenEndpoint is the client-credentials grant (RFC 6749 §4.4), with client authentication
// by HTTP Basic or by client_id/client_secret in the form.
func tokenEndpoint(s *Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationForm) {
			return oauthError(c, fiber.StatusBadRequest, "invalid_request")
		}
		switch c.FormValue("grant_type") {
		case "client_credentials":
		case "":
			return oauthError(c, fiber.StatusBadRequest, "invalid_request")
		default:
			return oauthError(c, fiber.StatusBadRequest, "unsupported_grant_type")
		}
		id, secret := c.FormValue("client_id"), c.FormValue("client_secret")
		if h := c.Get(fiber.HeaderAuthorization); h != "" {
			if secret != "" { // one client authentication method per request (§2.3)
				return oauthError(c, fiber.StatusBadRequest, "invalid_request")
			}
			var ok bool
			if id, secret, ok = basicAuth(h); !ok {
				return oauthError(c, fiber.StatusUnauthorized, "invalid_client")
			}
		}
		tok, err := s.ClientCredentials(c.UserContext(), id, secret, c.FormValue("scope"))
		switch {
		case errors.Is(err, ErrInvalidClient):
			return oauthError(c, fiber.StatusUnauthorized, "invalid_client")
		case errors.Is(err, ErrInvalidScope):
			return oauthError(c, fiber.StatusBadRequest, "invalid_scope")
		case err != nil:
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderPragma, "no-cache")
		return c.JSON(fiber.Map{
			"access_token": tok.Token,
			"token_type":   "Bearer",
			"expires_in":   int(s.tokenTTL / time.Second),
			"scope":        strings.Join(tok.Scopes, " "),
		})
	}
}

// basicAuth reads HTTP Basic credentials, which OAuth form-encodes before base64 (§2.3.1).
func basicAuth(h string) (id, secret string, ok bool) {
	scheme, cred, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	id, secret, found = strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return id, secret, found && err1 == nil && err2 == nil
}
