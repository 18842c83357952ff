package identity_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/identity"
	"mercato/platform/scope"
)

func login(e *env, email, pw, ip string) (identity.StaffLoginResult, error) {
	return e.svc.LoginStaff(context.Background(), identity.StaffLogin{Email: email, Password: pw, IP: ip, UserAgent: "test"})
}

// 5 failures lock for 1 minute, the next for 2, then 4; the cap is an hour; success resets;
// an unknown e-mail is answered exactly like a wrong password.
func TestLockout(t *testing.T) {
	e := setup(t)
	e.staff(t, "known@example.com", "")
	for _, tc := range []struct{ name, email string }{
		{"known e-mail, wrong password", "known@example.com"},
		{"unknown e-mail", "nobody@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := "198.51.100." + map[string]string{"known@example.com": "1", "nobody@example.com": "2"}[tc.email]
			for i := 1; i <= 5; i++ {
				if _, err := login(e, tc.email, "wrong password!", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("failure %d: %v, want ErrInvalidCredentials", i, err)
				}
			}
			for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute} {
				_, err := login(e, tc.email, "staff password 1", ip) // even the right password is refused while locked
				until, ok := identity.LockedUntil(err)
				if !errors.Is(err, identity.ErrLoginLocked) || !ok {
					t.Fatalf("locked attempt: %v, want ErrLoginLocked", err)
				}
				if got := until.Sub(e.clock.Now()); got != want {
					t.Errorf("lock of %v, want %v", got, want)
				}
				e.clock.Advance(want + time.Second)
				if _, err := login(e, tc.email, "wrong password!", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("after the lock: %v, want ErrInvalidCredentials", err)
				}
			}
			e.clock.Advance(time.Hour) // beyond the 15-minute window after the last lock: forgotten
		})
	}
	t.Run("cap", func(t *testing.T) {
		ip := "198.51.100.3"
		for i := 0; i < 12; i++ {
			_, _ = login(e, "nobody@example.com", "wrong password!", ip)
			if until, ok := identity.LockedUntil(e.checkLocked(ip)); ok {
				e.clock.Advance(until.Sub(e.clock.Now()) + time.Second)
			}
		}
		_, _ = login(e, "nobody@example.com", "wrong password!", ip)
		until, ok := identity.LockedUntil(e.checkLocked(ip))
		if !ok || until.Sub(e.clock.Now()) != time.Hour {
			t.Errorf("after many failures the lock is %v, want the one-hour cap", until.Sub(e.clock.Now()))
		}
		e.clock.Advance(2 * time.Hour)
	})
	t.Run("success resets", func(t *testing.T) {
		ip := "198.51.100.4"
		for i := 0; i < 4; i++ {
			_, _ = login(e, "known@example.com", "wrong password!", ip)
		}
		if r, err := login(e, "known@example.com", "staff password 1", ip); err != nil || r.Step != identity.StepDone {
			t.Fatalf("right password after 4 failures: %v", err)
		}
		for i := 0; i < 4; i++ {
			if _, err := login(e, "known@example.com", "wrong password!", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("failure %d after a success: %v (counter not reset?)", i+1, err)
			}
		}
		if r, err := login(e, "known@example.com", "staff password 1", ip); err != nil || r.Step != identity.StepDone {
			t.Errorf("4 failures after a success locked the account: %v", err)
		}
		e.clock.Advance(time.Hour)
	})
	t.Run("per address", func(t *testing.T) {
		ip := "198.51.100.5"
		for i := 0; i < 5; i++ {
			_, _ = login(e, "spray"+string(rune('a'+i))+"@example.com", "wrong password!", ip)
		}
		if _, err := login(e, "known@example.com", "staff password 1", ip); !errors.Is(err, identity.ErrLoginLocked) {
			t.Errorf("6th e-mail from a sprayed address: %v, want ErrLoginLocked", err)
		}
		if _, err := login(e, "known@example.com", "staff password 1", "198.51.100.6"); err != nil {
			t.Errorf("the same account from another address: %v", err)
		}
	})
}

// checkLocked tries a sign-in that cannot succeed and returns its error when it is a lock.
func (e *env) checkLocked(ip string) error {
	_, err := login(e, "probe-nobody@example.com", "x", ip)
	if errors.Is(err, identity.ErrLoginLocked) {
		return err
	}
	return nil
}

