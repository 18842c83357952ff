package staff

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/identity"
)

// People returns the staff users with the given ids, for pages that name who did something
// (audit entries carry "user:<id>"). Unknown ids are left out. Staff users are global people;
// only their e-mail and name are read.
func (s *Service) People(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]identity.StaffUser, error) {
	out := map[uuid.UUID]identity.StaffUser{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID    uuid.UUID `bun:"id"`
		Email string    `bun:"email"`
		Name  string    `bun:"name"`
	}
	if err := s.db.Bun().NewSelect().Table("staff_users").Column("id", "email", "name").
		Where("id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("staff people: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = identity.StaffUser{ID: r.ID, Email: r.Email, Name: r.Name}
	}
	return out, nil
}

// UserByEmail finds the staff user with email, for filtering an audit log by person.
func (s *Service) UserByEmail(ctx context.Context, email string) (uuid.UUID, bool, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return uuid.Nil, false, nil
	}
	u, found, err := findStaffUser(ctx, s.db.Bun(), email)
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("staff user by e-mail: %w", err)
	}
	return u.ID, found, nil
}
