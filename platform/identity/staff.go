package identity

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
)

// Platform roles a staff user may hold; anyone holding one must use a second factor.
var platformRoles = map[string]bool{"platform_admin": true, "platform_support": true, "platform_finance": true}

// StaffUser is a person who signs in to /admin or /console.
type StaffUser struct {
	ID           uuid.UUID
	Email        string
	Name         string
	PlatformRole string // "" for tenant and merchant staff
	TOTPEnabled  bool
}

type staffUserRow struct {
	bun.BaseModel `bun:"table:staff_users"`
	ID            uuid.UUID `bun:"id,pk,nullzero"`
	Email         string    `bun:"email"`
	Name          string    `bun:"name"`
	PasswordHash  *string   `bun:"password_hash"`
	TOTPSecret    *string   `bun:"totp_secret"`
	TOTPPending   *string   `bun:"totp_pending"`
	TOTPLastStep  *int64    `bun:"totp_last_step"`
	PlatformRole  *string   `bun:"platform_role"`

	hasTOTP bool `bun:"-"`
}

func (r *staffUserRow) public() StaffUser {
	u := StaffUser{ID: r.ID, Email: r.Email, Name: r.Name, TOTPEnabled: r.hasTOTP || r.TOTPSecret != nil}
	if r.PlatformRole != nil {
		u.PlatformRole = *r.PlatformRole
	}
	return u
}

func (r *staffUserRow) lastStep() int64 {
	if r.TOTPLastStep == nil {
		return -1
	}
	return *r.TOTPLastStep
}

// NewStaffUser is what CreateStaffUser needs. Password may be empty for a user who will be
// given one later (then nobody can sign in as them yet).
type NewStaffUser struct {
	Email, Name, Password, PlatformRole string
}

// CreateStaffUser adds a staff user. Errors: ErrInvalidEmail, ErrInvalidRole, a password
// policy fault, ErrEmailTaken.
func (s *Service) CreateStaffUser(ctx context.Context, in NewStaffUser) (StaffUser, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return StaffUser{}, err
	}
	row := &staffUserRow{Email: email, Name: in.Name}
	if in.PlatformRole != "" {
		if !platformRoles[in.PlatformRole] {
			return StaffUser{}, ErrInvalidRole
		}
		row.PlatformRole = &in.PlatformRole
	}
	if in.Password != "" {
		h, err := s.hashPassword(ctx, in.Password)
		if err != nil {
			return StaffUser{}, err
		}
		row.PasswordHash = &h
	}
	_, err = s.db.Bun().NewInsert().Model(row).Column("email", "name", "password_hash", "platform_role").Returning("id").Exec(ctx)
	if _, dup := db.UniqueViolation(err); dup {
		return StaffUser{}, ErrEmailTaken
	}
	if err != nil {
		return StaffUser{}, fmt.Errorf("create staff user: %w", err)
	}
	return row.public(), nil
}

// SetStaffPassword replaces a staff user's password and ends all their sessions, since
// whoever knew the old one may be signed in. Errors: a policy fault, ErrStaffNotFound.
func (s *Service) SetStaffPassword(ctx context.Context, userID uuid.UUID, pw string) error {
	h, err := s.hashPassword(ctx, pw)
	if err != nil {
		return err
	}
	err = s.db.Bun().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Table("staff_users").Set("password_hash = ?", h).Where("id = ?", userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrStaffNotFound
		}
		_, err = tx.NewDelete().Table("staff_sessions").Where("user_id = ?", userID).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("set staff password: %w", err)
	}
	return nil
}

// StaffLogin is one sign-in attempt at /admin or /console.
type StaffLogin struct {
	Email, Password string
	TOTPCode        string // optional: the second factor in the same form
	IP, UserAgent   string
}

// LoginStep says what a sign-in needs next.
type LoginStep string

// The steps of a staff sign-in.
const (
	StepDone       LoginStep = "done"        // signed in: Session and Token are set
	StepTOTP       LoginStep = "totp"        // ask for the authenticator code, then CompleteStaffLogin
	StepEnrollTOTP LoginStep = "enroll_totp" // platform staff without a second factor: show Enrollment, then CompleteStaffLogin
)

