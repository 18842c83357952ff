package admin_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"mercato/platform/scope"
	"mercato/tenants"
)

// Who may open what: anonymous callers are sent to sign in (and back afterwards), staff
// without a platform role get 403, the read-only support role reads but cannot open the
// forms that change things, and a platform admin opens everything. Unknown tenants are 404.
func TestPageAccess(t *testing.T) {
	w := newWorld(t, "")
	lumen := w.tenant["lumen"].String()
	anon, owner := w.anonymous(), w.signIn("owner@lumen-goods.test")
	support, op := w.signIn("support@mercato.test"), w.signIn("operator@mercato.test")

	for _, tc := range []struct {
		path              string
		support, operator int
	}{
		{"/admin", 200, 200},
		{"/admin/tenants", 200, 200},
		{"/admin/tenants?sort=name&dir=desc&status=active&q=lu", 200, 200},
		{"/admin/tenants/new", 403, 200},
		{"/admin/tenants/" + lumen, 200, 200},
		{"/admin/tenants/" + lumen + "/delete", 403, 200},
		{"/admin/tenants/" + lumen + "/export", 200, 200},
		{"/admin/plans", 200, 200},
		{"/admin/audit", 200, 200},
		{"/admin/audit?chain=" + lumen, 200, 200},
		{"/admin/audit/verify?chain=platform", 200, 200},
		{"/admin/tenants/" + uuid.NewString(), 404, 404},
		{"/admin/tenants/not-a-uuid", 404, 404},
		{"/admin/audit?chain=" + uuid.NewString(), 404, 404},
		{"/admin/no-such-page", 404, 404},
	} {
		r := anon.get(tc.path)
		if want := "/admin/login?next=" + url.QueryEscape(tc.path); r.status != 303 || r.location() != want {
			t.Errorf("anonymous %s: %d to %q, want 303 to %q", tc.path, r.status, r.location(), want)
		}
		if r := owner.get(tc.path); r.status != 403 || !strings.Contains(text(r.body), "Not allowed") {
			t.Errorf("tenant owner %s: %d, want the 403 page", tc.path, r.status)
		} else if strings.Contains(r.body, `href="/admin/tenants"`) {
			t.Errorf("tenant owner %s: the 403 page shows the operators' navigation", tc.path)
		}
		for _, who := range []struct {
			name string
			c    *client
			want int
		}{{"support", support, tc.support}, {"operator", op, tc.operator}} {
			r := who.c.get(tc.path)
			if r.status != who.want {
				t.Errorf("%s %s: %d, want %d", who.name, tc.path, r.status, who.want)
				continue
			}
			if ct := r.header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
				checkPage(t, who.name+" "+tc.path, r)
			}
		}
	}
	// Support cannot change anything either, whatever the page shows.
	for _, path := range []string{"/admin/tenants", "/admin/tenants/" + lumen + "/suspend", "/admin/tenants/" + lumen + "/delete"} {
		if r := support.post(path, url.Values{"confirm": {"lumen"}, "slug": {"x-support"}, "name": {"X"}, "plan": {"starter"}}); r.status != 403 {
			t.Errorf("support POST %s: %d, want 403", path, r.status)
		}
	}
	if tn, err := w.dir.Get(context.Background(), w.tenant["lumen"]); err != nil || tn.Status != tenants.StatusActive {
		t.Errorf("lumen after support's attempts: %+v %v", tn, err)
	}
	// The buttons follow the role: support sees no suspend, no delete, no "new tenant".
	page := support.get("/admin/tenants/" + lumen)
	for _, id := range []string{`id="suspend"`, `id="delete"`} {
		if strings.Contains(page.body, id) {
			t.Errorf("support sees %s", id)
		}
	}
	if page := op.get("/admin/tenants/" + lumen); !strings.Contains(page.body, `id="suspend"`) || !strings.Contains(page.body, `id="delete"`) {
		t.Error("the operator does not see suspend and delete")
	}
}

