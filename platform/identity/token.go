package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
)

// OAuth errors of the token endpoint (RFC 6749 §5.2 codes).
var (
	ErrInvalidClient = fault.New(fault.Unauthenticated, "invalid_client", "client authentication failed")
	ErrInvalidScope  = fault.New(fault.Invalid, "invalid_scope", "the requested scope is not granted to this client")
)

const (
	// tokenType is the JWT typ of access tokens (RFC 9068), checked on the way in so that no
	// other kind of JWT signed by these keys could pass as one.
	tokenType = "at+jwt"
	// activeTTL is how long an instance signs with the key it loaded before asking the
	// database again, so a rotation on one instance reaches the others within it.
	activeTTL = time.Minute
	// refreshGap rate-limits reloads caused by unknown kids, which anyone can send.
	refreshGap = time.Second
)

// signingKey is one Ed25519 key; priv is set only for the active key.
type signingKey struct {
	kid       string
	pub       ed25519.PublicKey
	priv      ed25519.PrivateKey
	retiredAt *time.Time
}

// keyring caches the signing keys of this instance.
type keyring struct {
	mu          sync.Mutex
	active      *signingKey
	byKid       map[string]*signingKey
	loadedAt    time.Time // zero: load before use
	refreshedAt time.Time
}

type signingKeyRow struct {
	bun.BaseModel `bun:"table:signing_keys"`
	Kid           string     `bun:"kid,pk"`
	Alg           string     `bun:"alg"`
	PublicKey     []byte     `bun:"public_key"`
	PrivateKey    []byte     `bun:"private_key"`
	CreatedAt     time.Time  `bun:"created_at"`
	RetiredAt     *time.Time `bun:"retired_at"`
}

// verifyWindow is how long a retired key still verifies. Tokens live tokenTTL; another
// instance may keep signing with a just-retired key for up to activeTTL, so twice the token
// lifetime (at least TTL + activeTTL) covers every token signed with it.
func (s *Service) verifyWindow() time.Duration {
	return max(2*s.tokenTTL, s.tokenTTL+activeTTL)
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 key (members crv, kty, x in
// lexicographic order, as RFC 8037 §2 defines them), used as the kid.
func thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (s *Service) newSigningKeyRow() (*signingKeyRow, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	kid := thumbprint(pub)
	return &signingKeyRow{Kid: kid, Alg: "EdDSA", PublicKey: pub, PrivateKey: seal(s.keys.jwt, priv.Seed(), []byte(kid)),
		CreatedAt: s.now()}, nil
}

// loadKeys reads every key that still verifies, and opens the active one. Caller holds r.mu.
func (s *Service) loadKeys(ctx context.Context) error {
	r := &s.ring
	now := s.now()
	var rows []signingKeyRow
	err := s.db.Bun().NewSelect().Model(&rows).
		Where("retired_at IS NULL OR retired_at > ?", now.Add(-s.verifyWindow())).Scan(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if !slices.ContainsFunc(rows, func(k signingKeyRow) bool { return k.RetiredAt == nil }) {
		row, err := s.newSigningKeyRow()
		if err != nil {
			return err
		}
		// Two instances starting at once may both get here; the one-active index keeps one.
		if _, err := s.db.Bun().NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("create signing key: %w", err)
		}
		rows = rows[:0]
		if err := s.db.Bun().NewSelect().Model(&rows).
			Where("retired_at IS NULL OR retired_at > ?", now.Add(-s.verifyWindow())).Scan(ctx); err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
	}
	byKid := make(map[string]*signingKey, len(rows))
	var active *signingKey
	for _, row := range rows {
		k := &signingKey{kid: row.Kid, pub: ed25519.PublicKey(row.PublicKey), retiredAt: row.RetiredAt}
		if row.RetiredAt == nil {
			seed, err := open(s.keys.jwt, row.PrivateKey, []byte(row.Kid))
			if err != nil || len(seed) != ed25519.SeedSize {
				return fmt.Errorf("open signing key %s: sealed under another secret key? %v", row.Kid, err)
			}
			k.priv = ed25519.NewKeyFromSeed(seed)
			active = k
		}
		byKid[k.kid] = k
	}
	if active == nil {
		return errors.New("load signing keys: no active key")
	}
	r.active, r.byKid, r.loadedAt, r.refreshedAt = active, byKid, now, now
	return nil
}

// activeKey is the key to sign with.
func (s *Service) activeKey(ctx context.Context) (*signingKey, error) {
	r := &s.ring
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil || s.now().Sub(r.loadedAt) >= activeTTL {
		if err := s.loadKeys(ctx); err != nil {
			return nil, err
		}
	}
	return r.active, nil
}

// verificationKey finds the public key for kid, reloading (rate-limited) when it is unknown.
func (s *Service) verificationKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	r := &s.ring
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()
	k, ok := r.byKid[kid]
	if !ok && (r.byKid == nil || now.Sub(r.refreshedAt) >= refreshGap) {
		if err := s.loadKeys(ctx); err != nil {
			return nil, err
		}
		k, ok = r.byKid[kid]
	}
	if !ok || (k.retiredAt != nil && now.After(k.retiredAt.Add(s.verifyWindow()))) {
		return nil, errUnknownKey
	}
	return k.pub, nil
}

var errUnknownKey = errors.New("identity: unknown signing key")

// Rotate makes a new active signing key and retires the current one, which keeps verifying
// until every token it signed has expired; keys past that are deleted. It returns the new kid.
// Other instances switch within a minute; they accept the new kid at once.
func (s *Service) Rotate(ctx context.Context) (string, error) {
	row, err := s.newSigningKeyRow()
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.db.Bun().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Serialises rotations, so two at once make two keys in turn instead of failing.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('mercato.signing_keys'))"); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*signingKeyRow)(nil)).Set("retired_at = ?", now).Where("retired_at IS NULL").Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*signingKeyRow)(nil)).Where("retired_at < ?", now.Add(-s.verifyWindow())).Exec(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	s.ring.mu.Lock()
	defer s.ring.mu.Unlock()
	if err := s.loadKeys(ctx); err != nil {
		return "", err
	}
	return row.Kid, nil
}

