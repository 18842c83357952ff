package identity_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"mercato/platform/identity"
)

// tokenFor creates an API key in tenant a (merchant m1 when merchant is set) and issues a
// token for it through the client-credentials grant.
func (e *env) tokenFor(t *testing.T, merchant bool, scopes ...string) (identity.AccessToken, identity.APIKey) {
	t.Helper()
	ctx := context.Background()
	m := uuid.Nil
	if merchant {
		m = e.m1
	}
	plain, key, err := e.svc.CreateAPIKey(ctx, e.a, m, "integration", scopes, "user:test")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.svc.ClientCredentials(ctx, key.ClientID, plain, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok, key
}

func validClaims(e *env, key identity.APIKey) jwt.MapClaims {
	now := e.clock.Now()
	return jwt.MapClaims{
		"iss": testIssuer, "aud": []string{identity.Audience}, "sub": "apikey:" + key.ID.String(),
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": uuid.NewString(),
		"tenant_id": e.a.String(), "scope": "products:read",
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for key, val := range c {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// The OWASP row: alg none, HS256 signed with the public key, expired, wrong aud, wrong iss:
// 5 of 5 get 401. Each forgery differs from an accepted token in exactly one respect, and the
// accepted one is checked first, so a 401 here is the verifier's doing.
func TestJWTAttacks(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	app := principalApp(e.svc, identity.NoCookie, uuid.Nil, false)
	real, key := e.tokenFor(t, true, "products:read", "orders:write")

	res := do(t, app, bearer(real.Token))
	if res.status != http.StatusOK || res.who.Kind != "token" || res.who.Tenant != e.a || res.who.Merchant != e.m1 ||
		res.who.Actor != "apikey:"+key.ID.String() || !slices.Equal(res.who.Scopes, []string{"orders:write", "products:read"}) {
		t.Fatalf("valid token: %d %+v %s", res.status, res.who, res.body)
	}
	// A genuine token that outlives its 15 minutes. The clock moves first, so every other
	// forgery below is made at the new time and differs from a good token in one claim only.
	expiring, _ := e.svc.ClientCredentials(ctx, "", mustKey(t, e), "")
	if res := do(t, app, bearer(expiring.Token)); res.status != http.StatusOK {
		t.Fatalf("fresh token refused: %d %s", res.status, res.body)
	}
	e.clock.Advance(16 * time.Minute)
	expired := expiring.Token

	good, err := e.svc.SignWithActiveKey(ctx, validClaims(e, key))
	if err != nil {
		t.Fatal(err)
	}
	if res := do(t, app, bearer(good)); res.status != http.StatusOK {
		t.Fatalf("well-formed test token refused (%d %s): the forgeries below would prove nothing", res.status, res.body)
	}

	// The public key, as anyone can read it from the JWKS.
	jwksRes := do(t, app, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	var set identity.JWKSet
	if err := json.Unmarshal(jwksRes.body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v %s", err, jwksRes.body)
	}
	pub, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	kid := set.Keys[0].Kid
	header := func(tok *jwt.Token) *jwt.Token {
		tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
		return tok
	}

	none, err := header(jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(e, key))).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	hs256, err := header(jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(e, key))).SignedString(pub)
	if err != nil {
		t.Fatal(err)
	}
	wrongAud, _ := e.svc.SignWithActiveKey(ctx, with(validClaims(e, key), "aud", []string{"other-api"}))
	wrongIss, _ := e.svc.SignWithActiveKey(ctx, with(validClaims(e, key), "iss", "https://evil.test"))
	// Also refused, beyond the five: extra audiences, no exp, another key, not an access token.
	twoAud, _ := e.svc.SignWithActiveKey(ctx, with(validClaims(e, key), "aud", []string{identity.Audience, "other-api"}))
	noExp, _ := e.svc.SignWithActiveKey(ctx, with(validClaims(e, key), "exp", nil))
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)
	stranger, _ := header(jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims(e, key))).SignedString(strangerKey)
	signed, _ := e.svc.SignWithActiveKey(ctx, validClaims(e, key))
	untyped := retype(t, signed, "JWT")

	attacks := []struct{ name, token string }{
		{"alg none", none},
		{"HS256 signed with the public key", hs256},
		{"expired", expired},
		{"wrong aud", wrongAud},
		{"wrong iss", wrongIss},
		{"second audience", twoAud},
		{"no exp", noExp},
		{"unknown signing key", stranger},
		{"typ JWT with a broken signature", untyped},
		{"garbage", "not.a.jwt"},
	}
	refused := 0
	for _, a := range attacks {
		res := do(t, app, bearer(a.token))
		if res.status != http.StatusUnauthorized || res.problem.Code != "unauthenticated" ||
			res.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("%s: %d %q www-authenticate=%q, want 401 unauthenticated with invalid_token", a.name, res.status,
				res.problem.Code, res.header.Get("WWW-Authenticate"))
			continue
		}
		refused++
	}
	t.Logf("JWT attacks refused with 401: %d of %d (the five of the OWASP row first)", refused, len(attacks))
}

