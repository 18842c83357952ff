// Package authz decides who may do what: Casbin RBAC with tenant domains for routes, and OPA
// prepared queries for decisions that depend on attributes.
package authz

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"mercato/policies"
)

// PlatformDomain is the Casbin domain of the operator roles (platform_admin, platform_support,
// platform_finance). Every other domain is a tenant id.
const PlatformDomain = "platform"

// Actions a request may ask for. Routes map GET and HEAD to read, POST, PUT and PATCH to write,
// and DELETE to delete.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionDelete = "delete"
)

var (
	// ErrBadName means a subject, tenant, role, object or action is not of the accepted form:
	// subjects and tenants are lowercase canonical UUIDs (or PlatformDomain for the tenant), roles
	// match ^[a-z][a-z0-9_]{1,62}$, objects are clean absolute paths, actions are read, write or
	// delete. The forms leave no room for Casbin's separators (",", newline), its template domain
	// ("*"), keyMatch2 syntax (":", "*") or a subject that equals a role name.
	ErrBadName = errors.New("authz: name not allowed")
	// ErrUnknownRole means the role is not defined in the domain it was assigned in.
	ErrUnknownRole = errors.New("authz: unknown role")
	// ErrReservedRole means a custom role tried to take a built-in role's name or the platform_
	// prefix.
	ErrReservedRole = errors.New("authz: reserved role name")
	// ErrNotGrantable means a custom role asked for a permission that no built-in tenant role
	// holds, or for none at all.
	ErrNotGrantable = errors.New("authz: permission not grantable")
)

// roleName is the form of every role, built-in or custom. No "-": a subject (a UUID) can never
// equal a role name, which matters because Casbin's g() holds for any name against itself.
var roleName = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// templateObject is the form of an object pattern in roles.csv: an exact path, or a path with a
// trailing "/*" (see pathMatch).
var templateObject = regexp.MustCompile(`^/[a-z0-9-]+(/[a-z0-9-]+)*(/\*)?$`)

// Enforcer answers route-level questions: may subject do action on object in tenant? It holds the
// built-in role templates from policies.RolePolicy, plus role assignments and custom roles added
// at run time. Changes are in memory only: the caller persists them and passes them back to
// NewEnforcer on start. It is safe for concurrent use.
type Enforcer struct {
	casbin *casbin.SyncedEnforcer
	// platformRoles and tenantRoles are the built-in role names per kind of domain.
	platformRoles map[string]bool
	tenantRoles   map[string]bool
	// grantable holds the (object, action) pairs some built-in tenant role has; a custom role may
	// only hold these, so a tenant cannot mint a right its own owner lacks.
	grantable map[[2]string]bool
	// decisions remembers answers: Casbin scans every policy line per request (~60µs for ~80
	// lines), while the middleware asks the same few questions (a user, a route pattern) over and
	// over. Every change to the policy clears it.
	decisions decisionCache
}

// maxCachedDecisions bounds the cache; when full it starts over. Keys are ~120 bytes.
const maxCachedDecisions = 100_000

// decisionCache is safe because an answer is stored only under the generation that was current
// before Casbin computed it: a change that lands in between bumps the generation and the stale
// answer is dropped.
type decisionCache struct {
	mu      sync.RWMutex
	gen     uint64
	answers map[string]bool
}

func (c *decisionCache) get(key string) (answer, ok bool, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	answer, ok = c.answers[key]
	return answer, ok, c.gen
}

func (c *decisionCache) put(key string, answer bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.answers == nil || len(c.answers) >= maxCachedDecisions {
		c.answers = make(map[string]bool)
	}
	c.answers[key] = answer
}

// reset must follow every policy change, after the change is made.
func (c *decisionCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.answers = nil
}

// NewEnforcer builds an Enforcer from the embedded model and role templates, then applies extra:
// lines loaded from storage, each either {"g", user, role, tenant} (as AssignRole) or
// {"p", role, tenant, object, action} (as AddCustomRole). Every extra line passes the same checks
// as the method it stands for; the first that fails stops construction.
func NewEnforcer(extra [][]string) (*Enforcer, error) {
	m, err := model.NewModelFromString(policies.Model())
	if err != nil {
		return nil, fmt.Errorf("new enforcer: model: %w", err)
	}
	ce, err := casbin.NewSyncedEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("new enforcer: %w", err)
	}
	ce.AddFunction("pathMatch", pathMatch)
	e := &Enforcer{
		casbin:        ce,
		platformRoles: map[string]bool{},
		tenantRoles:   map[string]bool{},
		grantable:     map[[2]string]bool{},
	}
	templates, err := e.parseTemplates(policies.RolePolicy())
	if err != nil {
		return nil, fmt.Errorf("new enforcer: %w", err)
	}
	if _, err := ce.AddPolicies(templates); err != nil {
		return nil, fmt.Errorf("new enforcer: load templates: %w", err)
	}

	// Custom roles first: an assignment is checked against the roles that exist.
	for i, line := range extra {
		if len(line) == 0 || line[0] != "p" {
			continue
		}
		if len(line) != 5 {
			return nil, fmt.Errorf("new enforcer: extra line %d: want p, role, tenant, object, action: %w", i, ErrBadName)
		}
		if err := e.AddCustomRole(line[2], line[1], [][2]string{{line[3], line[4]}}); err != nil {
			return nil, fmt.Errorf("new enforcer: extra line %d: %w", i, err)
		}
	}
	for i, line := range extra {
		if len(line) > 0 && line[0] == "p" {
			continue
		}
		if len(line) != 4 || line[0] != "g" {
			return nil, fmt.Errorf("new enforcer: extra line %d: want g, user, role, tenant: %w", i, ErrBadName)
		}
		if err := e.AssignRole(line[1], line[2], line[3]); err != nil {
			return nil, fmt.Errorf("new enforcer: extra line %d: %w", i, err)
		}
	}
	return e, nil
}

