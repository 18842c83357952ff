// Package staff owns who works in a tenant and as what: the members of a tenant or of one of
// its merchants, their built-in roles and who may grant which, and the one-time links that let
// a person added without a password choose one.
//
// Roles are the built-in templates of policies/roles.csv and the tenant's own custom roles
// (roles.go), which only a tenant owner defines and grants. Authorization of the route comes first (Casbin); this package adds the
// rule the route table cannot express: which roles the caller's own role may hand out.
package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/scope"
)

// Errors returned by Service.
var (
	ErrNotFound         = fault.New(fault.NotFound, "member_not_found", "there is no such member")
	ErrMerchantNotFound = fault.New(fault.NotFound, "merchant_not_found", "merchant not found")
	ErrNotGrantable     = fault.New(fault.Forbidden, "role_not_grantable", "your role cannot grant, change or remove this role")
	ErrNotMember        = fault.New(fault.Forbidden, "not_a_member", "only members of this tenant can manage its staff")
	ErrLastOwner        = fault.New(fault.Conflict, "last_owner", "a tenant keeps at least one tenant owner")
	ErrAlreadyMember    = fault.New(fault.Conflict, "already_member", "this person already has a role here")
	ErrPlanLimit        = fault.New(fault.Unprocessable, "plan_limit_reached", "the marketplace's plan has no staff seat left; remove someone or upgrade the plan")
	ErrTokenInvalid     = fault.New(fault.Invalid, "set_password_token_invalid", "this link is invalid, was used or has expired")
	ErrInviteNotSent    = fault.New(fault.Unavailable, "invite_not_sent", "the member was added but the e-mail could not be sent; send it again from the staff list")
	ErrPasswordIsSet    = fault.New(fault.Conflict, "password_already_set", "this person has a password already; they can sign in")
)

// The built-in roles a membership can hold. Tenant roles have no merchant; merchant roles
// always have one.
const (
	RoleTenantOwner   = "tenant_owner"
	RoleTenantAdmin   = "tenant_admin"
	RoleTenantStaff   = "tenant_staff"
	RoleMerchantOwner = "merchant_owner"
	RoleMerchantStaff = "merchant_staff"
)

// Roles lists the built-in roles, strongest first.
func Roles() []string {
	return []string{RoleTenantOwner, RoleTenantAdmin, RoleTenantStaff, RoleMerchantOwner, RoleMerchantStaff}
}

// IsMerchantRole reports whether role belongs to a merchant's staff.
func IsMerchantRole(role string) bool { return role == RoleMerchantOwner || role == RoleMerchantStaff }

// grants says which roles each role may hand out, change and take away. A tenant admin cannot
// make owners or admins (no one promotes themselves past their own rank); a merchant owner
// staffs only its own store.
var grants = map[string][]string{
	RoleTenantOwner:   Roles(),
	RoleTenantAdmin:   {RoleTenantStaff, RoleMerchantOwner, RoleMerchantStaff},
	RoleMerchantOwner: {RoleMerchantStaff},
}

// Grantor is who is managing staff: the role they act in and, for merchant staff, their
// merchant.
type Grantor struct {
	Role       string
	MerchantID uuid.UUID // uuid.Nil for a tenant-wide role
}

// GrantableRoles lists the roles g may grant, in Roles order; empty for roles that manage no one.
func (g Grantor) GrantableRoles() []string { return slices.Clone(grants[g.Role]) }

// May reports whether g may give, change or take away role on a membership of merchantID
// (uuid.Nil for a tenant-wide one). Any role that is not built in is a custom role, which
// only a tenant owner grants.
func (g Grantor) May(role string, merchantID uuid.UUID) bool {
	if !slices.Contains(Roles(), role) {
		return g.Role == RoleTenantOwner && g.MerchantID == uuid.Nil
	}
	if !slices.Contains(grants[g.Role], role) {
		return false
	}
	if g.MerchantID != uuid.Nil {
		return merchantID == g.MerchantID
	}
	return true
}

