package api_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/scope"
	"mercato/tenants/staff"
)

// A member holding a tenant's custom role gets exactly its permissions through the real
// access middleware, and a role name the tenant does not define gets nothing.
func TestCustomRoleAccess(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	lumen := w.tenant["lumen"]
	roles := staff.NewService(w.f.App, staff.Config{Audit: audit.Recorder{}, Permissions: w.enforcer})
	var ownerID, moderatorMember uuid.UUID
	err := w.f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		if err := tx.NewRaw("SELECT id FROM staff_users WHERE email = 'owner@lumen-goods.test'").Scan(ctx, &ownerID); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT m.id FROM memberships m JOIN staff_users u ON u.id = m.user_id
			WHERE u.email = 'moderator@lumen-goods.test' AND m.tenant_id = ?`, lumen).Scan(ctx, &moderatorMember)
	})
	if err != nil {
		t.Fatal(err)
	}
	owner := scope.WithActor(ctx, scope.Actor("user:"+ownerID.String()))
	if _, err := roles.CreateRole(owner, lumen, "catalog_editor", false,
		[][2]string{{"/v1/products/*", "read"}, {"/v1/products/*", "write"}}); err != nil {
		t.Fatal(err)
	}
	// The moderator (tenant_staff) may read merchants; as catalog_editor they may not.
	if _, err := roles.ChangeRole(owner, lumen, moderatorMember, "catalog_editor"); err != nil {
		t.Fatal(err)
	}
	cookie, csrf := w.signIn("moderator@lumen-goods.test")
	editor := caller{name: "catalog editor", cookie: cookie, csrf: csrf, tenantHeader: lumen.String()}
	merchant := w.merchant["lumen"]["northwind-lighting"].String()

	type call struct {
		method, path, body string
		want               int
	}
	check := func(c caller, calls []call) {
		t.Helper()
		for _, tc := range calls {
			if status, body := w.do(c, tc.method, tc.path, tc.body, ""); status != tc.want {
				t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, status, tc.want, body)
			}
		}
	}
	check(editor, []call{
		{"GET", "/v1/products", "", 200},
		{"GET", "/v1/products/categories", "", 200},
		{"POST", "/v1/products/categories", `{"slug": "editor-made", "name": {"en": "Editor made"}}`, 201},
		{"DELETE", "/v1/products/categories/" + uuid.NewString(), "", 403},
		{"GET", "/v1/merchants", "", 403},
		{"GET", "/v1/merchants/" + merchant, "", 403},
		{"POST", "/v1/merchants/" + merchant + "/suspend", `{}`, 403},
		{"POST", "/v1/merchants/invitations", `{"email": "x@example.com", "merchant_name": "X"}`, 403},
		{"GET", "/v1/staff", "", 403},
	})

	// A membership naming a role the tenant does not define (deleted by hand, or another
	// tenant's) is denied everything.
	err = w.f.Platform.Do(ctx, "test.break", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "UPDATE memberships SET role = 'ghost_role' WHERE tenant_id = ? AND id = ?", lumen, moderatorMember)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check(editor, []call{
		{"GET", "/v1/products", "", 403},
		{"POST", "/v1/products/categories", `{"slug": "ghost-made", "name": {"en": "Ghost"}}`, 403},
	})
}
