package storefront_test

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
	"mercato/tenants/merchants"
)

// TestHostResolution: stores answer on {slug}.{base host} and on their custom domains, in
// any case and with any port; the platform's own host falls through to the platform's
// handlers; an unknown host is a 404 page, never a stack trace or JSON.
func TestHostResolution(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		host, path string
		status     int
		wants      []string
	}{
		{"lumen.localhost", "/", 200, []string{`<html lang="en">`, "Welcome to Lumen Goods", "Northwind Lighting"}},
		{"LUMEN.Localhost:8080", "/", 200, []string{"Welcome to Lumen Goods"}},
		{"lumen-goods.test", "/", 200, []string{"Welcome to Lumen Goods"}},
		{"Lumen-Goods.TEST:443", "/", 200, []string{"Welcome to Lumen Goods"}},
		{"panda.localhost", "/", 200, []string{`<html lang="zh-CN">`, "欢迎光临熊猫市集 Panda Market", "祥云茶庄 Xiangyun Tea"}},
		{"panda-market.test:8080", "/account/sign-in", 200, []string{"熊猫市集 Panda Market", `name="password"`}},
		{"ghost.localhost", "/", 404, []string{"No store here", "There is no store at ghost.localhost."}},
		{"shop.example.org", "/account", 404, []string{"No store here"}},
		// The platform's host: the storefront steps aside.
		{"localhost", "/", 302, nil},
		{"localhost:8080", "/", 302, nil},
		{"127.0.0.1:8080", "/", 302, nil},
		{"[::1]:8080", "/", 302, nil},
		{"localhost", "/account/sign-in", 404, []string{`"status":404`}},
		// Hosts of the same length one after another: a host kept after its request must be a
		// copy, or the next request's bytes rewrite it (and the host cache with it).
		{"ghost.localhost", "/", 404, []string{"No store here"}},
		{"panda.localhost", "/", 200, []string{"熊猫市集 Panda Market"}},
		{"ghost.localhost", "/", 404, []string{"No store here"}},
		{"lumen.localhost", "/", 200, []string{"Welcome to Lumen Goods"}},
		{"ghost.localhost", "/", 404, []string{"No store here"}},
		// Paths the storefront does not own are left to their handlers on a store's host too.
		{"lumen.localhost", "/v1/ping", 200, []string{"pong"}},
		{"lumen.localhost", "/assets/app.css", 200, []string{"--primary"}},
		// ... and a path nobody answers gets the store's 404 page in a browser.
		{"lumen.localhost", "/no-such-page", 404, []string{"Page not found", "Lumen Goods"}},
		{"lumen.localhost", "/account/no-such-page", 404, []string{"Page not found", "Lumen Goods"}},
	} {
		r := w.client(tc.host).get(tc.path)
		if r.status != tc.status {
			t.Errorf("%s%s: %d, want %d\n%.300s", tc.host, tc.path, r.status, tc.status, r.body)
			continue
		}
		mustContain(t, tc.host+tc.path, r.body, tc.wants...)
		if tc.status == 404 && !strings.Contains(tc.wants[0], "status") && !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s%s: 404 as %s, want an HTML page", tc.host, tc.path, r.header.Get("Content-Type"))
		}
		if tc.status == 302 && r.location() != "/docs" {
			t.Errorf("%s%s: redirected to %q, want the platform's /docs", tc.host, tc.path, r.location())
		}
	}
}

// TestNoStoreInChinese: the "no store" page has a working locale switch too.
func TestNoStoreInChinese(t *testing.T) {
	w := newWorld(t)
	cl := w.client("ghost.localhost")
	cl.get("/")
	if r := cl.post("/locale", url.Values{"lang": {"zh-CN"}, "next": {"/"}}); r.status != 303 {
		t.Fatalf("locale switch on an unknown host: %d", r.status)
	}
	r := cl.get("/")
	if r.status != 404 {
		t.Fatalf("unknown host: %d", r.status)
	}
	mustContain(t, "no store, zh-CN", r.body, `<html lang="zh-CN">`, "这里没有商店", "ghost.localhost 上没有商店")
}

// TestPlatformHosts: with a public base host, that host, localhost and IP addresses are the
// platform's, and stores answer at {slug}.{base host}.
func TestPlatformHosts(t *testing.T) {
	w := newWorldAt(t, "mercato.example")
	for host, status := range map[string]int{
		"mercato.example": 302, "MERCATO.example:443": 302, "localhost:8080": 302, "127.0.0.1": 302, "[::1]:80": 302,
		"10.1.2.3:8080": 302, "lumen.mercato.example": 200, "lumen-goods.test": 200, "lumen.localhost": 404,
	} {
		if r := w.client(host).get("/"); r.status != status {
			t.Errorf("%s: %d, want %d", host, r.status, status)
		}
	}
}