// JWK is one public key as RFC 8037 writes Ed25519 keys.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSet is the document at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS lists every key that still verifies, the active one first.
func (s *Service) JWKS(ctx context.Context) (JWKSet, error) {
	r := &s.ring
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKid == nil || s.now().Sub(r.refreshedAt) >= refreshGap {
		if err := s.loadKeys(ctx); err != nil {
			return JWKSet{}, err
		}
	}
	set := JWKSet{Keys: []JWK{}}
	for _, k := range r.byKid {
		set.Keys = append(set.Keys, JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.kid, Alg: "EdDSA", Use: "sig"})
	}
	slices.SortFunc(set.Keys, func(a, b JWK) int {
		switch {
		case a.Kid == r.active.kid:
			return -1
		case b.Kid == r.active.kid:
			return 1
		}
		return strings.Compare(a.Kid, b.Kid)
	})
	return set, nil
}

// accessClaims are the claims of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	TenantID   string `json:"tenant_id"`
	MerchantID string `json:"merchant_id,omitempty"`
	Scope      string `json:"scope"`
}

// AccessToken is an issued token as the token endpoint returns it.
type AccessToken struct {
	Token     string
	ExpiresAt time.Time
	Scopes    []string
}

// IssueToken signs an access token for an API key principal, with the requested scopes (all
// of the key's when none are asked for). Errors: ErrInvalidScope.
func (s *Service) IssueToken(ctx context.Context, p Principal, scopes []string) (AccessToken, error) {
	if p.Kind != KindAPIKey {
		return AccessToken{}, errors.New("identity: tokens are issued to API keys only")
	}
	if len(scopes) == 0 {
		scopes = p.Scopes
	}
	for _, sc := range scopes {
		if !scopeAllows(p.Scopes, sc) {
			return AccessToken{}, fmt.Errorf("%w: %q", ErrInvalidScope, sc)
		}
	}
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	key, err := s.activeKey(ctx)
	if err != nil {
		return AccessToken{}, err
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(s.tokenTTL)
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.issuer, Audience: jwt.ClaimStrings{Audience}, Subject: "apikey:" + p.KeyID.String(),
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now),
			ID: uuid.Must(uuid.NewV7()).String(),
		},
		TenantID: p.TenantID.String(),
		Scope:    strings.Join(scopes, " "),
	}
	if p.MerchantID != uuid.Nil {
		c.MerchantID = p.MerchantID.String()
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = key.kid
	t.Header["typ"] = tokenType
	signed, err := t.SignedString(key.priv)
	if err != nil {
		return AccessToken{}, fmt.Errorf("sign access token: %w", err)
	}
	return AccessToken{Token: signed, ExpiresAt: exp, Scopes: scopes}, nil
}

// ClientCredentials is the client-credentials grant: secret is the whole API key (then id,
// the client_id, must be empty or name the same key, by client id or key id) or only its
// secret part (then id must be the key's client id). scope is space-separated and optional.
// Errors: ErrInvalidClient, ErrInvalidScope.
func (s *Service) ClientCredentials(ctx context.Context, id, secret, scope string) (AccessToken, error) {
	key := secret
	if !strings.HasPrefix(secret, apiKeyPrefix) {
		key = id + "_" + secret
	}
	tenantID, keyID, ok := parseAPIKey(key)
	if !ok {
		return AccessToken{}, ErrInvalidClient
	}
	if id != "" && id != clientID(tenantID, keyID) && id != keyID.String() {
		return AccessToken{}, ErrInvalidClient
	}
	p, err := s.AuthenticateAPIKey(ctx, key)
	if errors.Is(err, ErrUnauthenticated) {
		return AccessToken{}, ErrInvalidClient
	}
	if err != nil {
		return AccessToken{}, err
	}
	return s.IssueToken(ctx, p, strings.Fields(scope))
}

// VerifyToken checks an access token: EdDSA only (the algorithm is fixed, never taken from
// the token), a known kid, typ at+jwt, exp required and in the future, iss this platform and
// aud exactly mercato-api. Errors: ErrUnauthenticated.
func (s *Service) VerifyToken(ctx context.Context, raw string) (Principal, error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
		jwt.WithStrictDecoding(),
	)
	var c accessClaims
	_, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodEdDSA { // WithValidMethods already refused; belt and braces
			return nil, errors.New("identity: unexpected signing method")
		}
		if typ, _ := t.Header["typ"].(string); typ != tokenType {
			return nil, errors.New("identity: not an access token")
		}
		kid, _ := t.Header["kid"].(string)
		return s.verificationKey(ctx, kid)
	})
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	keyID, err := uuid.Parse(strings.TrimPrefix(c.Subject, "apikey:"))
	tenantID, terr := uuid.Parse(c.TenantID)
	if len(c.Audience) != 1 || !strings.HasPrefix(c.Subject, "apikey:") || err != nil || terr != nil || tenantID == uuid.Nil {
		return Principal{}, ErrUnauthenticated
	}
	p := Principal{Kind: KindToken, KeyID: keyID, TenantID: tenantID, Scopes: strings.Fields(c.Scope), TokenID: c.ID}
	if c.MerchantID != "" {
		if p.MerchantID, err = uuid.Parse(c.MerchantID); err != nil {
			return Principal{}, ErrUnauthenticated
		}
	}
	return p, nil
}
