package identity

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
)

// Session is one signed-in browser, or a guest's. The browser holds a random token in a
// cookie; the table holds only the token's SHA-256.
type Session struct {
	ID         uuid.UUID
	UserID     uuid.UUID // staff sessions
	TenantID   uuid.UUID // shopper and guest sessions
	ShopperID  uuid.UUID // uuid.Nil while the session is a guest's
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end, whatever the activity: the cookie's Expires
}

// Guest reports whether a shopper session has no shopper yet.
func (s Session) Guest() bool { return s.ShopperID == uuid.Nil }

type staffSessionRow struct {
	bun.BaseModel `bun:"table:staff_sessions"`
	ID            uuid.UUID `bun:"id,pk,nullzero"`
	TokenHash     []byte    `bun:"token_hash"`
	UserID        uuid.UUID `bun:"user_id"`
	CreatedAt     time.Time `bun:"created_at"`
	LastSeenAt    time.Time `bun:"last_seen_at"`
	ExpiresAt     time.Time `bun:"expires_at"`
	IP            string    `bun:"ip"`
	UserAgent     string    `bun:"user_agent"`
}

type shopperSessionRow struct {
	bun.BaseModel `bun:"table:shopper_sessions"`
	TenantID      uuid.UUID `bun:"tenant_id,pk"`
	ID            uuid.UUID `bun:"id,pk,nullzero"`
	TokenHash     []byte    `bun:"token_hash"`
	ShopperID     uuid.UUID `bun:"shopper_id,nullzero"`
	CreatedAt     time.Time `bun:"created_at"`
	LastSeenAt    time.Time `bun:"last_seen_at"`
	ExpiresAt     time.Time `bun:"expires_at"`
}

func (r *shopperSessionRow) session() Session {
	return Session{ID: r.ID, TenantID: r.TenantID, ShopperID: r.ShopperID, CreatedAt: r.CreatedAt,
		LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt}
}

// expired applies the idle and absolute limits.
func expired(now, lastSeen, absolute time.Time, idle time.Duration) bool {
	return !now.Before(absolute) || !now.Before(lastSeen.Add(idle))
}

func (s *Service) createStaffSession(ctx context.Context, userID uuid.UUID, ip, ua string) (Session, string, error) {
	token, hash := randomToken()
	now := s.now()
	row := &staffSessionRow{TokenHash: hash, UserID: userID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(staffAbsolute), IP: truncate(ip, 64), UserAgent: truncate(ua, 256)}
	if _, err := s.db.Bun().NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return Session{}, "", fmt.Errorf("create staff session: %w", err)
	}
	return Session{ID: row.ID, UserID: userID, CreatedAt: now, LastSeenAt: now, ExpiresAt: row.ExpiresAt}, token, nil
}

// StaffSession returns the live session behind a staff cookie token and its user.
// Errors: ErrUnauthenticated for an unknown, expired or revoked session.
func (s *Service) StaffSession(ctx context.Context, token string) (Session, StaffUser, error) {
	if token == "" {
		return Session{}, StaffUser{}, ErrUnauthenticated
	}
	var row staffSessionRow
	var user staffUserRow
	err := s.db.Bun().NewRaw(`
		SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at,
		       u.email, u.name, u.platform_role, u.totp_secret IS NOT NULL
		FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id
		WHERE s.token_hash = ?`, tokenHash(token)).Scan(ctx,
		&row.ID, &row.UserID, &row.CreatedAt, &row.LastSeenAt, &row.ExpiresAt,
		&user.Email, &user.Name, &user.PlatformRole, &user.hasTOTP)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, StaffUser{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, StaffUser{}, fmt.Errorf("staff session: %w", err)
	}
	now := s.now()
	if expired(now, row.LastSeenAt, row.ExpiresAt, staffIdle) {
		if err := s.LogoutStaff(ctx, row.ID); err != nil {
			return Session{}, StaffUser{}, err
		}
		return Session{}, StaffUser{}, ErrUnauthenticated
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		row.LastSeenAt = now
		if _, err := s.db.Bun().NewUpdate().Table("staff_sessions").Set("last_seen_at = ?", now).
			Where("id = ?", row.ID).Exec(ctx); err != nil {
			return Session{}, StaffUser{}, fmt.Errorf("touch staff session: %w", err)
		}
	}
	user.ID = row.UserID
	return Session{ID: row.ID, UserID: row.UserID, CreatedAt: row.CreatedAt, LastSeenAt: row.LastSeenAt,
		ExpiresAt: row.ExpiresAt}, user.public(), nil
}