// TestSuspendedStore: a suspended store answers 503 "unavailable" in its own locale with
// Retry-After, refuses every write, starts no sessions, and keeps its shoppers' data.
func TestSuspendedStore(t *testing.T) {
	w := newWorld(t)
	nordic := w.client("nordic.localhost")
	nordic.get("/")
	emilSession := nordic.signIn("emil@example.com", demo.Password)
	w.suspend("nordic")
	w.suspend("panda")

	for _, tc := range []struct {
		host, lang, title string
	}{
		{"nordic.localhost", "en", "This store is unavailable"},
		{"panda.localhost", "zh-CN", "本店暂时无法访问"},
	} {
		for _, path := range []string{"/", "/account", "/sell", "/account/sign-in"} {
			r := w.client(tc.host).get(path)
			if r.status != fiber.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("%s%s: %d Retry-After %q, want 503 with Retry-After", tc.host, path, r.status, r.header.Get("Retry-After"))
			}
			mustContain(t, tc.host+path, r.body, `<html lang="`+tc.lang+`">`, tc.title)
			if r.header.Get("Set-Cookie") != "" && strings.Contains(r.header.Get("Set-Cookie"), shopCookie) {
				t.Errorf("%s%s: a suspended store started a session", tc.host, path)
			}
		}
	}
	// The signed-in shopper's browser, and every form, is refused.
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/account/sign-in", url.Values{"email": {"emil@example.com"}, "password": {demo.Password}}},
		{"/account/sign-up", url.Values{"email": {"new@example.com"}, "password": {"long enough password"}}},
		{"/sell", url.Values{"store_name": {"Fjord Wool"}, "handle": {"fjord-wool"}, "contact_email": {"fjord@example.com"}}},
		{"/account/sign-out", nil},
	} {
		if r := nordic.post(tc.path, tc.form); r.status != fiber.StatusServiceUnavailable {
			t.Errorf("POST %s on a suspended store: %d, want 503", tc.path, r.status)
		}
	}
	// The theme still loads for the unavailable page; the language can still be switched.
	if r := w.client("nordic.localhost").get("/theme.css"); r.status != 200 || !strings.Contains(r.body, "--primary:#0f766e") {
		t.Errorf("theme of a suspended store: %d %q", r.status, r.body)
	}
	panda := w.client("panda.localhost")
	if r := panda.post("/locale", url.Values{"lang": {"en"}, "next": {"/"}}); r.status != fiber.StatusSeeOther {
		t.Errorf("locale switch on a suspended store: %d", r.status)
	}
	if r := panda.get("/"); !strings.Contains(r.body, `<html lang="en">`) {
		t.Errorf("after switching, the unavailable page is not in English")
	}

	// Nothing was written and nothing was lost: once reactivated, the same session and the
	// same account work, and the refused sign-up and application never happened.
	if _, err := w.dir.Reactivate(scope.WithActor(context.Background(), "system:test"), w.tenant["nordic"]); err != nil {
		t.Fatal(err)
	}
	if nordic.cookie(shopCookie) != emilSession {
		t.Fatal("the refused sign-out changed the session cookie")
	}
	if r := nordic.get("/account"); r.status != 200 || !strings.Contains(r.body, "emil@example.com") {
		t.Errorf("after reactivation the shopper's session is gone: %d", r.status)
	}
	page, err := w.merchants.List(context.Background(), w.tenant["nordic"], merchants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Errorf("nordic has %d merchants after a refused application, want 1", len(page.Items))
	}
	fresh := w.client("nordic.localhost")
	fresh.get("/account/sign-up")
	if r := fresh.post("/account/sign-up", url.Values{"email": {"new@example.com"}, "password": {"long enough password"}}); r.status != fiber.StatusSeeOther {
		t.Errorf("the sign-up refused while suspended left a trace: %d", r.status)
	}
}

