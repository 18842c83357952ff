package authz

import "fmt"

// ValidatePermissions checks the permissions of a tenant's custom role that is kept outside the
// enforcer (the tenant's own table, read per request): each (object, action) pair must be one
// some built-in tenant role holds, the rule AddCustomRole applies, so a tenant cannot mint a
// right its own owner lacks. Errors: ErrBadName for a malformed object or action,
// ErrNotGrantable for any other pair or for none at all.
func (e *Enforcer) ValidatePermissions(perms [][2]string) error {
	if len(perms) == 0 {
		return fmt.Errorf("validate permissions: none: %w", ErrNotGrantable)
	}
	for _, p := range perms {
		if !templateObject.MatchString(p[0]) || (p[1] != "*" && !validAction(p[1])) {
			return fmt.Errorf("validate permissions: %q %q: %w", p[1], p[0], ErrBadName)
		}
		if !e.grantable[p] {
			return fmt.Errorf("validate permissions: %s %s: %w", p[1], p[0], ErrNotGrantable)
		}
	}
	return nil
}

// AllowedBy reports whether a custom role holding perms may do action on object, by the
// model's own rules (pathMatch on the object, equal action). A stored pair that is no longer
// grantable (roles.csv was narrowed after the role was saved) grants nothing, so a custom role
// never outlives the built-in rights it was cut from. Malformed object or action is denied
// with ErrBadName.
func (e *Enforcer) AllowedBy(perms [][2]string, object, action string) (bool, error) {
	if !validObject(object) || !validAction(action) {
		return false, fmt.Errorf("allowed by: %w", ErrBadName)
	}
	for _, p := range perms {
		if p[1] == action && e.grantable[p] && matchPath(object, p[0]) {
			return true, nil
		}
	}
	return false, nil
}
