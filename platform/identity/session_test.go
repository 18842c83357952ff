package identity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/identity"
	"mercato/platform/scope"
)

func TestStaffSessionExpiry(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	u := e.staff(t, "s@example.com", "")
	live := func(token string) bool {
		t.Helper()
		_, got, err := e.svc.StaffSession(ctx, token)
		if err != nil && !errors.Is(err, identity.ErrUnauthenticated) {
			t.Fatal(err)
		}
		if err == nil && got.ID != u.ID {
			t.Fatalf("session of %v, want %v", got.ID, u.ID)
		}
		return err == nil
	}
	// Idle: 2 hours without a request ends it.
	r, _ := login(e, "s@example.com", "staff password 1", "")
	e.clock.Advance(2*time.Hour - time.Second)
	if !live(r.Token) {
		t.Fatal("session ended before the idle timeout")
	}
	e.clock.Advance(2*time.Hour - time.Second)
	if !live(r.Token) {
		t.Fatal("a request did not extend the idle timeout")
	}
	e.clock.Advance(2*time.Hour + time.Second)
	if live(r.Token) {
		t.Error("session survived 2 idle hours")
	}
	// Absolute: 12 hours however active.
	r, _ = login(e, "s@example.com", "staff password 1", "")
	for i := 0; i < 11; i++ {
		e.clock.Advance(time.Hour)
		if !live(r.Token) {
			t.Fatalf("active session ended after %d hours", i+1)
		}
	}
	e.clock.Advance(time.Hour)
	if live(r.Token) {
		t.Error("session survived its 12-hour absolute end")
	}
}

// last_seen is written at most once a minute, so reads stay reads.
func TestLastSeenThrottled(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.staff(t, "s@example.com", "")
	r, _ := login(e, "s@example.com", "staff password 1", "")
	start := e.clock.Now()
	for _, tc := range []struct {
		advance time.Duration
		want    time.Time
	}{
		{30 * time.Second, start},
		{29 * time.Second, start},
		{2 * time.Second, start.Add(61 * time.Second)},
	} {
		e.clock.Advance(tc.advance)
		if _, _, err := e.svc.StaffSession(ctx, r.Token); err != nil {
			t.Fatal(err)
		}
		var seen time.Time
		if err := e.f.App.Bun().NewRaw("SELECT last_seen_at FROM staff_sessions WHERE id = ?", r.Session.ID).Scan(ctx, &seen); err != nil {
			t.Fatal(err)
		}
		if !seen.Equal(tc.want) {
			t.Errorf("at +%v last_seen_at = %v, want %v", e.clock.Now().Sub(start), seen, tc.want)
		}
	}
}

