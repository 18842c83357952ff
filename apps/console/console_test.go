package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"mercato/platform/scope"
	"mercato/tenants/staff"
)

// Every page against every demo role of Lumen: who may open what (403 otherwise), and an
// anonymous visitor is sent to sign in. The navigation offers exactly the pages a role may open.
func TestAuthorization(t *testing.T) {
	w := newWorld(t, false)
	// A tenant admin, so that every tenant role is in the table.
	if _, err := w.staff.Add(w.asStaff("owner@lumen-goods.test", ""), w.tenant["lumen"], "owner@nordic-knits.test", staff.RoleTenantAdmin, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	// owner@nordic-knits.test now works in two tenants; pick Lumen for it.
	admin := w.signIn("owner@nordic-knits.test")
	if r := w.get(admin, "/console"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/switch") {
		t.Fatalf("a person in two tenants is not asked to choose: %d %s", r.status, r.location)
	}
	w.post(admin, "/console/switch", url.Values{"tenant": {w.tenant["lumen"].String()}, "merchant": {uuid.Nil.String()}})

	pages := []string{"/console", "/console/account", "/console/merchants", "/console/staff", "/console/api-keys", "/console/audit", "/console/settings",
		"/console/products", "/console/moderation"}
	ok, no := http.StatusOK, http.StatusForbidden
	for _, tc := range []struct {
		who  *who
		want []int // per page above
		nav  string
	}{
		{w.signIn("owner@lumen-goods.test"), []int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, "Overview Merchants Products Moderation Staff API keys Audit log Settings Account"},
		{admin, []int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, "Overview Merchants Products Moderation Staff API keys Audit log Settings Account"},
		{w.signIn("moderator@lumen-goods.test"), []int{ok, ok, ok, no, no, no, no, ok, ok}, "Overview Merchants Products Moderation Account"},
		{w.signIn("owner@northwind.test"), []int{ok, ok, ok, ok, ok, no, no, ok, no}, "Overview Products Staff API keys Account"},
		{w.signIn("packer@northwind.test"), []int{ok, ok, ok, no, no, no, no, ok, no}, "Overview Products Account"},
	} {
		for i, p := range pages {
			r := w.get(tc.who, p)
			if r.status != tc.want[i] {
				t.Errorf("%s GET %s: %d, want %d", tc.who.name, p, r.status, tc.want[i])
			}
			if r.status == ok {
				if got := navOf(r.body); got != tc.nav {
					t.Errorf("%s on %s: navigation %q, want %q", tc.who.name, p, got, tc.nav)
				}
				if leaked := leakedKeys(r.body); len(leaked) > 0 {
					t.Errorf("%s on %s: untranslated keys %v", tc.who.name, p, leaked)
				}
			}
		}
	}
	// Anonymous: every page, and every form, sends to sign in and back.
	for _, p := range pages {
		r := w.get(anonymous, p)
		if r.status != http.StatusSeeOther || r.location != "/console/login?next="+url.QueryEscape(p) {
			t.Errorf("anonymous GET %s: %d %q", p, r.status, r.location)
		}
	}
	if r := w.send(anonymous, http.MethodPost, "/console/staff", url.Values{"email": {"x@example.com"}}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/login") {
		t.Errorf("anonymous POST: %d %q", r.status, r.location)
	}
	// Writes the role's policy refuses.
	moderator, packer, nwOwner := w.signIn("moderator@lumen-goods.test"), w.signIn("packer@northwind.test"), w.signIn("owner@northwind.test")
	paper := w.merchant["paper-lantern"].String()
	for _, tc := range []struct {
		who  *who
		path string
		form url.Values
	}{
		{moderator, "/console/staff", url.Values{"email": {"new@example.com"}, "role": {"tenant_staff"}}},
		{moderator, "/console/api-keys", url.Values{"name": {"k"}, "scopes": {"products:read"}}},
		{moderator, "/console/merchants/" + paper + "/approve", nil},
		{moderator, "/console/merchants/invite", url.Values{"email": {"a@b.test"}, "merchant_name": {"A"}}},
		{moderator, "/console/settings", url.Values{"default_locale": {"en"}}},
		{packer, "/console/staff", url.Values{"email": {"new@example.com"}, "role": {"merchant_staff"}}},
		{packer, "/console/api-keys", url.Values{"name": {"k"}, "scopes": {"products:read"}}},
		{nwOwner, "/console/merchants/" + paper + "/approve", nil},
		{nwOwner, "/console/merchants/invite", url.Values{"email": {"a@b.test"}, "merchant_name": {"A"}}},
		{admin, "/console/api-keys", url.Values{"name": {"k"}, "scopes": {"products:read"}}},
		{admin, "/console/settings", url.Values{"default_locale": {"en"}}},
		{admin, "/console/staff/" + w.member["lumen/moderator@lumen-goods.test"].String() + "/remove", nil},
	} {
		if r := w.post(tc.who, tc.path, tc.form); r.status != http.StatusForbidden {
			t.Errorf("%s POST %s: %d, want 403", tc.who.name, tc.path, r.status)
		}
	}
	if m, _ := w.merchants.Get(context.Background(), w.tenant["lumen"], w.merchant["paper-lantern"]); m.Status != "pending" {
		t.Errorf("a refused approval changed the merchant: %s", m.Status)
	}
}

// navOf lists the labels of the main navigation.
func navOf(html string) string {
	start := strings.Index(html, `<nav class="site-nav"`)
	if start < 0 {
		return ""
	}
	end := strings.Index(html[start:], "</nav>")
	return text(html[start : start+end])
}

// Another tenant's ids, and in a merchant scope another merchant's, answer 404 and change
// nothing.
func TestOtherTenantsIDsAreNotFound(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	panda := w.tenant["panda"]
	_, pandaKey, err := w.ids.CreateAPIKey(ctx, panda, uuid.Nil, "panda key", []string{"products:read"}, "system:test")
	if err != nil {
		t.Fatal(err)
	}
	_, lumenKey, err := w.ids.CreateAPIKey(ctx, w.tenant["lumen"], uuid.Nil, "lumen key", []string{"products:read"}, "system:test")
	if err != nil {
		t.Fatal(err)
	}
	owner, nwOwner := w.signIn("owner@lumen-goods.test"), w.signIn("owner@northwind.test")
	silk, xiangyun := w.merchant["silk-road"].String(), w.member["panda/owner@xiangyun.test"].String()
	for _, tc := range []struct {
		who          *who
		method, path string
	}{
		{owner, "GET", "/console/merchants/" + silk},
		{owner, "POST", "/console/merchants/" + silk + "/approve"},
		{owner, "POST", "/console/staff/" + xiangyun + "/role"},
		{owner, "POST", "/console/staff/" + xiangyun + "/remove"},
		{owner, "POST", "/console/staff/" + xiangyun + "/resend"},
		{owner, "POST", "/console/api-keys/" + pandaKey.ID.String() + "/revoke"},
		{owner, "GET", "/console/merchants/not-a-uuid"},
		{owner, "GET", "/console/no-such-page"},
		{nwOwner, "GET", "/console/merchants/" + w.merchant["oak-and-ash"].String()},
		{nwOwner, "POST", "/console/staff/" + w.member["lumen/moderator@lumen-goods.test"].String() + "/remove"},
		{nwOwner, "POST", "/console/api-keys/" + lumenKey.ID.String() + "/revoke"},
	} {
		var r response
		if tc.method == "GET" {
			r = w.get(tc.who, tc.path)
		} else {
			r = w.post(tc.who, tc.path, url.Values{"role": {"merchant_staff"}})
		}
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s %s: %d, want 404", tc.who.name, tc.method, tc.path, r.status)
		}
		if !strings.Contains(r.body, "Page not found") {
			t.Errorf("%s %s %s: not the HTML error page: %s", tc.who.name, tc.method, tc.path, excerpt(r.body))
		}
	}
	if m, _ := w.merchants.Get(ctx, panda, w.merchant["silk-road"]); m.Status != "pending" {
		t.Errorf("silk road is %s", m.Status)
	}
	for _, tc := range []struct {
		tenant uuid.UUID
		key    uuid.UUID
	}{{panda, pandaKey.ID}, {w.tenant["lumen"], lumenKey.ID}} {
		keys, _ := w.ids.ListAPIKeys(ctx, tc.tenant, uuid.Nil)
		for _, k := range keys {
			if k.ID == tc.key && k.RevokedAt != nil {
				t.Errorf("key %s was revoked by someone else", k.Name)
			}
		}
	}
}

