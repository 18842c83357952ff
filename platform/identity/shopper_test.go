package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mercato/platform/fault"
	"mercato/platform/identity"
)

func TestSameEmailInTwoTenants(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	a, err := e.svc.SignUpShopper(ctx, e.a, identity.ShopperSignUp{Email: "Same@Example.com", Password: "password of A!", Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.svc.SignUpShopper(ctx, e.b, identity.ShopperSignUp{Email: "same@example.com", Password: "password of B!", Locale: "zh-CN"})
	if err != nil {
		t.Fatalf("same e-mail in tenant B: %v", err)
	}
	if a.Shopper.ID == b.Shopper.ID || a.Shopper.Email != "same@example.com" || b.Shopper.Locale != "zh-CN" {
		t.Errorf("accounts %+v and %+v", a.Shopper, b.Shopper)
	}
	if got, err := e.svc.Shopper(ctx, e.a, a.Shopper.ID); err != nil || got != a.Shopper {
		t.Errorf("Shopper in its tenant: %+v %v", got, err)
	}
	if _, err := e.svc.Shopper(ctx, e.b, a.Shopper.ID); !errors.Is(err, identity.ErrShopperNotFound) {
		t.Errorf("A's shopper read in tenant B: %v, want ErrShopperNotFound", err)
	}
	if _, err := e.svc.SignUpShopper(ctx, e.a, identity.ShopperSignUp{Email: "same@example.com", Password: "another one!!"}); !errors.Is(err, identity.ErrEmailTaken) {
		t.Errorf("same e-mail twice in tenant A: %v, want ErrEmailTaken", err)
	}
	for _, tc := range []struct {
		name   string
		tenant string
		pw     string
		ok     bool
	}{
		{"A with A's password", "a", "password of A!", true},
		{"B with B's password", "b", "password of B!", true},
		{"A with B's password", "a", "password of B!", false},
		{"B with A's password", "b", "password of A!", false},
	} {
		tenant := e.a
		if tc.tenant == "b" {
			tenant = e.b
		}
		got, err := e.svc.SignInShopper(ctx, tenant, identity.ShopperLogin{Email: "same@example.com", Password: tc.pw, IP: "192.0.2.50"})
		if tc.ok != (err == nil) || (err == nil && got.Shopper.TenantID != tenant) {
			t.Errorf("%s: %+v %v", tc.name, got.Shopper, err)
		}
	}
	for _, in := range []identity.ShopperSignUp{
		{Email: "not an e-mail", Password: "long enough pw"},
		{Email: "short@example.com", Password: "short"},
		{Email: "locale@example.com", Password: "long enough pw", Locale: "fr"},
	} {
		_, err := e.svc.SignUpShopper(ctx, e.a, in)
		if fe := fault.As(err); fe == nil || fe.Kind != fault.Invalid {
			t.Errorf("sign-up %+v: %v, want an Invalid fault", in, err)
		}
	}
}

func TestPasswordReset(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	acct, err := e.svc.SignUpShopper(ctx, e.a, identity.ShopperSignUp{Email: "forgetful@example.com", Password: "old password 1"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "forgetful@example.com", Password: "old password 1"})
	link := func(tok string) string { return "https://tenant-a.example/account/reset?token=" + tok }
	tokenOf := func(m identity.Message) string {
		_, tok, _ := strings.Cut(m.Text, "token=")
		tok, _, _ = strings.Cut(tok, "\n")
		return tok
	}

	// Unknown e-mails get the same answer and no mail.
	if err := e.svc.RequestPasswordReset(ctx, e.a, "nobody@example.com", link); err != nil {
		t.Errorf("unknown e-mail: %v", err)
	}
	if err := e.svc.RequestPasswordReset(ctx, e.b, "forgetful@example.com", link); err != nil {
		t.Errorf("e-mail of another tenant: %v", err)
	}
	if n := len(e.mail.Messages()); n != 0 {
		t.Fatalf("%d mails for accounts that do not exist", n)
	}
	if err := e.svc.RequestPasswordReset(ctx, e.a, "Forgetful@example.com", link); err != nil {
		t.Fatal(err)
	}
	msgs := e.mail.Messages()
	if len(msgs) != 1 || msgs[0].To != "forgetful@example.com" || msgs[0].TenantID != e.a || tokenOf(msgs[0]) == "" {
		t.Fatalf("mails %+v", msgs)
	}
	if err := e.svc.RequestPasswordReset(ctx, e.a, "forgetful@example.com", link); err != nil || len(e.mail.Messages()) != 1 {
		t.Errorf("a second request within a minute sent another mail (%v)", err)
	}
	token := tokenOf(msgs[0])

	// The policy is checked before the token is spent.
	if err := e.svc.ResetPassword(ctx, e.a, token, "short"); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("short new password: %v", err)
	}
	if err := e.svc.ResetPassword(ctx, e.b, token, "new password 2"); !errors.Is(err, identity.ErrResetTokenInvalid) {
		t.Errorf("token used at another tenant: %v", err)
	}
	if err := e.svc.ResetPassword(ctx, e.a, token, "new password 2"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{acct.Token, other.Token} {
		if _, err := e.svc.ShopperSession(ctx, e.a, tok); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("a session survived the reset: %v", err)
		}
	}
	if _, err := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "forgetful@example.com", Password: "old password 1"}); err == nil {
		t.Error("old password still works")
	}
	if _, err := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "forgetful@example.com", Password: "new password 2"}); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := e.svc.ResetPassword(ctx, e.a, token, "third password 3"); !errors.Is(err, identity.ErrResetTokenInvalid) {
		t.Errorf("token used twice: %v, want ErrResetTokenInvalid", err)
	}

	// Expiry: an hour.
	for _, tc := range []struct {
		wait time.Duration
		ok   bool
	}{{59 * time.Minute, true}, {61 * time.Minute, false}} {
		e.clock.Advance(2 * time.Minute) // past the one-mail-a-minute gap
		if err := e.svc.RequestPasswordReset(ctx, e.a, "forgetful@example.com", link); err != nil {
			t.Fatal(err)
		}
		msgs := e.mail.Messages()
		tok := tokenOf(msgs[len(msgs)-1])
		e.clock.Advance(tc.wait)
		err := e.svc.ResetPassword(ctx, e.a, tok, "password after "+tc.wait.String())
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, identity.ErrResetTokenInvalid)) {
			t.Errorf("token used after %v: %v, want ok=%v", tc.wait, err, tc.ok)
		}
	}
	// A reset also lifts a lock on the e-mail: the owner proved they hold the mailbox.
	for i := 0; i < 6; i++ {
		_, _ = e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "forgetful@example.com", Password: "wrong wrong wrong"})
	}
	if _, err := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "forgetful@example.com", Password: "password after 59m0s"}); !errors.Is(err, identity.ErrLoginLocked) {
		t.Fatalf("after 6 failures: %v, want locked", err)
	}
	e.clock.Advance(2 * time.Minute)
	_ = e.svc.RequestPasswordReset(ctx, e.a, "forgetful@example.com", link)
	msgs = e.mail.Messages()
	if err := e.svc.ResetPassword(ctx, e.a, tokenOf(msgs[len(msgs)-1]), "fresh password 4"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SignInShopper(ctx, e.a, identity.ShopperLogin{Email: "forgetful@example.com", Password: "fresh password 4"}); err != nil {
		t.Errorf("sign-in after a reset of a locked account: %v", err)
	}
}
