// Package identity knows who is calling: staff and shopper credentials, sessions, API keys and
// access tokens, and the middleware that turns any of them into a principal.
package identity

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
)

// Errors returned by Service. Sign-in errors never say whether an e-mail exists.
var (
	ErrInvalidCredentials = fault.New(fault.Unauthenticated, "invalid_credentials", "the e-mail or password is wrong")
	ErrLoginLocked        = fault.New(fault.RateLimited, "login_locked", "too many failed sign-ins; try again later")
	ErrTOTPInvalid        = fault.New(fault.Unauthenticated, "invalid_totp", "the code is wrong or was already used")
	ErrChallengeInvalid   = fault.New(fault.Unauthenticated, "challenge_invalid", "the sign-in took too long; start again")
	ErrTOTPMandatory      = fault.New(fault.Conflict, "totp_mandatory", "platform staff must keep a second factor")
	ErrNoTOTPEnrollment   = fault.New(fault.Conflict, "no_totp_enrollment", "start the authenticator set-up first")
	ErrUnauthenticated    = fault.New(fault.Unauthenticated, "unauthenticated", "the credential is missing, invalid or expired")
	ErrCSRF               = fault.New(fault.Forbidden, "csrf_failed", "the form is stale or came from another site; reload the page and try again")
	ErrEmailTaken         = fault.New(fault.Conflict, "email_taken", "an account with this e-mail exists")
	ErrInvalidEmail       = fault.Fields(map[string]string{"body.email": "must be an e-mail address"})
	ErrResetTokenInvalid  = fault.New(fault.Invalid, "reset_token_invalid", "the reset link is invalid, used or expired")
	ErrUnknownScope       = fault.New(fault.Invalid, "unknown_scope", "scopes are <family>:read or <family>:write for a known family")
	ErrAPIKeyNotFound     = fault.New(fault.NotFound, "api_key_not_found", "there is no such API key")
	ErrStaffNotFound      = fault.New(fault.NotFound, "staff_not_found", "there is no such staff user")
	ErrShopperNotFound    = fault.New(fault.NotFound, "shopper_not_found", "there is no such shopper")
	ErrInvalidRole        = fault.Fields(map[string]string{"body.platform_role": "must be platform_admin, platform_support or platform_finance"})
)

// Lifetimes. Sessions end after idle time without requests or at their absolute end,
// whichever comes first; last_seen is written at most once a minute to keep reads cheap.
const (
	staffIdle         = 2 * time.Hour
	staffAbsolute     = 12 * time.Hour
	shopperIdle       = 30 * 24 * time.Hour
	shopperAbsolute   = 90 * 24 * time.Hour
	touchEvery        = time.Minute
	challengeLifetime = 5 * time.Minute
	resetLifetime     = time.Hour
	defaultTokenTTL   = 15 * time.Minute
	// Audience is the aud of every access token; the verifier accepts no other.
	Audience = "mercato-api"
)

// MergeGuestFunc moves what a guest session owns (its cart) to the shopper who just signed
// in. It runs inside the transaction that hands the session to the shopper, so both happen or
// neither does.
type MergeGuestFunc func(ctx context.Context, tx bun.IDB, tenantID, guestSessionID, shopperID uuid.UUID) error

// Config is what New needs; apps/mercato fills it from config.Config.
type Config struct {
	SecretKey     string         // MERCATO_SECRET_KEY, at least 32 characters
	Issuer        string         // iss of access tokens: the platform's public URL
	SecureCookies bool           // served over HTTPS: __Host- cookie names and the Secure flag
	Mailer        Mailer         // where password-reset mail goes
	MergeGuest    MergeGuestFunc // nil: guest sessions own nothing yet
	Lockout       LockoutPolicy  // zero fields: 5 failures per e-mail and per address in 15 minutes, capped at an hour
	TokenTTL      time.Duration  // access token lifetime; zero: 15 minutes
	Now           func() time.Time
}

// Service holds every credential operation. It is safe for concurrent use.
type Service struct {
	db         *db.DB
	keys       secretKeys
	issuer     string
	secure     bool
	mailer     Mailer
	mergeGuest MergeGuestFunc
	lockout    LockoutPolicy
	tokenTTL   time.Duration
	now        func() time.Time

	// hashSlots bounds concurrent argon2 runs: each takes 19 MiB, so a burst of sign-ins
	// must queue rather than exhaust memory.
	hashSlots chan struct{}
	dummyOnce sync.Once
	dummyHash string

	ring keyring
}

// New builds the service. It fails on a short secret key, a missing issuer or mailer.
func New(d *db.DB, cfg Config) (*Service, error) {
	keys, err := deriveKeys(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if cfg.Issuer == "" {
		return nil, errors.New("identity: an issuer (the public URL) is required")
	}
	if cfg.Mailer == nil {
		return nil, errors.New("identity: a mailer is required")
	}
	cfg.Lockout = cfg.Lockout.withDefaults()
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = defaultTokenTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		db: d, keys: keys, issuer: cfg.Issuer, secure: cfg.SecureCookies, mailer: cfg.Mailer,
		mergeGuest: cfg.MergeGuest, lockout: cfg.Lockout, tokenTTL: cfg.TokenTTL, now: cfg.Now,
		hashSlots: make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
	}, nil
}

// verifyPassword runs VerifyPassword in a hash slot. A missing hash (unknown user, or one
// without a password) is checked against a dummy so the answer takes as long as a real one.
func (s *Service) verifyPassword(ctx context.Context, hash, pw string) (ok, needsRehash bool, err error) {
	s.dummyOnce.Do(func() { s.dummyHash = hashWith("not the password of anyone", currentArgon2) })
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	if hash == "" {
		_, _, _ = VerifyPassword(s.dummyHash, pw)
		return false, false, nil
	}
	return VerifyPassword(hash, pw)
}

// hashPassword is HashPassword in a hash slot.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := CheckPasswordPolicy(pw); err != nil {
		return "", err
	}
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return hashWith(pw, currentArgon2), nil
}
