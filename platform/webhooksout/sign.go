package webhooksout

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"mercato/platform/fault"
)

// SignatureHeader is the header that carries the signature.
const SignatureHeader = "Mercato-Signature"

// DefaultTolerance is how old a signed timestamp Verify accepts unless told otherwise.
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns.
var (
	ErrSignatureMissing  = fault.New(fault.Invalid, "webhook_signature_missing", "the Mercato-Signature header is missing or malformed")
	ErrSignatureExpired  = fault.New(fault.Invalid, "webhook_signature_expired", "the signature's timestamp is outside the tolerance")
	ErrSignatureMismatch = fault.New(fault.Invalid, "webhook_signature_mismatch", "no signature matches the body")
)

// Sign computes the header value for body sent at t: "t=<unix seconds>,v1=<hex>" with one
// v1 per secret (several while a rotated secret is still honoured). Each v1 is
// HMAC-SHA256(secret, "<t>.<body>").
func Sign(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify is the receiver's check, for integrators writing Go and for Mercato's own tests: the
// header must carry a timestamp within tolerance of now (either way; 0 means
// DefaultTolerance) and at least one v1 signature that matches body under secret. Comparison
// is constant-time; unknown schemes (v0=, v2=) are ignored so they can be added later.
// Errors: ErrSignatureMissing, ErrSignatureExpired, ErrSignatureMismatch.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return ErrSignatureExpired
	}
	want := mac(secret, ts, body)
	ok := false
	for _, sig := range sigs {
		// Check every candidate so the time taken does not say which one matched.
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	return nil
}
