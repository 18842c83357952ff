package archtest

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The dependency rule of ARCHITECTURE.md, one sentence per rule; a violation quotes it.
const (
	rulePlatform = "platform/* imports no slice and no app"
	ruleTenants  = "tenants/* never imports billing/* or apps/* (it hears about money through jobs and events)"
	ruleApps     = "only apps/mercato imports apps/*"
	ruleSlice    = "a slice imports another slice only by its root package, never its internals"
	ruleStripe   = "only billing/stripe imports the Stripe SDK"
)

const stripeSDK = "github.com/stripe/stripe-go"

// violation is one import edge that breaks a rule.
type violation struct {
	from, to, rule string
}

func (v violation) String() string { return v.from + " imports " + v.to + ": " + v.rule }

// checkImports applies the dependency rule to graph, which maps each package of module
// mercato to its direct imports. Packages outside the module are not judged. Each edge is
// reported once, with the first rule it breaks, in a stable order.
func checkImports(graph map[string][]string) []violation {
	var out []violation
	for _, from := range slices.Sorted(maps.Keys(graph)) {
		if !under(from, "mercato") {
			continue
		}
		for _, to := range graph[from] {
			if rule := brokenRule(from, to); rule != "" {
				out = append(out, violation{from, to, rule})
			}
		}
	}
	return out
}

func brokenRule(from, to string) string {
	switch {
	case under(from, "mercato/platform") &&
		(under(to, "mercato/tenants") || under(to, "mercato/billing") || under(to, "mercato/apps")):
		return rulePlatform
	case under(from, "mercato/tenants") && (under(to, "mercato/billing") || under(to, "mercato/apps")):
		return ruleTenants
	case under(to, "mercato/apps") && !under(from, "mercato/apps/mercato") && appOf(from) != appOf(to):
		return ruleApps
	case sliceOf(from) != "" && sliceOf(to) != "" && sliceOf(from) != sliceOf(to) && to != sliceOf(to):
		return ruleSlice
	case under(to, stripeSDK) && !under(from, "mercato/billing/stripe"):
		return ruleStripe
	}
	return ""
}

// under reports whether pkg is root or below it. A major-version suffix counts as below,
// so under("github.com/stripe/stripe-go/v76/charge", stripeSDK) holds.
func under(pkg, root string) bool {
	return pkg == root || strings.HasPrefix(pkg, root+"/")
}

// sliceOf names the slice pkg belongs to: mercato/tenants/X or mercato/billing/X for
// anything at or below them, the area root for the area's own package, "" outside slices.
func sliceOf(pkg string) string {
	for _, area := range []string{"mercato/tenants", "mercato/billing"} {
		if pkg == area {
			return area
		}
		if rest, ok := strings.CutPrefix(pkg, area+"/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			return area + "/" + name
		}
	}
	return ""
}

// appOf names the app pkg belongs to (mercato/apps/X), or "" outside apps.
func appOf(pkg string) string {
	if pkg == "mercato/apps" {
		return pkg
	}
	if rest, ok := strings.CutPrefix(pkg, "mercato/apps/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		return "mercato/apps/" + name
	}
	return ""
}