// An unknown e-mail costs a password hash like a known one, so timing does not tell them apart.
// Without the dummy hash the unknown e-mail answers about 30 times faster; the bound leaves
// room for a loaded machine. Attempts alternate so that load hits both sides alike.
func TestUnknownEmailTakesAsLong(t *testing.T) {
	e := setup(t)
	e.staff(t, "known@example.com", "")
	attempt := func(email string) time.Duration {
		start := time.Now()
		_, err := login(e, email, "wrong password!", "203.0.113.9")
		d := time.Since(start)
		if !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("%s: %v", email, err)
		}
		e.clock.Advance(time.Hour) // keep locks out of the measurement
		return d
	}
	attempt("nobody@example.com") // warm up: the dummy hash is made on first use
	var known, unknown []time.Duration
	for range 7 {
		known = append(known, attempt("known@example.com"))
		unknown = append(unknown, attempt("nobody@example.com"))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[3], unknown[3]
	t.Logf("median: wrong password %v, unknown e-mail %v", k, u)
	if u < k/4 {
		t.Errorf("unknown e-mail answered in %v, wrong password in %v: the difference reveals accounts", u, k)
	}
}

func TestStaffTOTP(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ops := e.staff(t, "ops@mercato.test", "platform_admin")

	// A platform user without a second factor must enroll before getting a session.
	r, err := login(e, "ops@mercato.test", "staff password 1", "192.0.2.1")
	if err != nil || r.Step != identity.StepEnrollTOTP || r.Enrollment == nil || r.Token != "" || r.Challenge == "" {
		t.Fatalf("platform login without TOTP: %+v, %v; want StepEnrollTOTP without a session", r, err)
	}
	again, _ := login(e, "ops@mercato.test", "staff password 1", "192.0.2.1")
	if again.Enrollment == nil || again.Enrollment.Secret != r.Enrollment.Secret {
		t.Error("a second login replaced the pending secret the user may have scanned")
	}
	if _, err := e.svc.CompleteStaffLogin(ctx, r.Challenge, "000000", "192.0.2.1", "test"); !errors.Is(err, identity.ErrTOTPInvalid) &&
		identity.TOTPCode(r.Enrollment.Secret, e.clock.Now()) != "000000" {
		t.Errorf("wrong enrollment code: %v", err)
	}
	secret := r.Enrollment.Secret
	code := identity.TOTPCode(secret, e.clock.Now())
	done, err := e.svc.CompleteStaffLogin(ctx, r.Challenge, code, "192.0.2.1", "test")
	if err != nil || done.Step != identity.StepDone || done.Token == "" || !done.User.TOTPEnabled {
		t.Fatalf("enrollment with the right code: %+v, %v", done, err)
	}

	// The secret is stored sealed, never as the base32 the app shows.
	var stored string
	err = e.f.Platform.Do(scope.WithActor(ctx, "system:test"), "test.read", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT totp_secret FROM staff_users WHERE id = ?", ops.ID).Scan(ctx, &stored)
	})
	if err != nil || !strings.HasPrefix(stored, "v1.") || strings.Contains(stored, secret) {
		t.Errorf("stored totp_secret %q (%v), want a sealed value", stored, err)
	}

	// From now on: password, then code; the code of a used step is refused (replay).
	r, err = login(e, "ops@mercato.test", "staff password 1", "192.0.2.1")
	if err != nil || r.Step != identity.StepTOTP || r.Token != "" {
		t.Fatalf("login with TOTP enrolled: %+v %v, want StepTOTP", r, err)
	}
	if _, err := e.svc.CompleteStaffLogin(ctx, r.Challenge, code, "192.0.2.1", "test"); !errors.Is(err, identity.ErrTOTPInvalid) {
		t.Errorf("replayed code: %v, want ErrTOTPInvalid", err)
	}
	e.clock.Advance(30 * time.Second)
	next := identity.TOTPCode(secret, e.clock.Now())
	if d, err := e.svc.CompleteStaffLogin(ctx, r.Challenge, next, "192.0.2.1", "test"); err != nil || d.Step != identity.StepDone {
		t.Errorf("next step's code: %v", err)
	}
	// Code in the same form as the password.
	e.clock.Advance(30 * time.Second)
	d, err := e.svc.LoginStaff(ctx, identity.StaffLogin{Email: "ops@mercato.test", Password: "staff password 1",
		TOTPCode: identity.TOTPCode(secret, e.clock.Now()), IP: "192.0.2.1"})
	if err != nil || d.Step != identity.StepDone {
		t.Errorf("one-form login: %+v %v", d, err)
	}
	// Challenges are signed and short-lived.
	r, _ = login(e, "ops@mercato.test", "staff password 1", "192.0.2.1")
	tampered := []byte(r.Challenge)
	tampered[3] ^= 1
	e.clock.Advance(30 * time.Second)
	good := identity.TOTPCode(secret, e.clock.Now())
	if _, err := e.svc.CompleteStaffLogin(ctx, string(tampered), good, "192.0.2.1", "test"); !errors.Is(err, identity.ErrChallengeInvalid) {
		t.Errorf("tampered challenge: %v", err)
	}
	e.clock.Advance(6 * time.Minute)
	good = identity.TOTPCode(secret, e.clock.Now())
	if _, err := e.svc.CompleteStaffLogin(ctx, r.Challenge, good, "192.0.2.1", "test"); !errors.Is(err, identity.ErrChallengeInvalid) {
		t.Errorf("expired challenge: %v", err)
	}
	if err := e.svc.DisableTOTP(ctx, ops.ID); !errors.Is(err, identity.ErrTOTPMandatory) {
		t.Errorf("disabling a platform user's TOTP: %v", err)
	}

	// Wrong codes count as failed sign-ins.
	r, _ = login(e, "ops@mercato.test", "staff password 1", "192.0.2.2")
	for i := 0; i < 5; i++ {
		_, _ = e.svc.CompleteStaffLogin(ctx, r.Challenge, "99999"+string(rune('0'+i)), "192.0.2.2", "test")
	}
	if _, err := e.svc.CompleteStaffLogin(ctx, r.Challenge, identity.TOTPCode(secret, e.clock.Now()), "192.0.2.2", "test"); !errors.Is(err, identity.ErrLoginLocked) {
		t.Errorf("after 5 wrong codes: %v, want ErrLoginLocked", err)
	}
}