func TestShopperSessionExpiry(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	live := func(token string) bool {
		t.Helper()
		_, err := e.svc.ShopperSession(ctx, e.a, token)
		if err != nil && !errors.Is(err, identity.ErrUnauthenticated) {
			t.Fatal(err)
		}
		return err == nil
	}
	_, token, err := e.svc.StartGuestSession(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ShopperSession(ctx, e.b, token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Error("tenant B accepted tenant A's session")
	}
	e.clock.Advance(30*24*time.Hour - time.Second)
	if !live(token) {
		t.Fatal("ended before 30 idle days")
	}
	e.clock.Advance(30*24*time.Hour + time.Second)
	if live(token) {
		t.Error("survived 30 idle days")
	}
	_, token, _ = e.svc.StartGuestSession(ctx, e.a)
	for i := 0; i < 89; i++ {
		e.clock.Advance(24 * time.Hour)
		if !live(token) {
			t.Fatalf("active session ended after %d days", i+1)
		}
	}
	e.clock.Advance(24 * time.Hour)
	if live(token) {
		t.Error("survived its 90-day absolute end")
	}
}

func TestLogoutEverywhere(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	u := e.staff(t, "s@example.com", "")
	other := e.staff(t, "o@example.com", "")
	r1, _ := login(e, "s@example.com", "staff password 1", "")
	r2, _ := login(e, "s@example.com", "staff password 1", "")
	r3, _ := login(e, "o@example.com", "staff password 1", "")
	if err := e.svc.LogoutStaff(ctx, r1.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.StaffSession(ctx, r1.Token); err == nil {
		t.Error("logged-out session still works")
	}
	if _, _, err := e.svc.StaffSession(ctx, r2.Token); err != nil {
		t.Error("logout ended another session")
	}
	r1, _ = login(e, "s@example.com", "staff password 1", "")
	n, err := e.svc.LogoutStaffEverywhere(ctx, u.ID)
	if err != nil || n != 2 {
		t.Errorf("logout everywhere ended %d sessions (%v), want 2", n, err)
	}
	for _, tok := range []string{r1.Token, r2.Token} {
		if _, _, err := e.svc.StaffSession(ctx, tok); err == nil {
			t.Error("a session survived logout everywhere")
		}
	}
	if _, _, err := e.svc.StaffSession(ctx, r3.Token); err != nil {
		t.Errorf("another user's session ended: %v (user %v)", err, other.ID)
	}

	// Shoppers too.
	a1, err := e.svc.SignUpShopper(ctx, e.a, identity.ShopperSignUp{Email: "buyer@example.com", Password: "shopper pass 1"})
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "buyer@example.com", Password: "shopper pass 1"})
	if n, err := e.svc.LogoutShopperEverywhere(ctx, e.a, a1.Shopper.ID); err != nil || n != 2 {
		t.Errorf("shopper logout everywhere: %d, %v", n, err)
	}
	for _, tok := range []string{a1.Token, a2.Token} {
		if _, err := e.svc.ShopperSession(ctx, e.a, tok); err == nil {
			t.Error("a shopper session survived logout everywhere")
		}
	}
}

// Signing in turns the guest session into the shopper's with a new token, and MergeGuest runs
// inside that transaction: when it fails, nothing changed.
func TestGuestBecomesShopper(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.svc.SignUpShopper(ctx, e.a, identity.ShopperSignUp{Email: "g@example.com", Password: "shopper pass 1"}); err != nil {
		t.Fatal(err)
	}
	guest, guestToken, err := e.svc.StartGuestSession(ctx, e.a)
	if err != nil || !guest.Guest() {
		t.Fatal(err)
	}
	*e.mergeLog = nil

	failing := context.WithValue(ctx, mergeFail{}, true)
	if _, err := e.svc.SignInShopper(failing, e.a, identity.ShopperLogin{Email: "g@example.com", Password: "shopper pass 1", GuestToken: guestToken}); err == nil {
		t.Fatal("sign-in succeeded although MergeGuest failed")
	}
	if s, err := e.svc.ShopperSession(ctx, e.a, guestToken); err != nil || !s.Guest() {
		t.Fatalf("after a failed merge the guest session is %+v, %v; want it unchanged", s, err)
	}

	*e.mergeLog = nil
	auth, err := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "g@example.com", Password: "shopper pass 1", GuestToken: guestToken})
	if err != nil {
		t.Fatal(err)
	}
	if auth.Session.ID != guest.ID || auth.Token == guestToken || auth.Session.ShopperID != auth.Shopper.ID {
		t.Errorf("session %+v token changed=%v; want the guest session, now the shopper's, with a new token", auth.Session, auth.Token != guestToken)
	}
	if _, err := e.svc.ShopperSession(ctx, e.a, guestToken); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("old guest token after sign-in: %v, want ErrUnauthenticated", err)
	}
	if s, err := e.svc.ShopperSession(ctx, e.a, auth.Token); err != nil || s.ShopperID != auth.Shopper.ID {
		t.Errorf("new token: %+v %v", s, err)
	}
	log := *e.mergeLog
	if len(log) != 1 || log[0] != (mergeCall{e.a, guest.ID, auth.Shopper.ID, auth.Shopper.ID}) {
		t.Errorf("MergeGuest calls %+v, want one for the guest session that already belongs to the shopper in its tx", log)
	}

	// A sign-in without a guest session, or with a token that is not a guest's, makes a new one.
	*e.mergeLog = nil
	again, err := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "g@example.com", Password: "shopper pass 1", GuestToken: auth.Token})
	if err != nil || again.Session.ID == auth.Session.ID || len(*e.mergeLog) != 0 {
		t.Errorf("sign-in with a shopper's token: %+v %v merges=%d", again.Session, err, len(*e.mergeLog))
	}

	// Signing up from a guest session takes it over the same way.
	_, guestToken2, _ := e.svc.StartGuestSession(ctx, e.a)
	up, err := e.svc.SignUpShopper(ctx, e.a, identity.ShopperSignUp{Email: "new@example.com", Password: "shopper pass 1", GuestToken: guestToken2})
	if err != nil || len(*e.mergeLog) != 1 {
		t.Fatalf("sign-up from a guest: %v, merges %d", err, len(*e.mergeLog))
	}
	if _, err := e.svc.ShopperSession(ctx, e.a, guestToken2); err == nil || up.Token == guestToken2 {
		t.Error("sign-up kept the guest token")
	}
}

