package authz_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"mercato/platform/authz"
)

const (
	tenantA = "0190b1a2-0000-7000-8000-00000000000a"
	tenantB = "0190b1a2-0000-7000-8000-00000000000b"
)

// families are the resource families of the API and the two portals.
var families = []string{
	"/admin", "/console",
	"/v1/plans", "/v1/tenants", "/v1/merchants", "/v1/products", "/v1/inventory", "/v1/orders", "/v1/shipments", "/v1/payouts",
	"/v1/staff", "/v1/api-keys", "/v1/webhooks", "/v1/audit", "/v1/disputes",
}

// outsiders are objects no built-in role reaches; "/v1/productsx" checks that "/v1/products/*"
// is not a prefix match.
var outsiders = []string{"/", "/v1", "/v1/reports", "/v1/productsx", "/v1/products-archive/1", "/healthz"}

// matrix is what each built-in role may do, per family ("rwd": read, write, delete), written out
// here independently of policies/roles.csv so that a change to either one shows up as a failure.
// A family not listed is denied.
var matrix = []struct {
	role   string
	domain string // the domain a user holds the role in: platform, or a tenant
	perms  map[string]string
}{
	{"platform_admin", authz.PlatformDomain, map[string]string{
		"/admin": "rwd", "/v1/plans": "rwd", "/v1/tenants": "rwd", "/v1/merchants": "r",
		"/v1/payouts": "rw", "/v1/disputes": "rw", "/v1/audit": "r",
	}},
	{"platform_support", authz.PlatformDomain, map[string]string{
		"/admin": "r", "/v1/plans": "r", "/v1/tenants": "r", "/v1/merchants": "r", "/v1/audit": "r",
	}},
	{"platform_finance", authz.PlatformDomain, map[string]string{
		"/admin": "r", "/v1/plans": "r", "/v1/tenants": "r", "/v1/payouts": "r", "/v1/disputes": "r",
	}},
	{"tenant_owner", tenantA, map[string]string{
		"/console": "rwd", "/v1/tenants": "rw", "/v1/plans": "r", "/v1/merchants": "rwd",
		"/v1/products": "rwd", "/v1/inventory": "rw", "/v1/orders": "rw", "/v1/shipments": "r", "/v1/payouts": "r", "/v1/staff": "rwd",
		"/v1/api-keys": "rwd", "/v1/webhooks": "rwd", "/v1/audit": "r", "/v1/disputes": "r",
	}},
	{"tenant_admin", tenantA, map[string]string{
		"/console": "rw", "/v1/tenants": "r", "/v1/plans": "r", "/v1/merchants": "rw",
		"/v1/products": "rwd", "/v1/inventory": "rw", "/v1/orders": "rw", "/v1/shipments": "r", "/v1/payouts": "r", "/v1/staff": "rw",
		"/v1/api-keys": "r", "/v1/webhooks": "rw", "/v1/audit": "r", "/v1/disputes": "r",
	}},
	{"tenant_staff", tenantA, map[string]string{
		"/console": "rw", "/v1/merchants": "r", "/v1/products": "rw", "/v1/inventory": "r", "/v1/orders": "rw", "/v1/shipments": "r",
	}},
	{"merchant_owner", tenantA, map[string]string{
		"/console": "rw", "/v1/merchants": "rw", "/v1/products": "rwd", "/v1/inventory": "rw", "/v1/orders": "rw",
		"/v1/shipments": "rw", "/v1/payouts": "r", "/v1/staff": "rwd", "/v1/api-keys": "rwd", "/v1/webhooks": "rwd",
		"/v1/disputes": "r",
	}},
	{"merchant_staff", tenantA, map[string]string{
		"/console": "rw", "/v1/merchants": "r", "/v1/products": "rw", "/v1/inventory": "rw", "/v1/orders": "rw", "/v1/shipments": "rw",
	}},
	{"shopper", tenantA, map[string]string{
		"/v1/products": "r", "/v1/orders": "rw",
	}},
}

var actions = map[byte]string{'r': authz.ActionRead, 'w': authz.ActionWrite, 'd': authz.ActionDelete}

type row struct {
	role, user, tenant, object, action string
	want                               bool
}

func (r row) String() string {
	return fmt.Sprintf("%s in %s: %s %s", r.role, r.tenant, r.action, r.object)
}