// retype changes the typ header of a signed token, which breaks its signature; a verifier that
// trusted typ over the signature would still be fooled by nothing.
func retype(t *testing.T, signed, typ string) string {
	t.Helper()
	parts := strings.Split(signed, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	h["typ"] = typ
	b, _ := json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func mustKey(t *testing.T, e *env) string {
	t.Helper()
	plain, _, err := e.svc.CreateAPIKey(context.Background(), e.a, uuid.Nil, "k", []string{"products:read"}, "user:test")
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// Tokens signed before a rotation keep verifying; new ones carry the new kid; the JWKS lists
// both; another instance accepts the new kid at once and switches to signing with it.
func TestRotation(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	app := principalApp(e.svc, identity.NoCookie, uuid.Nil, false)
	other := e.newService(t)
	otherApp := principalApp(other, identity.NoCookie, uuid.Nil, false)

	before, _ := e.tokenFor(t, false, "orders:read")
	oldKid := kidOf(t, before.Token)
	if res := do(t, otherApp, bearer(before.Token)); res.status != http.StatusOK {
		t.Fatalf("other instance refused a token: %d %s", res.status, res.body)
	}
	e.clock.Advance(2 * time.Second)
	newKid, err := e.svc.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	after, _ := e.tokenFor(t, false, "orders:read")
	if got := kidOf(t, after.Token); got != newKid {
		t.Errorf("token after rotation has kid %s, want %s", got, newKid)
	}
	for name, tok := range map[string]string{"before": before.Token, "after": after.Token} {
		for appName, a := range map[string]*fiber.App{"rotating instance": app, "other instance": otherApp} {
			if res := do(t, a, bearer(tok)); res.status != http.StatusOK {
				t.Errorf("token from %s rotation on the %s: %d %s", name, appName, res.status, res.body)
			}
		}
	}
	var set identity.JWKSet
	if err := json.Unmarshal(do(t, app, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)).body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
			t.Errorf("jwk %+v", k)
		}
		pub, _ := base64.RawURLEncoding.DecodeString(k.X)
		if thumb := rfc7638(pub); thumb != k.Kid {
			t.Errorf("kid %s is not the RFC 7638 thumbprint %s", k.Kid, thumb)
		}
	}
	if len(kids) != 2 || kids[0] != newKid || !slices.Contains(kids, oldKid) {
		t.Errorf("jwks kids %v, want the new %s first and the old %s", kids, newKid, oldKid)
	}
	// The other instance switches to the new key within a minute.
	e.clock.Advance(61 * time.Second)
	if got := other.ActiveKid(ctx); got != newKid {
		t.Errorf("other instance signs with %s a minute after rotation, want %s", got, newKid)
	}
	// Past the verify window the old key is gone from the JWKS and deleted by the next rotation.
	e.clock.Advance(31 * time.Minute)
	if _, err := e.svc.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	set = identity.JWKSet{}
	_ = json.Unmarshal(do(t, app, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)).body, &set)
	for _, k := range set.Keys {
		if k.Kid == oldKid {
			t.Error("a key retired longer than the verify window is still published")
		}
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

func rfc7638(pub []byte) string {
	j := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(j))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// The token endpoint speaks RFC 6749: form or Basic client authentication, JSON errors.
func TestTokenEndpoint(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	app := principalApp(e.svc, identity.NoCookie, uuid.Nil, false)
	plain, key, err := e.svc.CreateAPIKey(ctx, e.a, uuid.Nil, "ci", []string{"products:write", "orders:read"}, "user:test")
	if err != nil {
		t.Fatal(err)
	}
	secretOnly := plain[len(key.ClientID)+1:]
	form := func(v url.Values, basic string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != "" {
			req.Header.Set("Authorization", "Basic "+basic)
		}
		return req
	}
	basic := func(id, secret string) string {
		return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	withV := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range cc {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		errors string
		scope  string
	}{
		{"form, whole key", form(withV("client_secret", plain), ""), 200, "", "orders:read products:write"},
		{"form, client id + secret part", form(withV("client_id", key.ClientID, "client_secret", secretOnly), ""), 200, "", "orders:read products:write"},
		{"form, key id + whole key", form(withV("client_id", key.ID.String(), "client_secret", plain), ""), 200, "", "orders:read products:write"},
		{"basic", form(cc, basic(key.ClientID, secretOnly)), 200, "", "orders:read products:write"},
		{"downscoped (write includes read)", form(withV("client_secret", plain, "scope", "products:read"), ""), 200, "", "products:read"},
		{"scope not granted", form(withV("client_secret", plain, "scope", "payouts:read"), ""), 400, "invalid_scope", ""},
		{"wrong secret", form(withV("client_id", key.ClientID, "client_secret", strings.Repeat("a", 52)), ""), 401, "invalid_client", ""},
		{"client id of another key", form(withV("client_id", uuid.NewString(), "client_secret", plain), ""), 401, "invalid_client", ""},
		{"bad basic", form(cc, "!!!"), 401, "invalid_client", ""},
		{"no credentials", form(cc, ""), 401, "invalid_client", ""},
		{"two client authentications", form(withV("client_secret", plain), basic(key.ClientID, secretOnly)), 400, "invalid_request", ""},
		{"password grant", form(url.Values{"grant_type": {"password"}, "client_secret": {plain}}, ""), 400, "unsupported_grant_type", ""},
		{"no grant type", form(url.Values{"client_secret": {plain}}, ""), 400, "invalid_request", ""},
		{"JSON body", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), 400, "invalid_request", ""},
	} {
		res := do(t, app, tc.req)
		var body struct {
			Error       string `json:"error"`
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int    `json:"expires_in"`
			Scope       string `json:"scope"`
		}
		_ = json.Unmarshal(res.body, &body)
		if res.status != tc.status || body.Error != tc.errors {
			t.Errorf("%s: %d %s, want %d %q", tc.name, res.status, res.body, tc.status, tc.errors)
			continue
		}
		if res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tc.name, res.header.Get("Cache-Control"))
		}
		if tc.status == 401 && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: 401 without WWW-Authenticate: Basic", tc.name)
		}
		if tc.status != 200 {
			continue
		}
		if body.TokenType != "Bearer" || body.ExpiresIn != 900 || body.Scope != tc.scope {
			t.Errorf("%s: %+v", tc.name, body)
		}
		who := do(t, app, bearer(body.AccessToken))
		if who.status != 200 || strings.Join(who.who.Scopes, " ") != tc.scope || who.who.Tenant != e.a {
			t.Errorf("%s: token gives %d %+v", tc.name, who.status, who.who)
		}
	}
	// Claims are what the issue asks for.
	tok, err := e.svc.ClientCredentials(ctx, "", plain, "")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, _, _ := jwt.NewParser().ParseUnverified(tok.Token, claims)
	if parsed.Header["alg"] != "EdDSA" || claims["iss"] != testIssuer || claims["sub"] != "apikey:"+key.ID.String() ||
		claims["tenant_id"] != e.a.String() || claims["jti"] == nil || claims["iat"] == nil ||
		claims["exp"].(float64)-claims["iat"].(float64) != 900 {
		t.Errorf("claims %v header %v", claims, parsed.Header)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != identity.Audience {
		t.Errorf("aud %v", claims["aud"])
	}
	if _, ok := claims["merchant_id"]; ok {
		t.Error("a tenant key's token carries merchant_id")
	}
	if _, err := e.svc.ClientCredentials(ctx, "", plain, "nope:read"); !errors.Is(err, identity.ErrInvalidScope) {
		t.Errorf("unknown scope: %v", err)
	}
}
