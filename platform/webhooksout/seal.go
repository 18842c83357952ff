package webhooksout

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/google/uuid"
)

// newSealer derives the key that seals signing secrets at rest, its own purpose-bound key so
// that nothing else keyed by MERCATO_SECRET_KEY can open them.
func newSealer(secretKey string) (cipher.AEAD, error) {
	if len(secretKey) < 32 {
		return nil, errors.New("webhooksout: the secret key must be at least 32 characters")
	}
	key, err := hkdf.Key(sha256.New, []byte(secretKey), nil, "mercato webhooks", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// secretAAD binds a sealed secret to its endpoint: copied onto another row it does not open.
func secretAAD(tenantID, endpointID uuid.UUID) []byte {
	return append(tenantID[:len(tenantID):len(tenantID)], endpointID[:]...)
}

func (s *Service) seal(tenantID, endpointID uuid.UUID, secret string) []byte {
	nonce := make([]byte, s.sealer.NonceSize(), s.sealer.NonceSize()+len(secret)+s.sealer.Overhead())
	_, _ = rand.Read(nonce)
	return s.sealer.Seal(nonce, nonce, []byte(secret), secretAAD(tenantID, endpointID))
}

func (s *Service) open(tenantID, endpointID uuid.UUID, sealed []byte) (string, error) {
	n := s.sealer.NonceSize()
	if len(sealed) < n+s.sealer.Overhead() {
		return "", errors.New("webhooksout: sealed secret too short")
	}
	plain, err := s.sealer.Open(nil, sealed[:n], sealed[n:], secretAAD(tenantID, endpointID))
	if err != nil {
		return "", errors.New("webhooksout: cannot open the endpoint's secret (was MERCATO_SECRET_KEY changed?)")
	}
	return string(plain), nil
}

// newSecret makes a signing secret: "whsec_" and 32 random bytes, URL-safe base64. The whole
// string is the HMAC key, which is what integrators copy.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}
