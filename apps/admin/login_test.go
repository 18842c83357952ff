package admin_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mercato/apps/demo"
)

// The sign-in pages: a wrong password or unknown e-mail gets one generic answer with the
// e-mail kept; a platform user without an authenticator enrolls one from the secret on the
// page (a wrong code keeps the secret on screen); next time they give a code; a forged
// challenge starts over; repeated failures lock with Retry-After; and only paths inside the
// portal are followed after signing in.
func TestSignIn(t *testing.T) {
	w := newWorld(t, "")
	anon := w.anonymous()

	page := anon.get("/admin/login?next=/admin/plans")
	if page.status != 200 || inputValue(page.body, "next") != "/admin/plans" {
		t.Fatalf("login page: %d, next %q", page.status, inputValue(page.body, "next"))
	}
	checkPage(t, "login", page)

	t.Run("wrong credentials", func(t *testing.T) {
		for _, email := range []string{"operator@mercato.test", "nobody@mercato.test"} {
			r := anon.post("/admin/login", url.Values{"email": {email}, "password": {"not-the-password"}})
			if r.status != 422 || !strings.Contains(text(r.body), "The email or password is not right.") {
				t.Errorf("%s: %d %s", email, r.status, abbreviate(r.body))
			}
			if inputValue(r.body, "email") != email || strings.Contains(r.body, "not-the-password") {
				t.Errorf("%s: e-mail not kept or password echoed", email)
			}
			if _, signedIn := anon.cookies["mercato_staff"]; signedIn {
				t.Fatalf("%s: a session cookie after a failed sign-in", email)
			}
		}
	})

	var secret string
	t.Run("enrollment", func(t *testing.T) {
		r := anon.post("/admin/login", url.Values{"email": {"support@mercato.test"}, "password": {demo.Password},
			"next": {"/admin/plans"}})
		if r.status != 200 || !strings.Contains(r.body, `action="/admin/login/enroll"`) {
			t.Fatalf("password step: %d %s", r.status, abbreviate(r.body))
		}
		checkPage(t, "enroll", r)
		grouped := element(r.body, "totp-secret")
		if !regexp.MustCompile(`^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`).MatchString(grouped) {
			t.Fatalf("secret on the page %q is not base32 in groups of four", grouped)
		}
		secret = strings.ReplaceAll(grouped, " ", "")
		uri := element(r.body, "f-uri")
		if !strings.HasPrefix(uri, "otpauth://totp/Mercato:support@mercato.test?") || !strings.Contains(uri, "secret="+secret) {
			t.Errorf("otpauth URI %q", uri)
		}
		form := url.Values{"challenge": {inputValue(r.body, "challenge")}, "next": {inputValue(r.body, "next")},
			"secret": {inputValue(r.body, "secret")}, "uri": {uri}}

		form.Set("code", "000000")
		if totpAt(secret, time.Now()) == "000000" {
			form.Set("code", "111111")
		}
		bad := anon.post("/admin/login/enroll", form)
		if bad.status != 422 || element(bad.body, "totp-secret") != grouped || !strings.Contains(bad.body, `id="f-code-error"`) {
			t.Fatalf("wrong code: %d, secret %q, %s", bad.status, element(bad.body, "totp-secret"), abbreviate(bad.body))
		}

		form.Set("code", totpAt(secret, time.Now()))
		ok := anon.post("/admin/login/enroll", form)
		if ok.status != 303 || ok.location() != "/admin/plans" || anon.cookies["mercato_staff"] == "" {
			t.Fatalf("good code: %d to %q, cookie %v", ok.status, ok.location(), anon.cookies)
		}
		if r := anon.get("/admin/plans"); r.status != 200 {
			t.Errorf("plans after signing in: %d", r.status)
		}
	})

	t.Run("code step", func(t *testing.T) {
		if secret == "" {
			t.Fatal("the enrollment step above did not yield a secret")
		}
		c := w.anonymous()
		// A wrong code typed on the first form is said beside the code field.
		wrong := "000000"
		if totpAt(secret, time.Now()) == wrong || totpAt(secret, time.Now().Add(30*time.Second)) == wrong {
			wrong = "111111"
		}
		r := c.post("/admin/login", url.Values{"email": {"support@mercato.test"}, "password": {demo.Password}, "code": {wrong}})
		if r.status != 422 || !strings.Contains(text(element(r.body, "f-code-error")), "That code is wrong") || inputValue(r.body, "email") != "support@mercato.test" {
			t.Errorf("wrong code on the first form: %d %q", r.status, text(element(r.body, "f-code-error")))
		}
		r = c.post("/admin/login", url.Values{"email": {"support@mercato.test"}, "password": {demo.Password}})
		if r.status != 200 || !strings.Contains(r.body, `action="/admin/login/code"`) || inputValue(r.body, "challenge") == "" {
			t.Fatalf("password step: %d %s", r.status, abbreviate(r.body))
		}
		checkPage(t, "code", r)
		forged := c.post("/admin/login/code", url.Values{"challenge": {inputValue(r.body, "challenge") + "x"},
			"code": {totpAt(secret, time.Now().Add(30*time.Second))}})
		if forged.status != 422 || !strings.Contains(text(forged.body), "The sign-in took too long") {
			t.Errorf("forged challenge: %d %s", forged.status, abbreviate(forged.body))
		}
		// The enrollment used this step's code; an authenticator shows the next one soon.
		ok := c.post("/admin/login/code", url.Values{"challenge": {inputValue(r.body, "challenge")},
			"code": {totpAt(secret, time.Now().Add(30*time.Second))}})
		if ok.status != 303 || ok.location() != "/admin" || c.cookies["mercato_staff"] == "" {
			t.Fatalf("code: %d to %q %s", ok.status, ok.location(), abbreviate(ok.body))
		}
		if r := c.get("/admin/login"); r.status != 303 || r.location() != "/admin" {
			t.Errorf("login page when signed in: %d to %q", r.status, r.location())
		}
		if r := c.get("/admin/login/code"); r.status != 303 || r.location() != "/admin/login" {
			t.Errorf("GET of the code step: %d to %q", r.status, r.location())
		}
	})

	t.Run("next stays in the portal", func(t *testing.T) {
		for next, want := range map[string]string{
			"https://evil.example/":   "/admin",
			"//evil.example/admin":    "/admin",
			"/console/products":       "/admin",
			"/admin/tenants?status=x": "/admin/tenants?status=x",
			"/admin/logout":           "/admin",
		} {
			c := w.anonymous()
			r := c.post("/admin/login", url.Values{"email": {"owner@nordic-knits.test"}, "password": {demo.Password}, "next": {next}})
			if r.status != 303 || r.location() != want {
				t.Errorf("next %q: %d to %q, want %q", next, r.status, r.location(), want)
			}
		}
	})

	t.Run("locked", func(t *testing.T) {
		c := w.anonymous()
		for i := range 3 {
			if r := c.post("/admin/login", url.Values{"email": {"moderator@lumen-goods.test"}, "password": {"wrong"}}); r.status != 422 {
				t.Fatalf("failure %d: %d", i+1, r.status)
			}
		}
		// Locked now: even the right password is refused until the lock ends.
		r := c.post("/admin/login", url.Values{"email": {"moderator@lumen-goods.test"}, "password": {demo.Password}})
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 429 || err != nil || secs < 1 || secs > 120 {
			t.Fatalf("locked: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
		checkPage(t, "locked", r)
		if !strings.Contains(text(r.body), "Try again in about") {
			t.Errorf("locked page: %s", abbreviate(r.body))
		}
		if _, ok := c.cookies["mercato_staff"]; ok {
			t.Error("a session cookie while locked")
		}
	})
}

// Signing out ends the session; signing out everywhere ends every session of the user.
func TestSignOut(t *testing.T) {
	w := newWorld(t, "")
	a, b := w.signIn("owner@lumen-goods.test"), w.signIn("owner@lumen-goods.test")
	op := w.signIn("operator@mercato.test")

	r := op.post("/admin/logout", nil)
	if r.status != 303 || r.location() != "/admin/login" {
		t.Fatalf("logout: %d to %q", r.status, r.location())
	}
	if page := op.follow(r); !strings.Contains(text(page.body), "You are signed out.") {
		t.Errorf("no flash after signing out: %s", abbreviate(page.body))
	}
	if r := op.get("/admin"); r.status != 303 || !strings.HasPrefix(r.location(), "/admin/login") {
		t.Errorf("after logout /admin answered %d to %q", r.status, r.location())
	}

	r = a.post("/admin/logout/everywhere", nil)
	if r.status != 303 {
		t.Fatalf("everywhere: %d", r.status)
	}
	if page := a.follow(r); !strings.Contains(text(page.body), "Sessions ended: 2.") {
		t.Errorf("everywhere flash: %s", abbreviate(page.body))
	}
	if r := b.get("/admin"); r.status != 303 {
		t.Errorf("the other session still works: %d", r.status)
	}
}
