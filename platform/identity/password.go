package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"mercato/platform/fault"
)

// argon2Params are the argon2id cost parameters written into every hash.
type argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// currentArgon2 is OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). A hash made
// with other parameters still verifies and reports that it needs rehashing.
var currentArgon2 = argon2Params{Memory: 19456, Time: 2, Threads: 1}

const (
	saltLen = 16
	hashLen = 32

	minPasswordLen = 10
	maxPasswordLen = 128
)

// errMalformedHash is internal: a stored hash this code did not write.
var errMalformedHash = errors.New("identity: malformed password hash")

// CheckPasswordPolicy refuses passwords shorter than 10 or longer than 128 characters, as a
// fault.Invalid with a field error on body.password. Length is what NIST 800-63B asks for;
// the upper bound keeps argon2 input sane.
func CheckPasswordPolicy(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < minPasswordLen:
		return fault.Fields(map[string]string{"body.password": fmt.Sprintf("must be at least %d characters", minPasswordLen)})
	case n > maxPasswordLen:
		return fault.Fields(map[string]string{"body.password": fmt.Sprintf("must be at most %d characters", maxPasswordLen)})
	}
	return nil
}

// HashPassword checks the policy and returns an argon2id hash in PHC string format.
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordPolicy(pw); err != nil {
		return "", err
	}
	return hashWith(pw, currentArgon2), nil
}

func hashWith(pw string, p argon2Params) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported platforms
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, hashLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// VerifyPassword reports whether pw matches hash (compared in constant time) and whether the
// hash was made with parameters other than currentArgon2, so the caller should store a new
// one. err is only for a hash this package cannot read.
func VerifyPassword(hash, pw string) (ok, needsRehash bool, err error) {
	p, salt, sum, err := parsePHC(hash)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(sum)))
	ok = subtle.ConstantTimeCompare(got, sum) == 1
	return ok, ok && (p != currentArgon2 || len(sum) != hashLen || len(salt) != saltLen), nil
}

func parsePHC(s string) (p argon2Params, salt, sum []byte, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errMalformedHash
	}
	// Bounds keep a tampered row from turning one sign-in into a memory or CPU bomb.
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 10 || p.Threads < 1 || p.Threads > 16 {
		return p, nil, nil, errMalformedHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errMalformedHash
	}
	if sum, err = b64.DecodeString(parts[5]); err != nil || len(sum) < 16 || len(sum) > 64 {
		return p, nil, nil, errMalformedHash
	}
	return p, salt, sum, nil
}