// userFor gives each built-in role its own user, so rows of one role cannot pass on another's grant.
func userFor(i int) string { return fmt.Sprintf("0190b1a2-0000-7000-9000-%012d", i) }

// decisionTable returns an enforcer with one user per built-in role and the rows that check every
// role against every family (collection, item, nested route pattern) and action, at home and in
// the domains where the role was not given.
func decisionTable(t testing.TB) (*authz.Enforcer, []row) {
	t.Helper()
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	for i, m := range matrix {
		user := userFor(i)
		if err := e.AssignRole(user, m.role, m.domain); err != nil {
			t.Fatalf("assign %s: %v", m.role, err)
		}
		elsewhere := []string{tenantA, tenantB}
		if m.domain != authz.PlatformDomain {
			elsewhere = []string{authz.PlatformDomain, tenantB}
		}
		for _, family := range families {
			for _, object := range []string{family, family + "/" + tenantB, family + "/:id/notes"} {
				for c, action := range actions {
					want := strings.IndexByte(m.perms[family], c) >= 0
					rows = append(rows, row{m.role, user, m.domain, object, action, want})
					for _, d := range elsewhere {
						rows = append(rows, row{m.role, user, d, object, action, false})
					}
				}
			}
		}
		for _, object := range outsiders {
			for _, action := range actions {
				rows = append(rows, row{m.role, user, m.domain, object, action, false})
			}
		}
	}
	for _, m := range matrix {
		for family := range m.perms {
			if !contains(families, family) {
				t.Fatalf("matrix: %s lists unknown family %s", m.role, family)
			}
		}
	}
	return e, rows
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestDecisionTable(t *testing.T) {
	e, rows := decisionTable(t)
	allowed := 0
	for _, r := range rows {
		got, err := e.Enforce(r.user, r.tenant, r.object, r.action)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if got != r.want {
			t.Errorf("%v: got %v, want %v", r, got, r.want)
		}
		if got {
			allowed++
		}
	}
	// A table of all denials would pass against an empty policy.
	if allowed == 0 || allowed == len(rows) {
		t.Fatalf("%d of %d rows allowed; the table does not discriminate", allowed, len(rows))
	}
	t.Logf("%d rows, %d allowed", len(rows), allowed)
}

// TestDecisionTableConcurrent runs the table from 8 goroutines while another keeps assigning and
// revoking roles, for `go test -race`.
func TestDecisionTableConcurrent(t *testing.T) {
	e, rows := decisionTable(t)
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		other := "0190b1a2-0000-7000-a000-000000000001"
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := e.AssignRole(other, "tenant_owner", tenantB); err != nil {
				t.Error(err)
				return
			}
			if err := e.RevokeRole(other, "tenant_owner", tenantB); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	var readers sync.WaitGroup
	for g := range 8 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := range rows {
				r := rows[(i+g*len(rows)/8)%len(rows)]
				got, err := e.Enforce(r.user, r.tenant, r.object, r.action)
				if err != nil || got != r.want {
					t.Errorf("goroutine %d: %v: got %v (%v), want %v", g, r, got, err, r.want)
					return
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	writer.Wait()
}

func TestDomainIsolation(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := userFor(100)
	if err := e.AssignRole(admin, "tenant_admin", tenantA); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.Enforce(admin, tenantA, "/v1/products/:id", authz.ActionWrite); err != nil || !ok {
		t.Fatalf("tenant_admin in A: got %v, %v; want true", ok, err)
	}
	for _, dom := range []string{tenantB, authz.PlatformDomain} {
		for _, family := range families {
			for _, action := range actions {
				for _, object := range []string{family, family + "/:id"} {
					if ok, err := e.Enforce(admin, dom, object, action); err != nil || ok {
						t.Errorf("tenant_admin of A in %s: %s %s: got %v, %v; want false", dom, action, object, ok, err)
					}
				}
			}
		}
	}

	// Revoking takes the right away again.
	if err := e.RevokeRole(admin, "tenant_admin", tenantA); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.Enforce(admin, tenantA, "/v1/products/:id", authz.ActionWrite); ok {
		t.Error("revoked tenant_admin still allowed")
	}
}

func TestCustomRoleStaysInItsTenant(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	packer := userFor(200)
	// Ask first, so a cached denial would show if defining and assigning the role did not clear it.
	if ok, _ := e.Enforce(packer, tenantA, "/v1/orders/:id", "write"); ok {
		t.Fatal("packer allowed before the role exists")
	}
	perms := [][2]string{{"/v1/orders/*", "read"}, {"/v1/orders/*", "write"}}
	if err := e.AddCustomRole(tenantA, "packer", perms); err != nil {
		t.Fatal(err)
	}
	if err := e.AssignRole(packer, "packer", tenantA); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		tenant, object, action string
		want                   bool
	}{
		{tenantA, "/v1/orders/:id", "write", true},
		{tenantA, "/v1/orders", "read", true},
		{tenantA, "/v1/orders", "write", true},
		{tenantA, "/v1/orders/:id", "delete", false},
		{tenantA, "/v1/payouts", "read", false},
		{tenantA, "/v1/products/:id", "read", false},
		{tenantB, "/v1/orders/:id", "write", false},
		{tenantB, "/v1/orders", "read", false},
		{authz.PlatformDomain, "/v1/orders", "read", false},
	}
	for _, c := range checks {
		if ok, err := e.Enforce(packer, c.tenant, c.object, c.action); err != nil || ok != c.want {
			t.Errorf("packer in %s: %s %s: got %v, %v; want %v", c.tenant, c.action, c.object, ok, err, c.want)
		}
	}
	// The role does not exist in B, so it cannot be handed out there.
	if err := e.AssignRole(packer, "packer", tenantB); !errors.Is(err, authz.ErrUnknownRole) {
		t.Errorf("assign A's custom role in B: got %v, want ErrUnknownRole", err)
	}
}

// spoofs are names that try to break out of their field in a Casbin line or pattern.
var spoofs = []string{
	"", "a,b", "tenant_admin, " + tenantB, tenantA + "," + tenantB, tenantA + ", *",
	"has space", " " + tenantA, tenantA + " ", "*", "tenant_*", tenantA + "\n" + "g, x, tenant_owner, *",
	"line\nbreak", "carriage\rreturn", "tab\there", "a::b", "tenant::admin", "a:b", `quote"d`,
	"semi;colon", "p.sub", "r.dom", "..", "/", "ÄBC", strings.ToUpper(tenantA), "{" + tenantA + "}",
}

func TestSpoofedNamesRejected(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	user := userFor(300)
	perms := [][2]string{{"/v1/orders/*", "read"}}
	for _, bad := range spoofs {
		calls := map[string]error{
			"AssignRole tenant":    e.AssignRole(user, "tenant_admin", bad),
			"AssignRole role":      e.AssignRole(user, bad, tenantA),
			"AssignRole user":      e.AssignRole(bad, "tenant_admin", tenantA),
			"RevokeRole tenant":    e.RevokeRole(user, "tenant_admin", bad),
			"AddCustomRole tenant": e.AddCustomRole(bad, "packer", perms),
			"AddCustomRole role":   e.AddCustomRole(tenantA, bad, perms),
		}
		for call, err := range calls {
			if !errors.Is(err, authz.ErrBadName) {
				t.Errorf("%s %q: got %v, want ErrBadName", call, bad, err)
			}
		}
		ok, err := e.Enforce(user, bad, "/v1/orders", authz.ActionRead)
		if ok || !errors.Is(err, authz.ErrBadName) {
			t.Errorf("Enforce tenant %q: got %v, %v; want false, ErrBadName", bad, ok, err)
		}
		ok, err = e.Enforce(bad, tenantA, "/v1/orders", authz.ActionRead)
		if ok || !errors.Is(err, authz.ErrBadName) {
			t.Errorf("Enforce subject %q: got %v, %v; want false, ErrBadName", bad, ok, err)
		}
	}
	// Nothing above may have granted the user anything, in A or B.
	for _, dom := range []string{tenantA, tenantB} {
		for _, family := range families {
			if ok, _ := e.Enforce(user, dom, family+"/:id", authz.ActionRead); ok {
				t.Errorf("after rejected spoofs, user may read %s in %s", family, dom)
			}
		}
	}
}

func TestSpoofedRequestsRejected(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	staff := userFor(400)
	if err := e.AssignRole(staff, "merchant_staff", tenantA); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, subject, tenant, object, action string }{
		// Casbin's g() holds for any name against itself, so a subject named like a role would
		// hold that role in every tenant. Subjects are UUIDs and role names cannot be.
		{"subject named like a role", "tenant_owner", tenantB, "/v1/staff/:id", "delete"},
		{"template domain", staff, "*", "/v1/products", "read"},
		{"dot segments", staff, tenantA, "/v1/products/../payouts/1", "read"},
		{"double slash", staff, tenantA, "/v1/products//x", "read"},
		{"relative object", staff, tenantA, "v1/products", "read"},
		{"newline in object", staff, tenantA, "/v1/products/1\n", "read"},
		{"wildcard action", staff, tenantA, "/v1/products", "*"},
		{"unknown action", staff, tenantA, "/v1/products", "GET"},
	}
	for _, c := range cases {
		ok, err := e.Enforce(c.subject, c.tenant, c.object, c.action)
		if ok || !errors.Is(err, authz.ErrBadName) {
			t.Errorf("%s: got %v, %v; want false, ErrBadName", c.name, ok, err)
		}
	}
}

func TestRoleChecks(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	user := userFor(500)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"platform role in a tenant", e.AssignRole(user, "platform_admin", tenantA), authz.ErrUnknownRole},
		{"tenant role in platform", e.AssignRole(user, "tenant_owner", authz.PlatformDomain), authz.ErrUnknownRole},
		{"undefined role", e.AssignRole(user, "wizard", tenantA), authz.ErrUnknownRole},
		{"custom role named like a built-in", e.AddCustomRole(tenantA, "tenant_owner", [][2]string{{"/v1/orders/*", "read"}}), authz.ErrReservedRole},
		{"custom role with platform_ prefix", e.AddCustomRole(tenantA, "platform_helper", [][2]string{{"/v1/orders/*", "read"}}), authz.ErrReservedRole},
		{"custom role for platform", e.AddCustomRole(authz.PlatformDomain, "helper", [][2]string{{"/v1/orders/*", "read"}}), authz.ErrBadName},
		{"custom role with /admin", e.AddCustomRole(tenantA, "sneaky", [][2]string{{"/admin/*", "read"}}), authz.ErrNotGrantable},
		{"custom role writing plans", e.AddCustomRole(tenantA, "sneaky", [][2]string{{"/v1/plans/*", "write"}}), authz.ErrNotGrantable},
		{"custom role with * action", e.AddCustomRole(tenantA, "sneaky", [][2]string{{"/v1/orders/*", "*"}}), authz.ErrNotGrantable},
		{"custom role with regex object", e.AddCustomRole(tenantA, "sneaky", [][2]string{{"/v1/.*", "read"}}), authz.ErrNotGrantable},
		{"custom role without permissions", e.AddCustomRole(tenantA, "sneaky", nil), authz.ErrNotGrantable},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	if err := e.AssignRole(user, "sneaky", tenantA); !errors.Is(err, authz.ErrUnknownRole) {
		t.Errorf("rejected custom role exists after all: %v", err)
	}
}