// Member is a person's role in the tenant, or in one of its merchants.
type Member struct {
	ID           uuid.UUID  `json:"id" doc:"the membership id"`
	UserID       uuid.UUID  `json:"user_id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role" pattern:"^[a-z][a-z0-9_]{1,62}$" doc:"a built-in role (tenant_owner, tenant_admin, tenant_staff, merchant_owner, merchant_staff) or a custom role of the tenant"`
	MerchantID   *uuid.UUID `json:"merchant_id,omitempty"`
	MerchantName string     `json:"merchant_name,omitempty"`
	PasswordSet  bool       `json:"password_set" doc:"false until the person has used the set-password link they were sent"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// Accounts is the part of platform/identity this package needs: staff users are global
// people, created and given passwords only there.
type Accounts interface {
	CreateStaffUser(ctx context.Context, in identity.NewStaffUser) (identity.StaffUser, error)
	SetStaffPassword(ctx context.Context, userID uuid.UUID, pw string) error
}

var _ Accounts = (*identity.Service)(nil)

// Config is what NewService needs.
type Config struct {
	Accounts Accounts
	Audit    Recorder
	Mailer   identity.Mailer
	// Permissions checks a custom role's permissions on CreateRole (the authz enforcer).
	Permissions PermissionChecker
	// SetPasswordURL is the console page that takes the token, e.g.
	// "https://mercato.example/console/set-password"; "?token=..." is appended.
	SetPasswordURL string
	// ConsoleURL is where people already holding a password sign in; mailed to them when added.
	ConsoleURL string
	TokenTTL   time.Duration // how long a set-password link works; zero: 72 hours
	Now        func() time.Time
	// Seats answers whether the plan has a staff seat left (tenants.PlanPolicy, from
	// policies/plan_limits.rego). The binaries always set it; nil counts no seats.
	Seats Seats
}

// Seats is the plan's staff seat check: seatsNow is how many the marketplace's own team holds.
type Seats interface {
	AllowStaff(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, seatsNow int) (bool, error)
}

// Service manages a tenant's staff. Every method runs inside the tenant's RLS scope, narrowed
// to the caller's merchant when they work for one.
type Service struct {
	db  *db.DB
	cfg Config
}

// NewService builds the service.
func NewService(d *db.DB, cfg Config) *Service {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: d, cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// inScope narrows to the merchant when the caller works for one, as tenants/merchants does.
func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

// Grantor finds the role the caller acts in: a staff user's membership in the tenant (the
// merchant one in a merchant scope, else the tenant-wide one). API keys have no role; a
// tenant key manages staff like a tenant admin, a merchant key like its merchant's owner, so a
// key can never mint owners. Errors: ErrNotMember.
func (s *Service) Grantor(ctx context.Context, tenantID uuid.UUID) (Grantor, error) {
	var g Grantor
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		g, err = s.grantor(ctx, tx, tenantID)
		return err
	})
	if err != nil {
		return Grantor{}, fmt.Errorf("staff grantor: %w", err)
	}
	return g, nil
}

func (s *Service) grantor(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (Grantor, error) {
	merchant, inMerchant := scope.MerchantFrom(ctx)
	kind, id, _ := strings.Cut(string(scope.ActorFrom(ctx)), ":")
	switch kind {
	case "apikey":
		if inMerchant {
			return Grantor{Role: RoleMerchantOwner, MerchantID: merchant}, nil
		}
		return Grantor{Role: RoleTenantAdmin}, nil
	case "user":
		userID, err := uuid.Parse(id)
		if err != nil {
			return Grantor{}, ErrNotMember
		}
		var role string
		q := tx.NewSelect().Table("memberships").Column("role").Where("tenant_id = ? AND user_id = ?", tenantID, userID)
		if inMerchant {
			q = q.Where("merchant_id = ?", merchant)
		} else {
			q = q.Where("merchant_id IS NULL")
		}
		if err := q.Scan(ctx, &role); err != nil {
			if errors.Is(err, errNoRows) {
				return Grantor{}, ErrNotMember
			}
			return Grantor{}, err
		}
		if inMerchant {
			return Grantor{Role: role, MerchantID: merchant}, nil
		}
		return Grantor{Role: role}, nil
	}
	return Grantor{}, ErrNotMember
}

// grantorLockingOwners finds the grantor and, when it is an owner (only owners may change
// owners), locks the owner memberships first: see lockOwners.
func (s *Service) grantorLockingOwners(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (Grantor, []uuid.UUID, error) {
	g, err := s.grantor(ctx, tx, tenantID)
	if err != nil || g.Role != RoleTenantOwner {
		return g, nil, err
	}
	owners, err := lockOwners(ctx, tx, tenantID)
	return g, owners, err
}

// validateRole checks role against the built-in roles and the merchant it comes with.
func validateRole(role string, merchantID uuid.UUID) error {
	switch {
	case !slices.Contains(Roles(), role):
		return fault.Fields(map[string]string{"body.role": "must be tenant_owner, tenant_admin, tenant_staff, merchant_owner or merchant_staff"})
	case IsMerchantRole(role) && merchantID == uuid.Nil:
		return fault.Fields(map[string]string{"body.merchant_id": "a merchant role needs a merchant"})
	case !IsMerchantRole(role) && merchantID != uuid.Nil:
		return fault.Fields(map[string]string{"body.merchant_id": "a tenant role has no merchant"})
	}
	return nil
}

// errRoleKind refuses moving a member between the tenant and a merchant by a role change: the
// membership's merchant is part of who they are here, so that is a remove and an add.
var errRoleKind = fault.Fields(map[string]string{"body.role": "tenant members keep a tenant role and merchant members a merchant role; remove and add again to move someone"})

// mergeFields joins the field errors of errs into one, so a form shows every problem at once.
func mergeFields(errs ...error) error {
	bad := map[string]string{}
	for _, err := range errs {
		if fe := fault.As(err); fe != nil {
			for _, f := range fe.Fields {
				bad[f.Location] = f.Message
			}
		} else if err != nil {
			return err
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fault.Fields(bad)
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " \t\r\n") {
		return "", fault.Fields(map[string]string{"body.email": "an e-mail address"})
	}
	return email, nil
}

// List returns the tenant's members with their e-mail, name and merchant, tenant roles first.
// In a merchant scope RLS shows only that merchant's members.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID) ([]Member, error) {
	var out []Member
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		out, err = listMembers(ctx, tx, tenantID, uuid.Nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	return out, nil
}

// Get returns one member. Errors: ErrNotFound (also for another tenant's or, in a merchant
// scope, another merchant's membership).
func (s *Service) Get(ctx context.Context, tenantID, memberID uuid.UUID) (Member, error) {
	var m Member
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		m, err = getMember(ctx, tx, tenantID, memberID, false)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("get staff member: %w", err)
	}
	return m, nil
}

// Add gives the person with email a role in the tenant (merchantID uuid.Nil) or in one of its
// merchants. Someone without a staff account gets one, without a password, and an e-mail with
// a one-time link to choose it; someone with an account gets a note that they were added.
// Errors: invalid fields, ErrNotMember, ErrNotGrantable, ErrMerchantNotFound,
// ErrAlreadyMember; ErrInviteNotSent (with the Member) when the member was added but the mail
// could not be sent.
func (s *Service) Add(ctx context.Context, tenantID uuid.UUID, email, role string, merchantID uuid.UUID) (Member, error) {
	email, emailErr := normalizeEmail(email)
	if !customRoleName.MatchString(role) {
		return Member{}, mergeFields(emailErr, validateRole(role, merchantID))
	}
	var (
		m      Member
		token  string
		tenant string
	)
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		g, err := s.grantor(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		// A role the caller may never grant is refused as such, before the details of the
		// request are judged.
		if !g.grantsAny(role) {
			return ErrNotGrantable
		}
		if err := mergeFields(emailErr, checkRole(ctx, tx, tenantID, role, merchantID)); err != nil {
			return err
		}
		if !g.May(role, merchantID) {
			return ErrNotGrantable
		}
		if merchantID != uuid.Nil {
			if err := merchantExists(ctx, tx, tenantID, merchantID); err != nil {
				return err
			}
		} else if err := s.seatLeft(ctx, tx, tenantID); err != nil {
			return err
		}
		user, err := s.staffUser(ctx, tx, email)
		if err != nil {
			return err
		}
		id, err := insertMembership(ctx, tx, tenantID, user.ID, merchantID, role)
		if err != nil {
			return err
		}
		if m, err = getMember(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		if !m.PasswordSet {
			if token, err = s.issueToken(ctx, tx, tenantID, user.ID); err != nil {
				return err
			}
		}
		if tenant, err = tenantName(ctx, tx, tenantID); err != nil {
			return err
		}
		return s.cfg.Audit.Record(ctx, tx, "staff.add", "membership", m.ID.String(), nil, audited(m))
	})
	if err != nil {
		return Member{}, fmt.Errorf("add staff member: %w", err)
	}
	if err := s.sendAdded(ctx, tenantID, tenant, m, token); err != nil {
		return m, fmt.Errorf("add staff member: %w: %w", ErrInviteNotSent, err)
	}
	return m, nil
}

// seatLeft checks the plan has a seat for one more member of the marketplace's own team
// (merchant staff take none). A per-tenant lock, held to the end of the transaction, keeps two
// additions from both taking the last seat. Errors: ErrPlanLimit.
func (s *Service) seatLeft(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) error {
	if s.cfg.Seats == nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('staff:' || ?::text, 0))", tenantID.String()); err != nil {
		return fmt.Errorf("lock staff seats: %w", err)
	}
	var seats int
	if err := tx.NewRaw("SELECT count(*) FROM memberships WHERE tenant_id = ? AND merchant_id IS NULL", tenantID).Scan(ctx, &seats); err != nil {
		return fmt.Errorf("count staff seats: %w", err)
	}
	ok, err := s.cfg.Seats.AllowStaff(ctx, tx, tenantID, seats)
	if err != nil {
		return err // fails closed: an undecidable policy adds no one
	}
	if !ok {
		return ErrPlanLimit
	}
	return nil
}

// staffUser finds the staff user with email, creating one without a password if there is none.
func (s *Service) staffUser(ctx context.Context, tx bun.IDB, email string) (identity.StaffUser, error) {
	u, found, err := findStaffUser(ctx, tx, email)
	if err != nil || found {
		return u, err
	}
	u, err = s.cfg.Accounts.CreateStaffUser(ctx, identity.NewStaffUser{Email: email})
	if errors.Is(err, identity.ErrEmailTaken) { // added by someone else a moment ago
		u, _, err = findStaffUser(ctx, tx, email)
	}
	return u, err
}

// ChangeRole gives a member another role of the same kind: tenant roles stay tenant roles and
// merchant roles stay with their merchant (remove and add again to move someone). The caller
// must be able to grant both the old and the new role. Errors: invalid fields, ErrNotFound,
// ErrNotMember, ErrNotGrantable, ErrLastOwner.
func (s *Service) ChangeRole(ctx context.Context, tenantID, memberID uuid.UUID, role string) (Member, error) {
	if !customRoleName.MatchString(role) {
		return Member{}, validateRole(role, uuid.Nil)
	}
	var m Member
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		g, owners, err := s.grantorLockingOwners(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		before, err := getMember(ctx, tx, tenantID, memberID, true)
		if err != nil {
			return err
		}
		merchant := merchantOf(before)
		if slices.Contains(Roles(), role) && IsMerchantRole(role) != (merchant != uuid.Nil) {
			return errRoleKind
		}
		if !g.May(before.Role, merchant) || !g.May(role, merchant) {
			return ErrNotGrantable
		}
		if err := checkRole(ctx, tx, tenantID, role, merchant); err != nil {
			return err
		}
		if before.Role == role {
			m = before
			return nil
		}
		if before.Role == RoleTenantOwner && len(owners) <= 1 {
			return ErrLastOwner
		}
		if _, err := tx.NewUpdate().Table("memberships").Set("role = ?", role).
			Where("tenant_id = ? AND id = ?", tenantID, memberID).Exec(ctx); err != nil {
			return err
		}
		m = before
		m.Role = role
		return s.cfg.Audit.Record(ctx, tx, "staff.change_role", "membership", m.ID.String(), audited(before), audited(m))
	})
	if err != nil {
		return Member{}, fmt.Errorf("change staff role: %w", err)
	}
	return m, nil
}

// Remove ends a membership; the person keeps their account and any other memberships. The
// caller must be able to grant the member's role, and the tenant keeps at least one owner.
// Errors: ErrNotFound, ErrNotMember, ErrNotGrantable, ErrLastOwner.
func (s *Service) Remove(ctx context.Context, tenantID, memberID uuid.UUID) error {
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		g, owners, err := s.grantorLockingOwners(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		before, err := getMember(ctx, tx, tenantID, memberID, true)
		if err != nil {
			return err
		}
		if !g.May(before.Role, merchantOf(before)) {
			return ErrNotGrantable
		}
		if before.Role == RoleTenantOwner && len(owners) <= 1 {
			return ErrLastOwner
		}
		if _, err := tx.NewDelete().Table("memberships").Where("tenant_id = ? AND id = ?", tenantID, memberID).Exec(ctx); err != nil {
			return err
		}
		if err := dropUnusedTokens(ctx, tx, tenantID, before.UserID, true); err != nil {
			return err
		}
		return s.cfg.Audit.Record(ctx, tx, "staff.remove", "membership", before.ID.String(), audited(before), nil)
	})
	if err != nil {
		return fmt.Errorf("remove staff member: %w", err)
	}
	return nil
}

// ResendInvitation mails a member who has not chosen a password yet a fresh set-password
// link; earlier links stop working. Errors: ErrNotFound, ErrNotMember, ErrNotGrantable,
// ErrPasswordIsSet, ErrInviteNotSent.
func (s *Service) ResendInvitation(ctx context.Context, tenantID, memberID uuid.UUID) (Member, error) {
	var (
		m      Member
		token  string
		tenant string
	)
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		g, err := s.grantor(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if m, err = getMember(ctx, tx, tenantID, memberID, false); err != nil {
			return err
		}
		if !g.May(m.Role, merchantOf(m)) {
			return ErrNotGrantable
		}
		if m.PasswordSet {
			return ErrPasswordIsSet
		}
		if err := dropUnusedTokens(ctx, tx, tenantID, m.UserID, false); err != nil {
			return err
		}
		if token, err = s.issueToken(ctx, tx, tenantID, m.UserID); err != nil {
			return err
		}
		if tenant, err = tenantName(ctx, tx, tenantID); err != nil {
			return err
		}
		return s.cfg.Audit.Record(ctx, tx, "staff.resend_invitation", "membership", m.ID.String(), nil, nil)
	})
	if err != nil {
		return Member{}, fmt.Errorf("resend staff invitation: %w", err)
	}
	if err := s.sendAdded(ctx, tenantID, tenant, m, token); err != nil {
		return m, fmt.Errorf("resend staff invitation: %w: %w", ErrInviteNotSent, err)
	}
	return m, nil
}

// memberRecord is what the audit log keeps of a membership. Whether a password is set is the
// identity's business, not a change of the membership (and the log would redact the field).
type memberRecord struct {
	UserID       uuid.UUID  `json:"user_id"`
	Email        string     `json:"email"`
	Role         string     `json:"role"`
	MerchantID   *uuid.UUID `json:"merchant_id,omitempty"`
	MerchantName string     `json:"merchant_name,omitempty"`
}

func audited(m Member) memberRecord {
	return memberRecord{UserID: m.UserID, Email: m.Email, Role: m.Role, MerchantID: m.MerchantID, MerchantName: m.MerchantName}
}

func merchantOf(m Member) uuid.UUID {
	if m.MerchantID == nil {
		return uuid.Nil
	}
	return *m.MerchantID
}

// sendAdded tells the person: the set-password link when token is set, else where to sign in.
func (s *Service) sendAdded(ctx context.Context, tenantID uuid.UUID, tenant string, m Member, token string) error {
	if s.cfg.Mailer == nil {
		return errors.New("no mailer")
	}
	msg := identity.Message{TenantID: tenantID, To: m.Email}
	if token != "" {
		msg.Subject = fmt.Sprintf("You have been added to %s: choose your password", tenant)
		msg.Text = fmt.Sprintf("You now work in %s on Mercato as %s.\n\nChoose your password here (the link works once, for %d hours):\n%s\n",
			tenant, roleWords(m.Role), int(s.cfg.TokenTTL/time.Hour), s.SetPasswordLink(token))
	} else {
		msg.Subject = fmt.Sprintf("You have been added to %s", tenant)
		msg.Text = fmt.Sprintf("You now work in %s on Mercato as %s.\n\nSign in with your usual password:\n%s\n",
			tenant, roleWords(m.Role), s.cfg.ConsoleURL)
	}
	return s.cfg.Mailer.Send(ctx, msg)
}

// SetPasswordLink is the URL mailed for token.
func (s *Service) SetPasswordLink(token string) string {
	return s.cfg.SetPasswordURL + "?token=" + token
}

func roleWords(role string) string { return strings.ReplaceAll(role, "_", " ") }