// Every POST of the portal needs the session's CSRF token when a cookie signs it in; a
// refused one changes nothing.
func TestCSRFOnEveryPost(t *testing.T) {
	w := newWorld(t, "")
	op := w.signIn("operator@mercato.test")
	lumen := w.tenant["lumen"].String()
	for _, path := range []string{
		"/admin/login", "/admin/login/code", "/admin/login/enroll", "/admin/logout", "/admin/logout/everywhere",
		"/admin/locale", "/admin/tenants", "/admin/tenants/" + lumen + "/suspend", "/admin/tenants/" + lumen + "/reactivate",
		"/admin/tenants/" + lumen + "/delete",
	} {
		form := url.Values{"confirm": {"lumen"}, "lang": {"zh-CN"}, "slug": {"csrf-test"}, "name": {"CSRF"}, "plan": {"starter"}}
		for _, token := range []string{"", "forged"} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("_csrf", token)
			if r := op.post(path, f); r.status != 403 {
				t.Errorf("POST %s with csrf %q: %d, want 403", path, token, r.status)
			}
		}
	}
	// A cross-site POST is refused even without a session (login CSRF).
	r := w.anonymous().do("POST", "/admin/login", url.Values{"email": {"operator@mercato.test"}, "password": {"x"}},
		http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if r.status != 403 {
		t.Errorf("cross-site sign-in: %d, want 403", r.status)
	}
	ctx := context.Background()
	if tn, err := w.dir.Get(ctx, w.tenant["lumen"]); err != nil || tn.Status != tenants.StatusActive {
		t.Errorf("lumen after forged posts: %+v %v", tn, err)
	}
	if page, _ := w.dir.Browse(ctx, tenants.BrowseFilter{Query: "csrf-test"}); len(page.Items) != 0 {
		t.Error("a forged post created a tenant")
	}
	if r := op.get("/admin"); r.status != 200 {
		t.Errorf("the session did not survive the forged logouts: %d", r.status)
	}
}