// LogoutStaff ends one staff session.
func (s *Service) LogoutStaff(ctx context.Context, sessionID uuid.UUID) error {
	if _, err := s.db.Bun().NewDelete().Table("staff_sessions").Where("id = ?", sessionID).Exec(ctx); err != nil {
		return fmt.Errorf("logout staff: %w", err)
	}
	return nil
}

// LogoutStaffEverywhere ends every session of a staff user and says how many there were.
func (s *Service) LogoutStaffEverywhere(ctx context.Context, userID uuid.UUID) (int64, error) {
	res, err := s.db.Bun().NewDelete().Table("staff_sessions").Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("logout staff everywhere: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// StartGuestSession opens a session for a visitor who has not signed in, so a cart can belong
// to it. The token goes into the shopper cookie.
func (s *Service) StartGuestSession(ctx context.Context, tenantID uuid.UUID) (Session, string, error) {
	var sess Session
	var token string
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		sess, token, err = s.insertShopperSession(ctx, tx, tenantID, uuid.Nil)
		return err
	})
	if err != nil {
		return Session{}, "", fmt.Errorf("start guest session: %w", err)
	}
	return sess, token, nil
}

func (s *Service) insertShopperSession(ctx context.Context, tx bun.IDB, tenantID, shopperID uuid.UUID) (Session, string, error) {
	token, hash := randomToken()
	now := s.now()
	row := &shopperSessionRow{TenantID: tenantID, TokenHash: hash, ShopperID: shopperID, CreatedAt: now,
		LastSeenAt: now, ExpiresAt: now.Add(shopperAbsolute)}
	if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return Session{}, "", err
	}
	return row.session(), token, nil
}

// ShopperSession returns the live session (a shopper's or a guest's) behind a shopper cookie
// token in a tenant. Errors: ErrUnauthenticated.
func (s *Service) ShopperSession(ctx context.Context, tenantID uuid.UUID, token string) (Session, error) {
	if token == "" || tenantID == uuid.Nil {
		return Session{}, ErrUnauthenticated
	}
	// Every storefront request asks: the common case (live, touched lately) is one round trip;
	// an expired session or a stale last_seen_at takes the writing path below.
	var row shopperSessionRow
	err := s.db.Read(ctx, tenantID, func(read db.RowFunc) error {
		return read(`SELECT tenant_id, id, shopper_id, created_at, last_seen_at, expires_at FROM shopper_sessions WHERE token_hash = ?`,
			[]any{tokenHash(token)}, &row.TenantID, &row.ID, &row.ShopperID, &row.CreatedAt, &row.LastSeenAt, &row.ExpiresAt)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, fmt.Errorf("shopper session: %w", err)
	}
	if now := s.now(); !expired(now, row.LastSeenAt, row.ExpiresAt, shopperIdle) && now.Sub(row.LastSeenAt) < touchEvery {
		return row.session(), nil
	}
	gone := false
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		err := tx.NewSelect().Model(&row).Where("token_hash = ?", tokenHash(token)).Scan(ctx)
		if err != nil {
			return err
		}
		now := s.now()
		if expired(now, row.LastSeenAt, row.ExpiresAt, shopperIdle) {
			gone = true // committed, so the expired row is gone for good
			_, err := tx.NewDelete().Model(&row).WherePK().Exec(ctx)
			return err
		}
		if now.Sub(row.LastSeenAt) >= touchEvery {
			row.LastSeenAt = now
			_, err = tx.NewUpdate().Model(&row).Column("last_seen_at").WherePK().Exec(ctx)
		}
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Session{}, ErrUnauthenticated
	case err != nil:
		return Session{}, fmt.Errorf("shopper session: %w", err)
	case gone:
		return Session{}, ErrUnauthenticated
	}
	return row.session(), nil
}

