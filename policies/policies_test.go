package policies_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"mercato/policies"
)

// TestRego runs every *_test.rego against the modules, as `opa test` would.
func TestRego(t *testing.T) {
	modules := map[string]*ast.Module{}
	parse := func(files map[string]string) {
		t.Helper()
		for name, src := range files {
			m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatalf("parse %s: %v", name, err)
			}
			modules[name] = m
		}
	}
	parse(policies.Modules())
	parse(policies.TestModules())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results, err := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		RunTests(ctx, nil)
	if err != nil {
		t.Fatalf("run rego tests: %v", err)
	}

	ran := 0
	perModule := map[string]int{}
	for r := range results {
		ran++
		perModule[r.Location.File]++
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		case r.Skip:
			t.Errorf("%s.%s: skipped (todo_ tests are not allowed)", r.Package, r.Name)
		case r.Fail:
			t.Errorf("%s.%s: failed%s", r.Package, r.Name, failedAt(r))
		}
	}
	if ran == 0 {
		t.Fatal("no Rego tests ran")
	}
	for name := range policies.Modules() {
		test := strings.TrimSuffix(name, ".rego") + "_test.rego"
		if perModule[test] == 0 {
			t.Errorf("%s has no tests in %s", name, test)
		}
	}
	t.Logf("%d Rego tests ran", ran)
}

func failedAt(r *tester.Result) string {
	if r.FailedAt == nil {
		return ""
	}
	return " at " + r.FailedAt.Location.String() + ": " + r.FailedAt.String()
}

func TestEmbedded(t *testing.T) {
	if !strings.Contains(policies.Model(), "[matchers]") {
		t.Error("Model() does not look like a Casbin model")
	}
	if !strings.Contains(policies.RolePolicy(), "p, shopper, *, /v1/products/*, read") {
		t.Error("RolePolicy() lacks the shopper template")
	}
	for name := range policies.Modules() {
		if strings.HasSuffix(name, "_test.rego") {
			t.Errorf("Modules() includes test %s", name)
		}
	}
	for name := range policies.TestModules() {
		if !strings.HasSuffix(name, "_test.rego") {
			t.Errorf("TestModules() includes non-test %s", name)
		}
	}
	for _, want := range []string{"plan_limits.rego", "refunds.rego", "listing.rego", "payout_hold.rego"} {
		if _, ok := policies.Modules()[want]; !ok {
			t.Errorf("Modules() lacks %s", want)
		}
	}
}