// StaffLoginResult is the outcome of a password that was right.
type StaffLoginResult struct {
	Step       LoginStep
	User       StaffUser
	Session    Session // StepDone
	Token      string  // StepDone: the staff cookie's value
	Challenge  string  // other steps: proof that the password was right, valid for 5 minutes
	Enrollment *TOTPEnrollment
}

// LoginStaff checks an e-mail and password (and a TOTP code when given). A user with a
// second factor, and every platform user, needs a code: without one the result asks for it
// (StepTOTP) or for enrollment (StepEnrollTOTP) and carries a challenge for CompleteStaffLogin.
// Errors: ErrLoginLocked (see LockedUntil), ErrInvalidCredentials (for an unknown e-mail too,
// after as much work as for a known one), ErrTOTPInvalid.
func (s *Service) LoginStaff(ctx context.Context, in StaffLogin) (StaffLoginResult, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		email = "" // still costs a hash and a failure, like any unknown e-mail
	}
	keys := s.throttleKeys("staff", email, in.IP)
	if err := s.checkLock(ctx, keys); err != nil {
		return StaffLoginResult{}, err
	}
	var row staffUserRow
	found := false
	if email != "" {
		err = s.db.Bun().NewSelect().Model(&row).Where("email = ?", email).Scan(ctx)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, sql.ErrNoRows):
			return StaffLoginResult{}, fmt.Errorf("staff login: %w", err)
		}
	}
	hash := ""
	if found && row.PasswordHash != nil {
		hash = *row.PasswordHash
	}
	ok, rehash, err := s.verifyPassword(ctx, hash, in.Password)
	if err != nil && !errors.Is(err, errMalformedHash) {
		return StaffLoginResult{}, fmt.Errorf("staff login: %w", err)
	}
	if !ok {
		if err := s.recordFailure(ctx, keys); err != nil {
			return StaffLoginResult{}, err
		}
		return StaffLoginResult{}, ErrInvalidCredentials
	}
	if rehash {
		if h, err := s.hashPassword(ctx, in.Password); err == nil {
			_, _ = s.db.Bun().NewUpdate().Table("staff_users").Set("password_hash = ?", h).Where("id = ?", row.ID).Exec(ctx)
		}
	}
	switch {
	case row.TOTPSecret != nil && in.TOTPCode == "":
		return StaffLoginResult{Step: StepTOTP, User: row.public(), Challenge: s.challenge(row.ID)}, nil
	case row.TOTPSecret != nil || (row.TOTPPending != nil && in.TOTPCode != ""):
		return s.secondFactor(ctx, &row, keys, in.TOTPCode, in.IP, in.UserAgent)
	case row.PlatformRole != nil:
		enr, err := s.pendingEnrollment(ctx, &row)
		if err != nil {
			return StaffLoginResult{}, err
		}
		return StaffLoginResult{Step: StepEnrollTOTP, User: row.public(), Challenge: s.challenge(row.ID), Enrollment: &enr}, nil
	}
	return s.finishStaffLogin(ctx, &row, keys, in.IP, in.UserAgent)
}

// CompleteStaffLogin finishes a sign-in that LoginStaff left at StepTOTP or StepEnrollTOTP,
// with the challenge it returned and the authenticator's code. Enrollment is confirmed by the
// first good code. Errors: ErrChallengeInvalid, ErrLoginLocked, ErrTOTPInvalid.
func (s *Service) CompleteStaffLogin(ctx context.Context, challenge, code, ip, ua string) (StaffLoginResult, error) {
	userID, ok := s.openChallenge(challenge)
	if !ok {
		return StaffLoginResult{}, ErrChallengeInvalid
	}
	var row staffUserRow
	if err := s.db.Bun().NewSelect().Model(&row).Where("id = ?", userID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return StaffLoginResult{}, ErrChallengeInvalid
		}
		return StaffLoginResult{}, fmt.Errorf("complete staff login: %w", err)
	}
	keys := s.throttleKeys("staff", row.Email, ip)
	if err := s.checkLock(ctx, keys); err != nil {
		return StaffLoginResult{}, err
	}
	if row.TOTPSecret == nil && row.TOTPPending == nil {
		return StaffLoginResult{}, ErrChallengeInvalid
	}
	return s.secondFactor(ctx, &row, keys, code, ip, ua)
}

