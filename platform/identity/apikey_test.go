package identity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/identity"
	"mercato/platform/scope"
)

func TestAPIKeys(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	app := principalApp(e.svc, identity.NoCookie, uuid.Nil, false)

	plain, key, err := e.svc.CreateAPIKey(ctx, e.a, e.m1, "shop sync", []string{"products:write", "inventory:read", "products:write"}, "user:someone")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, key.ClientID+"_") || !strings.HasPrefix(key.ClientID, "mk_") {
		t.Errorf("plaintext %q does not start with client id %q", plain, key.ClientID)
	}
	if strings.Join(key.Scopes, " ") != "inventory:read products:write" {
		t.Errorf("scopes %v, want sorted without duplicates", key.Scopes)
	}

	// Stored: only a hash, and not the plaintext.
	var stored []byte
	err = e.f.Platform.Do(scope.WithActor(ctx, "system:test"), "test.read", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT secret_hash FROM api_keys WHERE id = ?", key.ID).Scan(ctx, &stored)
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(plain))
	if !bytes.Equal(stored, sum[:]) || bytes.Contains(stored, []byte(plain)) {
		t.Errorf("stored secret_hash %x, want sha256 of the key", stored)
	}

	// Shown once: the list never carries the secret and nothing else can return it.
	keys, err := e.svc.ListAPIKeys(ctx, e.a, uuid.Nil)
	if err != nil || len(keys) != 1 || keys[0].ID != key.ID || keys[0].LastUsedAt != nil {
		t.Fatalf("list = %+v, %v", keys, err)
	}
	if strings.Contains(fmt.Sprintf("%+v", keys), plain[len(key.ClientID)+1:]) {
		t.Error("the list contains the secret")
	}

	// Used: principal with the key's tenant, merchant and scopes; last_used set.
	res := do(t, app, bearer(plain))
	if res.status != http.StatusOK || res.who.Kind != "apikey" || res.who.Tenant != e.a || res.who.Merchant != e.m1 ||
		res.who.Actor != "apikey:"+key.ID.String() {
		t.Fatalf("key: %d %+v %s", res.status, res.who, res.body)
	}
	keys, _ = e.svc.ListAPIKeys(ctx, e.a, uuid.Nil)
	if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("last_used_at %v after use, want %v", keys[0].LastUsedAt, e.clock.Now())
	}
	e.clock.Advance(2 * time.Minute)
	do(t, app, bearer(plain))
	keys, _ = e.svc.ListAPIKeys(ctx, e.a, uuid.Nil)
	if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("last_used_at %v after a later use, want %v", keys[0].LastUsedAt, e.clock.Now())
	}

	// Tampering: another tenant's id in the tenant part, a changed secret, a changed id.
	parts := strings.Split(plain, "_") // mk, tenant, id, secret
	other, _, err := e.svc.CreateAPIKey(ctx, e.b, uuid.Nil, "b", []string{"orders:read"}, "user:someone")
	if err != nil {
		t.Fatal(err)
	}
	otherParts := strings.Split(other, "_")
	flip := func(s string) string {
		if s[0] == 'a' {
			return "b" + s[1:]
		}
		return "a" + s[1:]
	}
	for name, k := range map[string]string{
		"tenant part of tenant B":  strings.Join([]string{parts[0], otherParts[1], parts[2], parts[3]}, "_"),
		"secret changed":           strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3])}, "_"),
		"key id of another key":    strings.Join([]string{parts[0], parts[1], otherParts[2], parts[3]}, "_"),
		"truncated":                plain[:len(plain)-1],
		"tenant B's key, A's part": strings.Join([]string{otherParts[0], parts[1], otherParts[2], otherParts[3]}, "_"),
	} {
		if res := do(t, app, bearer(k)); res.status != http.StatusUnauthorized || res.problem.Code != "unauthenticated" {
			t.Errorf("%s: %d %s, want 401", name, res.status, res.body)
		}
	}
	if res := do(t, app, bearer(other)); res.status != http.StatusOK || res.who.Tenant != e.b {
		t.Errorf("tenant B's own key: %d %+v", res.status, res.who)
	}

	// Merchant scope: M2 neither sees nor revokes M1's key.
	if ks, err := e.svc.ListAPIKeys(ctx, e.a, e.m2); err != nil || len(ks) != 0 {
		t.Errorf("M2 lists %d keys (%v), want 0", len(ks), err)
	}
	if err := e.svc.RevokeAPIKey(ctx, e.a, e.m2, key.ID); !errors.Is(err, identity.ErrAPIKeyNotFound) {
		t.Errorf("M2 revoking M1's key: %v, want ErrAPIKeyNotFound", err)
	}
	if err := e.svc.RevokeAPIKey(ctx, e.b, uuid.Nil, key.ID); !errors.Is(err, identity.ErrAPIKeyNotFound) {
		t.Errorf("tenant B revoking A's key: %v, want ErrAPIKeyNotFound", err)
	}

	// Revoked: 401, and no new tokens.
	if err := e.svc.RevokeAPIKey(ctx, e.a, e.m1, key.ID); err != nil {
		t.Fatal(err)
	}
	if res := do(t, app, bearer(plain)); res.status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d, want 401", res.status)
	}
	if _, err := e.svc.ClientCredentials(ctx, "", plain, ""); !errors.Is(err, identity.ErrInvalidClient) {
		t.Errorf("token for a revoked key: %v, want ErrInvalidClient", err)
	}
	keys, _ = e.svc.ListAPIKeys(ctx, e.a, uuid.Nil)
	if keys[0].RevokedAt == nil {
		t.Error("list does not show the revocation")
	}
}

func TestAPIKeyValidation(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		scopes []string
		ok     bool
	}{
		{"every family read and write", []string{"products:read", "orders:write", "inventory:read", "customers:read",
			"payouts:read", "webhooks:write", "merchants:read", "staff:write", "audit:read"}, true},
		{"unknown family", []string{"secrets:read"}, false},
		{"unknown action", []string{"products:admin"}, false},
		{"no action", []string{"products"}, false},
		{"wildcard", []string{"*"}, false},
		{"one bad among good", []string{"products:read", "products:delete"}, false},
		{"none", nil, false},
	} {
		_, _, err := e.svc.CreateAPIKey(ctx, e.a, uuid.Nil, "k", tc.scopes, "user:x")
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, identity.ErrUnknownScope)) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if _, _, err := e.svc.CreateAPIKey(ctx, e.a, uuid.Nil, " ", []string{"products:read"}, "user:x"); err == nil {
		t.Error("blank name accepted")
	}
	// A merchant of another tenant cannot own a key here (foreign key includes tenant_id).
	if _, _, err := e.svc.CreateAPIKey(ctx, e.b, e.m1, "k", []string{"products:read"}, "user:x"); err == nil {
		t.Error("tenant B made a key for tenant A's merchant")
	}
	p := identity.Principal{Kind: identity.KindAPIKey, Scopes: []string{"products:write", "orders:read"}}
	for scope, want := range map[string]bool{"products:read": true, "products:write": true, "orders:read": true, "orders:write": false, "audit:read": false} {
		if p.HasScope(scope) != want {
			t.Errorf("HasScope(%s) = %v, want %v", scope, !want, want)
		}
	}
}
