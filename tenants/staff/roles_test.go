package staff_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/scope"
	"mercato/tenants/staff"
)

var editorPerms = [][2]string{{"/v1/products/*", "read"}, {"/v1/products/*", "write"}}

// setupRoles is setup with the authz enforcer checking custom role permissions, as wired in
// apps/mercato.
func setupRoles(t *testing.T) *fixture {
	t.Helper()
	fx := setup(t)
	enf, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.s = staff.NewService(fx.f.App, staff.Config{Accounts: fx.ids, Audit: audit.Recorder{}, Mailer: fx.mail, Permissions: enf,
		SetPasswordURL: "http://localhost:8080/console/set-password", ConsoleURL: "http://localhost:8080/console", Now: fx.clock.Now})
	return fx
}

func wantErr(t *testing.T, what string, err error, want error, kind fault.Kind) {
	t.Helper()
	switch {
	case want == nil && kind == 0:
		if err != nil {
			t.Errorf("%s: want success, got %v", what, err)
		}
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: got %v, want %v", what, err, want)
	case kindOf(err) != kind:
		t.Errorf("%s: got %v (kind %d), want kind %d", what, err, kindOf(err), kind)
	}
}

// Who may define roles, and which names and permissions are refused.
func TestCreateRole(t *testing.T) {
	fx := setupRoles(t)
	lumen := fx.tenant["lumen"]
	owner := fx.as(t, "owner@lumen-goods.test", "")
	if _, err := fx.s.Add(owner, lumen, "admin@lumen-goods.test", staff.RoleTenantAdmin, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	fx.reload(t)
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		role     string
		merchant bool
		perms    [][2]string
		want     error
		kind     fault.Kind
	}{
		{"owner defines a role", owner, "catalog_editor", false, editorPerms, nil, 0},
		{"owner defines a merchant role", owner, "stock_keeper", true, [][2]string{{"/v1/inventory/*", "write"}}, nil, 0},
		{"same name twice", owner, "catalog_editor", false, editorPerms, staff.ErrRoleExists, fault.Conflict},
		{"admin may not", fx.as(t, "admin@lumen-goods.test", ""), "viewer", false, editorPerms, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant owner may not", fx.as(t, "owner@northwind.test", "northwind-lighting"), "viewer", false, editorPerms, staff.ErrNotGrantable, fault.Forbidden},
		{"api key may not", scope.WithActor(context.Background(), scope.Actor("apikey:"+uuid.NewString())), "viewer", false, editorPerms, staff.ErrNotGrantable, fault.Forbidden},
		{"another tenant's owner is no member", fx.as(t, "owner@panda-market.test", ""), "viewer", false, editorPerms, staff.ErrNotMember, fault.Forbidden},
		{"built-in name", owner, "tenant_admin", false, editorPerms, nil, fault.Invalid},
		{"shopper", owner, "shopper", false, editorPerms, nil, fault.Invalid},
		{"platform prefix", owner, "platform_helper", false, editorPerms, nil, fault.Invalid},
		{"separator", owner, "a,b", false, editorPerms, nil, fault.Invalid},
		{"upper case", owner, "Editor", false, editorPerms, nil, fault.Invalid},
		{"no permissions", owner, "nothing", false, nil, nil, fault.Invalid},
		{"operator right", owner, "snoop", false, [][2]string{{"/admin/*", "read"}}, nil, fault.Invalid},
		{"right no built-in role has", owner, "shredder", false, [][2]string{{"/v1/orders/*", "delete"}}, nil, fault.Invalid},
		{"star action", owner, "everything", false, [][2]string{{"/v1/products/*", "*"}}, nil, fault.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := fx.s.CreateRole(tc.ctx, lumen, tc.role, tc.merchant, tc.perms)
			wantErr(t, "create", err, tc.want, tc.kind)
			if err == nil && (r.Name != tc.role || r.MerchantScoped != tc.merchant || !slices.Equal(r.Permissions, tc.perms) || r.ID == uuid.Nil) {
				t.Errorf("role %+v", r)
			}
		})
	}
	rs, err := fx.s.ListRoles(fx.as(t, "moderator@lumen-goods.test", ""), lumen)
	if err != nil || len(rs) != 2 || rs[0].Name != "catalog_editor" || rs[1].Name != "stock_keeper" || !slices.Equal(rs[0].Permissions, editorPerms) {
		t.Errorf("list: %+v %v", rs, err)
	}

	// Without a checker the service refuses rather than storing unchecked rights.
	unchecked := staff.NewService(fx.f.App, staff.Config{Accounts: fx.ids, Audit: audit.Recorder{}, Mailer: fx.mail})
	if _, err := unchecked.CreateRole(owner, lumen, "unchecked", false, editorPerms); err == nil {
		t.Error("created a role without a permission checker")
	}
}

