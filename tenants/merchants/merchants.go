// Package merchants owns the sellers of a tenant: applying on the storefront, invitations from
// the tenant, approval by tenant staff (or automatically, when the tenant says so and its plan
// has room), suspension and reactivation.
package merchants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// Errors returned by Service.
var (
	ErrNotFound          = fault.New(fault.NotFound, "merchant_not_found", "merchant not found")
	ErrHandleTaken       = fault.New(fault.Conflict, "handle_taken", "a merchant with this handle exists in this marketplace")
	ErrTransition        = fault.New(fault.Conflict, "invalid_transition", "the merchant's status does not allow this")
	ErrPlanLimit         = fault.New(fault.Unprocessable, "plan_limit_reached", "the marketplace's plan has no room for another active merchant")
	ErrInvitationInvalid = fault.New(fault.NotFound, "invitation_invalid", "this invitation does not exist, was used or has expired")
	ErrTenantDecision    = fault.New(fault.Forbidden, "tenant_decision", "only the marketplace's staff decide on merchants and invitations")
)

// Statuses. pending → active | rejected; active ⇄ suspended.
const (
	StatusPending   = "pending"
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusRejected  = "rejected"
)

// transitions lists, per action, the statuses it may start from and where it leads.
var transitions = map[string]struct {
	from []string
	to   string
}{
	"approve":    {[]string{StatusPending}, StatusActive},
	"reject":     {[]string{StatusPending}, StatusRejected},
	"suspend":    {[]string{StatusActive}, StatusSuspended},
	"reactivate": {[]string{StatusSuspended}, StatusActive},
}

// Merchant is a seller in a tenant.
type Merchant struct {
	ID           uuid.UUID  `json:"id"`
	Handle       string     `json:"handle"`
	Name         string     `json:"name"`
	Status       string     `json:"status" enum:"pending,active,suspended,rejected"`
	ContactEmail string     `json:"contact_email,omitempty"`
	Description  string     `json:"description"`
	DecidedAt    *time.Time `json:"decided_at,omitempty"`
	DecisionNote string     `json:"decision_note,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Application is what a would-be seller sends from the storefront.
type Application struct {
	StoreName    string `json:"store_name" minLength:"1" maxLength:"200"`
	Handle       string `json:"handle" doc:"3–64 of a-z, 0-9 and -; the store's address in the marketplace"`
	ContactEmail string `json:"contact_email" format:"email" maxLength:"254"`
	Description  string `json:"description,omitempty" maxLength:"2000"`
}

// PlanLimits answers whether the tenant's plan allows one more active merchant; OPA's
// plan_limits policy in production, so the rule lives in policies/.
type PlanLimits interface {
	AllowMerchant(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, activeNow int) (bool, error)
}

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// Service manages merchants. Every method runs inside the tenant's RLS scope.
type Service struct {
	db     *db.DB
	limits PlanLimits
	audit  Recorder
	now    func() time.Time
}

// NewService builds the service.
func NewService(d *db.DB, limits PlanLimits, audit Recorder) *Service {
	return &Service{db: d, limits: limits, audit: audit, now: time.Now}
}

var handleRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$`)

func (a *Application) validate() error {
	bad := map[string]string{}
	a.StoreName = strings.TrimSpace(a.StoreName)
	a.Handle = strings.ToLower(strings.TrimSpace(a.Handle))
	a.ContactEmail = strings.ToLower(strings.TrimSpace(a.ContactEmail))
	a.Description = strings.TrimSpace(a.Description)
	if a.StoreName == "" || len(a.StoreName) > 200 {
		bad["body.store_name"] = "1–200 characters"
	}
	if !handleRE.MatchString(a.Handle) {
		bad["body.handle"] = "3–64 characters of a-z, 0-9 and -, not starting or ending with -"
	}
	if at := strings.IndexByte(a.ContactEmail, '@'); at < 1 || at == len(a.ContactEmail)-1 || len(a.ContactEmail) > 254 {
		bad["body.contact_email"] = "an e-mail address"
	}
	if len(a.Description) > 2000 {
		bad["body.description"] = "at most 2000 characters"
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// Apply records an application. It is approved at once when the tenant's settings say
// auto_approve_merchants and the plan has room; otherwise it waits for a decision.
// Errors: invalid fields, ErrHandleTaken.
func (s *Service) Apply(ctx context.Context, tenantID uuid.UUID, a Application) (Merchant, error) {
	if err := a.validate(); err != nil {
		return Merchant{}, err
	}
	var m merchantRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		m = merchantRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), Handle: a.Handle, Name: a.StoreName,
			Status: StatusPending, ContactEmail: a.ContactEmail, Description: a.Description, CreatedAt: s.now().UTC()}
		var auto bool
		if err := tx.NewRaw("SELECT coalesce((settings->>'auto_approve_merchants')::boolean, false) FROM tenants WHERE id = ?", tenantID).
			Scan(ctx, &auto); err != nil {
			return fmt.Errorf("read tenant settings: %w", err)
		}
		if auto {
			ok, err := s.roomForOneMore(ctx, tx, tenantID)
			if err != nil {
				return err
			}
			if ok {
				now := s.now().UTC()
				m.Status, m.DecidedAt, m.DecidedBy, m.DecisionNote = StatusActive, &now, "system:auto-approve", "approved automatically"
			}
		}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrHandleTaken
			}
			return err
		}
		if m.Status == StatusActive {
			if err := enqueueApproved(ctx, tx, m.ID); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, tx, "merchant.apply", "merchant", m.ID.String(), nil, m.merchant())
	})
	if err != nil {
		return Merchant{}, fmt.Errorf("apply: %w", err)
	}
	return m.merchant(), nil
}