func TestCSRF(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.staff(t, "s@example.com", "")
	r, _ := login(e, "s@example.com", "staff password 1", "")
	app := principalApp(e.svc, identity.StaffCookie, uuid.Nil, true)
	cookie := &http.Cookie{Name: e.svc.CookieName(identity.StaffCookie), Value: r.Token}
	csrf := e.svc.CSRFToken(r.Session.ID)
	plain, _, err := e.svc.CreateAPIKey(ctx, e.a, uuid.Nil, "k", []string{"orders:write"}, "user:x")
	if err != nil {
		t.Fatal(err)
	}
	otherSession, _ := login(e, "s@example.com", "staff password 1", "")

	req := func(method string, form url.Values, header map[string]string, withCookie bool) *http.Request {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		r := httptest.NewRequest(method, "/whoami", body)
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range header {
			r.Header.Set(k, v)
		}
		if withCookie {
			r.AddCookie(cookie)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		kind   string
	}{
		{"GET needs no token", req(http.MethodGet, nil, nil, true), 200, "staff"},
		{"POST without token", req(http.MethodPost, url.Values{"x": {"1"}}, nil, true), 403, ""},
		{"POST with wrong token", req(http.MethodPost, url.Values{"_csrf": {"forged"}}, nil, true), 403, ""},
		{"POST with another session's token", req(http.MethodPost, url.Values{"_csrf": {e.svc.CSRFToken(otherSession.Session.ID)}}, nil, true), 403, ""},
		{"DELETE without token", req(http.MethodDelete, nil, nil, true), 403, ""},
		{"POST with form token", req(http.MethodPost, url.Values{"_csrf": {csrf}}, nil, true), 200, "staff"},
		{"PATCH with header token", req(http.MethodPatch, nil, map[string]string{"X-CSRF-Token": csrf}, true), 200, "staff"},
		{"bearer POST is exempt", req(http.MethodPost, nil, map[string]string{"Authorization": "Bearer " + plain}, false), 200, "apikey"},
		{"anonymous POST from the same site", req(http.MethodPost, nil, map[string]string{"Sec-Fetch-Site": "same-origin"}, false), 200, "anonymous"},
		{"anonymous POST from another site (login CSRF)", req(http.MethodPost, nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, false), 403, ""},
	} {
		res := do(t, app, tc.req)
		if res.status != tc.status || res.who.Kind != tc.kind || (tc.status == 403 && res.problem.Code != "csrf_failed") {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.kind)
		}
	}
}