func TestNewEnforcerExtraLines(t *testing.T) {
	packer, owner := userFor(600), userFor(601)
	e, err := authz.NewEnforcer([][]string{
		{"g", packer, "packer", tenantA}, // before its role: still fine, p lines load first
		{"p", "packer", tenantA, "/v1/orders/*", "write"},
		{"g", owner, "tenant_owner", tenantB},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.Enforce(packer, tenantA, "/v1/orders/:id", "write"); err != nil || !ok {
		t.Errorf("packer from extra lines: got %v, %v", ok, err)
	}
	if ok, err := e.Enforce(owner, tenantB, "/v1/staff/:id", "delete"); err != nil || !ok {
		t.Errorf("owner from extra lines: got %v, %v", ok, err)
	}

	bad := []struct {
		line []string
		want error
	}{
		{[]string{"p", "evil", "*", "/admin/*", "*"}, authz.ErrBadName},
		{[]string{"p", "evil", authz.PlatformDomain, "/admin/*", "read"}, authz.ErrBadName},
		{[]string{"p", "evil", tenantA, "/admin/*", "read"}, authz.ErrNotGrantable},
		{[]string{"p", "evil", tenantA, "/v1/orders/*"}, authz.ErrBadName},
		{[]string{"g", owner, "tenant_owner", "*"}, authz.ErrBadName},
		{[]string{"g", owner, "tenant_owner", tenantA, tenantB}, authz.ErrBadName},
		{[]string{"g", owner, "platform_admin", tenantA}, authz.ErrUnknownRole},
		{[]string{"g2", owner, "tenant_owner", tenantA}, authz.ErrBadName},
		{[]string{}, authz.ErrBadName},
	}
	for _, b := range bad {
		if _, err := authz.NewEnforcer([][]string{b.line}); !errors.Is(err, b.want) {
			t.Errorf("extra line %q: got %v, want %v", b.line, err, b.want)
		}
	}
}

func BenchmarkEnforce(b *testing.B) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		b.Fatal(err)
	}
	staff := userFor(700)
	if err := e.AssignRole(staff, "merchant_staff", tenantA); err != nil {
		b.Fatal(err)
	}
	// Other tenants' users, so the role manager is not trivially small.
	for i := range 1000 {
		tenant := fmt.Sprintf("0190b1a2-0000-7000-8000-%012d", i)
		if err := e.AssignRole(userFor(10000+i), "tenant_admin", tenant); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name, object, action string
		want                 bool
	}{
		{"allow", "/v1/products/:id", authz.ActionWrite, true},
		{"deny", "/v1/payouts/:id", authz.ActionRead, false},
	} {
		b.Run("cached/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ok, err := e.Enforce(staff, tenantA, bc.object, bc.action)
				if err != nil || ok != bc.want {
					b.Fatalf("got %v, %v", ok, err)
				}
			}
		})
		b.Run("casbin/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ok, err := e.EnforceUncached(staff, tenantA, bc.object, bc.action)
				if err != nil || ok != bc.want {
					b.Fatalf("got %v, %v", ok, err)
				}
			}
		})
	}
}