func TestOptionalTOTP(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	u := e.staff(t, "clerk@example.com", "")
	if r, err := login(e, "clerk@example.com", "staff password 1", ""); err != nil || r.Step != identity.StepDone {
		t.Fatalf("tenant staff without TOTP: %+v %v", r, err)
	}
	enr, err := e.svc.BeginTOTPEnrollment(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ConfirmTOTPEnrollment(ctx, u.ID, "12345x"); !errors.Is(err, identity.ErrTOTPInvalid) {
		t.Errorf("wrong code: %v", err)
	}
	if err := e.svc.ConfirmTOTPEnrollment(ctx, u.ID, identity.TOTPCode(enr.Secret, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if r, _ := login(e, "clerk@example.com", "staff password 1", ""); r.Step != identity.StepTOTP {
		t.Errorf("after enrolling: step %s, want totp", r.Step)
	}
	if err := e.svc.DisableTOTP(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := login(e, "clerk@example.com", "staff password 1", ""); r.Step != identity.StepDone {
		t.Errorf("after disabling: step %s, want done", r.Step)
	}
}

func TestMemberships(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	u := e.staff(t, "multi@example.com", "")
	other := e.staff(t, "other@example.com", "")
	err := e.f.Platform.Do(scope.WithActor(ctx, "system:test"), "test.seed", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO memberships (tenant_id, user_id, merchant_id, role) VALUES
			(?0, ?2, NULL, 'tenant_admin'), (?0, ?2, ?4, 'merchant_owner'), (?1, ?2, NULL, 'tenant_viewer'), (?1, ?3, NULL, 'tenant_admin')`,
			e.a, e.b, u.ID, other.ID, e.m1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.svc.Memberships(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[identity.Membership]bool{}
	for _, m := range ms {
		got[m] = true
	}
	want := []identity.Membership{{e.a, uuid.Nil, "tenant_admin"}, {e.a, e.m1, "merchant_owner"}, {e.b, uuid.Nil, "tenant_viewer"}}
	if len(ms) != len(want) {
		t.Errorf("memberships %+v, want %+v", ms, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing membership %+v in %+v", w, ms)
		}
	}
	// Outside Memberships the policy shows nothing: the app role with no settings sees 0 rows.
	var n int
	if err := e.f.App.Bun().NewRaw("SELECT count(*) FROM memberships").Scan(ctx, &n); err != nil || n != 0 {
		t.Errorf("memberships visible without a setting: %d (%v)", n, err)
	}
}

func TestStaffPasswordChangeEndsSessions(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	u := e.staff(t, "p@example.com", "")
	r, _ := login(e, "p@example.com", "staff password 1", "")
	if err := e.svc.SetStaffPassword(ctx, u.ID, "short"); err == nil {
		t.Error("short password accepted")
	}
	if err := e.svc.SetStaffPassword(ctx, u.ID, "a new password 2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.StaffSession(ctx, r.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("session after a password change: %v", err)
	}
	if _, err := login(e, "p@example.com", "a new password 2", ""); err != nil {
		t.Error(err)
	}
	if got, err := e.svc.Staff(ctx, u.ID); err != nil || got != u {
		t.Errorf("Staff = %+v %v, want %+v", got, err, u)
	}
	if _, err := e.svc.Staff(ctx, uuid.New()); !errors.Is(err, identity.ErrStaffNotFound) {
		t.Errorf("unknown staff: %v", err)
	}
	if _, err := e.svc.CreateStaffUser(ctx, identity.NewStaffUser{Email: "P@example.com", Password: "whatever 12345"}); !errors.Is(err, identity.ErrEmailTaken) {
		t.Errorf("duplicate e-mail (other case): %v", err)
	}
	if _, err := e.svc.CreateStaffUser(ctx, identity.NewStaffUser{Email: "x@example.com", PlatformRole: "root"}); err == nil {
		t.Error("unknown platform role accepted")
	}
}
