package staff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
)

// Errors of custom roles.
var (
	ErrRoleNotFound = fault.New(fault.NotFound, "role_not_found", "this tenant has no such custom role")
	ErrRoleExists   = fault.New(fault.Conflict, "role_exists", "this tenant already has a role with this name")
	ErrRoleInUse    = fault.New(fault.Conflict, "role_in_use", "members still hold this role; give them another role first")
)

// PermissionChecker says whether a set of (object, action) pairs may make up a custom role;
// platform/authz.Enforcer is the one in use. Errors are authz.ErrBadName or ErrNotGrantable.
type PermissionChecker interface {
	ValidatePermissions(perms [][2]string) error
}

// customRoleName is the form of a role (as authz and the memberships table require).
var customRoleName = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// reservedRole reports names a custom role may not take: the built-in roles (shopper is a
// built-in tenant role of the policy too) and the operators' prefix. The request path tries
// built-in roles first, so a shadowing name would silently mean the built-in role.
func reservedRole(name string) bool {
	return slices.Contains(Roles(), name) || name == "shopper" || strings.HasPrefix(name, "platform_")
}

// Role is a tenant's custom staff role: a name and the permissions its holders have, each an
// (object, action) pair some built-in tenant role holds.
type Role struct {
	ID             uuid.UUID   `json:"id"`
	Name           string      `json:"name"`
	MerchantScoped bool        `json:"merchant_scoped" doc:"held by members of one merchant (like merchant_staff) rather than tenant-wide"`
	Permissions    [][2]string `json:"permissions" doc:"[object, action] pairs, e.g. [\"/v1/products/*\", \"write\"]"`
	CreatedAt      time.Time   `json:"created_at"`
}

type roleRow struct {
	ID             uuid.UUID `bun:"id"`
	Name           string    `bun:"name"`
	MerchantScoped bool      `bun:"merchant_scoped"`
	Permissions    []byte    `bun:"permissions"`
	CreatedAt      time.Time `bun:"created_at"`
}

func (r roleRow) role() (Role, error) {
	out := Role{ID: r.ID, Name: r.Name, MerchantScoped: r.MerchantScoped, CreatedAt: r.CreatedAt}
	if err := json.Unmarshal(r.Permissions, &out.Permissions); err != nil {
		return Role{}, fmt.Errorf("role %s: permissions: %w", r.Name, err)
	}
	return out, nil
}

const roleColumns = "id, name, merchant_scoped, permissions, created_at FROM custom_roles"

// CreateRole defines a custom role in the tenant. Only a tenant owner may. Errors: invalid
// fields (name, permissions), ErrNotMember, ErrNotGrantable, ErrRoleExists.
func (s *Service) CreateRole(ctx context.Context, tenantID uuid.UUID, name string, merchantScoped bool, perms [][2]string) (Role, error) {
	bad := map[string]string{}
	switch {
	case !customRoleName.MatchString(name):
		bad["body.name"] = "2 to 63 lowercase letters, digits or _, starting with a letter"
	case reservedRole(name):
		bad["body.name"] = "this name belongs to a built-in role"
	}
	switch {
	case s.cfg.Permissions == nil:
		return Role{}, errors.New("create role: no permission checker configured")
	case s.cfg.Permissions.ValidatePermissions(perms) != nil:
		bad["body.permissions"] = "one or more [object, action] pairs, each held by a built-in tenant role"
	}
	var r Role
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		if err := s.mayManageRoles(ctx, tx, tenantID); err != nil {
			return err
		}
		if len(bad) > 0 {
			return fault.Fields(bad)
		}
		raw, err := json.Marshal(perms)
		if err != nil {
			return err
		}
		var row roleRow
		err = tx.NewRaw("INSERT INTO custom_roles (tenant_id, name, merchant_scoped, permissions) VALUES (?, ?, ?, ?::jsonb) RETURNING "+
			strings.TrimSuffix(roleColumns, " FROM custom_roles"), tenantID, name, merchantScoped, string(raw)).Scan(ctx, &row)
		if _, dup := db.UniqueViolation(err); dup {
			return ErrRoleExists
		}
		if err != nil {
			return err
		}
		if r, err = row.role(); err != nil {
			return err
		}
		return s.cfg.Audit.Record(ctx, tx, "staff.create_role", "custom_role", r.ID.String(), nil, r)
	})
	if err != nil {
		return Role{}, fmt.Errorf("create role: %w", err)
	}
	return r, nil
}

// ListRoles lists the tenant's custom roles by name.
func (s *Service) ListRoles(ctx context.Context, tenantID uuid.UUID) ([]Role, error) {
	var out []Role
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var rows []roleRow
		if err := tx.NewRaw("SELECT "+roleColumns+" WHERE tenant_id = ? ORDER BY name", tenantID).Scan(ctx, &rows); err != nil {
			return err
		}
		out = make([]Role, 0, len(rows))
		for _, row := range rows {
			r, err := row.role()
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return out, nil
}

// DeleteRole removes a custom role nobody holds. Only a tenant owner may. Errors:
// ErrNotMember, ErrNotGrantable, ErrRoleNotFound, ErrRoleInUse.
func (s *Service) DeleteRole(ctx context.Context, tenantID uuid.UUID, name string) error {
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		if err := s.mayManageRoles(ctx, tx, tenantID); err != nil {
			return err
		}
		// The row lock orders this against Add and ChangeRole, which hold the role FOR SHARE
		// while they give it out: the count below sees their committed membership.
		before, err := lockRole(ctx, tx, tenantID, name, true)
		if err != nil {
			return err
		}
		n, err := tx.NewSelect().Table("memberships").Where("tenant_id = ? AND role = ?", tenantID, name).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrRoleInUse
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM custom_roles WHERE tenant_id = ? AND id = ?", tenantID, before.ID); err != nil {
			return err
		}
		return s.cfg.Audit.Record(ctx, tx, "staff.delete_role", "custom_role", before.ID.String(), before, nil)
	})
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	return nil
}

