package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP per RFC 6238 with the parameters every authenticator app supports: HMAC-SHA1, six
// digits, 30-second steps. One step either side is accepted for clock drift.
const (
	totpPeriod = 30
	totpDigits = 6
	totpSkew   = 1
	totpIssuer = "Mercato"
)

var totpBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPEnrollment is what a user needs to add Mercato to an authenticator app.
type TOTPEnrollment struct {
	Secret string // base32, for typing in by hand
	URI    string // otpauth:// URI, for a QR code
}

func newTOTPSecret() []byte {
	s := make([]byte, 20) // 160 bits, RFC 4226's recommendation for SHA-1
	_, _ = rand.Read(s)
	return s
}

func totpEnrollment(secret []byte, account string) TOTPEnrollment {
	enc := totpBase32.EncodeToString(secret)
	q := url.Values{}
	q.Set("secret", enc)
	q.Set("issuer", totpIssuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(totpDigits))
	q.Set("period", fmt.Sprint(totpPeriod))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + account, RawQuery: q.Encode()}
	return TOTPEnrollment{Secret: enc, URI: u.String()}
}

// totpStep is the RFC 6238 time step T for t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// hotp is RFC 4226's HOTP with dynamic truncation to digits decimal digits.
func hotp(secret []byte, counter int64, digits int) string {
	m := hmac.New(sha1.New, secret)
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(counter)))
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

// verifyTOTP finds the step within ±totpSkew of now whose code is code and that is later
// than lastStep (the last step accepted for this user, -1 for none). ok is false for a wrong
// code and for a replayed one alike. Every candidate step is computed and compared in
// constant time, so timing says nothing about which one matched.
func verifyTOTP(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return 0, false
	}
	cur := totpStep(now)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		match := subtle.ConstantTimeCompare([]byte(hotp(secret, s, totpDigits)), []byte(code)) == 1
		if match && s > lastStep && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
