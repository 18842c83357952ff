package storefront

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/identity"
	"mercato/tenants/merchants"
)

// ownerAccount makes the invited person the owner of their new merchant: a staff user with
// the password they chose, or, when the e-mail already has a staff account (they work for
// another store), that account once the password proves it is theirs.
type ownerAccount struct {
	ids            *identity.Service
	name, password string
	ip, userAgent  string
}

// create runs inside the transaction that accepts the invitation, so the merchant and the
// membership exist together or not at all. The staff user is written by identity on its own
// connection; should the transaction fail after it, accepting again finds the account and
// takes the existing-account path with the same password.
func (o *ownerAccount) create(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, m merchants.Merchant, email string) error {
	user, err := o.ids.CreateStaffUser(ctx, identity.NewStaffUser{Email: email, Name: o.name, Password: o.password})
	if errors.Is(err, identity.ErrEmailTaken) {
		res, lerr := o.ids.LoginStaff(ctx, identity.StaffLogin{Email: email, Password: o.password, IP: o.ip, UserAgent: o.userAgent})
		switch {
		case errors.Is(lerr, identity.ErrInvalidCredentials):
			return errExistingAccount
		case lerr != nil:
			return lerr
		}
		// The sign-in only proved the password: its session is not wanted here.
		if res.Step == identity.StepDone {
			if err := o.ids.LogoutStaff(ctx, res.Session.ID); err != nil {
				return err
			}
		}
		user, err = res.User, nil
	}
	if err != nil {
		return err
	}
	_, err = tx.NewInsert().Model(&membershipRow{TenantID: tenantID, UserID: user.ID, MerchantID: m.ID, Role: "merchant_owner"}).Exec(ctx)
	return err
}

// membershipRow is the owner's role in their merchant (the memberships table of migration 0001).
type membershipRow struct {
	bun.BaseModel `bun:"table:memberships"`
	TenantID      uuid.UUID `bun:"tenant_id"`
	UserID        uuid.UUID `bun:"user_id"`
	MerchantID    uuid.UUID `bun:"merchant_id"`
	Role          string    `bun:"role"`
}