func TestCheckImports(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		want     string // rule broken; "" when the import is allowed
	}{
		{"platform uses platform", "mercato/platform/db", "mercato/platform/config", ""},
		{"platform uses a slice", "mercato/platform/jobs", "mercato/tenants/orders", rulePlatform},
		{"platform uses billing", "mercato/platform/audit", "mercato/billing/ledger", rulePlatform},
		{"platform uses an app", "mercato/platform/httpx", "mercato/apps/api", rulePlatform},

		{"tenants uses platform", "mercato/tenants/orders", "mercato/platform/db", ""},
		{"billing uses tenants", "mercato/billing/payments", "mercato/tenants/orders", ""},
		{"tenants uses billing", "mercato/tenants/orders", "mercato/billing/payments", ruleTenants},
		{"tenants root uses billing", "mercato/tenants", "mercato/billing", ruleTenants},
		{"tenants uses an app", "mercato/tenants/catalog", "mercato/apps/worker", ruleTenants},

		{"composition root uses apps", "mercato/apps/mercato", "mercato/apps/api", ""},
		{"app uses its own package", "mercato/apps/api/middleware", "mercato/apps/api", ""},
		{"app uses a sibling app", "mercato/apps/api", "mercato/apps/worker", ruleApps},
		{"billing uses an app", "mercato/billing/events", "mercato/apps/api", ruleApps},

		{"slice uses another slice's root", "mercato/tenants/orders", "mercato/tenants/catalog", ""},
		{"slice internals use another root", "mercato/tenants/orders/internal/pricing", "mercato/tenants/catalog", ""},
		{"slice uses its own internals", "mercato/tenants/catalog", "mercato/tenants/catalog/internal/search", ""},
		{"slice uses the tenants root", "mercato/tenants/catalog", "mercato/tenants", ""},
		{"billing uses a tenants root", "mercato/billing/settlement", "mercato/tenants/orders", ""},
		{"slice uses another slice's subpackage", "mercato/tenants/orders", "mercato/tenants/catalog/store", ruleSlice},
		{"slice uses another slice's internal", "mercato/billing/settlement", "mercato/billing/ledger/internal/post", ruleSlice},
		{"billing uses tenants internals", "mercato/billing/payments", "mercato/tenants/orders/store", ruleSlice},
		{"tenants root uses a slice's internals", "mercato/tenants", "mercato/tenants/catalog/store", ruleSlice},

		{"stripe adapter uses the SDK", "mercato/billing/stripe", "github.com/stripe/stripe-go/v76", ""},
		{"stripe adapter subpackage uses the SDK", "mercato/billing/stripe/webhook", "github.com/stripe/stripe-go/v76/webhook", ""},
		{"billing uses the stripe adapter", "mercato/billing/payments", "mercato/billing/stripe", ""},
		{"billing uses the SDK", "mercato/billing/payments", "github.com/stripe/stripe-go/v76/paymentintent", ruleStripe},
		{"app uses the SDK", "mercato/apps/mercato", "github.com/stripe/stripe-go/v76", ruleStripe},

		{"outside the module is not judged", "github.com/x/y", "mercato/apps/api", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkImports(map[string][]string{tc.from: {tc.to}})
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("allowed import reported: %v", got)
			case tc.want != "" && (len(got) != 1 || got[0] != violation{tc.from, tc.to, tc.want}):
				t.Errorf("got %v, want one violation %q", got, tc.want)
			}
		})
	}
}

func TestCheckImportsReportsEveryViolation(t *testing.T) {
	graph := map[string][]string{
		"mercato/tenants/orders":  {"context", "mercato/platform/db", "mercato/billing/ledger", "mercato/tenants/catalog/store"},
		"mercato/platform/config": {"os"},
		"mercato/apps/admin":      {"mercato/apps/console"},
	}
	want := []violation{
		{"mercato/apps/admin", "mercato/apps/console", ruleApps},
		{"mercato/tenants/orders", "mercato/billing/ledger", ruleTenants},
		{"mercato/tenants/orders", "mercato/tenants/catalog/store", ruleSlice},
	}
	if got := checkImports(graph); !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestDependencyRule checks the packages in the tree now. Packages that do not compile yet
// still list their imports (go list -e), so work in progress elsewhere does not fail it.
func TestDependencyRule(t *testing.T) {
	root := moduleRoot(t)
	observeSources(t, root)
	graph := importGraph(t, root)
	if _, ok := graph["mercato/platform/config"]; !ok {
		t.Fatalf("go list did not report mercato/platform/config; got %d packages", len(graph))
	}
	for _, v := range checkImports(graph) {
		t.Error(v)
	}
}

// importGraph lists every package of the module with its direct (non-test) imports.
func importGraph(t *testing.T, root string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("go list (not fatal): %s", stderr.String())
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	return graph
}

// observeSources reads every folder and stats every Go file of the module. go test caches a
// result by the files the test itself touched; go list runs in a subprocess the cache cannot
// see, so without this an import added elsewhere would leave a stale pass in the cache.
func observeSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
			name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(name, ".go") || name == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// moduleRoot is the folder holding go.mod, found by walking up from the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}
