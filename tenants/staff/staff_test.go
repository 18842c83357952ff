package staff_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants/staff"
)

type fixture struct {
	f        *dbtest.Fixture
	ids      *identity.Service
	s        *staff.Service
	mail     *identity.CaptureMailer
	clock    *clock
	tenant   map[string]uuid.UUID            // slug → id
	merchant map[string]uuid.UUID            // handle → id (handles are unique across the demo)
	user     map[string]uuid.UUID            // e-mail → staff user id
	member   map[string]map[string]uuid.UUID // slug → e-mail → membership id (first one)
}

// clock is a settable time source, for link expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	mail := &identity.CaptureMailer{}
	ids, err := identity.New(f.App, identity.Config{SecretKey: strings.Repeat("k", 40), Issuer: "http://localhost:8080", Mailer: mail})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	fx := &fixture{f: f, ids: ids, mail: mail, clock: clk,
		s: staff.NewService(f.App, staff.Config{Accounts: ids, Audit: audit.Recorder{}, Mailer: mail,
			SetPasswordURL: "http://localhost:8080/console/set-password", ConsoleURL: "http://localhost:8080/console", Now: clk.Now}),
		tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{}, user: map[string]uuid.UUID{},
		member: map[string]map[string]uuid.UUID{}}
	fx.reload(t)
	return fx
}