// TestSignUp: errors show beside their fields with what was typed kept (never the password);
// an e-mail is unique per tenant, not across tenants.
func TestSignUp(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name        string
		host        string
		form        url.Values
		status      int
		fieldErrors map[string]string
		kept        map[string]string
	}{
		{"bad email and short password", "lumen.localhost",
			url.Values{"name": {"Ava Li"}, "email": {"ava-at-example"}, "password": {"s3cr3t"}}, 422,
			map[string]string{"email": "Enter an email address like name@example.com.", "password": "Use 10 to 128 characters."},
			map[string]string{"name": "Ava Li", "email": "ava-at-example"}},
		{"long name", "lumen.localhost",
			url.Values{"name": {strings.Repeat("n", 201)}, "email": {"nn@example.com"}, "password": {"s3cr3t-but-long"}}, 422,
			map[string]string{"name": "Use at most 200 characters."}, map[string]string{"email": "nn@example.com"}},
		{"taken in this tenant", "lumen.localhost",
			url.Values{"name": {"Ava"}, "email": {"AVA@example.com"}, "password": {"s3cr3t-but-long"}}, 422,
			map[string]string{"email": "An account with this email exists here. Sign in, or reset its password."},
			map[string]string{"email": "AVA@example.com"}},
		{"zh-CN errors", "panda.localhost",
			url.Values{"email": {"x"}, "password": {"s3cr3t"}}, 422,
			map[string]string{"password": "请使用 10 到 128 个字符。"}, map[string]string{"email": "x"}},
		{"same e-mail in another tenant", "nordic.localhost",
			url.Values{"name": {"Ava"}, "email": {"ava@example.com"}, "password": {"s3cr3t-but-long"}}, 303, nil, nil},
		{"new shopper", "lumen.localhost",
			url.Values{"name": {"Noah"}, "email": {"noah@example.com"}, "password": {"s3cr3t-but-long"}}, 303, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := w.client(tc.host)
			cl.get("/account/sign-up")
			guest := cl.cookie(shopCookie)
			r := cl.post("/account/sign-up", tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%.500s", r.status, tc.status, r.body)
			}
			for field, want := range tc.fieldErrors {
				if got := fieldError(r.body, field); got != want {
					t.Errorf("error beside %s: %q, want %q", field, got, want)
				}
			}
			for field, want := range tc.kept {
				if got := fieldValue(r.body, field); got != want {
					t.Errorf("%s kept as %q, want %q", field, got, want)
				}
			}
			mustNotContain(t, "re-rendered form", r.body, "s3cr3t")
			if tc.status != 303 {
				return
			}
			if r.location() != "/account" || cl.cookie(shopCookie) == guest {
				t.Errorf("after sign-up: to %q, cookie rotated: %v", r.location(), cl.cookie(shopCookie) != guest)
			}
			acc := cl.get("/account")
			mustContain(t, "account after sign-up", acc.body, tc.form.Get("email"), tc.form.Get("name"), "Welcome to ")
		})
	}
}