// Memberships may hold a custom role of their tenant, granted by a tenant owner only, with a
// merchant exactly when the role is merchant scoped; a held role cannot be deleted.
func TestCustomRoleMemberships(t *testing.T) {
	fx := setupRoles(t)
	lumen, panda := fx.tenant["lumen"], fx.tenant["panda"]
	owner := fx.as(t, "owner@lumen-goods.test", "")
	pandaOwner := fx.as(t, "owner@panda-market.test", "")
	nw := fx.merchant["northwind-lighting"]
	if _, err := fx.s.CreateRole(owner, lumen, "catalog_editor", false, editorPerms); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.CreateRole(owner, lumen, "stock_keeper", true, [][2]string{{"/v1/inventory/*", "write"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.s.Add(owner, lumen, "admin@lumen-goods.test", staff.RoleTenantAdmin, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	fx.reload(t)
	admin := fx.as(t, "admin@lumen-goods.test", "")

	for _, tc := range []struct {
		name, email, role string
		ctx               context.Context
		merchant          uuid.UUID
		want              error
		kind              fault.Kind
	}{
		{"owner grants a custom role", "editor@example.com", "catalog_editor", owner, uuid.Nil, nil, 0},
		{"owner grants a merchant custom role", "keeper@example.com", "stock_keeper", owner, nw, nil, 0},
		{"admin may not grant custom roles", "a@example.com", "catalog_editor", admin, uuid.Nil, staff.ErrNotGrantable, fault.Forbidden},
		{"merchant owner may not", "b@example.com", "stock_keeper", fx.as(t, "owner@northwind.test", "northwind-lighting"), nw, staff.ErrNotGrantable, fault.Forbidden},
		{"tenant role with a merchant", "c@example.com", "catalog_editor", owner, nw, nil, fault.Invalid},
		{"merchant role without one", "d@example.com", "stock_keeper", owner, uuid.Nil, nil, fault.Invalid},
		{"undefined role", "e@example.com", "ghost_role", owner, uuid.Nil, nil, fault.Invalid},
		{"another tenant's role", "f@example.com", "catalog_editor", pandaOwner, uuid.Nil, nil, fault.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenant := lumen
			if tc.ctx == pandaOwner {
				tenant = panda
			}
			m, err := fx.s.Add(tc.ctx, tenant, tc.email, tc.role, tc.merchant)
			wantErr(t, "add", err, tc.want, tc.kind)
			if err == nil && m.Role != tc.role {
				t.Errorf("member %+v", m)
			}
		})
	}
	fx.reload(t)
	editor := fx.member["lumen"]["editor@example.com"]
	moderator := fx.member["lumen"]["moderator@lumen-goods.test"]

	// Changing to and from a custom role is the owner's alone.
	wantErr(t, "admin changes a custom role holder", func() error { _, err := fx.s.ChangeRole(admin, lumen, editor, staff.RoleTenantStaff); return err }(), staff.ErrNotGrantable, fault.Forbidden)
	wantErr(t, "admin gives a custom role", func() error { _, err := fx.s.ChangeRole(admin, lumen, moderator, "catalog_editor"); return err }(), staff.ErrNotGrantable, fault.Forbidden)
	wantErr(t, "admin removes a custom role holder", fx.s.Remove(admin, lumen, editor), staff.ErrNotGrantable, fault.Forbidden)
	wantErr(t, "tenant member to a merchant role", func() error { _, err := fx.s.ChangeRole(owner, lumen, moderator, "stock_keeper"); return err }(), nil, fault.Invalid)
	if m, err := fx.s.ChangeRole(owner, lumen, moderator, "catalog_editor"); err != nil || m.Role != "catalog_editor" {
		t.Fatalf("owner gives a custom role: %+v %v", m, err)
	}

	// Held roles stay; the request path finds their permissions in their tenant only.
	wantErr(t, "delete a held role", fx.s.DeleteRole(owner, lumen, "catalog_editor"), staff.ErrRoleInUse, fault.Conflict)
	if fe := fault.As(fx.s.DeleteRole(owner, lumen, "catalog_editor")); fe == nil || fe.Code != "role_in_use" {
		t.Errorf("role in use code: %+v", fe)
	}
	wantErr(t, "admin deletes", fx.s.DeleteRole(admin, lumen, "catalog_editor"), staff.ErrNotGrantable, fault.Forbidden)
	wantErr(t, "other tenant deletes", fx.s.DeleteRole(pandaOwner, panda, "catalog_editor"), staff.ErrRoleNotFound, fault.NotFound)
	perms, found, err := fx.s.RolePermissions(context.Background(), lumen, "catalog_editor")
	if err != nil || !found || !slices.Equal(perms, editorPerms) {
		t.Errorf("role permissions: %v %v %v", perms, found, err)
	}
	if _, found, err := fx.s.RolePermissions(context.Background(), panda, "catalog_editor"); err != nil || found {
		t.Errorf("another tenant's role found: %v %v", found, err)
	}
	if rs, err := fx.s.ListRoles(pandaOwner, panda); err != nil || len(rs) != 0 {
		t.Errorf("panda sees roles %+v %v", rs, err)
	}
	// The same name in another tenant is that tenant's own role.
	if _, err := fx.s.CreateRole(pandaOwner, panda, "catalog_editor", false, [][2]string{{"/v1/orders/*", "read"}}); err != nil {
		t.Errorf("same name in another tenant: %v", err)
	}

	if _, err := fx.s.ChangeRole(owner, lumen, moderator, staff.RoleTenantStaff); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Remove(owner, lumen, editor); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.DeleteRole(owner, lumen, "catalog_editor"); err != nil {
		t.Fatalf("delete an unheld role: %v", err)
	}
	wantErr(t, "delete twice", fx.s.DeleteRole(owner, lumen, "catalog_editor"), staff.ErrRoleNotFound, fault.NotFound)
	wantErr(t, "grant a deleted role", func() error {
		_, err := fx.s.Add(owner, lumen, "late@example.com", "catalog_editor", uuid.Nil)
		return err
	}(), nil, fault.Invalid)

	// Every change is in the audit chain of its tenant.
	var actions []string
	err = fx.f.Platform.Do(context.Background(), "test.read", func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT action FROM audit_entries WHERE tenant_id = ? AND resource_type = 'custom_role' ORDER BY seq`, lumen).Scan(context.Background(), &actions)
	})
	if err != nil || strings.Join(actions, " ") != "staff.create_role staff.create_role staff.delete_role" {
		t.Errorf("audit: %v %v", actions, err)
	}
}

func TestRoleRoutes(t *testing.T) {
	fx := setupRoles(t)
	lumen := fx.tenant["lumen"]
	_, api := humatest.New(t)
	staff.RoleRoutes(api, fx.s)
	owner := scope.WithTenant(fx.as(t, "owner@lumen-goods.test", ""), lumen)
	moderator := scope.WithTenant(fx.as(t, "moderator@lumen-goods.test", ""), lumen)

	body := map[string]any{"name": "catalog_editor", "permissions": editorPerms}
	if r := api.PostCtx(owner, "/v1/staff/roles", body); r.Code != http.StatusCreated || !strings.Contains(r.Body.String(), `"permissions":[["/v1/products/*","read"],["/v1/products/*","write"]]`) {
		t.Fatalf("create: %d %s", r.Code, r.Body)
	}
	if r := api.PostCtx(owner, "/v1/staff/roles", body); r.Code != http.StatusConflict {
		t.Errorf("create twice: %d %s", r.Code, r.Body)
	}
	if r := api.PostCtx(moderator, "/v1/staff/roles", map[string]any{"name": "other", "permissions": editorPerms}); r.Code != http.StatusForbidden {
		t.Errorf("moderator creates: %d %s", r.Code, r.Body)
	}
	if r := api.PostCtx(owner, "/v1/staff/roles", map[string]any{"name": "snoop", "permissions": [][2]string{{"/admin/*", "read"}}}); r.Code != http.StatusBadRequest {
		t.Errorf("operator rights: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(moderator, "/v1/staff/roles"); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"name":"catalog_editor"`) {
		t.Errorf("list: %d %s", r.Code, r.Body)
	}
	if r := api.DeleteCtx(owner, "/v1/staff/roles/catalog_editor"); r.Code != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.Code, r.Body)
	}
	if r := api.DeleteCtx(owner, "/v1/staff/roles/catalog_editor"); r.Code != http.StatusNotFound {
		t.Errorf("delete twice: %d %s", r.Code, r.Body)
	}
}
