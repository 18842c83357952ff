package authz

// NewPoliciesFromModules lets tests compile their own modules, such as one that always errors.
var NewPoliciesFromModules = newPolicies

// EnforceUncached asks Casbin directly, bypassing validation and the decision cache, so the
// benchmark can show what the cache saves.
func (e *Enforcer) EnforceUncached(subject, tenant, object, action string) (bool, error) {
	return e.casbin.Enforce(subject, tenant, object, action)
}
