package identity

import (
	"context"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TOTPCode is the code an authenticator app shows for a base32 secret at t.
func TOTPCode(secret string, t time.Time) string {
	raw, err := totpBase32.DecodeString(secret)
	if err != nil {
		panic(err)
	}
	return hotp(raw, totpStep(t), totpDigits)
}

// SignWithActiveKey signs arbitrary claims with the active key and the headers real tokens
// carry, so tests can build tokens that are well signed but wrong in one claim.
func (s *Service) SignWithActiveKey(ctx context.Context, claims jwt.MapClaims) (string, error) {
	key, err := s.activeKey(ctx)
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = key.kid
	t.Header["typ"] = tokenType
	return t.SignedString(key.priv)
}

// ActiveKid is the kid this instance signs with.
func (s *Service) ActiveKid(ctx context.Context) string {
	key, err := s.activeKey(ctx)
	if err != nil {
		panic(err)
	}
	return key.kid
}