// parseTemplates reads roles.csv strictly (persist.LoadPolicyLine would skip a bad line
// silently) and records which roles and permissions exist.
func (e *Enforcer) parseTemplates(text string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = 5
	var rules [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rules, nil
		}
		if err != nil {
			return nil, fmt.Errorf("role policy: %w", err)
		}
		line, _ := r.FieldPos(0)
		ptype, role, dom, obj, act := rec[0], rec[1], rec[2], rec[3], rec[4]
		switch {
		case ptype != "p":
			return nil, fmt.Errorf("role policy line %d: only p lines belong in templates", line)
		case !roleName.MatchString(role):
			return nil, fmt.Errorf("role policy line %d: role %q: %w", line, role, ErrBadName)
		case dom != "*" && dom != PlatformDomain:
			return nil, fmt.Errorf("role policy line %d: domain %q: want * or %s", line, dom, PlatformDomain)
		case !templateObject.MatchString(obj):
			return nil, fmt.Errorf("role policy line %d: object %q: %w", line, obj, ErrBadName)
		case act != "*" && !validAction(act):
			return nil, fmt.Errorf("role policy line %d: action %q: %w", line, act, ErrBadName)
		}
		if dom == PlatformDomain {
			if e.tenantRoles[role] {
				return nil, fmt.Errorf("role policy line %d: %s is both a platform and a tenant role", line, role)
			}
			e.platformRoles[role] = true
		} else {
			if e.platformRoles[role] {
				return nil, fmt.Errorf("role policy line %d: %s is both a platform and a tenant role", line, role)
			}
			e.tenantRoles[role] = true
			for _, a := range []string{ActionRead, ActionWrite, ActionDelete} {
				if act == a || act == "*" {
					e.grantable[[2]string{obj, a}] = true
				}
			}
		}
		rules = append(rules, []string{role, dom, obj, act})
	}
}

// Enforce reports whether subject may do action on object in tenant (a tenant id, or
// PlatformDomain for operators). object is the request path or, better, the matched route
// pattern ("/v1/products/:id"); it must be clean, so "/v1/products/../admin" is refused rather
// than matched against "/v1/products/*". Malformed input is denied with ErrBadName.
func (e *Enforcer) Enforce(subject, tenant, object, action string) (bool, error) {
	if !isUUID(subject) || !validDomain(tenant) || !validObject(object) || !validAction(action) {
		return false, fmt.Errorf("enforce: %w", ErrBadName)
	}
	// The parts are validated above and none can contain a NUL, so the key is unambiguous.
	key := subject + "\x00" + tenant + "\x00" + object + "\x00" + action
	ok, cached, gen := e.decisions.get(key)
	if cached {
		return ok, nil
	}
	ok, err := e.casbin.Enforce(subject, tenant, object, action)
	if err != nil {
		return false, fmt.Errorf("enforce: %w", err)
	}
	e.decisions.put(key, ok, gen)
	return ok, nil
}

// EnforceRole reports whether role may do action on object in tenant. The request path uses
// it with the role read from the database (a membership, or a staff user's platform role) for
// this request, so a revoked membership takes effect at once on every replica and the
// enforcer holds no per-user state. role must exist in tenant (ErrUnknownRole otherwise):
// a role name is not a subject anyone can be given by accident.
func (e *Enforcer) EnforceRole(role, tenant, object, action string) (bool, error) {
	if !roleName.MatchString(role) || !validDomain(tenant) || !validObject(object) || !validAction(action) {
		return false, fmt.Errorf("enforce role: %w", ErrBadName)
	}
	if !e.roleExists(role, tenant) {
		return false, fmt.Errorf("enforce role %s: %w", role, ErrUnknownRole)
	}
	key := "role\x00" + role + "\x00" + tenant + "\x00" + object + "\x00" + action
	ok, cached, gen := e.decisions.get(key)
	if cached {
		return ok, nil
	}
	// Casbin's g(r.sub, p.sub, dom) holds for a name and itself, so the role stands in for a
	// user who holds exactly it.
	ok, err := e.casbin.Enforce(role, tenant, object, action)
	if err != nil {
		return false, fmt.Errorf("enforce role: %w", err)
	}
	e.decisions.put(key, ok, gen)
	return ok, nil
}