// Every POST needs the session's CSRF token; a missing or foreign one gets the "form expired"
// page and changes nothing.
func TestCSRFOnEveryForm(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	other := w.signIn("moderator@lumen-goods.test")
	paper := w.merchant["paper-lantern"].String()
	forms := []string{
		"/console/logout", "/console/logout-everywhere", "/console/locale", "/console/switch",
		"/console/merchants/invite", "/console/merchants/" + paper + "/approve",
		"/console/staff", "/console/staff/" + w.member["lumen/moderator@lumen-goods.test"].String() + "/role",
		"/console/staff/" + w.member["lumen/moderator@lumen-goods.test"].String() + "/remove",
		"/console/staff/" + w.member["lumen/moderator@lumen-goods.test"].String() + "/resend",
		"/console/api-keys", "/console/api-keys/" + uuid.NewString() + "/revoke", "/console/settings",
		"/console/set-password", "/console/login", "/console/login/totp",
	}
	for _, p := range forms {
		for name, token := range map[string]string{"missing": "", "another session's": other.csrf} {
			r := w.post(owner, p, url.Values{"_csrf": {token}, "lang": {"zh-CN"}, "email": {"x@example.com"}, "role": {"tenant_staff"}})
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
				t.Errorf("POST %s with a %s token: %d %s", p, name, r.status, excerpt(r.body))
			}
		}
	}
	// Cross-site posts are refused even without a session (login CSRF).
	req := url.Values{"email": {"owner@lumen-goods.test"}, "password": {"x"}}
	r := w.sendWith(anonymous, "/console/login", req, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d", r.status)
	}
	if m, _ := w.merchants.Get(context.Background(), w.tenant["lumen"], w.merchant["paper-lantern"]); m.Status != "pending" {
		t.Errorf("a forged approval went through: %s", m.Status)
	}
	if r := w.get(owner, "/console"); r.status != http.StatusOK {
		t.Errorf("the session did not survive forged logouts: %d", r.status)
	}
}

