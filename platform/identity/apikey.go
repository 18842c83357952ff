package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
)

// Scope families an API key or token can be given read or write access to.
var scopeFamilies = []string{"products", "orders", "shipments", "inventory", "customers", "payouts", "webhooks", "merchants", "staff", "audit"}

// ValidateScopes checks that every scope is <family>:read or <family>:write for a known
// family and returns them sorted without duplicates. Errors: ErrUnknownScope (wrapped with
// the offending scope).
func ValidateScopes(scopes []string) ([]string, error) {
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		family, action, ok := strings.Cut(sc, ":")
		if !ok || !slices.Contains(scopeFamilies, family) || (action != "read" && action != "write") {
			return nil, fmt.Errorf("%w: %q", ErrUnknownScope, sc)
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrUnknownScope)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// scopeAllows reports whether granted covers want; write includes read.
func scopeAllows(granted []string, want string) bool {
	if slices.Contains(granted, want) {
		return true
	}
	family, action, _ := strings.Cut(want, ":")
	return action == "read" && slices.Contains(granted, family+":write")
}

// APIKey is what may be known about a key after it was created: never its secret.
type APIKey struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	MerchantID uuid.UUID // uuid.Nil for a tenant key
	ClientID   string    // the key's public part, the OAuth client_id
	Name       string
	Scopes     []string
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

type apiKeyRow struct {
	bun.BaseModel `bun:"table:api_keys"`
	TenantID      uuid.UUID  `bun:"tenant_id,pk"`
	ID            uuid.UUID  `bun:"id,pk"`
	MerchantID    uuid.UUID  `bun:"merchant_id,nullzero"`
	Name          string     `bun:"name"`
	SecretHash    []byte     `bun:"secret_hash"`
	Scopes        []string   `bun:"scopes,array"`
	CreatedBy     string     `bun:"created_by"`
	CreatedAt     time.Time  `bun:"created_at"`
	LastUsedAt    *time.Time `bun:"last_used_at"`
	RevokedAt     *time.Time `bun:"revoked_at"`
}

func (r *apiKeyRow) public() APIKey {
	return APIKey{ID: r.ID, TenantID: r.TenantID, MerchantID: r.MerchantID, ClientID: clientID(r.TenantID, r.ID),
		Name: r.Name, Scopes: r.Scopes, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

// An API key reads mk_<tenant>_<key id>_<secret>, each part lower-case base32 without
// padding. The tenant is in the key so that the lookup can run under RLS for that tenant
// before anything else is known; a key presented with another tenant's id finds nothing.
const apiKeyPrefix = "mk_"

var keyBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func clientID(tenantID, keyID uuid.UUID) string {
	return apiKeyPrefix + keyBase32.EncodeToString(tenantID[:]) + "_" + keyBase32.EncodeToString(keyID[:])
}

// parseAPIKey splits a presented key into its tenant, id and the whole string to hash.
func parseAPIKey(key string) (tenantID, keyID uuid.UUID, ok bool) {
	rest, found := strings.CutPrefix(key, apiKeyPrefix)
	parts := strings.Split(rest, "_")
	if !found || len(parts) != 3 || len(parts[0]) != 26 || len(parts[1]) != 26 || len(parts[2]) != 52 {
		return uuid.Nil, uuid.Nil, false
	}
	t, err1 := keyBase32.DecodeString(parts[0])
	k, err2 := keyBase32.DecodeString(parts[1])
	_, err3 := keyBase32.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return uuid.Nil, uuid.Nil, false
	}
	tenantID, _ = uuid.FromBytes(t)
	keyID, _ = uuid.FromBytes(k)
	return tenantID, keyID, tenantID != uuid.Nil && keyID != uuid.Nil
}

// apiKeyHash is what the table keeps of a key: SHA-256 of the whole key. The secret part is
// 256 random bits, so unlike a password it cannot be guessed from its hash and needs no slow
// KDF, which keeps every API request cheap. Hashing the whole string binds tenant and id too.
func apiKeyHash(key string) []byte { return tokenHash(key) }

// CreateAPIKey makes a key for a tenant (merchantID uuid.Nil) or one of its merchants and
// returns its plaintext, which is shown this once and cannot be recovered. createdBy is the
// actor ("user:<id>"). Errors: ErrUnknownScope, an Invalid fault for the name.
func (s *Service) CreateAPIKey(ctx context.Context, tenantID, merchantID uuid.UUID, name string, scopes []string, createdBy string) (string, APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return "", APIKey{}, fieldError("body.name", "must be 1 to 100 characters")
	}
	scopes, err := ValidateScopes(scopes)
	if err != nil {
		return "", APIKey{}, err
	}
	id := uuid.Must(uuid.NewV7())
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	plain := clientID(tenantID, id) + "_" + keyBase32.EncodeToString(secret)
	row := &apiKeyRow{TenantID: tenantID, ID: id, MerchantID: merchantID, Name: name, SecretHash: apiKeyHash(plain),
		Scopes: scopes, CreatedBy: createdBy, CreatedAt: s.now()}
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	return plain, row.public(), nil
}

// inScope runs fn for the tenant, narrowed to one merchant's rows when merchantID is set.
func (s *Service) inScope(ctx context.Context, tenantID, merchantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if merchantID == uuid.Nil {
		return s.db.WithTenant(ctx, tenantID, fn)
	}
	return s.db.WithMerchant(ctx, tenantID, merchantID, fn)
}

// ListAPIKeys lists a tenant's keys, or only one merchant's when merchantID is set, newest
// first, without secrets.
func (s *Service) ListAPIKeys(ctx context.Context, tenantID, merchantID uuid.UUID) ([]APIKey, error) {
	var rows []apiKeyRow
	err := s.inScope(ctx, tenantID, merchantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Model(&rows).ExcludeColumn("secret_hash").OrderExpr("id DESC")
		if merchantID != uuid.Nil {
			q = q.Where("merchant_id = ?", merchantID)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := make([]APIKey, len(rows))
	for i := range rows {
		out[i] = rows[i].public()
	}
	return out, nil
}

// RevokeAPIKey stops a key from working at once. Access tokens already issued from it are
// verified without a database read, so they keep working until they expire (at most the
// token TTL). In a merchant scope only that merchant's keys can be revoked. Revoking twice is
// not an error. Errors: ErrAPIKeyNotFound.
func (s *Service) RevokeAPIKey(ctx context.Context, tenantID, merchantID, keyID uuid.UUID) error {
	err := s.inScope(ctx, tenantID, merchantID, func(tx bun.IDB) error {
		res, err := tx.NewUpdate().Model((*apiKeyRow)(nil)).Set("revoked_at = coalesce(revoked_at, ?)", s.now()).
			Where("id = ?", keyID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrAPIKeyNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return nil
}

// AuthenticateAPIKey turns a presented key into a principal and notes when it was used (at
// most once a minute). Errors: ErrUnauthenticated for a malformed, unknown, tampered or
// revoked key.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (Principal, error) {
	tenantID, keyID, ok := parseAPIKey(key)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	var row apiKeyRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if err := tx.NewSelect().Model(&row).Where("id = ?", keyID).Scan(ctx); err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(row.SecretHash, apiKeyHash(key)) != 1 || row.RevokedAt != nil {
			return ErrUnauthenticated
		}
		now := s.now()
		if row.LastUsedAt == nil || now.Sub(*row.LastUsedAt) >= touchEvery {
			row.LastUsedAt = &now
			_, err := tx.NewUpdate().Model(&row).Column("last_used_at").WherePK().Exec(ctx)
			return err
		}
		return nil
	})
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, ErrUnauthenticated):
		return Principal{}, ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("authenticate api key: %w", err)
	}
	return Principal{Kind: KindAPIKey, KeyID: row.ID, TenantID: row.TenantID, MerchantID: row.MerchantID,
		Scopes: row.Scopes}, nil
}

func fieldError(location, message string) error {
	return fault.Fields(map[string]string{location: message})
}
