package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/scope"
)

// A set-password token reads <tenant>.<secret>, both base64url: the tenant is in the token so
// that the lookup runs under that tenant's RLS before anything else is known (as with API
// keys); only the SHA-256 of the whole token is stored, and the secret is 256 random bits.
func newToken(tenantID uuid.UUID) (string, []byte) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand does not fail on supported platforms
	token := base64.RawURLEncoding.EncodeToString(tenantID[:]) + "." + base64.RawURLEncoding.EncodeToString(secret)
	return token, tokenHash(token)
}

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func tokenTenant(token string) (uuid.UUID, bool) {
	t, secret, ok := strings.Cut(token, ".")
	if !ok || len(t) != 22 || len(secret) != 43 {
		return uuid.Nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return uuid.Nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return uuid.Nil, false
	}
	id, err := uuid.FromBytes(raw)
	return id, err == nil && id != uuid.Nil
}

func (s *Service) issueToken(ctx context.Context, tx bun.IDB, tenantID, userID uuid.UUID) (string, error) {
	token, hash := newToken(tenantID)
	now := s.now()
	_, err := tx.ExecContext(ctx, `INSERT INTO staff_password_tokens (tenant_id, user_id, token_hash, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, tenantID, userID, hash, string(scope.ActorFrom(ctx)), now, now.Add(s.cfg.TokenTTL))
	if err != nil {
		return "", fmt.Errorf("issue set-password token: %w", err)
	}
	return token, nil
}

// Invitee is whom a set-password link is for.
type Invitee struct {
	TenantID uuid.UUID
	UserID   uuid.UUID
	Email    string
	Tenant   string // the tenant's name
}

// CheckToken says whom a set-password link is for, without using it, so the page can greet
// them. Errors: ErrTokenInvalid (unknown, used, expired, or the password was set meanwhile).
func (s *Service) CheckToken(ctx context.Context, token string) (Invitee, error) {
	var inv Invitee
	err := s.withToken(ctx, token, false, func(tx bun.IDB, tokenID uuid.UUID, in Invitee) error {
		inv = in
		return nil
	})
	return inv, err
}

// SetPassword uses a set-password link once: it gives the person the password and ends every
// other open link of theirs in the tenant. A password the policy refuses leaves the link
// usable. Errors: ErrTokenInvalid, a password policy fault (field "body.password").
func (s *Service) SetPassword(ctx context.Context, token, password string) (Invitee, error) {
	var inv Invitee
	err := s.withToken(ctx, token, true, func(tx bun.IDB, tokenID uuid.UUID, in Invitee) error {
		inv = in
		// identity runs its own transaction; the token row stays locked meanwhile, so a second
		// use of the same link waits here and then finds it used.
		if err := s.cfg.Accounts.SetStaffPassword(ctx, in.UserID, password); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff_password_tokens SET used_at = ?
			WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL`, s.now(), in.TenantID, in.UserID); err != nil {
			return err
		}
		actx := scope.WithActor(ctx, scope.Actor("user:"+in.UserID.String()))
		return s.cfg.Audit.Record(actx, tx, "staff.set_password", "staff_user", in.UserID.String(), nil, nil)
	})
	if err != nil {
		return Invitee{}, err
	}
	return inv, nil
}

// withToken finds the live token in its tenant's scope (locking it when forUse) and runs fn.
func (s *Service) withToken(ctx context.Context, token string, forUse bool, fn func(tx bun.IDB, tokenID uuid.UUID, in Invitee) error) error {
	tenantID, ok := tokenTenant(token)
	if !ok {
		return ErrTokenInvalid
	}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		q := `SELECT t.id, t.user_id, u.email, tn.name, u.password_hash IS NOT NULL
			FROM staff_password_tokens t
			JOIN staff_users u ON u.id = t.user_id
			JOIN tenants tn ON tn.id = t.tenant_id
			WHERE t.tenant_id = ? AND t.token_hash = ? AND t.used_at IS NULL AND t.expires_at > ?`
		if forUse {
			q += " FOR UPDATE OF t"
		}
		var (
			id     uuid.UUID
			in     = Invitee{TenantID: tenantID}
			hasPwd bool
		)
		if err := tx.NewRaw(q, tenantID, tokenHash(token), s.now()).Scan(ctx, &id, &in.UserID, &in.Email, &in.Tenant, &hasPwd); err != nil {
			if errors.Is(err, errNoRows) {
				return ErrTokenInvalid
			}
			return err
		}
		// A first password only: a link that arrives after the person chose one (through
		// another tenant's link, say) must not work as a password reset.
		if hasPwd {
			return ErrTokenInvalid
		}
		return fn(tx, id, in)
	})
	if err != nil {
		return fmt.Errorf("set-password link: %w", err)
	}
	return nil
}
