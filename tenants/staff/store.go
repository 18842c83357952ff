package staff

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/identity"
)

var errNoRows = sql.ErrNoRows

// memberRow is a membership joined with its person (staff_users is global: the app role may
// read it, RLS does not apply) and its merchant.
type memberRow struct {
	ID           uuid.UUID     `bun:"id"`
	UserID       uuid.UUID     `bun:"user_id"`
	Email        string        `bun:"email"`
	Name         string        `bun:"name"`
	Role         string        `bun:"role"`
	MerchantID   uuid.NullUUID `bun:"merchant_id"`
	MerchantName string        `bun:"merchant_name"`
	PasswordSet  bool          `bun:"password_set"`
	CreatedAt    time.Time     `bun:"created_at"`
}

func (r memberRow) member() Member {
	m := Member{ID: r.ID, UserID: r.UserID, Email: r.Email, Name: r.Name, Role: r.Role,
		MerchantName: r.MerchantName, PasswordSet: r.PasswordSet, CreatedAt: r.CreatedAt}
	if r.MerchantID.Valid {
		id := r.MerchantID.UUID
		m.MerchantID = &id
	}
	return m
}

const memberColumns = `m.id, m.user_id, u.email, u.name, m.role, m.merchant_id,
	coalesce(mc.name, '') AS merchant_name, u.password_hash IS NOT NULL AS password_set, m.created_at
	FROM memberships m
	JOIN staff_users u ON u.id = m.user_id
	LEFT JOIN merchants mc ON mc.tenant_id = m.tenant_id AND mc.id = m.merchant_id`

// listMembers lists the tenant's memberships: tenant roles first, strongest first, then by
// e-mail. memberID narrows to one when set.
func listMembers(ctx context.Context, tx bun.IDB, tenantID, memberID uuid.UUID) ([]Member, error) {
	var rows []memberRow
	q := "SELECT " + memberColumns + " WHERE m.tenant_id = ?"
	args := []any{tenantID}
	if memberID != uuid.Nil {
		q += " AND m.id = ?"
		args = append(args, memberID)
	}
	q += ` ORDER BY m.merchant_id IS NOT NULL, coalesce(mc.name, ''),
		array_position(ARRAY['tenant_owner','tenant_admin','tenant_staff','merchant_owner','merchant_staff'], m.role), u.email`
	if err := tx.NewRaw(q, args...).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]Member, len(rows))
	for i, r := range rows {
		out[i] = r.member()
	}
	return out, nil
}

// getMember reads one membership, locking its row when forUpdate. Errors: ErrNotFound.
func getMember(ctx context.Context, tx bun.IDB, tenantID, memberID uuid.UUID, forUpdate bool) (Member, error) {
	q := "SELECT " + memberColumns + " WHERE m.tenant_id = ? AND m.id = ?"
	if forUpdate {
		q += " FOR UPDATE OF m"
	}
	var r memberRow
	if err := tx.NewRaw(q, tenantID, memberID).Scan(ctx, &r); err != nil {
		if errors.Is(err, errNoRows) {
			return Member{}, ErrNotFound
		}
		return Member{}, err
	}
	return r.member(), nil
}

// insertMembership adds a membership. Errors: ErrAlreadyMember.
func insertMembership(ctx context.Context, tx bun.IDB, tenantID, userID, merchantID uuid.UUID, role string) (uuid.UUID, error) {
	id := uuid.Must(uuid.NewV7())
	merchant := uuid.NullUUID{UUID: merchantID, Valid: merchantID != uuid.Nil}
	_, err := tx.ExecContext(ctx, "INSERT INTO memberships (tenant_id, id, user_id, merchant_id, role) VALUES (?, ?, ?, ?, ?)",
		tenantID, id, userID, merchant, role)
	if _, dup := db.UniqueViolation(err); dup {
		return uuid.Nil, ErrAlreadyMember
	}
	return id, err
}

// merchantExists checks the merchant is the tenant's (and, in a merchant scope, visible).
// Errors: ErrMerchantNotFound.
func merchantExists(ctx context.Context, tx bun.IDB, tenantID, merchantID uuid.UUID) error {
	n, err := tx.NewSelect().Table("merchants").Where("tenant_id = ? AND id = ?", tenantID, merchantID).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrMerchantNotFound
	}
	return nil
}

func findStaffUser(ctx context.Context, tx bun.IDB, email string) (identity.StaffUser, bool, error) {
	var u identity.StaffUser
	err := tx.NewRaw("SELECT id, email, name FROM staff_users WHERE email = ?", email).Scan(ctx, &u.ID, &u.Email, &u.Name)
	if errors.Is(err, errNoRows) {
		return identity.StaffUser{}, false, nil
	}
	if err != nil {
		return identity.StaffUser{}, false, err
	}
	return u, true, nil
}

func tenantName(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (string, error) {
	var name string
	err := tx.NewSelect().Table("tenants").Column("name").Where("id = ?", tenantID).Scan(ctx, &name)
	return name, err
}

// lockOwners locks the tenant's owner memberships, in id order, and returns them. Everyone
// who may change an owner takes this lock before touching any membership, so two owners
// removing each other at once cannot leave the tenant without one, nor deadlock.
func lockOwners(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tx.NewRaw(`SELECT id FROM memberships WHERE tenant_id = ? AND role = ? AND merchant_id IS NULL
		ORDER BY id FOR UPDATE`, tenantID, RoleTenantOwner).Scan(ctx, &ids)
	return ids, err
}

// dropUnusedTokens ends the open set-password links of a person in the tenant; with
// onlyIfGone, only once they hold no membership there any more.
func dropUnusedTokens(ctx context.Context, tx bun.IDB, tenantID, userID uuid.UUID, onlyIfGone bool) error {
	q := "DELETE FROM staff_password_tokens t WHERE t.tenant_id = ? AND t.user_id = ? AND t.used_at IS NULL"
	if onlyIfGone {
		q += " AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = t.tenant_id AND m.user_id = t.user_id)"
	}
	_, err := tx.ExecContext(ctx, q, tenantID, userID)
	return err
}