// AssignRole gives user role in tenant. Platform roles exist only in PlatformDomain, built-in
// tenant roles in every tenant, custom roles in the tenant that defined them; anything else is
// ErrUnknownRole. Malformed names are ErrBadName. Assigning a role twice is not an error.
//
// AssignRole does not check that the caller may grant role; the members service must (a
// merchant_owner hands out merchant roles only, nobody hands out a role above their own).
func (e *Enforcer) AssignRole(user, role, tenant string) error {
	if !isUUID(user) || !roleName.MatchString(role) || !validDomain(tenant) {
		return fmt.Errorf("assign role: %w", ErrBadName)
	}
	if !e.roleExists(role, tenant) {
		return fmt.Errorf("assign role %s: %w", role, ErrUnknownRole)
	}
	_, err := e.casbin.AddGroupingPolicy(user, role, tenant)
	e.decisions.reset()
	if err != nil {
		return fmt.Errorf("assign role %s: %w", role, err)
	}
	return nil
}

// RevokeRole takes role in tenant away from user. Revoking a role the user lacks is not an error.
func (e *Enforcer) RevokeRole(user, role, tenant string) error {
	if !isUUID(user) || !roleName.MatchString(role) || !validDomain(tenant) {
		return fmt.Errorf("revoke role: %w", ErrBadName)
	}
	_, err := e.casbin.RemoveGroupingPolicy(user, role, tenant)
	e.decisions.reset()
	if err != nil {
		return fmt.Errorf("revoke role %s: %w", role, err)
	}
	return nil
}

// AddCustomRole defines role in tenant (or extends it) with perms, each an (object, action) pair
// taken from the built-in tenant templates, such as {"/v1/orders/*", "write"} (see pathMatch). The role exists
// only in that tenant. It returns ErrBadName for a malformed tenant or role, ErrReservedRole for
// a built-in name or the platform_ prefix, and ErrNotGrantable for a permission no built-in
// tenant role holds (so no "*" action, no /admin, no platform-only rights) or for empty perms.
func (e *Enforcer) AddCustomRole(tenant, role string, perms [][2]string) error {
	if !isUUID(tenant) || !roleName.MatchString(role) {
		return fmt.Errorf("add custom role: %w", ErrBadName)
	}
	if e.platformRoles[role] || e.tenantRoles[role] || strings.HasPrefix(role, "platform_") {
		return fmt.Errorf("add custom role %s: %w", role, ErrReservedRole)
	}
	if len(perms) == 0 {
		return fmt.Errorf("add custom role %s: no permissions: %w", role, ErrNotGrantable)
	}
	rules := make([][]string, 0, len(perms))
	for _, p := range perms {
		if !e.grantable[p] {
			return fmt.Errorf("add custom role %s: %s %s: %w", role, p[1], p[0], ErrNotGrantable)
		}
		rules = append(rules, []string{role, tenant, p[0], p[1]})
	}
	_, err := e.casbin.AddPoliciesEx(rules)
	e.decisions.reset()
	if err != nil {
		return fmt.Errorf("add custom role %s: %w", role, err)
	}
	return nil
}

func (e *Enforcer) roleExists(role, domain string) bool {
	if domain == PlatformDomain {
		return e.platformRoles[role]
	}
	if e.tenantRoles[role] {
		return true
	}
	custom, err := e.casbin.GetFilteredPolicy(0, role, domain)
	return err == nil && len(custom) > 0
}

// pathMatch is the matcher's object test (model.conf). A pattern "/v1/products/*" matches
// "/v1/products" and every path below it; any other pattern matches itself. Casbin's keyMatch2
// compiles a regexp on every call, which was three quarters of an Enforce, and needs a second
// policy line for each collection. Patterns come only from roles.csv, checked against
// templateObject on load, and custom roles may only reuse those, so no other syntax can appear.
func pathMatch(args ...any) (any, error) {
	if len(args) != 2 {
		return false, fmt.Errorf("pathMatch: want 2 arguments, got %d", len(args))
	}
	key, ok1 := args[0].(string)
	pattern, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return false, errors.New("pathMatch: arguments must be strings")
	}
	return matchPath(key, pattern), nil
}

func matchPath(key, pattern string) bool {
	if family, ok := strings.CutSuffix(pattern, "/*"); ok {
		return key == family || strings.HasPrefix(key, family) && key[len(family)] == '/'
	}
	return key == pattern
}

func validDomain(s string) bool { return s == PlatformDomain || isUUID(s) }

func validAction(s string) bool {
	return s == ActionRead || s == ActionWrite || s == ActionDelete
}

// validObject accepts a clean absolute path of URL path characters. Casbin never parses a request
// value, but keyMatch2 treats "/v1/products/*" as "anything below", dot segments included.
func validObject(s string) bool {
	if s == "" || s[0] != '/' || path.Clean(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("/-_.~:%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isUUID accepts the canonical lowercase form only, so one id has one spelling.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
