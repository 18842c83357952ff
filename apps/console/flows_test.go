package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/scope"
	"mercato/tenants"
	"mercato/tenants/merchants"
	"mercato/tenants/staff"
)

// Signing in: a wrong password is shown in the form, a right one sets the session and returns
// to the page asked for (never to another site); a second factor is asked when set; operators
// are sent to /admin; signing out ends the session, signing out everywhere ends them all.
func TestSignInAndOut(t *testing.T) {
	w := newWorld(t, false)
	browser := &who{name: "browser", cookies: map[string]string{}}
	if r := w.get(browser, "/console/login?next=/console/staff"); r.status != http.StatusOK || !strings.Contains(r.body, `name="next" value="/console/staff"`) {
		t.Fatalf("login page: %d %s", r.status, excerpt(r.body))
	}
	r := w.post(browser, "/console/login", url.Values{"email": {"owner@lumen-goods.test"}, "password": {"wrong password"}, "next": {"/console/staff"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "The email or password is not right.") ||
		!strings.Contains(r.body, `value="owner@lumen-goods.test"`) || strings.Contains(r.body, "wrong password") {
		t.Errorf("wrong password: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(browser, "/console/login", url.Values{"email": {"owner@lumen-goods.test"}, "password": {demo.Password}, "next": {"/console/staff"}})
	if r.status != http.StatusSeeOther || r.location != "/console/staff" || browser.cookies["mercato_staff"] == "" {
		t.Fatalf("sign in: %d %q %v", r.status, r.location, browser.cookies)
	}
	if r := w.get(browser, "/console/login"); r.status != http.StatusSeeOther || r.location != "/console" {
		t.Errorf("login page while signed in: %d %q", r.status, r.location)
	}
	for next, want := range map[string]string{"//evil.example/x": "/console", "https://evil.example": "/console", "/console/audit?x=1": "/console/audit?x=1"} {
		b := &who{name: "b", cookies: map[string]string{}}
		r := w.post(b, "/console/login", url.Values{"email": {"moderator@lumen-goods.test"}, "password": {demo.Password}, "next": {next}})
		if r.location != want {
			t.Errorf("next=%q led to %q, want %q", next, r.location, want)
		}
	}

	// Operators use /admin, and get no console session.
	op := &who{name: "op", cookies: map[string]string{}}
	r = w.post(op, "/console/login", url.Values{"email": {"operator@mercato.test"}, "password": {demo.Password}})
	if r.status != http.StatusSeeOther || r.location != "/admin" || op.cookies["mercato_staff"] != "" {
		t.Errorf("operator at the console: %d %q %v", r.status, r.location, op.cookies)
	}

	// A second factor, when the person has one.
	ctx := context.Background()
	enr, err := w.ids.BeginTOTPEnrollment(ctx, w.users["packer@northwind.test"])
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ids.ConfirmTOTPEnrollment(ctx, w.users["packer@northwind.test"], totp(enr.Secret, time.Now().Add(-30*time.Second))); err != nil {
		t.Fatal(err)
	}
	p := &who{name: "packer", cookies: map[string]string{}}
	r = w.post(p, "/console/login", url.Values{"email": {"packer@northwind.test"}, "password": {demo.Password}})
	challenge := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(r.body)
	if r.status != http.StatusOK || challenge == nil || p.cookies["mercato_staff"] != "" {
		t.Fatalf("password of a person with a second factor: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(p, "/console/login/totp", url.Values{"challenge": {challenge[1]}, "code": {"000000"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "That code is not right") {
		t.Errorf("wrong code: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(p, "/console/login/totp", url.Values{"challenge": {challenge[1]}, "code": {totp(enr.Secret, time.Now())}})
	if r.status != http.StatusSeeOther || r.location != "/console" || p.cookies["mercato_staff"] == "" {
		t.Errorf("right code: %d %q", r.status, r.location)
	}
	r = w.post(&who{name: "x", cookies: map[string]string{}}, "/console/login/totp", url.Values{"challenge": {"forged"}, "code": {"123456"}})
	if r.status != http.StatusSeeOther || r.location != "/console/login" {
		t.Errorf("forged challenge: %d %q", r.status, r.location)
	}

	// Sign out: this session ends, another one of the same person does not.
	other := w.signIn("owner@lumen-goods.test")
	browser.csrf = csrfOf(w.get(browser, "/console").body)
	r = w.post(browser, "/console/logout", nil)
	if r.status != http.StatusSeeOther || r.location != "/console/login" || flashOf(w.follow(browser, r).body) != "You are signed out." {
		t.Errorf("sign out: %d %q", r.status, r.location)
	}
	if r := w.get(browser, "/console"); r.status != http.StatusSeeOther {
		t.Errorf("after signing out: %d", r.status)
	}
	third := w.signIn("owner@lumen-goods.test")
	r = w.post(other, "/console/logout-everywhere", nil)
	if got := flashOf(w.follow(other, r).body); !strings.Contains(got, "signed out on every device (2 sessions ended)") {
		t.Errorf("sign out everywhere: %q", got)
	}
	if r := w.get(third, "/console"); r.status != http.StatusSeeOther {
		t.Errorf("another session after signing out everywhere: %d", r.status)
	}
}

// The merchant table filters, sorts and pages; decisions ask first (data-confirm), say what
// happened, refuse what the status does not allow; invitations show their link and are mailed.
func TestMerchants(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	lumen := w.tenant["lumen"]

	r := w.get(owner, "/console/merchants?status=pending")
	if got := rowsOf(r.body, "merchants"); strings.Join(got, ",") != "Paper Lantern Co." {
		t.Errorf("pending merchants: %v", got)
	}
	if !strings.Contains(r.body, `data-confirm="Approve Paper Lantern Co.? Their store opens at once."`) {
		t.Error("approve does not ask first")
	}
	r = w.get(owner, "/console/merchants?sort=name&dir=asc")
	if got := strings.Join(rowsOf(r.body, "merchants"), ","); got != "Glowworks,Northwind Lighting,Oak & Ash Furniture,Paper Lantern Co." {
		t.Errorf("by name: %s", got)
	}
	r = w.get(owner, "/console/merchants?q=lantern")
	if got := strings.Join(rowsOf(r.body, "merchants"), ","); got != "Paper Lantern Co." {
		t.Errorf("search: %s", got)
	}
	r = w.get(owner, "/console/merchants?status=rejected")
	if !strings.Contains(text(r.body), "No merchants match") {
		t.Errorf("empty filter result: %s", excerpt(r.body))
	}

	// Paging: 22 more applications, 20 a page, in name order across pages.
	ctx := scope.WithActor(context.Background(), "system:test")
	for i := range 22 {
		if _, err := w.merchants.Apply(ctx, lumen, merchants.Application{StoreName: fmt.Sprintf("Applicant %02d", i),
			Handle: fmt.Sprintf("applicant-%02d", i), ContactEmail: "a@b.test"}); err != nil {
			t.Fatal(err)
		}
	}
	r = w.get(owner, "/console/merchants?sort=name&dir=asc")
	first := rowsOf(r.body, "merchants")
	next := regexp.MustCompile(`<a class="btn" rel="next" href="([^"]+)"`).FindStringSubmatch(r.body)
	if len(first) != 20 || next == nil || first[0] != "Applicant 00" {
		t.Fatalf("first page: %d rows %v, next %v", len(first), first, next)
	}
	r = w.get(owner, "/console/merchants"+strings.ReplaceAll(next[1], "&amp;", "&"))
	second := rowsOf(r.body, "merchants")
	if got := strings.Join(second, ","); got != "Applicant 20,Applicant 21,Glowworks,Northwind Lighting,Oak & Ash Furniture,Paper Lantern Co." {
		t.Errorf("second page: %s", got)
	}

	// Approve from the table, with its flash; a second approval is refused politely.
	paper := w.merchant["paper-lantern"].String()
	r = w.post(owner, "/console/merchants/"+paper+"/approve", url.Values{"next": {"/console/merchants?status=pending"}})
	if r.status != http.StatusSeeOther || r.location != "/console/merchants?status=pending" {
		t.Fatalf("approve: %d %q", r.status, r.location)
	}
	if got := flashOf(w.follow(owner, r).body); got != "Paper Lantern Co. is approved." {
		t.Errorf("approve flash %q", got)
	}
	r = w.post(owner, "/console/merchants/"+paper+"/approve", url.Values{"next": {"https://evil.example/"}})
	if r.status != http.StatusSeeOther || r.location != "/console/merchants" {
		t.Errorf("approving twice: %d %q", r.status, r.location)
	}
	if got := flashOf(w.follow(owner, r).body); got != "That is not possible in the merchant's current status." {
		t.Errorf("second approval flash %q", got)
	}
	// Suspend with a note from the merchant's page; the merchant sees it.
	r = w.post(owner, "/console/merchants/"+paper+"/suspend", url.Values{"note": {"Photos missing"}, "next": {"/console/merchants/" + paper}})
	page := w.follow(owner, r)
	if !strings.Contains(text(page.body), "Photos missing") || flashOf(page.body) != "Paper Lantern Co. is suspended." {
		t.Errorf("merchant page after suspending: %s", excerpt(page.body))
	}
	if r := w.post(owner, "/console/merchants/"+paper+"/explode", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown action: %d", r.status)
	}

	// Invite: the flash shows the link on the tenant's host; the invitee gets it by mail.
	r = w.post(owner, "/console/merchants/invite", url.Values{"email": {"Maker@Example.com"}, "merchant_name": {"Maker Studio"}})
	flash := flashOf(w.follow(owner, r).body)
	link := regexp.MustCompile(`http://lumen\.localhost:8080/merchant-invitations/[A-Za-z0-9_-]{43}`).FindString(flash)
	if link == "" || !strings.HasPrefix(flash, "Invitation sent to maker@example.com.") {
		t.Fatalf("invite flash %q", flash)
	}
	if m := w.lastMail("maker@example.com"); !strings.Contains(m.Text, link) || m.TenantID != lumen {
		t.Errorf("invitation mail %+v", m)
	}
	token := link[strings.LastIndex(link, "/")+1:]
	if _, err := w.merchants.AcceptInvitation(context.Background(), lumen, token, "maker-studio", nil); err != nil {
		t.Errorf("the shown link does not work: %v", err)
	}
	r = w.post(owner, "/console/merchants/invite", url.Values{"email": {"nope"}, "merchant_name": {""}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="f-email-error"`) || !strings.Contains(r.body, `id="f-merchant-name-error"`) {
		t.Errorf("invalid invitation: %d %s", r.status, excerpt(r.body))
	}

	// Merchant staff see their own store only, without decisions.
	nw := w.signIn("owner@northwind.test")
	r = w.get(nw, "/console/merchants")
	if got := strings.Join(rowsOf(r.body, "merchants"), ","); got != "Northwind Lighting" || strings.Contains(r.body, "/approve") || strings.Contains(r.body, "invite-form") {
		t.Errorf("northwind sees %q", got)
	}
}

var autoApproveChecked = regexp.MustCompile(`<input type="checkbox" value="on" id="f-auto-approve" name="auto_approve"[^>]* checked>`)

// csrfOf is the CSRF token in a page's forms.
func csrfOf(html string) string {
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return m[1]
}

// rowsOf lists the first-cell text of each row of the table with id.
func rowsOf(html, id string) []string {
	start := strings.Index(html, `id="`+id+`"`)
	if start < 0 {
		return nil
	}
	body := html[start:]
	body = body[:strings.Index(body, "</table>")]
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<tr[^>]*>\s*<t[dh][^>]*>(.*?)</t[dh]>`).FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[0], `scope="col"`) {
			continue
		}
		cell := regexp.MustCompile(`(?s)<span class="cell-sub">.*?</span>`).ReplaceAllString(m[1], "")
		out = append(out, text(cell))
	}
	return out
}

// The overview for tenant staff and for a merchant.
func TestOverview(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	r := w.get(owner, "/console")
	body := text(r.body)
	for _, want := range []string{"Lumen Goods · Starter plan", "Merchants 4", "Active 2", "Waiting for a decision 1",
		"1 merchant is waiting for your decision.", "Merchants by status", "Recent activity"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q: %s", want, excerpt(r.body))
		}
	}
	if !strings.Contains(r.body, `href="/console/merchants?status=pending"`) || !strings.Contains(r.body, `href="http://lumen.localhost:8080"`) {
		t.Error("overview lacks the link to pending applications or the storefront")
	}
	// Recent activity shows what just happened, by name.
	w.post(owner, "/console/merchants/"+w.merchant["paper-lantern"].String()+"/reject", url.Values{"note": {"Not a fit for now"}})
	if body := text(w.get(owner, "/console").body); !strings.Contains(body, "Merchant declined merchant.reject Lars Lumen <owner@lumen-goods.test>") {
		t.Errorf("recent activity: %s", body)
	}
	// The moderator may not read the log: no activity card.
	if body := w.get(w.signIn("moderator@lumen-goods.test"), "/console").body; strings.Contains(body, "Recent activity") {
		t.Error("tenant staff see the audit log on the overview")
	}

	// A merchant sees its own status, the note and what to do next.
	ctx := w.asStaff("owner@lumen-goods.test", "")
	if _, err := w.merchants.Decide(ctx, w.tenant["lumen"], w.merchant["northwind-lighting"], "suspend", "Late shipments"); err != nil {
		t.Fatal(err)
	}
	r = w.get(w.signIn("owner@northwind.test"), "/console")
	body = text(r.body)
	for _, want := range []string{"Northwind Lighting in Lumen Goods", "Suspended", "Late shipments", "Your store is suspended"} {
		if !strings.Contains(body, want) {
			t.Errorf("merchant overview lacks %q: %s", want, body)
		}
	}
	if strings.Contains(body, "Oak & Ash") || strings.Contains(body, "Paper Lantern") || strings.Contains(body, "Merchants by status") {
		t.Errorf("merchant overview shows other merchants: %s", body)
	}
}

// Staff: add (with the set-password link that works once and expires), change a role,
// resend, remove, and the last owner kept; merchant owners staff only their store.
func TestStaff(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	r := w.get(owner, "/console/staff")
	if got := strings.Join(rowsOf(r.body, "members"), ","); got != "Lars Lumen You,Maya Moderator,Nils Northwind,Pia Packer" {
		t.Errorf("members: %s", got)
	}
	r = w.post(owner, "/console/staff", url.Values{"email": {"nina@example.com"}, "role": {"merchant_staff"}, "merchant_id": {w.merchant["oak-and-ash"].String()}})
	if got := flashOf(w.follow(owner, r).body); got != "nina@example.com is added. We emailed them a link to choose a password." {
		t.Errorf("add flash %q", got)
	}
	r = w.post(owner, "/console/staff", url.Values{"email": {"bad"}, "role": {"merchant_staff"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "Enter an email address like name@example.com.") ||
		!strings.Contains(text(r.body), "Choose a store for a store role") {
		t.Errorf("invalid member: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(owner, "/console/staff", url.Values{"email": {"moderator@lumen-goods.test"}, "role": {"tenant_staff"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "This person already has a role here.") {
		t.Errorf("adding a member twice: %d %s", r.status, excerpt(r.body))
	}

	// The link from the mail: the page greets them, mismatched passwords are refused, a good
	// one signs them in next, and the link is spent.
	m := setPasswordLink.FindStringSubmatch(w.lastMail("nina@example.com").Text)
	if m == nil {
		t.Fatal("no set-password link in the mail")
	}
	anon := &who{name: "nina", cookies: map[string]string{}}
	r = w.get(anon, "/console/set-password?token="+m[1])
	if r.status != http.StatusOK || !strings.Contains(text(r.body), "For nina@example.com at Lumen Goods.") {
		t.Fatalf("set-password page: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(anon, "/console/set-password", url.Values{"token": {m[1]}, "password": {"correct horse battery"}, "confirm": {"correct horse"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "The two passwords are not the same.") {
		t.Errorf("mismatch: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(anon, "/console/set-password", url.Values{"token": {m[1]}, "password": {"short"}, "confirm": {"short"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "Use 10 to 128 characters.") {
		t.Errorf("short: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(anon, "/console/set-password", url.Values{"token": {m[1]}, "password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	if r.status != http.StatusSeeOther || r.location != "/console/login?email=nina%40example.com" {
		t.Fatalf("set password: %d %q", r.status, r.location)
	}
	if got := flashOf(w.follow(anon, r).body); got != "Your password is set. Sign in to continue." {
		t.Errorf("flash %q", got)
	}
	r = w.post(anon, "/console/login", url.Values{"email": {"nina@example.com"}, "password": {"correct horse battery"}})
	if r.status != http.StatusSeeOther {
		t.Errorf("the new member cannot sign in: %d %s", r.status, excerpt(r.body))
	}
	if r := w.get(anon, "/console/set-password?token="+m[1]); r.status != http.StatusNotFound || !strings.Contains(r.body, "This link does not work") {
		t.Errorf("a used link: %d", r.status)
	}
	// An unused link expires.
	w.post(owner, "/console/staff", url.Values{"email": {"late@example.com"}, "role": {"tenant_staff"}})
	late := setPasswordLink.FindStringSubmatch(w.lastMail("late@example.com").Text)[1]
	w.clock.Add(73 * time.Hour)
	if r := w.get(anon, "/console/set-password?token="+late); r.status != http.StatusNotFound {
		t.Errorf("an expired link: %d", r.status)
	}
	w.reload()
	r = w.post(owner, "/console/staff/"+w.member["lumen/late@example.com"].String()+"/resend", nil)
	if got := flashOf(w.follow(owner, r).body); got != "A new password link is on its way to late@example.com." {
		t.Errorf("resend flash %q", got)
	}
	fresh := setPasswordLink.FindStringSubmatch(w.lastMail("late@example.com").Text)[1]
	if r := w.get(anon, "/console/set-password?token="+fresh); r.status != http.StatusOK {
		t.Errorf("a resent link: %d", r.status)
	}

	// Roles: change, and the last owner is kept.
	mod := w.member["lumen/moderator@lumen-goods.test"].String()
	r = w.post(owner, "/console/staff/"+mod+"/role", url.Values{"role": {"tenant_admin"}})
	if got := flashOf(w.follow(owner, r).body); got != "moderator@lumen-goods.test is now Administrator." {
		t.Errorf("role flash %q", got)
	}
	self := w.member["lumen/owner@lumen-goods.test"].String()
	r = w.post(owner, "/console/staff/"+self+"/remove", nil)
	if r.location != "/console/staff" {
		t.Errorf("a refused removal returns to %q", r.location)
	}
	if got := flashOf(w.follow(owner, r).body); !strings.HasPrefix(got, "The marketplace needs at least one owner.") {
		t.Errorf("removing the last owner: %q", got)
	}
	r = w.post(owner, "/console/staff/"+mod+"/remove", nil)
	if got := flashOf(w.follow(owner, r).body); got != "moderator@lumen-goods.test no longer has access." {
		t.Errorf("remove flash %q", got)
	}
	if r := w.get(w.signIn("moderator@lumen-goods.test"), "/console"); r.status != http.StatusForbidden || !strings.Contains(r.body, "No marketplace yet") {
		t.Errorf("a removed member: %d", r.status)
	}

	// A merchant owner: only their store's people, only store staff, only their store.
	nw := w.signIn("owner@northwind.test")
	r = w.get(nw, "/console/staff")
	if got := strings.Join(rowsOf(r.body, "members"), ","); got != "Nils Northwind You,Pia Packer" {
		t.Errorf("northwind's members: %s", got)
	}
	if strings.Contains(r.body, `value="tenant_staff"`) || strings.Contains(r.body, `name="merchant_id" value="`+w.merchant["northwind-lighting"].String()+`"`) == false {
		t.Error("northwind's add form offers tenant roles or lacks its merchant")
	}
	r = w.post(nw, "/console/staff", url.Values{"email": {"helper@northwind.test"}, "role": {"merchant_staff"}, "merchant_id": {w.merchant["oak-and-ash"].String()}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("northwind adds a helper: %d %s", r.status, excerpt(r.body))
	}
	list, _ := w.staff.List(w.asStaff("owner@lumen-goods.test", ""), w.tenant["lumen"])
	for _, m := range list {
		if m.Email == "helper@northwind.test" && (m.MerchantName != "Northwind Lighting" || m.Role != staff.RoleMerchantStaff) {
			t.Errorf("the helper landed in %q as %s", m.MerchantName, m.Role)
		}
	}
	if r := w.post(nw, "/console/staff", url.Values{"email": {"boss@northwind.test"}, "role": {"tenant_owner"}}); r.status != http.StatusForbidden {
		t.Errorf("a merchant owner grants tenant_owner: %d", r.status)
	}
}

// API keys: the secret is shown once, on a page no cache keeps, and works until revoked;
// merchant owners see and make only their store's keys.
func TestAPIKeys(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	r := w.get(owner, "/console/api-keys")
	if !strings.Contains(text(r.body), "No API keys yet") {
		t.Errorf("empty state: %s", excerpt(r.body))
	}
	r = w.post(owner, "/console/api-keys", url.Values{"name": {"Warehouse sync"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "Tick at least one kind of access.") {
		t.Errorf("no scopes: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(owner, "/console/api-keys", url.Values{"name": {"Warehouse sync"}, "scopes": {"products:read", "orders:write"}})
	secret := regexp.MustCompile(`id="api-key-secret" type="text" readonly value="(mk_[a-z0-9_]+)"`).FindStringSubmatch(r.body)
	if r.status != http.StatusOK || secret == nil || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q %s", r.status, r.header.Get("Cache-Control"), excerpt(r.body))
	}
	p, err := w.ids.AuthenticateAPIKey(context.Background(), secret[1])
	if err != nil || p.TenantID != w.tenant["lumen"] || p.MerchantID != uuid.Nil || !p.HasScope("orders:read") {
		t.Fatalf("the shown key: %+v %v", p, err)
	}
	r = w.get(owner, "/console/api-keys")
	if strings.Contains(r.body, secret[1]) || !strings.Contains(text(r.body), "Warehouse sync") {
		t.Error("the list shows the secret, or not the key")
	}

	// Northwind's owner: its own key, and only its own keys.
	nw := w.signIn("owner@northwind.test")
	r = w.post(nw, "/console/api-keys", url.Values{"name": {"Northwind ERP"}, "scopes": {"products:write"}})
	nwSecret := regexp.MustCompile(`value="(mk_[a-z0-9_]+)"`).FindStringSubmatch(r.body)
	if nwSecret == nil {
		t.Fatalf("northwind's key: %s", excerpt(r.body))
	}
	if p, err := w.ids.AuthenticateAPIKey(context.Background(), nwSecret[1]); err != nil || p.MerchantID != w.merchant["northwind-lighting"] {
		t.Errorf("northwind's key is not a merchant key: %+v %v", p, err)
	}
	if got := strings.Join(rowsOf(w.get(nw, "/console/api-keys").body, "keys"), ","); got != "Northwind ERP" {
		t.Errorf("northwind sees keys %q", got)
	}
	if body := text(w.get(owner, "/console/api-keys").body); !strings.Contains(body, "Store: Northwind Lighting") {
		t.Errorf("the owner does not see which store a key is for: %s", body)
	}

	// Revoke: asks first, then the key stops working.
	keys, _ := w.ids.ListAPIKeys(context.Background(), w.tenant["lumen"], uuid.Nil)
	var id string
	for _, k := range keys {
		if k.Name == "Warehouse sync" {
			id = k.ID.String()
		}
	}
	if !strings.Contains(w.get(owner, "/console/api-keys").body, `data-confirm="Revoke Warehouse sync? Anything using it stops working at once."`) {
		t.Error("revoke does not ask first")
	}
	r = w.post(owner, "/console/api-keys/"+id+"/revoke", nil)
	if got := flashOf(w.follow(owner, r).body); got != "Warehouse sync is revoked." {
		t.Errorf("revoke flash %q", got)
	}
	if _, err := w.ids.AuthenticateAPIKey(context.Background(), secret[1]); err == nil {
		t.Error("a revoked key still works")
	}
	// Both changes are in the audit log, without the secret.
	var entries []audit.Logged
	err = w.f.App.WithTenant(context.Background(), w.tenant["lumen"], func(tx bun.IDB) error {
		page, err := audit.List(context.Background(), tx, audit.Filter{ResourceType: "api_key"})
		entries = page.Items
		return err
	})
	if err != nil || len(entries) != 3 {
		t.Fatalf("key audit entries: %d %v", len(entries), err)
	}
	for _, e := range entries {
		if strings.Contains(string(e.After)+string(e.Before), secret[1][len(secret[1])-20:]) {
			t.Error("the audit log holds a secret")
		}
	}
}

// The audit log: who by name, filters, before → after, and verification.
func TestAuditLog(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	w.post(owner, "/console/merchants/"+w.merchant["paper-lantern"].String()+"/approve", nil)
	w.post(owner, "/console/staff", url.Values{"email": {"audit@example.com"}, "role": {"tenant_staff"}})

	r := w.get(owner, "/console/audit")
	body := text(r.body)
	for _, want := range []string{"Merchant approved", "Lars Lumen <owner@lumen-goods.test>", "status : pending → active", "Member added"} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q: %s", want, body)
		}
	}
	r = w.get(owner, "/console/audit?action=merchant.approve")
	if rows := rowsOf(r.body, "entries"); len(rows) != 1 || !strings.HasPrefix(rows[0], "Merchant approved") {
		t.Errorf("filtered by action: %v", rows)
	}
	r = w.get(owner, "/console/audit?actor=owner@lumen-goods.test")
	if n := len(rowsOf(r.body, "entries")); n != 2 {
		t.Errorf("filtered by the owner's e-mail: %d entries", n)
	}
	r = w.get(owner, "/console/audit?actor=nobody@example.com")
	if !strings.Contains(text(r.body), "No entries") {
		t.Errorf("unknown person: %s", excerpt(r.body))
	}
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if n := len(rowsOf(w.get(owner, "/console/audit?from="+today+"&to="+today).body, "entries")); n < 2 {
		t.Errorf("today's entries: %d", n)
	}
	if n := len(rowsOf(w.get(owner, "/console/audit?from="+tomorrow).body, "entries")); n != 0 {
		t.Errorf("tomorrow's entries: %d", n)
	}
	if r := w.get(owner, "/console/audit?from=yesterday"); !strings.Contains(text(r.body), "Enter a date like 2026-11-22.") {
		t.Error("a bad date is not pointed out")
	}
	r = w.get(owner, "/console/audit/verify")
	if !strings.Contains(text(r.body), "The log is intact: 2 entries checked.") {
		t.Errorf("verify: %s", excerpt(r.body))
	}
	// Tampering shows: the platform (superuser-like) rewrites an entry.
	if err := w.f.Platform.Do(context.Background(), "test.tamper", func(tx bun.IDB) error {
		_, err := tx.ExecContext(context.Background(), "UPDATE audit_entries SET actor = 'user:someone-else' WHERE tenant_id = ? AND seq = 1", w.tenant["lumen"])
		return err
	}); err == nil {
		if r := w.get(owner, "/console/audit/verify"); !strings.Contains(text(r.body), "The log does not verify") {
			t.Errorf("a changed entry verifies: %s", excerpt(r.body))
		}
	}
	// Lumen's log holds none of Panda's entries.
	w.post(w.signIn("owner@panda-market.test"), "/console/merchants/"+w.merchant["silk-road"].String()+"/approve", nil)
	if strings.Contains(w.get(owner, "/console/audit").body, w.merchant["silk-road"].String()) {
		t.Error("Lumen's audit log shows Panda's entry")
	}
}

// Settings: owners change colours, language and auto-approval; bad colours are pointed out;
// the change is audited and applies to the console's theme.
func TestSettings(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	r := w.get(owner, "/console/settings")
	if !strings.Contains(r.body, `value="#1f6feb"`) || autoApproveChecked.MatchString(r.body) {
		t.Errorf("settings page: %s", excerpt(r.body))
	}
	r = w.post(owner, "/console/settings", url.Values{"primary": {"blue"}, "accent": {"#F59E0B"}, "default_locale": {"fr"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "Enter a colour like #1f6feb.") || !strings.Contains(text(r.body), "Choose a language.") {
		t.Errorf("bad settings: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(owner, "/console/settings", url.Values{"primary": {"#0F766E"}, "accent": {""}, "default_locale": {"zh-CN"}, "auto_approve": {"on"}})
	// The tenant's default language applies at once to people without a choice of their own.
	page := w.follow(owner, r)
	if got := flashOf(page.body); got != "设置已保存。" || !autoApproveChecked.MatchString(page.body) {
		t.Errorf("save flash %q", got)
	}
	owner.cookies["lang"] = "en"
	st, err := tenants.NewService(w.f.App, "localhost").Settings(context.Background(), w.tenant["lumen"])
	if err != nil || st != (tenants.Settings{AutoApproveMerchants: true, DefaultLocale: "zh-CN", Primary: "#0f766e"}) {
		t.Errorf("stored settings %+v %v", st, err)
	}
	if css := w.get(owner, "/console/theme.css").body; !strings.Contains(css, "--primary:#0f766e") || strings.Contains(css, "--accent") {
		t.Errorf("theme css %q", css)
	}
	// Auto-approval now applies to applications.
	m, err := w.merchants.Apply(context.Background(), w.tenant["lumen"], merchants.Application{StoreName: "Quick", Handle: "quick", ContactEmail: "q@q.test"})
	if err != nil || m.Status != merchants.StatusActive {
		t.Errorf("auto-approve: %+v %v", m, err)
	}
	if body := text(w.get(owner, "/console/audit?action=tenant.update_settings").body); !strings.Contains(body, "Settings changed") || !strings.Contains(body, "auto_approve_merchants : false → true") {
		t.Errorf("settings change not audited: %s", body)
	}
}

// Several memberships: the person chooses, the choice sticks, and a forged choice is ignored.
func TestSwitchTenants(t *testing.T) {
	w := newWorld(t, false)
	if _, err := w.staff.Add(w.asStaff("owner@panda-market.test", ""), w.tenant["panda"], "owner@lumen-goods.test", staff.RoleTenantStaff, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	u := w.signIn("owner@lumen-goods.test")
	r := w.get(u, "/console/staff")
	if r.status != http.StatusSeeOther || r.location != "/console/switch?next=%2Fconsole%2Fstaff" {
		t.Fatalf("two tenants: %d %q", r.status, r.location)
	}
	r = w.follow(u, r)
	if got := strings.Join(rowsOf(r.body, "places"), ","); got != "Lumen Goods,熊猫市集 Panda Market" {
		t.Errorf("places %q", got)
	}
	r = w.post(u, "/console/switch", url.Values{"tenant": {w.tenant["panda"].String()}, "merchant": {uuid.Nil.String()}, "next": {"/console/staff"}})
	if r.status != http.StatusSeeOther || r.location != "/console/staff" {
		t.Fatalf("switch: %d %q", r.status, r.location)
	}
	if r := w.get(u, "/console/staff"); r.status != http.StatusForbidden { // tenant_staff in Panda
		t.Errorf("staff page as Panda's tenant staff: %d", r.status)
	}
	if body := w.get(u, "/console").body; !strings.Contains(body, "熊猫市集 Panda Market") {
		t.Error("the overview is not Panda's")
	}
	// A cookie naming a tenant the person is not in, or signed for someone else, is ignored.
	u.cookies["mercato_console_tenant"] = w.tenant["nordic"].String() + "." + uuid.Nil.String() + ".AAAAAAAAAAAAAAAAAAAAAA"
	if r := w.get(u, "/console"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/switch") {
		t.Errorf("forged tenant cookie: %d %q", r.status, r.location)
	}
	if r := w.post(u, "/console/switch", url.Values{"tenant": {w.tenant["nordic"].String()}, "merchant": {uuid.Nil.String()}}); r.status != http.StatusNotFound {
		t.Errorf("switching to a tenant one is not in: %d", r.status)
	}
}

// The language switcher keeps the page and changes every string.
func TestLocale(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	r := w.post(owner, "/console/locale", url.Values{"lang": {"zh-CN"}, "next": {"/console/merchants"}})
	if r.status != http.StatusSeeOther || r.location != "/console/merchants" {
		t.Fatalf("switch language: %d %q", r.status, r.location)
	}
	for _, p := range []string{"/console", "/console/merchants", "/console/staff", "/console/api-keys", "/console/audit", "/console/settings", "/console/account"} {
		r := w.get(owner, p)
		if !strings.Contains(r.body, `<html lang="zh-CN">`) {
			t.Errorf("%s is not in Chinese", p)
		}
		if leaked := leakedKeys(r.body); len(leaked) > 0 {
			t.Errorf("%s: untranslated keys %v", p, leaked)
		}
	}
	if body := text(w.get(owner, "/console").body); !strings.Contains(body, "概览") || !strings.Contains(body, "各状态商家数量") {
		t.Errorf("overview in Chinese: %s", body)
	}
}

// A full plan: the owner adding a third member of the marketplace's team takes Lumen's last
// starter seat; the next is refused on the staff page with the reason and added nowhere.
func TestStaffSeatsFull(t *testing.T) {
	w := newWorld(t, false)
	owner := w.signIn("owner@lumen-goods.test")
	r := w.post(owner, "/console/staff", url.Values{"email": {"third@lumen-goods.test"}, "role": {"tenant_staff"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("third seat: %d %s", r.status, excerpt(r.body))
	}
	r = w.post(owner, "/console/staff", url.Values{"email": {"fourth@lumen-goods.test"}, "role": {"tenant_staff"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Your plan has no staff seat left.") ||
		strings.Contains(r.body, "another active merchant") {
		t.Fatalf("fourth seat: %d %s", r.status, excerpt(r.body))
	}
	if page := w.get(owner, "/console/staff"); strings.Contains(page.body, "fourth@lumen-goods.test") || !strings.Contains(page.body, "third@lumen-goods.test") {
		t.Error("the staff list does not show the third member only")
	}
}
