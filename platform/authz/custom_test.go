package authz_test

import (
	"errors"
	"testing"

	"mercato/platform/authz"
)

func TestValidatePermissions(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		perms [][2]string
		want  error
	}{
		{"built-in pairs", [][2]string{{"/v1/products/*", "read"}, {"/v1/products/*", "write"}}, nil},
		{"delete a tenant owner holds", [][2]string{{"/v1/staff/*", "delete"}}, nil},
		{"none", nil, authz.ErrNotGrantable},
		{"star action", [][2]string{{"/v1/products/*", "*"}}, authz.ErrNotGrantable},
		{"platform only", [][2]string{{"/admin/*", "read"}}, authz.ErrNotGrantable},
		{"nobody deletes orders", [][2]string{{"/v1/orders/*", "delete"}}, authz.ErrNotGrantable},
		{"nobody writes audit", [][2]string{{"/v1/audit/*", "write"}}, authz.ErrNotGrantable},
		{"pattern not in templates", [][2]string{{"/v1/products/:id", "read"}}, authz.ErrBadName},
		{"separator in object", [][2]string{{"/v1/products/*,x", "read"}}, authz.ErrBadName},
		{"dot segments", [][2]string{{"/v1/products/../admin", "read"}}, authz.ErrBadName},
		{"unknown action", [][2]string{{"/v1/products/*", "own"}}, authz.ErrBadName},
		{"one bad pair spoils the set", [][2]string{{"/v1/products/*", "read"}, {"/v1/tenants/*", "delete"}}, authz.ErrNotGrantable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.ValidatePermissions(tc.perms)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// A custom role is allowed exactly its pairs, matched as the model matches templates.
func TestAllowedBy(t *testing.T) {
	e, err := authz.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	editor := [][2]string{{"/v1/products/*", "read"}, {"/v1/products/*", "write"}}
	for _, tc := range []struct {
		perms          [][2]string
		object, action string
		want           bool
		err            error
	}{
		{editor, "/v1/products", "read", true, nil},
		{editor, "/v1/products/:id", "write", true, nil},
		{editor, "/v1/products/:id/variants", "read", true, nil},
		{editor, "/v1/products/:id", "delete", false, nil},
		{editor, "/v1/productsx", "read", false, nil},
		{editor, "/v1/merchants", "write", false, nil},
		{editor, "/v1/merchants/:id", "read", false, nil},
		{nil, "/v1/products", "read", false, nil},
		// Stored pairs that are not grantable grant nothing.
		{[][2]string{{"/admin/*", "read"}}, "/admin/tenants", "read", false, nil},
		{[][2]string{{"/v1/products/*", "*"}}, "/v1/products", "read", false, nil},
		{editor, "/v1/products/../merchants", "read", false, authz.ErrBadName},
		{editor, "v1/products", "read", false, authz.ErrBadName},
		{editor, "/v1/products", "READ", false, authz.ErrBadName},
		{editor, "/v1/products", "*", false, authz.ErrBadName},
		{editor, "/v1/products\n", "read", false, authz.ErrBadName},
	} {
		got, err := e.AllowedBy(tc.perms, tc.object, tc.action)
		if got != tc.want || (tc.err == nil) != (err == nil) || tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("%v %s %s: got %v, %v; want %v, %v", tc.perms, tc.action, tc.object, got, err, tc.want, tc.err)
		}
	}
}