// A form with mistakes comes back with each error beside its field and what was typed; a
// taken slug is said at the slug; a good form creates the tenant and says so.
func TestCreateTenant(t *testing.T) {
	w := newWorld(t, "")
	op := w.signIn("operator@mercato.test")

	page := op.get("/admin/tenants/new")
	if page.status != 200 || !strings.Contains(page.body, `<option value="growth">Growth</option>`) {
		t.Fatalf("form: %d %s", page.status, abbreviate(page.body))
	}
	bad := url.Values{"slug": {"-Bad"}, "name": {" "}, "plan": {""}, "locale": {"en"}, "currency": {"xyz"},
		"domains": {"shop.example.com\n\nnot a host\n"}}
	r := op.post("/admin/tenants", bad)
	if r.status != 422 {
		t.Fatalf("bad form: %d", r.status)
	}
	checkPage(t, "bad form", r)
	for field, want := range map[string]string{
		"slug":     "Use 3–40 characters",
		"name":     "Enter a name",
		"plan":     "Choose a plan.",
		"currency": "Enter a currency code",
		"domains":  "“not a host” is not a host name",
	} {
		if got := text(element(r.body, "f-"+field+"-error")); !strings.Contains(got, want) {
			t.Errorf("error beside %s: %q, want %q", field, got, want)
		}
		if !regexp.MustCompile(`id="f-`+field+`"[^>]*aria-invalid="true"`).MatchString(r.body) &&
			!regexp.MustCompile(`aria-invalid="true"[^>]*aria-describedby="f-`+field+`-error"`).MatchString(r.body) {
			t.Errorf("%s is not marked invalid", field)
		}
	}
	if inputValue(r.body, "slug") != "-Bad" || inputValue(r.body, "currency") != "xyz" ||
		!strings.Contains(element(r.body, "f-domains"), "not a host") {
		t.Error("typed values were not kept")
	}

	zh := *op
	zh.lang = "zh-CN"
	if r := zh.post("/admin/tenants", bad); !strings.Contains(text(element(r.body, "f-plan-error")), "请选择套餐") {
		t.Errorf("zh-CN plan error: %q", text(element(r.body, "f-plan-error")))
	}

	taken := url.Values{"slug": {"lumen"}, "name": {"Again"}, "plan": {"starter"}, "locale": {"en"}, "currency": {"USD"}}
	if r := op.post("/admin/tenants", taken); r.status != 422 || !strings.Contains(text(element(r.body, "f-slug-error")), "Another tenant has this slug") {
		t.Errorf("taken slug: %d %q", r.status, text(element(r.body, "f-slug-error")))
	}

	good := url.Values{"slug": {"harbor"}, "name": {"Harbor Books"}, "plan": {"growth"}, "locale": {"zh-CN"},
		"currency": {"eur"}, "domains": {"books.harbor.test\r\nwww.harbor.test"}}
	r = op.post("/admin/tenants", good)
	if r.status != 303 || !strings.HasPrefix(r.location(), "/admin/tenants/") {
		t.Fatalf("good form: %d to %q %s", r.status, r.location(), abbreviate(r.body))
	}
	show := op.follow(r)
	if !strings.Contains(text(show.body), "“Harbor Books” is created and open.") {
		t.Errorf("no flash: %s", abbreviate(show.body))
	}
	id, _ := uuid.Parse(strings.TrimPrefix(r.location(), "/admin/tenants/"))
	d, err := w.dir.Details(context.Background(), id)
	if err != nil || d.Slug != "harbor" || d.DefaultLocale != "zh-CN" || d.DefaultCurrency != "EUR" || len(d.Domains) != 2 ||
		d.Domains[0].Host != "books.harbor.test" {
		t.Errorf("created: %+v %v", d, err)
	}
	for _, want := range []string{"Growth", "Chinese (Simplified)", "EUR", "books.harbor.test", "www.harbor.test", "http://harbor.localhost/"} {
		if !strings.Contains(text(element(show.body, "tenant-details")+show.body), want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
}

// Suspend closes the storefront (503 through the same app) and says so; suspending again
// is reported, not failed; reactivate reopens it; delete needs the slug typed and reports
// rows removed per table and none left.
func TestSuspendReactivateDelete(t *testing.T) {
	w := newWorld(t, "")
	op := w.signIn("operator@mercato.test")
	nordic := w.tenant["nordic"]
	path := "/admin/tenants/" + nordic.String()
	storefront := func() int {
		t.Helper()
		return op.do("GET", "http://nordic.localhost/v1/storefront", nil, nil).status
	}
	if s := storefront(); s != 200 {
		t.Fatalf("storefront before: %d", s)
	}

	r := op.post(path+"/suspend", nil)
	if r.status != 303 || r.location() != path {
		t.Fatalf("suspend: %d to %q", r.status, r.location())
	}
	page := op.follow(r)
	if !strings.Contains(text(page.body), "“Nordic Knits” is suspended.") || !strings.Contains(page.body, `id="reactivate"`) ||
		!strings.Contains(page.body, `id="suspended-note"`) {
		t.Errorf("after suspend: %s", abbreviate(page.body))
	}
	if s := storefront(); s != 503 {
		t.Errorf("storefront of a suspended tenant: %d, want 503", s)
	}
	if page := op.follow(op.post(path+"/suspend", nil)); !strings.Contains(text(page.body), "already suspended") ||
		!strings.Contains(page.body, "flash-error") {
		t.Errorf("suspending twice: %s", abbreviate(page.body))
	}
	if list := op.get("/admin/tenants?status=suspended"); !strings.Contains(list.body, ">Nordic Knits<") || strings.Contains(list.body, ">Lumen Goods<") {
		t.Errorf("suspended filter: %s", abbreviate(list.body))
	}

	page = op.follow(op.post(path+"/reactivate", nil))
	if !strings.Contains(text(page.body), "“Nordic Knits” is active again.") || !strings.Contains(page.body, `id="suspend"`) {
		t.Errorf("after reactivate: %s", abbreviate(page.body))
	}
	if s := storefront(); s != 200 {
		t.Errorf("storefront after reactivation: %d", s)
	}

	del := op.get(path + "/delete")
	if del.status != 200 || !strings.Contains(text(del.body), "Type the slug “nordic” to confirm") {
		t.Fatalf("delete page: %d %s", del.status, abbreviate(del.body))
	}
	checkPage(t, "delete", del)
	if fp := text(element(del.body, "footprint")); !strings.Contains(fp, "merchants 1") || !strings.Contains(fp, "shoppers 1") || !strings.Contains(fp, "tenants 1") {
		t.Errorf("what the delete removes: %q", fp)
	}
	r = op.post(path+"/delete", url.Values{"confirm": {"nordik"}})
	if r.status != 422 || !strings.Contains(text(element(r.body, "f-confirm-error")), "not this tenant's slug") || inputValue(r.body, "confirm") != "nordik" {
		t.Fatalf("wrong slug: %d %q", r.status, text(element(r.body, "f-confirm-error")))
	}
	if _, err := w.dir.Get(context.Background(), nordic); err != nil {
		t.Fatalf("the tenant went with a wrong slug: %v", err)
	}
	r = op.post(path+"/delete", url.Values{"confirm": {"nordic"}})
	if r.status != 303 || r.location() != "/admin/tenants" {
		t.Fatalf("delete: %d to %q", r.status, r.location())
	}
	list := op.follow(r)
	flash := text(list.body)
	m := regexp.MustCompile(`“nordic” is deleted: (\d+) rows removed \(([^)]*)\); 0 rows left\.`).FindStringSubmatch(flash)
	if m == nil || !strings.Contains(m[2], "tenants 1") || m[1] == "0" {
		t.Errorf("delete report flash: %s", abbreviate(list.body))
	}
	if _, err := w.dir.Get(context.Background(), nordic); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if r := op.get(path); r.status != 404 {
		t.Errorf("the deleted tenant's page: %d", r.status)
	}
}

// Export downloads the directory's archive: gzip, a tar with manifest.json, named after the
// tenant.
func TestExport(t *testing.T) {
	w := newWorld(t, "")
	op := w.signIn("operator@mercato.test")
	r := op.get("/admin/tenants/" + w.tenant["lumen"].String() + "/export")
	if r.status != 200 || r.header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("export: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if cd := r.header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="lumen-\d{8}T\d{6}Z\.tar\.gz"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	gz, err := gzip.NewReader(bytes.NewReader([]byte(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if !slices.Contains(names, "manifest.json") || !slices.Contains(names, "merchants.ndjson") {
		t.Errorf("archive holds %v", names)
	}
}

// The table sorts, filters and pages with cursors that keep the order.
func TestTenantTable(t *testing.T) {
	w := newWorld(t, "")
	ctx := scope.WithActor(context.Background(), "system:test")
	for i := range 22 {
		if _, err := w.dir.Create(ctx, tenants.NewTenant{Slug: fmt.Sprintf("shop-%02d", i), Name: fmt.Sprintf("Shop %02d", i), Plan: "starter"}); err != nil {
			t.Fatal(err)
		}
	}
	op := w.signIn("operator@mercato.test")
	names := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`class="cell-main" href="[^"]*">([^<]*)<`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	r := op.get("/admin/tenants?sort=name&dir=desc")
	first := names(r.body)
	if len(first) != 20 || first[0] != "熊猫市集 Panda Market" || first[1] != "Shop 21" {
		t.Fatalf("first page by name desc: %v", first)
	}
	checkPage(t, "tenants", r)
	next := regexp.MustCompile(`<a class="btn" rel="next" href="([^"]*)"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no next page link")
	}
	second := names(op.get("/admin/tenants" + strings.ReplaceAll(next[1], "&amp;", "&")).body)
	if !slices.Equal(second, []string{"Shop 02", "Shop 01", "Shop 00", "Nordic Knits", "Lumen Goods"}) {
		t.Errorf("second page: %v", second)
	}
	if got := names(op.get("/admin/tenants?q=lum").body); !slices.Equal(got, []string{"Lumen Goods"}) {
		t.Errorf("search: %v", got)
	}
	if r := op.get("/admin/tenants?status=suspended"); len(names(r.body)) != 0 || !strings.Contains(text(r.body), "No matches") {
		t.Errorf("no suspended tenants: %s", abbreviate(r.body))
	}
	if r := op.get("/admin/tenants?cursor=garbage"); r.status != 400 {
		t.Errorf("bad cursor: %d", r.status)
	}
}

// The dashboard counts tenants, charts merchants per tenant and tenants per month; the plans
// page shows prices as money in the page's language.
func TestDashboardAndPlans(t *testing.T) {
	w := newWorld(t, "")
	op := w.signIn("operator@mercato.test")
	if _, err := w.dir.Suspend(context.Background(), w.tenant["panda"]); err != nil {
		t.Fatal(err)
	}
	r := op.get("/admin")
	if r.status != 200 {
		t.Fatalf("dashboard: %d", r.status)
	}
	for id, want := range map[string]string{"stat-total": "3", "stat-active": "2", "stat-suspended": "1", "stat-plans": "3"} {
		if got := element(r.body, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	body := text(r.body)
	for _, want := range []string{"Merchants per tenant (top 10)", "lumen 4", "panda 3", "nordic 1", "New tenants per month",
		"Starter $29.00 1", "Sign out everywhere"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if n := strings.Count(r.body, `<figure class="chart"`); n != 2 {
		t.Errorf("%d charts", n)
	}

	p := op.get("/admin/plans")
	for _, want := range []string{"$29.00 per month", "$299.00 per month", "Custom domain", "Flash sales", "250,000"} {
		if !strings.Contains(text(p.body), want) {
			t.Errorf("plans lack %q", want)
		}
	}
	zh := *op
	zh.lang = "zh-CN"
	p = zh.get("/admin/plans")
	checkPage(t, "plans zh-CN", p)
	for _, want := range []string{"US$29.00 每月", "自定义域名", "套餐"} {
		if !strings.Contains(text(p.body), want) {
			t.Errorf("zh-CN plans lack %q", want)
		}
	}
	if d := zh.get("/admin"); !strings.Contains(text(d.body), "年") || !strings.Contains(text(d.body), "每月新增租户") {
		t.Errorf("zh-CN dashboard: %s", abbreviate(d.body))
	}
}