// TestSignIn: a wrong password and an unknown e-mail get the same generic answer; repeated
// failures lock the e-mail with a 429 page and Retry-After; the guest session becomes the
// shopper's, and the guest's token stops working.
func TestSignIn(t *testing.T) {
	w := newWorld(t)
	cl := w.client("lumen.localhost")
	for _, email := range []string{"ava@example.com", "nobody@example.com"} {
		cl.get("/account/sign-in")
		r := cl.post("/account/sign-in", url.Values{"email": {email}, "password": {"wrong password"}})
		if r.status != 422 {
			t.Errorf("%s with a wrong password: %d, want 422", email, r.status)
		}
		mustContain(t, "failed sign-in", r.body, "The email or password is not right.", `value="`+email+`"`)
		mustNotContain(t, "failed sign-in", r.body, "wrong password")
	}

	// Guest to shopper: the guest's session becomes the shopper's (what hangs on it, a cart,
	// stays with it), under a new token; the guest's token stops working.
	cl = w.client("lumen.localhost")
	cl.get("/")
	if cl.cookie(shopCookie) != "" {
		t.Fatal("reading a page started a session")
	}
	// The first form posted (the language switch) starts the guest session.
	cl.post("/locale", url.Values{"lang": {"en"}, "next": {"/"}})
	cl.get("/")
	guest, guestCSRF := cl.cookie(shopCookie), cl.csrf
	if guest == "" {
		t.Fatal("the first posted form started no guest session")
	}
	r := cl.post("/account/sign-in", url.Values{"email": {"liam@example.com"}, "password": {demo.Password}, "next": {"/sell"}})
	shopper := cl.cookie(shopCookie)
	if r.status != 303 || r.location() != "/sell" || shopper == "" || shopper == guest {
		t.Fatalf("sign-in: %d to %q, new token %v", r.status, r.location(), shopper != guest)
	}
	if got := flashOf(cl.get("/sell").body); got != "Welcome back, liam@example.com." {
		t.Errorf("flash after sign-in %q", got)
	}
	// The CSRF token is derived from the session id: the same token means the same session.
	if cl.csrf != guestCSRF {
		t.Error("signing in made a new session instead of taking over the guest's")
	}
	old := w.client("lumen.localhost")
	old.setCookie(shopCookie, guest)
	if r := old.get("/account"); r.status != 303 || !strings.HasPrefix(r.location(), "/account/sign-in") {
		t.Errorf("the guest token opens /account after sign-in: %d %q", r.status, r.location())
	}
	if old.cookie(shopCookie) == guest {
		t.Error("the guest token is still a live session after sign-in")
	}
	if r := cl.get("/account"); r.status != 200 || !strings.Contains(r.body, "liam@example.com") {
		t.Errorf("account with the new token: %d", r.status)
	}
	// Unsafe next is ignored.
	cl2 := w.client("lumen.localhost")
	cl2.get("/")
	if r := cl2.post("/account/sign-in", url.Values{"email": {"mia@example.com"}, "password": {demo.Password}, "next": {"//evil.example/"}}); r.location() != "/" {
		t.Errorf("next=//evil.example/ redirected to %q", r.location())
	}

	// Sign out ends the session on the server, not just in this browser.
	r = cl.post("/account/sign-out", nil)
	if r.status != 303 || cl.cookie(shopCookie) != "" {
		t.Errorf("sign-out: %d, cookie %q", r.status, cl.cookie(shopCookie))
	}
	stale := w.client("lumen.localhost")
	stale.setCookie(shopCookie, shopper)
	if r := stale.get("/account"); r.status != 303 {
		t.Errorf("the signed-out session still opens /account: %d", r.status)
	}

	// Signing in again, as someone else, ends the session signed in before.
	sw := w.client("lumen.localhost")
	first := sw.signIn("ava@example.com", demo.Password)
	if r := sw.post("/account/sign-in", url.Values{"email": {"mia@example.com"}, "password": {demo.Password}}); r.status != 303 {
		t.Fatalf("second sign-in: %d", r.status)
	}
	if !strings.Contains(sw.get("/account").body, "mia@example.com") {
		t.Error("the second sign-in did not switch the account")
	}
	stale = w.client("lumen.localhost")
	stale.setCookie(shopCookie, first)
	if r := stale.get("/account"); r.status != 303 {
		t.Errorf("the first session outlived a second sign-in: %d", r.status)
	}

	// Lockout: three failures lock the e-mail; the right password is then refused too.
	lock := w.client("lumen.localhost")
	lock.get("/account/sign-in")
	for range 3 {
		lock.post("/account/sign-in", url.Values{"email": {"mia@example.com"}, "password": {"wrong password"}})
	}
	r = lock.post("/account/sign-in", url.Values{"email": {"mia@example.com"}, "password": {demo.Password}})
	if r.status != fiber.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("locked sign-in: %d Retry-After %q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	mustContain(t, "locked sign-in", r.body, "Too many attempts to sign in. Try again in 1 min.")
}

// TestPasswordReset: the request form answers the same for known and unknown addresses; the
// mailed link (to this store's host) sets a new password once and signs the shopper out
// everywhere.
func TestPasswordReset(t *testing.T) {
	w := newWorld(t)
	signedIn := w.client("lumen-goods.test")
	oldSession := signedIn.signIn("ava@example.com", demo.Password)

	cl := w.client("lumen-goods.test")
	cl.get("/account/password-reset")
	if r := cl.post("/account/password-reset", url.Values{"email": {"not-an-email"}}); r.status != 422 || fieldError(r.body, "email") == "" {
		t.Errorf("invalid address: %d %q", r.status, fieldError(r.body, "email"))
	}
	var answers []string
	for _, email := range []string{"nobody@example.com", "ava@example.com"} {
		r := cl.post("/account/password-reset", url.Values{"email": {email}})
		if r.status != 303 || r.location() != "/account/password-reset" {
			t.Fatalf("reset for %s: %d %q", email, r.status, r.location())
		}
		answers = append(answers, flashOf(cl.get(r.location()).body))
	}
	if answers[0] != answers[1] || !strings.HasPrefix(answers[0], "If an account uses that address") {
		t.Errorf("answers differ or say too much: %q", answers)
	}
	msgs := w.mail.Messages()
	if len(msgs) != 1 || msgs[0].To != "ava@example.com" || msgs[0].TenantID != w.tenant["lumen"] {
		t.Fatalf("mail sent: %+v", msgs)
	}
	link := regexp.MustCompile(`http://lumen-goods\.test/account/password-reset/([A-Za-z0-9_-]+)`).FindStringSubmatch(msgs[0].Text)
	if link == nil {
		t.Fatalf("no reset link for this store's host in %q", msgs[0].Text)
	}
	path := "/account/password-reset/" + link[1]

	if r := cl.get(path); r.status != 200 || !strings.Contains(r.body, "Choose a new password") {
		t.Fatalf("reset page: %d", r.status)
	}
	if r := cl.post(path, url.Values{"password": {"short"}}); r.status != 422 || fieldError(r.body, "password") != "Use 10 to 128 characters." {
		t.Errorf("short new password: %d %q", r.status, fieldError(r.body, "password"))
	}
	r := cl.post(path, url.Values{"password": {"a brand new password"}})
	if r.status != 303 || r.location() != "/account/sign-in" {
		t.Fatalf("reset: %d %q\n%.400s", r.status, r.location(), r.body)
	}
	if got := flashOf(cl.get("/account/sign-in").body); !strings.HasPrefix(got, "Your password is changed") {
		t.Errorf("flash after reset %q", got)
	}
	if r := cl.post(path, url.Values{"password": {"another new password"}}); r.status != 422 || !strings.Contains(r.body, "This reset link is invalid, used or expired.") {
		t.Errorf("second use of the link: %d", r.status)
	}
	// Signed out everywhere; the new password works, the old one does not.
	if signedIn.cookie(shopCookie) != oldSession {
		t.Fatal("test setup: the other browser's cookie changed")
	}
	if r := signedIn.get("/account"); r.status != 303 {
		t.Errorf("the session from before the reset still works: %d", r.status)
	}
	fresh := w.client("lumen.localhost")
	fresh.get("/account/sign-in")
	if r := fresh.post("/account/sign-in", url.Values{"email": {"ava@example.com"}, "password": {demo.Password}}); r.status != 422 {
		t.Errorf("the old password still signs in: %d", r.status)
	}
	fresh.signIn("ava@example.com", "a brand new password")
	// The same e-mail in another tenant keeps its own password.
	w.client("panda.localhost").signIn("ava@example.com", demo.Password)
}

// TestAccountPage: only for a signed-in shopper, showing their e-mail, name and locale and no
// "My orders" while there are none.
func TestAccountPage(t *testing.T) {
	w := newWorld(t)
	anon := w.client("lumen.localhost")
	if r := anon.get("/account"); r.status != 303 || r.location() != "/account/sign-in?next=%2Faccount" {
		t.Errorf("anonymous /account: %d %q", r.status, r.location())
	}
	cl := w.client("panda.localhost")
	cl.get("/account/sign-up")
	cl.post("/account/sign-up", url.Values{"name": {"王芳"}, "email": {"fang@example.com"}, "password": {"long enough password"}})
	r := cl.get("/account")
	mustContain(t, "account", r.body, "我的账户", "fang@example.com", "王芳", `<td id="profile-locale">简体中文</td>`)
	mustNotContain(t, "account", r.body, "My orders", "我的订单")
	// Signed in, the sign-in and sign-up pages send the shopper to their account.
	for _, p := range []string{"/account/sign-in", "/account/sign-up"} {
		if r := cl.get(p); r.status != 303 || r.location() != "/account" {
			t.Errorf("%s when signed in: %d %q", p, r.status, r.location())
		}
	}
}

// TestHomeAndTheme: the home page lists the store's active merchants only, with public fields
// only, themes itself through /theme.css, and /theme.css starts no session.
func TestHomeAndTheme(t *testing.T) {
	w := newWorld(t)
	bot := w.client("lumen.localhost")
	r := bot.get("/theme.css")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Fatalf("theme: %d %s", r.status, r.header.Get("Content-Type"))
	}
	mustContain(t, "lumen theme", r.body, "--primary:#1f6feb", "--accent:#f59e0b")
	if bot.cookie(shopCookie) != "" {
		t.Error("fetching the theme started a guest session")
	}

	cl := w.client("lumen.localhost")
	r = cl.get("/")
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/theme\.css\?v=[0-9a-f]+)">`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("the home page does not link the theme")
	}
	if css := cl.get(m[1]); !strings.Contains(css.header.Get("Cache-Control"), "immutable") || !strings.Contains(css.body, "#1f6feb") {
		t.Errorf("versioned theme: %q %q", css.header.Get("Cache-Control"), css.body)
	}
	mustContain(t, "home", r.body, "Northwind Lighting", "Oak &amp; Ash Furniture", "@northwind-lighting", "Apply to sell", `href="/sell"`)
	mustNotContain(t, "home", r.body, "Paper Lantern", "Glowworks", "@example.com")
	// Reading pages writes nothing: a visit cookie and no session (crawlers create no rows).
	if cl.cookie(shopCookie) != "" || cl.cookie("mercato_visit") == "" {
		t.Errorf("the first page view: session %q, visit %q", cl.cookie(shopCookie), cl.cookie("mercato_visit"))
	}
	if r := w.client("panda.localhost").get("/theme.css"); !strings.Contains(r.body, "--primary:#c8102e") {
		t.Errorf("panda theme %q", r.body)
	}

	// The locale switch changes the page language and goes back where it was.
	panda := w.client("panda.localhost")
	panda.get("/sell")
	r = panda.post("/locale", url.Values{"lang": {"en"}, "next": {"/sell"}})
	if r.status != 303 || r.location() != "/sell" {
		t.Fatalf("locale switch: %d %q", r.status, r.location())
	}
	mustContain(t, "panda in English", panda.get("/sell").body, `<html lang="en">`, "Sell with us")

	// A store without merchants says what to do next.
	exec(t, w, "UPDATE merchants SET status = 'suspended' WHERE tenant_id = ?", w.tenant["nordic"])
	mustContain(t, "empty home", w.client("nordic.localhost").get("/").body, "No shops are open yet", `<a class="btn btn-primary" href="/sell">Apply to sell</a>`)
}