func (s *Service) roomForOneMore(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (bool, error) {
	var active int
	if err := tx.NewRaw("SELECT count(*) FROM merchants WHERE tenant_id = ? AND status = 'active'", tenantID).Scan(ctx, &active); err != nil {
		return false, err
	}
	return s.limits.AllowMerchant(ctx, tx, tenantID, active)
}

// Decide moves a merchant through its life: "approve", "reject", "suspend" or "reactivate",
// with an optional note shown to the merchant. Approving checks the plan's merchant limit.
// Errors: ErrNotFound, ErrTransition, ErrPlanLimit.
func (s *Service) Decide(ctx context.Context, tenantID, merchantID uuid.UUID, action, note string) (Merchant, error) {
	if _, ok := scope.MerchantFrom(ctx); ok {
		return Merchant{}, ErrTenantDecision // a merchant never approves or reactivates itself
	}
	tr, ok := transitions[action]
	if !ok {
		return Merchant{}, fault.Fields(map[string]string{"path.action": "approve, reject, suspend or reactivate"})
	}
	if len(note) > 500 {
		return Merchant{}, fault.Fields(map[string]string{"body.note": "at most 500 characters"})
	}
	var m merchantRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if err := tx.NewSelect().Model(&m).Where("tenant_id = ? AND id = ?", tenantID, merchantID).For("UPDATE").Scan(ctx); err != nil {
			return ErrNotFound
		}
		before := m.merchant()
		if !contains(tr.from, m.Status) {
			return ErrTransition
		}
		if tr.to == StatusActive {
			ok, err := s.roomForOneMore(ctx, tx, tenantID)
			if err != nil {
				return err
			}
			if !ok {
				return ErrPlanLimit
			}
		}
		now := s.now().UTC()
		m.Status, m.DecidedAt, m.DecidedBy, m.DecisionNote = tr.to, &now, string(scope.ActorFrom(ctx)), note
		if _, err := tx.NewUpdate().Model(&m).Column("status", "decided_at", "decided_by", "decision_note").
			Set("updated_at = now()").Where("tenant_id = ? AND id = ?", tenantID, merchantID).Exec(ctx); err != nil {
			return err
		}
		if action == "approve" {
			if err := enqueueApproved(ctx, tx, m.ID); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, tx, "merchant."+action, "merchant", m.ID.String(), before, m.merchant())
	})
	if err != nil {
		return Merchant{}, fmt.Errorf("%s merchant: %w", action, err)
	}
	return m.merchant(), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ListFilter narrows the merchant list.
type ListFilter struct {
	Status string
	httpx.PageParams
}

// List pages through the tenant's merchants, newest first. In a merchant scope (merchant
// staff) RLS shows only their own.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter) (httpx.Page[Merchant], error) {
	var after uuid.UUID
	if _, err := httpx.DecodeCursor(f.Cursor, &after); err != nil {
		return httpx.Page[Merchant]{}, err
	}
	var rows []merchantRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr("id DESC").Limit(int64(f.Size() + 1))
		if after != uuid.Nil {
			q = q.Where("id < ?", after)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return httpx.Page[Merchant]{}, fmt.Errorf("list merchants: %w", err)
	}
	out := make([]Merchant, len(rows))
	for i, r := range rows {
		out[i] = r.merchant()
	}
	return httpx.PageOf(out, f.PageParams, func(m Merchant) any { return m.ID }), nil
}