// secondFactor checks code against the user's secret, or the pending one (which it then
// confirms), and signs in. A wrong code counts as a failed sign-in.
func (s *Service) secondFactor(ctx context.Context, row *staffUserRow, keys []throttleKey, code, ip, ua string) (StaffLoginResult, error) {
	var err error
	if row.TOTPSecret != nil {
		err = s.useTOTP(ctx, row, code)
	} else {
		err = s.confirmPending(ctx, row, code)
	}
	if errors.Is(err, ErrTOTPInvalid) {
		if ferr := s.recordFailure(ctx, keys); ferr != nil {
			return StaffLoginResult{}, ferr
		}
	}
	if err != nil {
		return StaffLoginResult{}, err
	}
	return s.finishStaffLogin(ctx, row, keys, ip, ua)
}

func (s *Service) finishStaffLogin(ctx context.Context, row *staffUserRow, keys []throttleKey, ip, ua string) (StaffLoginResult, error) {
	if err := s.clearFailures(ctx, keys); err != nil {
		return StaffLoginResult{}, err
	}
	sess, token, err := s.createStaffSession(ctx, row.ID, ip, ua)
	if err != nil {
		return StaffLoginResult{}, err
	}
	return StaffLoginResult{Step: StepDone, User: row.public(), Session: sess, Token: token}, nil
}