func exec(t *testing.T, w *world, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if err := w.f.Platform.Do(ctx, "test.exec", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, sql, args...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSell: the application form shows each error beside its field and keeps what was typed;
// a taken handle is refused; a good application thanks the applicant, pending review, or
// approved where the tenant approves automatically.
func TestSell(t *testing.T) {
	w := newWorld(t)
	cl := w.client("lumen.localhost")
	cl.get("/sell")
	for _, tc := range []struct {
		name   string
		form   url.Values
		errors map[string]string
	}{
		{"empty", url.Values{"description": {"Lamps."}}, map[string]string{
			"store_name":    "Enter a name of 1 to 200 characters.",
			"handle":        "Use 3–64 of a–z, 0–9 and -, not starting or ending with -.",
			"contact_email": "Enter an email address like name@example.com.",
		}},
		{"bad handle", url.Values{"store_name": {"Lantern Works"}, "handle": {"-lantern"}, "contact_email": {"hi@lantern.test"}},
			map[string]string{"handle": "Use 3–64 of a–z, 0–9 and -, not starting or ending with -."}},
		{"taken handle", url.Values{"store_name": {"Lantern Works"}, "handle": {"northwind-lighting"}, "contact_email": {"hi@lantern.test"}},
			map[string]string{"handle": "Another shop has this handle. Try another."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cl.post("/sell", tc.form)
			if r.status != 422 {
				t.Fatalf("status %d, want 422", r.status)
			}
			for field, want := range tc.errors {
				if got := fieldError(r.body, field); got != want {
					t.Errorf("error beside %s: %q, want %q", field, got, want)
				}
			}
			for _, field := range []string{"store_name", "handle", "contact_email"} {
				if got := fieldValue(r.body, field); got != tc.form.Get(field) {
					t.Errorf("%s kept as %q, want %q", field, got, tc.form.Get(field))
				}
			}
			mustContain(t, "description kept", r.body, ">"+tc.form.Get("description")+"</textarea>")
		})
	}

	r := cl.post("/sell", url.Values{"store_name": {"Lantern Works"}, "handle": {"lantern-works"}, "contact_email": {"hi@lantern.test"}, "description": {"Paper lanterns."}})
	if r.status != 303 || r.location() != "/sell/thanks?status=pending" {
		t.Fatalf("application: %d %q", r.status, r.location())
	}
	thanks := cl.get(r.location())
	mustContain(t, "thank-you page", thanks.body, "Thank you for applying", "Pending review", "We received the application for “Lantern Works”.")
	page, err := w.merchants.List(context.Background(), w.tenant["lumen"], merchants.ListFilter{Status: merchants.StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range page.Items {
		found = found || (m.Handle == "lantern-works" && m.ContactEmail == "hi@lantern.test")
	}
	if !found {
		t.Errorf("the application is not pending: %+v", page.Items)
	}
	if strings.Contains(cl.get("/").body, "Lantern Works") {
		t.Error("a pending merchant shows on the home page")
	}

	// Where the tenant approves automatically, the page says so.
	exec(t, w, `UPDATE tenants SET settings = '{"auto_approve_merchants": true}' WHERE slug = 'nordic'`)
	nordic := w.client("nordic.localhost")
	nordic.get("/sell")
	r = nordic.post("/sell", url.Values{"store_name": {"Fjord Wool"}, "handle": {"fjord-wool"}, "contact_email": {"fjord@example.com"}})
	if r.status != 303 || r.location() != "/sell/thanks?status=approved" {
		t.Fatalf("auto-approved application: %d %q", r.status, r.location())
	}
	mustContain(t, "approved thank-you", nordic.get(r.location()).body, "Approved", "Your shop is approved.")
	mustContain(t, "home after approval", nordic.get("/").body, "Fjord Wool")
}

// TestAcceptInvitation: an invitation link opens a form; accepting it creates an active
// merchant and its owner, who can then sign in to the console; a used or unknown link is a
// 404 page; an e-mail that already has a staff account needs that account's password.
func TestAcceptInvitation(t *testing.T) {
	w := newWorld(t)
	ctx := scope.WithActor(context.Background(), "user:test")
	token, _, err := w.merchants.Invite(ctx, w.tenant["lumen"], "lena@lantern.test", "Lantern Works")
	if err != nil {
		t.Fatal(err)
	}
	path := "/merchant-invitations/" + token
	cl := w.client("lumen.localhost")
	r := cl.get(path)
	if r.status != 200 {
		t.Fatalf("invitation page: %d", r.status)
	}
	mustContain(t, "invitation page", r.body, "Lumen Goods invites you to sell as “Lantern Works”.", "lena@lantern.test", `value="lantern-works"`)

	r = cl.post(path, url.Values{"handle": {"Bad Handle"}, "name": {""}, "password": {"short"}})
	if r.status != 422 {
		t.Fatalf("bad acceptance: %d", r.status)
	}
	for field, want := range map[string]string{
		"name":     "Enter your name, up to 200 characters.",
		"password": "Use 10 to 128 characters.",
	} {
		if got := fieldError(r.body, field); got != want {
			t.Errorf("error beside %s: %q, want %q", field, got, want)
		}
	}
	r = cl.post(path, url.Values{"handle": {"Bad Handle"}, "name": {"Lena"}, "password": {"lanterns all night"}})
	if r.status != 422 || fieldError(r.body, "handle") != "Use 3–64 of a–z, 0–9 and -, not starting or ending with -." || fieldValue(r.body, "name") != "Lena" {
		t.Errorf("bad handle: %d %q", r.status, fieldError(r.body, "handle"))
	}

	r = cl.post(path, url.Values{"handle": {"lantern-works"}, "name": {"Lena"}, "password": {"lanterns all night"}})
	if r.status != 303 || r.location() != "/merchant-invitations/accepted" {
		t.Fatalf("accept: %d %q\n%.500s", r.status, r.location(), r.body)
	}
	done := cl.get(r.location())
	mustContain(t, "accepted page", done.body, "“Lantern Works” is open. Sign in to the console as lena@lantern.test.", `href="/console/login"`)

	res, err := w.ids.LoginStaff(context.Background(), identity.StaffLogin{Email: "lena@lantern.test", Password: "lanterns all night"})
	if err != nil || res.Step != identity.StepDone {
		t.Fatalf("the new owner cannot sign in: %v %s", err, res.Step)
	}
	ms, err := w.ids.Memberships(context.Background(), res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := w.merchants.List(context.Background(), w.tenant["lumen"], merchants.ListFilter{Status: merchants.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	var merchantID string
	for _, m := range page.Items {
		if m.Handle == "lantern-works" {
			merchantID = m.ID.String()
		}
	}
	if merchantID == "" || len(ms) != 1 || ms[0].Role != "merchant_owner" || ms[0].MerchantID.String() != merchantID || ms[0].TenantID != w.tenant["lumen"] {
		t.Errorf("owner membership %+v for merchant %q", ms, merchantID)
	}
	if r := cl.get(path); r.status != 404 || !strings.Contains(r.body, "This invitation cannot be used") {
		t.Errorf("used invitation: %d", r.status)
	}
	if r := cl.post(path, url.Values{"handle": {"lantern-two"}, "name": {"Lena"}, "password": {"lanterns all night"}}); r.status != 404 {
		t.Errorf("accepting a used invitation again: %d", r.status)
	}
	if r := cl.get("/merchant-invitations/not-a-token"); r.status != 404 {
		t.Errorf("unknown invitation: %d", r.status)
	}

	// Someone who already works for another store proves the account is theirs.
	token, _, err = w.merchants.Invite(ctx, w.tenant["lumen"], "owner@xiangyun.test", "Xiangyun Lumen")
	if err != nil {
		t.Fatal(err)
	}
	path = "/merchant-invitations/" + token
	cl.get(path)
	r = cl.post(path, url.Values{"handle": {"xiangyun-lumen"}, "name": {"Xiang Yun"}, "password": {"not the right password"}})
	if r.status != 422 || fieldError(r.body, "password") != "This email already has a console account, and this is not its password." {
		t.Errorf("existing account, wrong password: %d %q", r.status, fieldError(r.body, "password"))
	}
	if r := cl.post(path, url.Values{"handle": {"xiangyun-lumen"}, "name": {"Xiang Yun"}, "password": {demo.Password}}); r.status != 303 {
		t.Fatalf("existing account, right password: %d\n%.500s", r.status, r.body)
	}
	res, err = w.ids.LoginStaff(context.Background(), identity.StaffLogin{Email: "owner@xiangyun.test", Password: demo.Password})
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := w.ids.Memberships(context.Background(), res.User.ID); len(ms) != 2 {
		t.Errorf("owner of two stores has memberships %+v", ms)
	}
}

// TestCSRF: every form is refused without the session's token, without any session, and
// from another site, and nothing it asked for happens.
func TestCSRF(t *testing.T) {
	w := newWorld(t)
	forms := []struct {
		path string
		form url.Values
	}{
		{"/locale", url.Values{"lang": {"zh-CN"}}},
		{"/account/sign-up", url.Values{"email": {"csrf@example.com"}, "password": {"long enough password"}}},
		{"/account/sign-in", url.Values{"email": {"ava@example.com"}, "password": {demo.Password}}},
		{"/account/sign-out", nil},
		{"/account/password-reset", url.Values{"email": {"ava@example.com"}}},
		{"/account/password-reset/some-token", url.Values{"password": {"long enough password"}}},
		{"/sell", url.Values{"store_name": {"CSRF"}, "handle": {"csrf-shop"}, "contact_email": {"csrf@example.com"}}},
		{"/merchant-invitations/some-token", url.Values{"handle": {"csrf-two"}, "name": {"C"}, "password": {"long enough password"}}},
	}
	for _, f := range forms {
		for _, tc := range []struct {
			name  string
			setup func(cl *client, form url.Values)
		}{
			{"no token", func(cl *client, form url.Values) { cl.get("/"); form.Set("_csrf", "") }},
			{"wrong token", func(cl *client, form url.Values) { cl.get("/"); form.Set("_csrf", cl.csrf+"x") }},
			{"another session's token", func(cl *client, form url.Values) {
				other := w.client("lumen.localhost")
				other.get("/")
				cl.get("/")
				form.Set("_csrf", other.csrf)
			}},
			{"no session", func(cl *client, form url.Values) { form.Set("_csrf", "") }},
		} {
			cl := w.client("lumen.localhost")
			form := url.Values{}
			for k, v := range f.form {
				form[k] = v
			}
			tc.setup(cl, form)
			r := cl.post(f.path, form)
			if r.status != fiber.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
				t.Errorf("POST %s, %s: %d, want the 403 page", f.path, tc.name, r.status)
			}
		}
	}
	// A browser marks a post from another site; the right token does not make it acceptable.
	cl := w.client("lumen.localhost")
	cl.get("/account/sign-in")
	req := url.Values{"email": {"ava@example.com"}, "password": {demo.Password}, "_csrf": {cl.csrf}}
	r := cl.doCrossSite("/account/sign-in", req)
	if r.status != fiber.StatusForbidden {
		t.Errorf("cross-site sign-in with a token: %d", r.status)
	}
	// None of the refused forms did anything.
	if len(w.mail.Messages()) != 0 {
		t.Error("a refused reset form sent mail")
	}
	page, err := w.merchants.List(context.Background(), w.tenant["lumen"], merchants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Items {
		if m.Handle == "csrf-shop" {
			t.Error("a refused application was recorded")
		}
	}
	fresh := w.client("lumen.localhost")
	fresh.get("/account/sign-up")
	if r := fresh.post("/account/sign-up", url.Values{"email": {"csrf@example.com"}, "password": {"long enough password"}}); r.status != 303 {
		t.Errorf("a refused sign-up created the account: %d", r.status)
	}
	// With the token, the same forms go through (the locale switch as an example).
	ok := w.client("lumen.localhost")
	ok.get("/")
	if r := ok.post("/locale", url.Values{"lang": {"zh-CN"}, "next": {"/"}}); r.status != 303 {
		t.Errorf("locale switch with the token: %d", r.status)
	}
}

// TestFormLimit: with a rate limit on forms (Redis, as apps/api mounts it), a browser that
// posts too fast gets the 429 page with Retry-After; pages stay readable.
func TestFormLimit(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 12})
	t.Cleanup(func() { rdb.Close() })
	limiter := httpx.NewRateLimiter(rdb, "test:"+uuid.NewString()+":")
	perIP := httpx.RateLimit(limiter, func(c *fiber.Ctx) (string, httpx.Limit, bool) {
		return "storefront:ip:" + c.IP(), httpx.Limit{Rate: 1, Per: time.Minute, Burst: 2}, true
	}, slog.New(slog.DiscardHandler), nil)
	w := newWorldWith(t, "localhost", perIP)
	cl := w.client("lumen.localhost")
	cl.get("/account/password-reset")
	for i := range 3 {
		r := cl.post("/account/password-reset", url.Values{"email": {"nobody@example.com"}})
		want := fiber.StatusSeeOther
		if i == 2 {
			want = fiber.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("post %d: %d, want %d", i+1, r.status, want)
		}
		if i == 2 {
			mustContain(t, "429 page", r.body, "Too many requests")
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if r := cl.get("/"); r.status != 200 {
		t.Errorf("pages are limited too: %d", r.status)
	}
}