// Get returns one merchant. Errors: ErrNotFound (also for another tenant's or, in a merchant
// scope, another merchant's id).
func (s *Service) Get(ctx context.Context, tenantID, merchantID uuid.UUID) (Merchant, error) {
	var m merchantRow
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewSelect().Model(&m).Where("tenant_id = ? AND id = ?", tenantID, merchantID).Scan(ctx)
	})
	if err != nil {
		return Merchant{}, ErrNotFound
	}
	return m.merchant(), nil
}

// inScope narrows to the merchant when the caller works for one.
func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

// Invitation is an open offer to join the marketplace as a merchant.
type Invitation struct {
	ID           uuid.UUID `json:"id"`
	Email        string    `json:"email"`
	MerchantName string    `json:"merchant_name"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Invite creates an invitation valid for 7 days and returns the token for the e-mailed link
// (only its hash is stored). Errors: invalid fields.
func (s *Service) Invite(ctx context.Context, tenantID uuid.UUID, email, merchantName string) (string, Invitation, error) {
	if _, ok := scope.MerchantFrom(ctx); ok {
		return "", Invitation{}, ErrTenantDecision
	}
	email = strings.ToLower(strings.TrimSpace(email))
	merchantName = strings.TrimSpace(merchantName)
	bad := map[string]string{}
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || len(email) > 254 {
		bad["body.email"] = "an e-mail address"
	}
	if merchantName == "" || len(merchantName) > 200 {
		bad["body.merchant_name"] = "1–200 characters"
	}
	if len(bad) > 0 {
		return "", Invitation{}, fault.Fields(bad)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Invitation{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(token))
	inv := Invitation{ID: uuid.Must(uuid.NewV7()), Email: email, MerchantName: merchantName, ExpiresAt: s.now().UTC().Add(7 * 24 * time.Hour)}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO merchant_invitations
			(tenant_id, id, email, merchant_name, token_hash, invited_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			tenantID, inv.ID, inv.Email, inv.MerchantName, hash[:], string(scope.ActorFrom(ctx)), inv.ExpiresAt); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "merchant.invite", "merchant_invitation", inv.ID.String(), nil, inv)
	})
	if err != nil {
		return "", Invitation{}, fmt.Errorf("invite merchant: %w", err)
	}
	return token, inv, nil
}

// AcceptInvitation turns a valid invitation into an active merchant (the tenant already chose
// it, so no approval waits) and marks the invitation used, once. onAccepted runs in the same
// transaction so the caller can create the merchant owner's account and membership.
// Errors: ErrInvitationInvalid, ErrHandleTaken, ErrPlanLimit, invalid fields.
func (s *Service) AcceptInvitation(ctx context.Context, tenantID uuid.UUID, token, handle string,
	onAccepted func(tx bun.IDB, m Merchant, email string) error) (Merchant, error) {
	handle = strings.ToLower(strings.TrimSpace(handle))
	if !handleRE.MatchString(handle) {
		return Merchant{}, fault.Fields(map[string]string{"body.handle": "3–64 characters of a-z, 0-9 and -, not starting or ending with -"})
	}
	hash := sha256.Sum256([]byte(token))
	var m merchantRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var inv struct {
			ID           uuid.UUID `bun:"id"`
			Email        string    `bun:"email"`
			MerchantName string    `bun:"merchant_name"`
		}
		if err := tx.NewRaw(`SELECT id, email, merchant_name FROM merchant_invitations
			WHERE tenant_id = ? AND token_hash = ? AND accepted_at IS NULL AND expires_at > ? FOR UPDATE`,
			tenantID, hash[:], s.now().UTC()).Scan(ctx, &inv); err != nil {
			return ErrInvitationInvalid
		}
		ok, err := s.roomForOneMore(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if !ok {
			return ErrPlanLimit
		}
		now := s.now().UTC()
		m = merchantRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), Handle: handle, Name: inv.MerchantName,
			Status: StatusActive, ContactEmail: inv.Email, CreatedAt: now, DecidedAt: &now, DecidedBy: "invitation:" + inv.ID.String()}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrHandleTaken
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE merchant_invitations SET accepted_at = ?, merchant_id = ? WHERE tenant_id = ? AND id = ?",
			now, m.ID, tenantID, inv.ID); err != nil {
			return err
		}
		if onAccepted != nil {
			if err := onAccepted(tx, m.merchant(), inv.Email); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, tx, "merchant.accept_invitation", "merchant", m.ID.String(), nil, m.merchant())
	})
	if err != nil {
		return Merchant{}, fmt.Errorf("accept invitation: %w", err)
	}
	return m.merchant(), nil
}