// reload reads the ids of tenants, merchants, staff and memberships as the platform sees them.
func (fx *fixture) reload(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	err := fx.f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		var rows []struct {
			Kind, Key, Sub string
			ID             uuid.UUID
		}
		if err := tx.NewRaw(`
			SELECT 'tenant' AS kind, slug AS key, '' AS sub, id FROM tenants
			UNION ALL SELECT 'merchant', handle, '', id FROM merchants
			UNION ALL SELECT 'user', email, '', id FROM staff_users
			UNION ALL SELECT 'member', t.slug, u.email, m.id FROM memberships m
			  JOIN tenants t ON t.id = m.tenant_id JOIN staff_users u ON u.id = m.user_id`).Scan(ctx, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			switch r.Kind {
			case "tenant":
				fx.tenant[r.Key] = r.ID
			case "merchant":
				fx.merchant[r.Key] = r.ID
			case "user":
				fx.user[r.Key] = r.ID
			case "member":
				if fx.member[r.Key] == nil {
					fx.member[r.Key] = map[string]uuid.UUID{}
				}
				if _, seen := fx.member[r.Key][r.Sub]; !seen {
					fx.member[r.Key][r.Sub] = r.ID
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// as is the context of a request by the staff user with email, in merchant's scope when set.
func (fx *fixture) as(t *testing.T, email, merchantHandle string) context.Context {
	t.Helper()
	id, ok := fx.user[email]
	if !ok {
		t.Fatalf("no staff user %s", email)
	}
	ctx := scope.WithActor(context.Background(), scope.Actor("user:"+id.String()))
	if merchantHandle != "" {
		ctx = scope.WithMerchant(ctx, fx.merchant[merchantHandle])
	}
	return ctx
}

var linkRE = regexp.MustCompile(`/console/set-password\?token=([A-Za-z0-9_.-]+)`)

// lastLink is the set-password token in the newest mail to email, "" when that mail has none.
func (fx *fixture) lastLink(t *testing.T, to string) string {
	t.Helper()
	msgs := fx.mail.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			if m := linkRE.FindStringSubmatch(msgs[i].Text); m != nil {
				return m[1]
			}
			return ""
		}
	}
	t.Fatalf("no mail to %s", to)
	return ""
}

func kindOf(err error) fault.Kind {
	if fe := fault.As(err); fe != nil {
		return fe.Kind
	}
	return fault.Internal
}

// Who may grant what, in the tenant and in a merchant scope.
func TestGrantRules(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	owner := fx.as(t, "owner@lumen-goods.test", "")
	if _, err := fx.s.Add(owner, lumen, "admin@lumen-goods.test", staff.RoleTenantAdmin, uuid.Nil); err != nil {
		t.Fatalf("owner adds an admin: %v", err)
	}
	fx.reload(t)
	admin := fx.as(t, "admin@lumen-goods.test", "")
	apiKey := scope.WithActor(context.Background(), scope.Actor("apikey:"+uuid.NewString()))
	merchantKey := scope.WithMerchant(apiKey, fx.merchant["northwind-lighting"])
	nw, oak, tea := fx.merchant["northwind-lighting"], fx.merchant["oak-and-ash"], fx.merchant["xiangyun-tea"]

	n := 0
	next := func() string { n++; return "person" + string(rune('a'+n)) + "@example.com" }
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		role     string
		merchant uuid.UUID
		want     error
		kind     fault.Kind
	}{
		{"owner grants owner", owner, staff.RoleTenantOwner, uuid.Nil, nil, 0},
		{"owner grants merchant owner", owner, staff.RoleMerchantOwner, oak, nil, 0},
		{"admin grants staff", admin, staff.RoleTenantStaff, uuid.Nil, nil, 0},
		{"admin grants merchant owner", admin, staff.RoleMerchantOwner, oak, nil, 0},
		{"admin grants merchant staff", admin, staff.RoleMerchantStaff, nw, nil, 0},
		{"admin cannot grant admin", admin, staff.RoleTenantAdmin, uuid.Nil, staff.ErrNotGrantable, fault.Forbidden},
		{"admin cannot grant owner", admin, staff.RoleTenantOwner, uuid.Nil, staff.ErrNotGrantable, fault.Forbidden},
		{"tenant staff grants nothing", fx.as(t, "moderator@lumen-goods.test", ""), staff.RoleTenantStaff, uuid.Nil, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant owner grants own staff", fx.as(t, "owner@northwind.test", "northwind-lighting"), staff.RoleMerchantStaff, nw, nil, 0},
		{"merchant owner cannot staff another merchant", fx.as(t, "owner@northwind.test", "northwind-lighting"), staff.RoleMerchantStaff, oak, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant owner cannot grant merchant owner", fx.as(t, "owner@northwind.test", "northwind-lighting"), staff.RoleMerchantOwner, nw, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant owner cannot grant tenant roles", fx.as(t, "owner@northwind.test", "northwind-lighting"), staff.RoleTenantStaff, uuid.Nil, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant staff grants nothing", fx.as(t, "packer@northwind.test", "northwind-lighting"), staff.RoleMerchantStaff, nw, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant owner outside its merchant scope is no tenant member", fx.as(t, "owner@northwind.test", ""), staff.RoleMerchantStaff, nw, staff.ErrNotMember, fault.Forbidden},
		{"another tenant's merchant", owner, staff.RoleMerchantStaff, tea, staff.ErrMerchantNotFound, fault.NotFound},
		{"another tenant's owner", fx.as(t, "owner@panda-market.test", ""), staff.RoleTenantStaff, uuid.Nil, staff.ErrNotMember, fault.Forbidden},
		{"tenant api key acts as admin", apiKey, staff.RoleTenantStaff, uuid.Nil, nil, 0},
		{"tenant api key cannot mint owners", apiKey, staff.RoleTenantOwner, uuid.Nil, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant api key staffs its merchant", merchantKey, staff.RoleMerchantStaff, nw, nil, 0},
		{"merchant api key cannot staff another", merchantKey, staff.RoleMerchantStaff, oak, staff.ErrNotGrantable, fault.Forbidden},
		{"anonymous", context.Background(), staff.RoleTenantStaff, uuid.Nil, staff.ErrNotMember, fault.Forbidden},
		{"unknown role", owner, "superuser", uuid.Nil, nil, fault.Invalid},
		{"merchant role without merchant", owner, staff.RoleMerchantStaff, uuid.Nil, nil, fault.Invalid},
		{"tenant role with merchant", owner, staff.RoleTenantStaff, nw, nil, fault.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := fx.s.Add(tc.ctx, lumen, next(), tc.role, tc.merchant)
			switch {
			case tc.want == nil && tc.kind == 0:
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if m.Role != tc.role || (tc.merchant != uuid.Nil) != (m.MerchantID != nil) {
					t.Errorf("member %+v", m)
				}
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("got %v, want %v", err, tc.want)
			case kindOf(err) != tc.kind:
				t.Errorf("got %v (kind %d), want kind %d", err, kindOf(err), tc.kind)
			}
		})
	}

	// The grantor's options, for the console's role select.
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{
		{owner, "tenant_owner tenant_admin tenant_staff merchant_owner merchant_staff"},
		{admin, "tenant_staff merchant_owner merchant_staff"},
		{fx.as(t, "owner@northwind.test", "northwind-lighting"), "merchant_staff"},
		{fx.as(t, "packer@northwind.test", "northwind-lighting"), ""},
	} {
		g, err := fx.s.Grantor(tc.ctx, lumen)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(g.GrantableRoles(), " "); got != tc.want {
			t.Errorf("%s may grant %q, want %q", g.Role, got, tc.want)
		}
	}
}

// A new person gets an account without a password and a link that works once, before it
// expires, and only with a password the policy accepts.
func TestSetPasswordLink(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	owner := fx.as(t, "owner@lumen-goods.test", "")

	m, err := fx.s.Add(owner, lumen, "  New.Person@Example.com ", staff.RoleTenantStaff, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "new.person@example.com" || m.PasswordSet || m.Role != staff.RoleTenantStaff {
		t.Errorf("added %+v", m)
	}
	token := fx.lastLink(t, "new.person@example.com")
	if token == "" {
		t.Fatal("the mail carries no set-password link")
	}
	if !strings.Contains(fx.mail.Messages()[len(fx.mail.Messages())-1].Subject, "Lumen Goods") {
		t.Errorf("subject %q does not name the tenant", fx.mail.Messages()[len(fx.mail.Messages())-1].Subject)
	}
	// Nobody can sign in before the password is chosen.
	if _, err := fx.ids.LoginStaff(context.Background(), identity.StaffLogin{Email: m.Email, Password: "", IP: "10.0.0.9"}); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("sign in without a password: %v", err)
	}

	inv, err := fx.s.CheckToken(context.Background(), token)
	if err != nil || inv.Email != m.Email || inv.Tenant != "Lumen Goods" || inv.TenantID != lumen {
		t.Fatalf("check token: %+v %v", inv, err)
	}
	for _, bad := range []string{"", "nonsense", token + "x", strings.Replace(token, token[:22], "AAAAAAAAAAAAAAAAAAAAAA", 1),
		// the same secret presented as another tenant's
		strings.Replace(token, token[:22], tenantPart(fx.tenant["panda"]), 1)} {
		if _, err := fx.s.CheckToken(context.Background(), bad); !errors.Is(err, staff.ErrTokenInvalid) {
			t.Errorf("token %q: %v, want ErrTokenInvalid", bad, err)
		}
	}

	// A refused password leaves the link usable.
	if _, err := fx.s.SetPassword(context.Background(), token, "short"); kindOf(err) != fault.Invalid || errors.Is(err, staff.ErrTokenInvalid) {
		t.Fatalf("short password: %v", err)
	}
	// Two uses at once: exactly one wins.
	const pw = "a-long-enough-password"
	var wg sync.WaitGroup
	results := make([]error, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = fx.s.SetPassword(context.Background(), token, pw)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, staff.ErrTokenInvalid):
			t.Errorf("concurrent use: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses succeeded, want 1", ok, len(results))
	}
	if _, err := fx.ids.LoginStaff(context.Background(), identity.StaffLogin{Email: m.Email, Password: pw, IP: "10.0.0.9"}); err != nil {
		t.Errorf("sign in with the chosen password: %v", err)
	}
	members, err := fx.s.List(owner, lumen)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range members {
		if x.Email == m.Email && !x.PasswordSet {
			t.Error("the list still shows the member without a password")
		}
	}

	// Expiry: a link older than its lifetime does not work, and neither does resending to
	// someone who has a password.
	m2, err := fx.s.Add(owner, lumen, "late@example.com", staff.RoleTenantStaff, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	late := fx.lastLink(t, "late@example.com")
	fx.clock.Add(72*time.Hour + time.Second)
	if _, err := fx.s.SetPassword(context.Background(), late, pw); !errors.Is(err, staff.ErrTokenInvalid) {
		t.Errorf("expired link: %v", err)
	}
	// A resent link works again, and the old one stays dead.
	if _, err := fx.s.ResendInvitation(owner, lumen, m2.ID); err != nil {
		t.Fatal(err)
	}
	fresh := fx.lastLink(t, "late@example.com")
	if fresh == late || fresh == "" {
		t.Fatal("resend sent no new link")
	}
	if _, err := fx.s.SetPassword(context.Background(), fresh, pw); err != nil {
		t.Errorf("resent link: %v", err)
	}
	if _, err := fx.s.ResendInvitation(owner, lumen, m.ID); !errors.Is(err, staff.ErrPasswordIsSet) {
		t.Errorf("resend to someone with a password: %v", err)
	}

	// Someone who already has a password is told they were added, without a link.
	if _, err := fx.s.Add(owner, lumen, "owner@nordic-knits.test", staff.RoleTenantAdmin, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	if fx.lastLink(t, "owner@nordic-knits.test") != "" {
		t.Error("a person with a password was sent a set-password link")
	}
	if _, err := fx.s.Add(owner, lumen, "owner@nordic-knits.test", staff.RoleTenantStaff, uuid.Nil); !errors.Is(err, staff.ErrAlreadyMember) {
		t.Errorf("adding a member twice: %v", err)
	}

	// Every change is in the tenant's audit log.
	var actions []string
	err = fx.f.App.WithTenant(context.Background(), lumen, func(tx bun.IDB) error {
		p, err := audit.List(context.Background(), tx, audit.Filter{})
		for _, l := range p.Items {
			actions = append(actions, l.Action)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"staff.add", "staff.set_password", "staff.resend_invitation"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit log %v lacks %s", actions, want)
		}
	}
}

func tenantPart(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// A tenant keeps an owner: the last one can be neither removed nor demoted, and two owners
// removing each other at once leave one.
func TestLastOwner(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	owner := fx.as(t, "owner@lumen-goods.test", "")
	self := fx.member["lumen"]["owner@lumen-goods.test"]

	if err := fx.s.Remove(owner, lumen, self); !errors.Is(err, staff.ErrLastOwner) || kindOf(err) != fault.Conflict {
		t.Errorf("remove the last owner: %v", err)
	}
	if _, err := fx.s.ChangeRole(owner, lumen, self, staff.RoleTenantAdmin); !errors.Is(err, staff.ErrLastOwner) {
		t.Errorf("demote the last owner: %v", err)
	}
	second, err := fx.s.Add(owner, lumen, "second.owner@example.com", staff.RoleTenantOwner, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.SetPassword(context.Background(), fx.lastLink(t, "second.owner@example.com"), "a-long-enough-password"); err != nil {
		t.Fatal(err)
	}
	fx.reload(t)
	other := fx.as(t, "second.owner@example.com", "")

	// Each removes the other at the same moment: one wins, the other finds the last owner.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = fx.s.Remove(owner, lumen, second.ID) }()
	go func() { defer wg.Done(); errs[1] = fx.s.Remove(other, lumen, self) }()
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, staff.ErrLastOwner), errors.Is(err, staff.ErrNotMember):
		default:
			t.Errorf("concurrent removal: %v", err)
		}
	}
	var owners int
	err = fx.f.App.WithTenant(context.Background(), lumen, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT count(*) FROM memberships WHERE role = 'tenant_owner'").Scan(context.Background(), &owners)
	})
	if err != nil {
		t.Fatal(err)
	}
	if won != 1 || owners != 1 {
		t.Errorf("%d removals won, %d owners left; want 1 and 1 (%v)", won, owners, errs)
	}
}

// The same e-mail works in two tenants: one person, two memberships, each tenant seeing its own.
func TestSameEmailInTwoTenants(t *testing.T) {
	fx := setup(t)
	lumen, panda := fx.tenant["lumen"], fx.tenant["panda"]
	a, err := fx.s.Add(fx.as(t, "owner@lumen-goods.test", ""), lumen, "shared@example.com", staff.RoleTenantStaff, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	linkA := fx.lastLink(t, "shared@example.com")
	b, err := fx.s.Add(fx.as(t, "owner@panda-market.test", ""), panda, "shared@example.com", staff.RoleTenantAdmin, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	linkB := fx.lastLink(t, "shared@example.com")
	if a.UserID != b.UserID || a.ID == b.ID {
		t.Errorf("want one person with two memberships: %+v %+v", a, b)
	}
	ms, err := fx.ids.Memberships(context.Background(), a.UserID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("memberships %+v %v", ms, err)
	}
	roleIn := func(tenant uuid.UUID, ctx context.Context) string {
		t.Helper()
		list, err := fx.s.List(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.Email == "shared@example.com" {
				return m.Role
			}
		}
		return ""
	}
	if got := roleIn(lumen, fx.as(t, "owner@lumen-goods.test", "")); got != staff.RoleTenantStaff {
		t.Errorf("lumen sees role %q", got)
	}
	if got := roleIn(panda, fx.as(t, "owner@panda-market.test", "")); got != staff.RoleTenantAdmin {
		t.Errorf("panda sees role %q", got)
	}
	// Lumen cannot touch Panda's membership: 404, not 403.
	if _, err := fx.s.ChangeRole(fx.as(t, "owner@lumen-goods.test", ""), lumen, b.ID, staff.RoleTenantStaff); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("change another tenant's membership: %v", err)
	}
	if err := fx.s.Remove(fx.as(t, "owner@lumen-goods.test", ""), lumen, b.ID); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("remove another tenant's membership: %v", err)
	}
	// One link sets the password; the other tenant's link is then spent too.
	if _, err := fx.s.SetPassword(context.Background(), linkB, "a-long-enough-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.CheckToken(context.Background(), linkA); !errors.Is(err, staff.ErrTokenInvalid) {
		t.Errorf("the first tenant's link after the password was set: %v", err)
	}
	// Leaving one tenant keeps the other.
	if err := fx.s.Remove(fx.as(t, "owner@lumen-goods.test", ""), lumen, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := roleIn(panda, fx.as(t, "owner@panda-market.test", "")); got != staff.RoleTenantAdmin {
		t.Errorf("after leaving lumen, panda sees role %q", got)
	}
}

// A merchant owner sees and manages only its own merchant's staff.
func TestMerchantScope(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	nwOwner := fx.as(t, "owner@northwind.test", "northwind-lighting")
	list, err := fx.s.List(nwOwner, lumen)
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, m := range list {
		emails = append(emails, m.Email)
		if m.MerchantName != "Northwind Lighting" {
			t.Errorf("member %s of %q in Northwind's list", m.Email, m.MerchantName)
		}
	}
	if strings.Join(emails, " ") != "owner@northwind.test packer@northwind.test" {
		t.Errorf("northwind's owner sees %v", emails)
	}
	all, err := fx.s.List(fx.as(t, "owner@lumen-goods.test", ""), lumen)
	if err != nil || len(all) != 4 || all[0].Role != staff.RoleTenantOwner {
		t.Errorf("the tenant owner sees %d members (%v), owner first", len(all), err)
	}
	// The tenant's own members are out of reach: not found, like another tenant's.
	if err := fx.s.Remove(nwOwner, lumen, fx.member["lumen"]["moderator@lumen-goods.test"]); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("merchant owner removes tenant staff: %v", err)
	}
	packer := fx.member["lumen"]["packer@northwind.test"]
	if _, err := fx.s.ChangeRole(nwOwner, lumen, packer, staff.RoleMerchantOwner); !errors.Is(err, staff.ErrNotGrantable) {
		t.Errorf("merchant owner promotes to owner: %v", err)
	}
	if _, err := fx.s.ChangeRole(fx.as(t, "owner@lumen-goods.test", ""), lumen, packer, staff.RoleTenantStaff); kindOf(err) != fault.Invalid {
		t.Errorf("moving a merchant member to a tenant role: %v", err)
	}
	m, err := fx.s.ChangeRole(fx.as(t, "owner@lumen-goods.test", ""), lumen, packer, staff.RoleMerchantOwner)
	if err != nil || m.Role != staff.RoleMerchantOwner {
		t.Errorf("owner promotes the packer: %+v %v", m, err)
	}
	if err := fx.s.Remove(nwOwner, lumen, packer); !errors.Is(err, staff.ErrNotGrantable) {
		t.Errorf("merchant owner removes a fellow owner: %v", err)
	}
	if err := fx.s.Remove(fx.as(t, "owner@lumen-goods.test", ""), lumen, packer); err != nil {
		t.Errorf("tenant owner removes a merchant owner: %v", err)
	}
}

// The /v1/staff routes answer with the statuses their documentation promises.
func TestRoutes(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	_, api := humatest.New(t)
	staff.Routes(api, fx.s)
	owner := scope.WithTenant(fx.as(t, "owner@lumen-goods.test", ""), lumen)
	moderator := scope.WithTenant(fx.as(t, "moderator@lumen-goods.test", ""), lumen)

	if r := api.GetCtx(owner, "/v1/staff"); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), "packer@northwind.test") {
		t.Errorf("list: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(context.Background(), "/v1/staff"); r.Code != http.StatusBadRequest {
		t.Errorf("list without a tenant: %d", r.Code)
	}
	r := api.PostCtx(owner, "/v1/staff", map[string]any{"email": "api@example.com", "role": "merchant_staff", "merchant_id": fx.merchant["oak-and-ash"]})
	if r.Code != http.StatusCreated || !strings.Contains(r.Body.String(), `"merchant_name":"Oak & Ash Furniture"`) {
		t.Fatalf("add: %d %s", r.Code, r.Body)
	}
	fx.reload(t)
	id := fx.member["lumen"]["api@example.com"].String()
	if r := api.PostCtx(moderator, "/v1/staff", map[string]any{"email": "x@example.com", "role": "tenant_staff"}); r.Code != http.StatusForbidden {
		t.Errorf("moderator adds: %d %s", r.Code, r.Body)
	}
	if r := api.PatchCtx(owner, "/v1/staff/"+id, map[string]any{"role": "merchant_owner"}); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"role":"merchant_owner"`) {
		t.Errorf("change role: %d %s", r.Code, r.Body)
	}
	if r := api.PatchCtx(owner, "/v1/staff/"+fx.member["panda"]["owner@panda-market.test"].String(), map[string]any{"role": "tenant_staff"}); r.Code != http.StatusNotFound {
		t.Errorf("change another tenant's member: %d", r.Code)
	}
	if r := api.DeleteCtx(owner, "/v1/staff/"+fx.member["lumen"]["owner@lumen-goods.test"].String()); r.Code != http.StatusConflict || !strings.Contains(r.Body.String(), "last_owner") {
		t.Errorf("remove the last owner: %d %s", r.Code, r.Body)
	}
	if r := api.DeleteCtx(owner, "/v1/staff/"+id); r.Code != http.StatusNoContent {
		t.Errorf("remove: %d %s", r.Code, r.Body)
	}
	if r := api.DeleteCtx(owner, "/v1/staff/"+id); r.Code != http.StatusNotFound {
		t.Errorf("remove twice: %d %s", r.Code, r.Body)
	}
}
