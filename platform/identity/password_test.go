package identity

import (
	"strings"
	"testing"
	"time"

	"mercato/platform/fault"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string with OWASP parameters", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
	for _, tc := range []struct {
		name, hash, pw  string
		ok, needsRehash bool
	}{
		{"right password", h, "correct horse battery", true, false},
		{"wrong password", h, "correct horse batterx", false, false},
		{"empty password", h, "", false, false},
		{"weaker parameters", hashWith("correct horse battery", argon2Params{Memory: 8192, Time: 1, Threads: 1}), "correct horse battery", true, true},
		{"weaker parameters, wrong password", hashWith("correct horse battery", argon2Params{Memory: 8192, Time: 1, Threads: 1}), "nope nope nope", false, false},
	} {
		ok, rehash, err := VerifyPassword(tc.hash, tc.pw)
		if err != nil || ok != tc.ok || rehash != tc.needsRehash {
			t.Errorf("%s: ok=%v needsRehash=%v err=%v; want %v %v nil", tc.name, ok, rehash, err, tc.ok, tc.needsRehash)
		}
	}
}

func TestPasswordMalformedHash(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // memory bomb
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if ok, _, err := VerifyPassword(h, "whatever whatever"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want false and an error", h, ok, err)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{strings.Repeat("a", 9), false},
		{strings.Repeat("a", 10), true},
		{strings.Repeat("密", 10), true}, // characters, not bytes
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
	} {
		err := CheckPasswordPolicy(tc.pw)
		if tc.ok != (err == nil) {
			t.Errorf("policy(%d chars) = %v, want ok=%v", len([]rune(tc.pw)), err, tc.ok)
			continue
		}
		if err != nil {
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.Invalid || len(fe.Fields) != 1 || fe.Fields[0].Location != "body.password" {
				t.Errorf("policy error %#v: want Invalid with a body.password field", fe)
			}
			if _, herr := HashPassword(tc.pw); herr == nil {
				t.Error("HashPassword accepted a password the policy refuses")
			}
		}
	}
}

// RFC 6238 Appendix B, SHA-1 rows: the published 8-digit values and their 6-digit truncation.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix  int64
		eight string
		six   string
	}{
		{59, "94287082", "287082"},
		{1111111109, "07081804", "081804"},
		{1111111111, "14050471", "050471"},
		{1234567890, "89005924", "005924"},
		{2000000000, "69279037", "279037"},
		{20000000000, "65353130", "353130"},
	} {
		at := time.Unix(tc.unix, 0)
		if got := hotp(secret, totpStep(at), 8); got != tc.eight {
			t.Errorf("T=%d: 8 digits %s, want %s", tc.unix, got, tc.eight)
		}
		if got := hotp(secret, totpStep(at), 6); got != tc.six {
			t.Errorf("T=%d: 6 digits %s, want %s", tc.unix, got, tc.six)
		}
		if _, ok := verifyTOTP(secret, tc.six, at, -1); !ok {
			t.Errorf("T=%d: verify refused the right code", tc.unix)
		}
	}
}

func TestTOTPWindowAndReplay(t *testing.T) {
	secret := newTOTPSecret()
	now := time.Unix(1_700_000_000, 0)
	cur := totpStep(now)
	for _, tc := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		code := hotp(secret, cur+tc.offset, totpDigits)
		step, ok := verifyTOTP(secret, code, now, -1)
		if ok != tc.ok || (ok && step != cur+tc.offset) {
			t.Errorf("code of step %+d: ok=%v step=%d, want ok=%v", tc.offset, ok, step-cur, tc.ok)
		}
	}
	code := hotp(secret, cur, totpDigits)
	if _, ok := verifyTOTP(secret, code, now, cur); ok {
		t.Error("a code of an already used step was accepted")
	}
	if _, ok := verifyTOTP(secret, hotp(secret, cur-1, totpDigits), now, cur); ok {
		t.Error("a code of a step before the last used one was accepted")
	}
	if _, ok := verifyTOTP(secret, "12345", now, -1); ok {
		t.Error("a 5-digit code was accepted")
	}
	enr := totpEnrollment(secret, "ops@mercato.test")
	if !strings.HasPrefix(enr.URI, "otpauth://totp/Mercato:ops@mercato.test?") || !strings.Contains(enr.URI, "secret="+enr.Secret) ||
		!strings.Contains(enr.URI, "issuer=Mercato") {
		t.Errorf("otpauth URI %q", enr.URI)
	}
}

func TestSealedValuesAreBound(t *testing.T) {
	k, err := deriveKeys(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	s := sealString(k.totp, []byte("secret"), []byte("user-1"))
	if got, err := openString(k.totp, s, []byte("user-1")); err != nil || string(got) != "secret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := openString(k.totp, s, []byte("user-2")); err == nil {
		t.Error("a sealed value opened for another row")
	}
	if _, err := openString(k.jwt, s, []byte("user-1")); err == nil {
		t.Error("a value sealed under the totp key opened under the jwt key")
	}
	other, _ := deriveKeys(strings.Repeat("o", 32))
	if _, err := openString(other.totp, s, []byte("user-1")); err == nil {
		t.Error("a value opened under another secret key")
	}
	if _, err := deriveKeys("short"); err == nil {
		t.Error("a short secret key was accepted")
	}
}