// signInShopperSession gives shopperID a session in tx. A live guest session behind
// guestToken becomes the shopper's, with a new token (the old one stops working), and
// MergeGuest runs in the same transaction; otherwise a new session is made.
func (s *Service) signInShopperSession(ctx context.Context, tx bun.IDB, tenantID, shopperID uuid.UUID, guestToken string) (Session, string, error) {
	if guestToken != "" {
		var row shopperSessionRow
		err := tx.NewSelect().Model(&row).Where("token_hash = ?", tokenHash(guestToken)).For("UPDATE").Scan(ctx)
		now := s.now()
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return Session{}, "", fmt.Errorf("find guest session: %w", err)
		case row.ShopperID == uuid.Nil && !expired(now, row.LastSeenAt, row.ExpiresAt, shopperIdle):
			token, hash := randomToken()
			row.TokenHash, row.ShopperID = hash, shopperID
			row.CreatedAt, row.LastSeenAt, row.ExpiresAt = now, now, now.Add(shopperAbsolute)
			if _, err := tx.NewUpdate().Model(&row).Column("token_hash", "shopper_id", "created_at", "last_seen_at", "expires_at").
				WherePK().Exec(ctx); err != nil {
				return Session{}, "", fmt.Errorf("rotate guest session: %w", err)
			}
			if s.mergeGuest != nil {
				if err := s.mergeGuest(ctx, tx, tenantID, row.ID, shopperID); err != nil {
					return Session{}, "", fmt.Errorf("merge guest: %w", err)
				}
			}
			return row.session(), token, nil
		}
	}
	sess, token, err := s.insertShopperSession(ctx, tx, tenantID, shopperID)
	if err != nil {
		return Session{}, "", fmt.Errorf("create shopper session: %w", err)
	}
	return sess, token, nil
}

// LogoutShopper ends one shopper or guest session.
func (s *Service) LogoutShopper(ctx context.Context, tenantID, sessionID uuid.UUID) error {
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		_, err := tx.NewDelete().Table("shopper_sessions").Where("id = ?", sessionID).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("logout shopper: %w", err)
	}
	return nil
}

// LogoutShopperEverywhere ends every session of a shopper and says how many there were.
func (s *Service) LogoutShopperEverywhere(ctx context.Context, tenantID, shopperID uuid.UUID) (int64, error) {
	var n int64
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		n, err = deleteShopperSessions(ctx, tx, shopperID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("logout shopper everywhere: %w", err)
	}
	return n, nil
}

func deleteShopperSessions(ctx context.Context, tx bun.IDB, shopperID uuid.UUID) (int64, error) {
	res, err := tx.NewDelete().Table("shopper_sessions").Where("shopper_id = ?", shopperID).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CSRFToken is the synchronizer token forms of a cookie session carry in _csrf (or scripts
// in X-CSRF-Token): an HMAC of the session id, so it needs no storage and a page from another
// site cannot know it.
func (s *Service) CSRFToken(sessionID uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString(mac(s.keys.csrf, []byte("csrf"), sessionID[:]))
}

func (s *Service) checkCSRF(sessionID uuid.UUID, got string) bool {
	return hmac.Equal([]byte(s.CSRFToken(sessionID)), []byte(got))
}

// VisitCSRFToken is the CSRF token of a visitor without a session: an HMAC of the nonce their
// visit cookie holds. A page from another site can neither read the cookie nor compute it.
func (s *Service) VisitCSRFToken(visit string) string {
	return base64.RawURLEncoding.EncodeToString(mac(s.keys.csrf, []byte("visit"), []byte(visit)))
}

// CheckVisitCSRF reports whether got is the CSRF token of the visit; an empty or overlong
// visit never is.
func (s *Service) CheckVisitCSRF(visit, got string) bool {
	if visit == "" || len(visit) > 128 || got == "" {
		return false
	}
	return hmac.Equal([]byte(s.VisitCSRFToken(visit)), []byte(got))
}

// truncate bounds what clients send for logging columns, keeping it valid UTF-8.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