func TestEnforceRoleMatchesTheUserDecisionTable(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	tenant := "0193a4a0-0000-7000-8000-000000000001"
	user := "0193a4a0-0000-7000-8000-0000000000aa"
	for _, role := range []string{"tenant_owner", "tenant_admin", "tenant_staff", "merchant_owner", "merchant_staff", "shopper"} {
		if err := e.AssignRole(user, role, tenant); err != nil {
			t.Fatal(err)
		}
		for _, obj := range []string{"/v1/merchants/:id", "/v1/tenants", "/v1/products/:id", "/v1/payouts", "/v1/staff", "/admin/tenants"} {
			for _, act := range []string{authz.ActionRead, authz.ActionWrite, authz.ActionDelete} {
				byUser, err1 := e.Enforce(user, tenant, obj, act)
				byRole, err2 := e.EnforceRole(role, tenant, obj, act)
				if err1 != nil || err2 != nil || byUser != byRole {
					t.Errorf("%s %s %s: user %v (%v), role %v (%v)", role, obj, act, byUser, err1, byRole, err2)
				}
			}
		}
		if err := e.RevokeRole(user, role, tenant); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := e.EnforceRole("platform_admin", tenant, "/v1/tenants", authz.ActionRead); ok || !errors.Is(err, authz.ErrUnknownRole) {
		t.Errorf("a platform role in a tenant: %v %v", ok, err)
	}
	if ok, err := e.EnforceRole("tenant_owner", authz.PlatformDomain, "/v1/tenants", authz.ActionRead); ok || !errors.Is(err, authz.ErrUnknownRole) {
		t.Errorf("a tenant role in the platform domain: %v %v", ok, err)
	}
	if ok, _ := e.EnforceRole("platform_admin", authz.PlatformDomain, "/v1/tenants/:id/suspend", authz.ActionWrite); !ok {
		t.Error("platform_admin may suspend tenants")
	}
	if ok, _ := e.EnforceRole("platform_support", authz.PlatformDomain, "/v1/tenants/:id/suspend", authz.ActionWrite); ok {
		t.Error("platform_support must not suspend tenants")
	}
	if _, err := e.EnforceRole("tenant_owner,x", tenant, "/v1/tenants", authz.ActionRead); !errors.Is(err, authz.ErrBadName) {
		t.Errorf("separator in role name: %v", err)
	}
}