// RolePermissions returns the permissions of the tenant's custom role name for the request
// path, and whether the tenant has such a role.
func (s *Service) RolePermissions(ctx context.Context, tenantID uuid.UUID, name string) ([][2]string, bool, error) {
	var (
		perms [][2]string
		found bool
	)
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var raw []byte
		err := tx.NewRaw("SELECT permissions FROM custom_roles WHERE tenant_id = ? AND name = ?", tenantID, name).Scan(ctx, &raw)
		if errors.Is(err, errNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(raw, &perms)
	})
	if err != nil {
		return nil, false, fmt.Errorf("role permissions %s: %w", name, err)
	}
	return perms, found, nil
}

// grantsAny reports whether g may grant role to anyone at all: the built-in roles of its
// grants, and custom roles for a tenant owner.
func (g Grantor) grantsAny(role string) bool {
	if slices.Contains(Roles(), role) {
		return slices.Contains(grants[g.Role], role)
	}
	return g.May(role, uuid.Nil)
}

// mayManageRoles lets only a tenant owner, acting tenant-wide, define and delete roles: a role
// is a grant of rights to whoever the owner later gives it.
func (s *Service) mayManageRoles(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) error {
	g, err := s.grantor(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	if g.Role != RoleTenantOwner || g.MerchantID != uuid.Nil {
		return ErrNotGrantable
	}
	return nil
}

// lockRole reads a custom role, FOR UPDATE when deleting it, else FOR SHARE (it is being
// given out). Errors: ErrRoleNotFound.
func lockRole(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, name string, forUpdate bool) (Role, error) {
	q := "SELECT " + roleColumns + " WHERE tenant_id = ? AND name = ? FOR SHARE"
	if forUpdate {
		q = strings.TrimSuffix(q, "SHARE") + "UPDATE"
	}
	var row roleRow
	if err := tx.NewRaw(q, tenantID, name).Scan(ctx, &row); err != nil {
		if errors.Is(err, errNoRows) {
			return Role{}, ErrRoleNotFound
		}
		return Role{}, err
	}
	return row.role()
}

// checkRole checks that role exists in the tenant and fits the membership's merchant
// (uuid.Nil for a tenant-wide one): built-in merchant roles and merchant-scoped custom roles
// need one, the others must not have one. A custom role is held FOR SHARE until the
// transaction ends, so it cannot be deleted under the membership being written.
func checkRole(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, role string, merchantID uuid.UUID) error {
	if slices.Contains(Roles(), role) {
		return validateRole(role, merchantID)
	}
	r, err := lockRole(ctx, tx, tenantID, role, false)
	switch {
	case errors.Is(err, ErrRoleNotFound):
		return fault.Fields(map[string]string{"body.role": "a built-in role or a custom role of this tenant"})
	case err != nil:
		return err
	case r.MerchantScoped && merchantID == uuid.Nil:
		return fault.Fields(map[string]string{"body.merchant_id": "a merchant role needs a merchant"})
	case !r.MerchantScoped && merchantID != uuid.Nil:
		return fault.Fields(map[string]string{"body.merchant_id": "a tenant role has no merchant"})
	}
	return nil
}

type rolesOutput struct {
	Body struct {
		Items []Role `json:"items"`
	}
}

type roleOutput struct {
	Body Role
}

type createRoleInput struct {
	Body struct {
		Name           string      `json:"name" pattern:"^[a-z][a-z0-9_]{1,62}$" doc:"not a built-in role name"`
		MerchantScoped bool        `json:"merchant_scoped,omitempty"`
		Permissions    [][2]string `json:"permissions" minItems:"1" maxItems:"100" doc:"[object, action] pairs held by some built-in tenant role"`
	}
}

type roleNameInput struct {
	Name string `path:"name" pattern:"^[a-z][a-z0-9_]{1,62}$"`
}

// RoleRoutes registers the tenant's custom role API.
func RoleRoutes(api huma.API, s *Service) {
	const tag = "Staff"
	httpx.Register(api, huma.Operation{
		OperationID: "list-staff-roles", Method: http.MethodGet, Path: "/v1/staff/roles", Tags: []string{tag},
		Summary: "List custom roles", Description: "The tenant's own staff roles, besides the built-in ones.",
	}, func(ctx context.Context, _ *struct{}) (*rolesOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		rs, err := s.ListRoles(ctx, t)
		out := &rolesOutput{}
		out.Body.Items = rs
		return out, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "create-staff-role", Method: http.MethodPost, Path: "/v1/staff/roles", Tags: []string{tag}, DefaultStatus: http.StatusCreated,
		Summary:     "Create a custom role",
		Description: "Tenant owners only. Each permission must be one a built-in tenant role holds. Only tenant owners grant custom roles.",
		Errors:      []int{http.StatusBadRequest, http.StatusForbidden, http.StatusConflict},
	}, func(ctx context.Context, in *createRoleInput) (*roleOutput, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.CreateRole(ctx, t, in.Body.Name, in.Body.MerchantScoped, in.Body.Permissions)
		return &roleOutput{Body: r}, err
	})
	httpx.Register(api, huma.Operation{
		OperationID: "delete-staff-role", Method: http.MethodDelete, Path: "/v1/staff/roles/{name}", Tags: []string{tag}, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a custom role", Description: "Tenant owners only; refused while members hold the role.",
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *roleNameInput) (*struct{}, error) {
		t, err := httpx.TenantOf(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteRole(ctx, t, in.Name)
	})
}
