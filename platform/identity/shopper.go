package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
)

// Shopper is a buyer account in one tenant.
type Shopper struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	Email    string
	Name     string
	Locale   string
}

type shopperRow struct {
	bun.BaseModel `bun:"table:shoppers"`
	TenantID      uuid.UUID `bun:"tenant_id,pk"`
	ID            uuid.UUID `bun:"id,pk,nullzero"`
	Email         string    `bun:"email"`
	Name          string    `bun:"name"`
	PasswordHash  *string   `bun:"password_hash"`
	Locale        string    `bun:"locale"`
}

func (r *shopperRow) public() Shopper {
	return Shopper{ID: r.ID, TenantID: r.TenantID, Email: r.Email, Name: r.Name, Locale: r.Locale}
}

// ShopperSignUp is a new account. GuestToken is the shopper cookie of the visitor, if any:
// their guest session (and its cart) becomes the new account's.
type ShopperSignUp struct {
	Email, Password, Name, Locale string
	GuestToken                    string
}

// ShopperLogin is one sign-in attempt at a storefront.
type ShopperLogin struct {
	Email, Password string
	GuestToken      string
	IP              string
}

// ShopperAuth is a signed-in shopper: Token goes into the shopper cookie.
type ShopperAuth struct {
	Shopper Shopper
	Session Session
	Token   string
}

var shopperLocales = map[string]bool{"en": true, "zh-CN": true}

// SignUpShopper creates an account in a tenant and signs it in. The same e-mail may have an
// account in another tenant. Errors: ErrInvalidEmail, a password policy fault, an Invalid
// fault for the locale, ErrEmailTaken.
func (s *Service) SignUpShopper(ctx context.Context, tenantID uuid.UUID, in ShopperSignUp) (ShopperAuth, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return ShopperAuth{}, err
	}
	if in.Locale == "" {
		in.Locale = "en"
	}
	if !shopperLocales[in.Locale] {
		return ShopperAuth{}, fieldError("body.locale", "must be en or zh-CN")
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return ShopperAuth{}, err
	}
	row := &shopperRow{TenantID: tenantID, Email: email, Name: in.Name, PasswordHash: &hash, Locale: in.Locale}
	var out ShopperAuth
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrEmailTaken
			}
			return err
		}
		out.Shopper = row.public()
		var err error
		out.Session, out.Token, err = s.signInShopperSession(ctx, tx, tenantID, row.ID, in.GuestToken)
		return err
	})
	if err != nil {
		return ShopperAuth{}, fmt.Errorf("sign up shopper: %w", err)
	}
	return out, nil
}

// SignInShopper checks a shopper's e-mail and password in a tenant and signs them in, taking
// over their guest session. Errors: ErrLoginLocked, ErrInvalidCredentials (for an unknown
// e-mail too, after as much work as for a known one).
func (s *Service) SignInShopper(ctx context.Context, tenantID uuid.UUID, in ShopperLogin) (ShopperAuth, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		email = ""
	}
	keys := s.throttleKeys("shopper:"+tenantID.String(), email, in.IP)
	if err := s.checkLock(ctx, keys); err != nil {
		return ShopperAuth{}, err
	}
	var row shopperRow
	found := false
	if email != "" {
		err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
			return tx.NewSelect().Model(&row).Where("email = ?", email).Scan(ctx)
		})
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, sql.ErrNoRows):
			return ShopperAuth{}, fmt.Errorf("sign in shopper: %w", err)
		}
	}
	hash := ""
	if found && row.PasswordHash != nil {
		hash = *row.PasswordHash
	}
	// The hash runs outside any transaction: no connection is held for its 20-odd ms.
	ok, rehash, err := s.verifyPassword(ctx, hash, in.Password)
	if err != nil && !errors.Is(err, errMalformedHash) {
		return ShopperAuth{}, fmt.Errorf("sign in shopper: %w", err)
	}
	if !ok {
		if err := s.recordFailure(ctx, keys); err != nil {
			return ShopperAuth{}, err
		}
		return ShopperAuth{}, ErrInvalidCredentials
	}
	var newHash string
	if rehash {
		newHash, _ = s.hashPassword(ctx, in.Password)
	}
	out := ShopperAuth{Shopper: row.public()}
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if newHash != "" {
			if _, err := tx.NewUpdate().Table("shoppers").Set("password_hash = ?", newHash).Where("id = ?", row.ID).Exec(ctx); err != nil {
				return err
			}
		}
		var err error
		out.Session, out.Token, err = s.signInShopperSession(ctx, tx, tenantID, row.ID, in.GuestToken)
		return err
	})
	if err != nil {
		return ShopperAuth{}, fmt.Errorf("sign in shopper: %w", err)
	}
	if err := s.clearFailures(ctx, keys); err != nil {
		return ShopperAuth{}, err
	}
	return out, nil
}

