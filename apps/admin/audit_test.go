package admin_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/db"
	"mercato/platform/scope"
)

// The audit viewer: operators' own work in the platform chain with who did it; filters by
// actor, action, resource and dates; a tenant's chain with each change as before → after;
// cursor paging in seq order; and the chain check, intact and then tampered with.
func TestAuditViewer(t *testing.T) {
	w := newWorld(t, "")
	op := w.signIn("operator@mercato.test")
	r := op.post("/admin/tenants", url.Values{"slug": {"harbor"}, "name": {"Harbor Books"}, "plan": {"starter"},
		"locale": {"en"}, "currency": {"USD"}})
	if r.status != 303 {
		t.Fatalf("create: %d", r.status)
	}
	if r := op.post(r.location()+"/suspend", nil); r.status != 303 {
		t.Fatalf("suspend: %d", r.status)
	}

	actions := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`class="cell-main action" href="[^"]*"><code>([^<]*)</code>`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	page := op.get("/admin/audit")
	checkPage(t, "audit", page)
	got := actions(page.body)
	if len(got) < 3 || !slices.Contains(got, "tenant.create") || !slices.Contains(got, "tenant.suspend") || !slices.Contains(got, "demo.load") {
		t.Fatalf("platform chain: %v", got)
	}
	if !strings.Contains(text(page.body), "Olivia Operator <operator@mercato.test>") {
		t.Errorf("the operator is not named: %s", abbreviate(page.body))
	}

	for _, tc := range []struct {
		query        string
		want, absent string
		status       int
	}{
		{"action=tenant.suspend", "tenant.suspend", "tenant.create", 200},
		{"actor=system:test", "demo.load", "tenant.suspend", 200},
		{"from=" + time.Now().UTC().Format(time.DateOnly), "tenant.create", "", 200},
		{"to=" + time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), "", "tenant.create", 200},
	} {
		r := op.get("/admin/audit?chain=platform&" + tc.query)
		got := actions(r.body)
		if r.status != tc.status || (tc.want != "" && !slices.Contains(got, tc.want)) || (tc.absent != "" && slices.Contains(got, tc.absent)) {
			t.Errorf("%s: %d %v", tc.query, r.status, got)
		}
	}
	if r := op.get("/admin/audit?from=" + time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)); !strings.Contains(text(r.body), "No entry matches") {
		t.Errorf("future dates: %s", abbreviate(r.body))
	}
	for query, field := range map[string]string{"from=22/11/2026": "from", "from=2026-11-22&to=2026-11-21": "to"} {
		r := op.get("/admin/audit?" + query)
		if r.status != 422 || text(element(r.body, "f-"+field+"-error")) == "" || len(actions(r.body)) != 0 {
			t.Errorf("%s: %d, error beside %s %q", query, r.status, field, text(element(r.body, "f-"+field+"-error")))
		}
	}

	// A tenant's chain: 25 changes to a merchant, each with a before and after.
	lumen := w.tenant["lumen"]
	ctx := scope.WithActor(context.Background(), "apikey:k1")
	for i := range 25 {
		err := w.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
			return audit.Record(ctx, tx, audit.Entry{Action: "merchant.update", ResourceType: "merchant", ResourceID: fmt.Sprint("m", i%2),
				Before: map[string]any{"name": fmt.Sprint("Name ", i), "status": "active"},
				After:  map[string]any{"name": fmt.Sprint("Name ", i+1), "status": "active"}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	page = op.get("/admin/audit?chain=" + lumen.String())
	if !strings.Contains(text(page.body), "Entries: Lumen Goods (lumen)") {
		t.Errorf("chain title: %s", abbreviate(page.body))
	}
	diff := text(element(page.body, "audit-entries"))
	if !strings.Contains(diff, "name Name 24 → Name 25") || strings.Contains(diff, "status active") {
		t.Errorf("newest change not shown as before → after: %s", diff)
	}
	seqs := func(body string) []int {
		var out []int
		for _, m := range regexp.MustCompile(`<td class="num">(\d+)</td>\s*</tr>`).FindAllStringSubmatch(body, -1) {
			n, _ := strconv.Atoi(m[1])
			out = append(out, n)
		}
		return out
	}
	first := seqs(page.body)
	next := regexp.MustCompile(`<a class="btn" rel="next" href="([^"]*)"`).FindStringSubmatch(page.body)
	if len(first) != 20 || first[0] != 25 || next == nil {
		t.Fatalf("first page seqs %v, next %v", first, next)
	}
	second := seqs(op.get("/admin/audit" + strings.ReplaceAll(next[1], "&amp;", "&")).body)
	if len(second) != 5 || second[0] != 5 || second[4] != 1 {
		t.Errorf("second page seqs %v", second)
	}
	if r := op.get("/admin/audit?chain=" + lumen.String() + "&resource_type=merchant&resource_id=m1"); len(actions(r.body)) != 12 {
		t.Errorf("resource filter: %d entries, want 12", len(actions(r.body)))
	}

	verify := op.get("/admin/audit/verify?chain=" + lumen.String())
	checkPage(t, "verify", verify)
	if !strings.Contains(text(verify.body), "Intact") || !strings.Contains(text(verify.body), "25 entries checked") {
		t.Errorf("intact chain: %s", abbreviate(verify.body))
	}
	// Someone with database access rewrites entry 3.
	u, err := url.Parse(w.f.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + w.f.Name
	su, err := db.Open(context.Background(), u.String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close()
	if _, err := su.Bun().ExecContext(context.Background(),
		`UPDATE audit_entries SET after = '{"name": "Forged"}' WHERE tenant_id = ? AND seq = 3`, lumen); err != nil {
		t.Fatal(err)
	}
	verify = op.get("/admin/audit/verify?chain=" + lumen.String())
	problems := text(element(verify.body, "problems"))
	if !strings.Contains(text(verify.body), "Broken: 1 problem") || !strings.Contains(problems, "3 Entry changed") {
		t.Errorf("tampered chain: %s", abbreviate(verify.body))
	}
	if v := op.get("/admin/audit/verify"); !strings.Contains(text(v.body), "Intact") {
		t.Errorf("platform chain: %s", abbreviate(v.body))
	}
}
