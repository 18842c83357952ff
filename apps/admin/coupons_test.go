package admin_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"mercato/platform/scope"
	"mercato/tenants/promotions"
)

// An operator makes a platform-funded coupon on a tenant's page: it is stored in that tenant
// as funded by the platform and audited under the operator; a bad form comes back with each
// problem beside its field and creates nothing; the same code twice is refused; support staff,
// who may not write, get no form and a 403.
func TestPlatformCoupons(t *testing.T) {
	w := newWorld(t, "")
	promos := w.promos
	op := w.signIn("operator@mercato.test")
	lumen := w.tenant["lumen"]
	path := "/admin/tenants/" + lumen.String()

	page := op.get(path)
	if page.status != 200 || !strings.Contains(page.body, `id="no-platform-coupons"`) || !strings.Contains(page.body, `id="platform-coupon-form"`) {
		t.Fatalf("tenant page: %d %s", page.status, abbreviate(page.body))
	}
	checkPage(t, "tenant with coupons", page)

	r := op.post(path+"/coupons", url.Values{"code": {"x"}, "percent": {"150"}, "days": {"0"}, "usage_limit": {"-2"}})
	if r.status != 422 {
		t.Fatalf("bad form: %d", r.status)
	}
	for _, field := range []string{"code", "percent", "days", "usage_limit"} {
		if text(element(r.body, "f-"+strings.ReplaceAll(field, "_", "-")+"-error")) == "" {
			t.Errorf("no error beside %s: %s", field, abbreviate(r.body))
		}
	}
	if inputValue(r.body, "code") != "x" {
		t.Error("the refused form lost what was typed")
	}
	count := func() (n int) {
		t.Helper()
		if err := w.f.Platform.Do(context.Background(), "test.coupons", func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM coupons WHERE tenant_id = ? AND funded_by = 'platform'", lumen).Scan(context.Background(), &n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d coupons after a refused form", n)
	}

	r = op.post(path+"/coupons", url.Values{"code": {"launch15"}, "percent": {"15"}, "days": {"14"}, "usage_limit": {"500"}, "per_shopper_limit": {"1"}})
	if r.status != 303 || !strings.HasPrefix(r.location(), path) {
		t.Fatalf("create: %d to %q", r.status, r.location())
	}
	page = op.follow(r)
	list := text(element(page.body, "platform-coupon-list"))
	if !strings.Contains(text(page.body), "Coupon LAUNCH15 created.") || !strings.Contains(list, "LAUNCH15") || !strings.Contains(list, "15%") ||
		!strings.Contains(list, "0 / 500") || !strings.Contains(list, "Running") {
		t.Errorf("after create: %q", list)
	}
	if n := count(); n != 1 {
		t.Errorf("%d platform coupons, want 1", n)
	}
	// The tenant's staff see it among their coupons, funded by the platform.
	cs, err := promos.ListCoupons(scope.WithActor(context.Background(), "user:tenant-staff"), lumen, promotions.CouponFilter{})
	if err != nil || len(cs.Items) != 1 || cs.Items[0].FundedBy != promotions.FundedByPlatform || *cs.Items[0].PercentBP != 1500 {
		t.Errorf("the tenant's coupons: %v %+v", err, cs.Items)
	}
	var actor string
	if err := w.f.Platform.Do(context.Background(), "test.audit", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT actor FROM audit_entries WHERE tenant_id = ? AND action = 'coupon.create'", lumen).Scan(context.Background(), &actor)
	}); err != nil || !strings.HasPrefix(actor, "user:") {
		t.Errorf("audit entry: %q %v", actor, err)
	}

	if r := op.post(path+"/coupons", url.Values{"code": {"LAUNCH15"}, "percent": {"5"}, "days": {"1"}}); r.status != 422 ||
		!strings.Contains(text(element(r.body, "f-code-error")), "already has a coupon") {
		t.Errorf("same code again: %d %q", r.status, text(element(r.body, "f-code-error")))
	}

	support := w.signIn("support@mercato.test")
	if page := support.get(path); page.status != 200 || strings.Contains(page.body, `id="platform-coupon-form"`) ||
		!strings.Contains(page.body, "LAUNCH15") {
		t.Errorf("support's view: %d", page.status)
	}
	if r := support.post(path+"/coupons", url.Values{"code": {"SNEAKY"}, "percent": {"50"}, "days": {"1"}}); r.status != 403 {
		t.Errorf("support creates a coupon: %d", r.status)
	}
	if n := count(); n != 1 {
		t.Errorf("%d platform coupons after the refusals, want 1", n)
	}
}