func TestCookies(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	secure, err := identity.New(e.f.App, identity.Config{SecretKey: testSecret, Issuer: testIssuer, Mailer: e.mail, SecureCookies: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		svc        *identity.Service
		kind       identity.CookieKind
		name       string
		wantSecure bool
	}{
		{e.svc, identity.StaffCookie, "mercato_staff", false},
		{e.svc, identity.ShopperCookie, "mercato_shop", false},
		{secure, identity.StaffCookie, "__Host-mercato_staff", true},
		{secure, identity.ShopperCookie, "__Host-mercato_shop", true},
	} {
		if got := tc.svc.CookieName(tc.kind); got != tc.name {
			t.Errorf("cookie name %q, want %q", got, tc.name)
		}
		app := principalApp(tc.svc, tc.kind, e.a, false)
		app.Get("/login", func(c *fiber.Ctx) error {
			sess, token, err := tc.svc.StartGuestSession(c.UserContext(), e.a)
			if err != nil {
				return err
			}
			tc.svc.SetSessionCookie(c, tc.kind, token, sess)
			return nil
		})
		res := do(t, app, httptest.NewRequest(http.MethodGet, "/login", nil))
		sc := res.header.Get("Set-Cookie")
		for _, attr := range []string{tc.name + "=", "path=/", "HttpOnly", "SameSite=Lax", "expires="} {
			if !strings.Contains(strings.ToLower(sc), strings.ToLower(attr)) {
				t.Errorf("Set-Cookie %q lacks %s", sc, attr)
			}
		}
		if strings.Contains(strings.ToLower(sc), "secure") != tc.wantSecure || strings.Contains(strings.ToLower(sc), "domain=") {
			t.Errorf("Set-Cookie %q: want secure=%v and no domain", sc, tc.wantSecure)
		}
	}
	// The shopper cookie on a storefront makes a guest or a shopper principal; a stale one is
	// removed and the request goes on anonymous.
	app := principalApp(e.svc, identity.ShopperCookie, e.a, false)
	sess, token, _ := e.svc.StartGuestSession(ctx, e.a)
	r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r.AddCookie(&http.Cookie{Name: "mercato_shop", Value: token})
	if res := do(t, app, r); res.who.Kind != "guest" || res.who.Session != sess.ID || res.who.Actor != "guest:"+sess.ID.String() {
		t.Errorf("guest cookie: %+v", res.who)
	}
	r = httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r.AddCookie(&http.Cookie{Name: "mercato_shop", Value: "stale"})
	res := do(t, app, r)
	if res.status != 200 || res.who.Kind != "anonymous" || !strings.Contains(res.header.Get("Set-Cookie"), "max-age=0") {
		t.Errorf("stale cookie: %d %+v set-cookie %q", res.status, res.who, res.header.Get("Set-Cookie"))
	}
	// A key of tenant B on tenant A's storefront is refused.
	plainB, _, _ := e.svc.CreateAPIKey(ctx, e.b, uuid.Nil, "b", []string{"orders:read"}, "user:x")
	if res := do(t, app, bearer(plainB)); res.status != http.StatusUnauthorized {
		t.Errorf("tenant B's key on tenant A's storefront: %d", res.status)
	}
}

func TestSweep(t *testing.T) {
	e := setup(t)
	ctx := scope.WithActor(context.Background(), "system:test")
	e.staff(t, "s@example.com", "")
	_, _ = login(e, "s@example.com", "staff password 1", "")
	_, _, _ = e.svc.StartGuestSession(ctx, e.a)
	_, _, _ = e.svc.StartGuestSession(ctx, e.b)
	if n, err := e.svc.SweepExpired(ctx, e.f.Platform); err != nil || n != 0 {
		t.Fatalf("sweep of live rows: %d, %v", n, err)
	}
	e.clock.Advance(91 * 24 * time.Hour)
	if n, err := e.svc.SweepExpired(ctx, e.f.Platform); err != nil || n != 3 {
		t.Errorf("sweep after 91 days: %d, %v; want 3", n, err)
	}
	var left int
	err := e.f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT (SELECT count(*) FROM staff_sessions) + (SELECT count(*) FROM shopper_sessions)").Scan(ctx, &left)
	})
	if err != nil || left != 0 {
		t.Errorf("%d sessions left (%v)", left, err)
	}
}
