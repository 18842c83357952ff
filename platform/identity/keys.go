package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// secretKeys are the keys this package derives from MERCATO_SECRET_KEY, one per purpose, so
// that a key leaked from one use (say a CSRF token oracle) says nothing about another.
type secretKeys struct {
	totp      cipher.AEAD // seals TOTP secrets at rest
	jwt       cipher.AEAD // seals the private halves of signing keys
	csrf      []byte      // HMAC key of CSRF tokens
	throttle  []byte      // HMAC key that turns e-mails and addresses into throttle keys
	challenge []byte      // HMAC key of second-factor challenges
}

func deriveKeys(secret string) (secretKeys, error) {
	if len(secret) < 32 {
		return secretKeys{}, errors.New("identity: the secret key must be at least 32 characters")
	}
	derive := func(info string) []byte {
		k, err := hkdf.Key(sha256.New, []byte(secret), nil, info, 32)
		if err != nil { // only for lengths beyond 255 hash blocks
			panic(err)
		}
		return k
	}
	aead := func(info string) (cipher.AEAD, error) {
		block, err := aes.NewCipher(derive(info))
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	}
	var k secretKeys
	var err error
	if k.totp, err = aead("mercato totp"); err != nil {
		return k, fmt.Errorf("totp key: %w", err)
	}
	if k.jwt, err = aead("mercato jwt"); err != nil {
		return k, fmt.Errorf("jwt key: %w", err)
	}
	k.csrf = derive("mercato csrf")
	k.throttle = derive("mercato login throttle")
	k.challenge = derive("mercato login challenge")
	return k, nil
}

// seal encrypts plain with a random nonce; aad binds the ciphertext to its row (a user id, a
// kid), so a sealed value copied onto another row does not open.
func seal(a cipher.AEAD, plain, aad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	_, _ = rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, aad)
}

func open(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("identity: sealed value too short")
	}
	n := a.NonceSize()
	return a.Open(nil, sealed[:n], sealed[n:], aad)
}

// sealedPrefix versions text-stored sealed values so the format can change later.
const sealedPrefix = "v1."

func sealString(a cipher.AEAD, plain, aad []byte) string {
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(seal(a, plain, aad))
}

func openString(a cipher.AEAD, s string, aad []byte) ([]byte, error) {
	if len(s) < len(sealedPrefix) || s[:len(sealedPrefix)] != sealedPrefix {
		return nil, errors.New("identity: unknown sealed format")
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(sealedPrefix):])
	if err != nil {
		return nil, err
	}
	return open(a, raw, aad)
}

func mac(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		// length-prefixed, so ("ab","c") and ("a","bc") differ
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		h.Write(p)
	}
	return h.Sum(nil)
}

// randomToken is 32 bytes from crypto/rand, base64url: what cookies and reset links carry.
func randomToken() (token string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token)
}

// tokenHash is what tables store of a bearer token. A plain SHA-256 is enough: the token is
// 256 random bits, so there is nothing to brute-force and no reason for a slow KDF.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