// useTOTP accepts code if it is right and its step was not used before; the step is recorded
// with a conditional update, so two concurrent uses of one code cannot both pass.
func (s *Service) useTOTP(ctx context.Context, row *staffUserRow, code string) error {
	secret, err := openString(s.keys.totp, *row.TOTPSecret, row.ID[:])
	if err != nil {
		return fmt.Errorf("open totp secret: %w", err)
	}
	step, ok := verifyTOTP(secret, code, s.now(), row.lastStep())
	if !ok {
		return ErrTOTPInvalid
	}
	res, err := s.db.Bun().NewUpdate().Table("staff_users").Set("totp_last_step = ?", step).
		Where("id = ?", row.ID).Where("coalesce(totp_last_step, -1) < ?", step).Exec(ctx)
	if err != nil {
		return fmt.Errorf("record totp step: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrTOTPInvalid
	}
	return nil
}

// confirmPending makes the pending secret the user's second factor if code matches it.
func (s *Service) confirmPending(ctx context.Context, row *staffUserRow, code string) error {
	if row.TOTPPending == nil {
		return ErrNoTOTPEnrollment
	}
	secret, err := openString(s.keys.totp, *row.TOTPPending, row.ID[:])
	if err != nil {
		return fmt.Errorf("open pending totp secret: %w", err)
	}
	step, ok := verifyTOTP(secret, code, s.now(), -1)
	if !ok {
		return ErrTOTPInvalid
	}
	res, err := s.db.Bun().NewUpdate().Table("staff_users").
		Set("totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?", step).
		Where("id = ?", row.ID).Where("totp_pending = ?", *row.TOTPPending).Exec(ctx)
	if err != nil {
		return fmt.Errorf("confirm totp: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrTOTPInvalid // another enrollment replaced this one meanwhile
	}
	row.TOTPSecret, row.TOTPPending = row.TOTPPending, nil
	return nil
}

// beginEnrollment stores a new pending secret (sealed, bound to the user id) and returns what
// the authenticator app needs.
func (s *Service) beginEnrollment(ctx context.Context, row *staffUserRow) (TOTPEnrollment, error) {
	secret := newTOTPSecret()
	sealed := sealString(s.keys.totp, secret, row.ID[:])
	if _, err := s.db.Bun().NewUpdate().Table("staff_users").Set("totp_pending = ?", sealed).
		Where("id = ?", row.ID).Exec(ctx); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("begin totp enrollment: %w", err)
	}
	row.TOTPPending = &sealed
	return totpEnrollment(secret, row.Email), nil
}

// pendingEnrollment shows the pending secret again if there is one (the user may have
// scanned it already), else begins a new enrollment.
func (s *Service) pendingEnrollment(ctx context.Context, row *staffUserRow) (TOTPEnrollment, error) {
	if row.TOTPPending != nil {
		if secret, err := openString(s.keys.totp, *row.TOTPPending, row.ID[:]); err == nil {
			return totpEnrollment(secret, row.Email), nil
		}
	}
	return s.beginEnrollment(ctx, row)
}

// BeginTOTPEnrollment starts (or restarts) adding an authenticator for a signed-in staff
// user; ConfirmTOTPEnrollment with a code from it turns it on. Errors: ErrStaffNotFound.
func (s *Service) BeginTOTPEnrollment(ctx context.Context, userID uuid.UUID) (TOTPEnrollment, error) {
	row, err := s.staffRow(ctx, userID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return s.beginEnrollment(ctx, &row)
}

// ConfirmTOTPEnrollment turns on the second factor begun by BeginTOTPEnrollment, replacing
// any previous one. Errors: ErrStaffNotFound, ErrNoTOTPEnrollment, ErrTOTPInvalid.
func (s *Service) ConfirmTOTPEnrollment(ctx context.Context, userID uuid.UUID, code string) error {
	row, err := s.staffRow(ctx, userID)
	if err != nil {
		return err
	}
	return s.confirmPending(ctx, &row, code)
}

// DisableTOTP removes a staff user's second factor. Errors: ErrStaffNotFound,
// ErrTOTPMandatory for platform staff.
func (s *Service) DisableTOTP(ctx context.Context, userID uuid.UUID) error {
	row, err := s.staffRow(ctx, userID)
	if err != nil {
		return err
	}
	if row.PlatformRole != nil {
		return ErrTOTPMandatory
	}
	_, err = s.db.Bun().NewUpdate().Table("staff_users").Set("totp_secret = NULL, totp_pending = NULL").
		Where("id = ?", userID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("disable totp: %w", err)
	}
	return nil
}

// Staff returns a staff user, for pages that show who is signed in. Errors: ErrStaffNotFound.
func (s *Service) Staff(ctx context.Context, userID uuid.UUID) (StaffUser, error) {
	row, err := s.staffRow(ctx, userID)
	if err != nil {
		return StaffUser{}, err
	}
	return row.public(), nil
}

func (s *Service) staffRow(ctx context.Context, userID uuid.UUID) (staffUserRow, error) {
	var row staffUserRow
	err := s.db.Bun().NewSelect().Model(&row).Where("id = ?", userID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return row, ErrStaffNotFound
	}
	if err != nil {
		return row, fmt.Errorf("get staff user: %w", err)
	}
	return row, nil
}

// challenge is a stateless proof that userID's password was right a moment ago:
// user id, expiry and an HMAC over both.
func (s *Service) challenge(userID uuid.UUID) string {
	b := make([]byte, 0, 16+8+32)
	b = append(b, userID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.now().Add(challengeLifetime).Unix()))
	b = append(b, mac(s.keys.challenge, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) openChallenge(c string) (uuid.UUID, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 16+8+32 {
		return uuid.Nil, false
	}
	if !hmac.Equal(mac(s.keys.challenge, b[:24]), b[24:]) {
		return uuid.Nil, false
	}
	if s.now().Unix() >= int64(binary.BigEndian.Uint64(b[16:24])) {
		return uuid.Nil, false
	}
	id, _ := uuid.FromBytes(b[:16])
	return id, true
}

// Membership is a staff user's role in a tenant, or in one merchant of it.
type Membership struct {
	TenantID   uuid.UUID
	MerchantID uuid.UUID // uuid.Nil for a tenant-wide role
	Role       string
}

// Memberships lists a staff user's roles in every tenant, for the tenant middleware to check
// X-Tenant-ID against. It reads through the memberships staff_self policy: the transaction
// names the user, and RLS shows only that user's rows.
func (s *Service) Memberships(ctx context.Context, userID uuid.UUID) ([]Membership, error) {
	var out []Membership
	err := s.db.Bun().RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.user_id', ?, true)", userID.String()); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT tenant_id, merchant_id, role FROM memberships WHERE user_id = ? ORDER BY created_at", userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Membership
			var merchant uuid.NullUUID
			if err := rows.Scan(&m.TenantID, &merchant, &m.Role); err != nil {
				return err
			}
			m.MerchantID = merchant.UUID
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	return out, nil
}