// sendWith is send with extra headers.
func (w *world) sendWith(u *who, path string, form url.Values, headers map[string]string) response {
	w.t.Helper()
	req := newFormRequest(path, form)
	req.Host = w.baseHost
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := w.app.Test(req, 30_000)
	if err != nil {
		w.t.Fatal(err)
	}
	return response{status: resp.StatusCode, location: resp.Header.Get("Location")}
}

func newFormRequest(path string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// A suspended marketplace can be looked at, not changed.
func TestSuspendedTenantRefusesChanges(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	ctx := scope.WithActor(context.Background(), "system:test")
	if _, err := w.dir.Suspend(ctx, w.tenant["lumen"]); err != nil {
		t.Fatal(err)
	}
	if r := w.get(owner, "/console/merchants"); r.status != http.StatusOK {
		t.Errorf("GET while suspended: %d", r.status)
	}
	r := w.post(owner, "/console/merchants/"+w.merchant["paper-lantern"].String()+"/approve", nil)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "Marketplace suspended") {
		t.Errorf("POST while suspended: %d %s", r.status, excerpt(r.body))
	}
}

// The principal kinds the console accepts: a staff cookie only. An API key or shopper is no
// staff session, so it is sent to sign in.
func TestOnlyStaffSessions(t *testing.T) {
	w := newWorld(t, false)
	key, _, err := w.ids.CreateAPIKey(context.Background(), w.tenant["lumen"], uuid.Nil, "k", []string{"staff:write"}, "system:test")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "/console/staff", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := w.app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
		t.Errorf("API key on a console page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