// Shopper returns a tenant's shopper, for pages that show who is signed in.
// Errors: ErrShopperNotFound.
func (s *Service) Shopper(ctx context.Context, tenantID, shopperID uuid.UUID) (Shopper, error) {
	var row shopperRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewSelect().Model(&row).ExcludeColumn("password_hash").Where("id = ?", shopperID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Shopper{}, ErrShopperNotFound
	}
	if err != nil {
		return Shopper{}, fmt.Errorf("get shopper: %w", err)
	}
	return row.public(), nil
}

type passwordResetRow struct {
	bun.BaseModel `bun:"table:shopper_password_resets"`
	TenantID      uuid.UUID  `bun:"tenant_id,pk"`
	ID            uuid.UUID  `bun:"id,pk,nullzero"`
	ShopperID     uuid.UUID  `bun:"shopper_id"`
	TokenHash     []byte     `bun:"token_hash"`
	CreatedAt     time.Time  `bun:"created_at"`
	ExpiresAt     time.Time  `bun:"expires_at"`
	UsedAt        *time.Time `bun:"used_at"`
}

// resetMailGap is the least time between two reset mails to one shopper, so the form cannot
// be used to flood someone's mailbox.
const resetMailGap = time.Minute

// RequestPasswordReset mails a single-use reset link, valid for an hour, to the shopper with
// this e-mail. link turns the token into the URL of the storefront's reset page. It answers
// nil whether or not the e-mail has an account, so the form reveals nothing.
// Errors: ErrInvalidEmail, the mailer's.
func (s *Service) RequestPasswordReset(ctx context.Context, tenantID uuid.UUID, email string, link func(token string) string) error {
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	var shopper shopperRow
	var token string
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if err := tx.NewSelect().Model(&shopper).Where("email = ?", email).Scan(ctx); err != nil {
			return err
		}
		now := s.now()
		recent, err := tx.NewSelect().Model((*passwordResetRow)(nil)).Where("shopper_id = ?", shopper.ID).
			Where("created_at > ?", now.Add(-resetMailGap)).Exists(ctx)
		if err != nil || recent {
			return err
		}
		var hash []byte
		token, hash = randomToken()
		_, err = tx.NewInsert().Model(&passwordResetRow{TenantID: tenantID, ShopperID: shopper.ID, TokenHash: hash,
			CreatedAt: now, ExpiresAt: now.Add(resetLifetime)}).Exec(ctx)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && token == "") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	if err := s.mailer.Send(ctx, resetMessage(tenantID, shopper.Email, shopper.Locale, link(token))); err != nil {
		return fmt.Errorf("send password reset: %w", err)
	}
	return nil
}

func resetMessage(tenantID uuid.UUID, to, locale, url string) Message {
	if locale == "zh-CN" {
		return Message{TenantID: tenantID, To: to, Subject: "重置您的密码",
			Text: "请在一小时内打开以下链接设置新密码：\n\n" + url + "\n\n如果您没有申请重置密码，请忽略此邮件。\n"}
	}
	return Message{TenantID: tenantID, To: to, Subject: "Reset your password",
		Text: "Open this link within an hour to choose a new password:\n\n" + url +
			"\n\nIf you did not ask to reset your password, ignore this message.\n"}
}

// ResetPassword sets a new password with a token from a reset mail. The token works once;
// every reset token of the shopper and every one of their sessions stop working, and failed
// sign-ins against the e-mail are forgotten. Errors: a password policy fault,
// ErrResetTokenInvalid.
func (s *Service) ResetPassword(ctx context.Context, tenantID uuid.UUID, token, newPassword string) error {
	hash, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return err
	}
	var email string
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		now := s.now()
		var shopperID uuid.UUID
		err := tx.NewUpdate().Model((*passwordResetRow)(nil)).Set("used_at = ?", now).
			Where("token_hash = ?", tokenHash(token)).Where("used_at IS NULL").Where("expires_at > ?", now).
			Returning("shopper_id").Scan(ctx, &shopperID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrResetTokenInvalid
		}
		if err != nil {
			return err
		}
		if err := tx.NewUpdate().Table("shoppers").Set("password_hash = ?", hash).Where("id = ?", shopperID).
			Returning("email").Scan(ctx, &email); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*passwordResetRow)(nil)).Set("used_at = ?", now).
			Where("shopper_id = ?", shopperID).Where("used_at IS NULL").Exec(ctx); err != nil {
			return err
		}
		_, err = deleteShopperSessions(ctx, tx, shopperID)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	return s.clearFailures(ctx, s.throttleKeys("shopper:"+tenantID.String(), email, "")[:1])
}
