// Package policies embeds Mercato's authorization: the Casbin model and built-in role policy, and
// the Rego modules with their tests.
package policies

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed model.conf
var model string

//go:embed roles.csv
var roles string

//go:embed *.rego
var rego embed.FS

// Model returns the Casbin model (RBAC with tenant domains).
func Model() string { return model }

// RolePolicy returns the built-in role templates as Casbin policy CSV: "p, role, domain, object,
// action" lines, with "#" comments and blank lines.
func RolePolicy() string { return roles }

// Modules returns the Rego policy modules, keyed by file name, without their tests.
func Modules() map[string]string { return regoFiles(false) }

// TestModules returns the Rego test modules (*_test.rego), keyed by file name.
func TestModules() map[string]string { return regoFiles(true) }

func regoFiles(tests bool) map[string]string {
	entries, err := fs.Glob(rego, "*.rego")
	if err != nil {
		// The pattern is a constant; Glob only fails on a malformed pattern.
		panic(err)
	}
	out := make(map[string]string, len(entries))
	for _, name := range entries {
		if strings.HasSuffix(name, "_test.rego") != tests {
			continue
		}
		b, err := rego.ReadFile(name)
		if err != nil {
			// Names come from the embedded FS itself, so a read cannot fail.
			panic(err)
		}
		out[name] = string(b)
	}
	return out
}
