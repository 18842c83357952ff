package webhooksout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mercato/platform/webhooksout"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	body := []byte(`{"id":"e1","type":"order.paid"}`)
	const secret, old = "whsec_current", "whsec_previous"
	good := webhooksout.Sign(now, body, secret)
	both := webhooksout.Sign(now, body, secret, old)
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, good, body, now, nil},
		{"valid 300 s later", secret, good, body, now.Add(300 * time.Second), nil},
		{"rotation: new secret", secret, both, body, now, nil},
		{"rotation: old secret", old, both, body, now, nil},
		{"unknown schemes ignored", secret, "v0=zz," + good + ",v2=abc", body, now, nil},
		{"301 s old", secret, good, body, now.Add(301 * time.Second), webhooksout.ErrSignatureExpired},
		{"301 s in the future", secret, good, body, now.Add(-301 * time.Second), webhooksout.ErrSignatureExpired},
		{"tampered body", secret, good, []byte(`{"id":"e1","type":"order.paid","x":1}`), now, webhooksout.ErrSignatureMismatch},
		{"wrong secret", "whsec_other", good, body, now, webhooksout.ErrSignatureMismatch},
		{"timestamp changed", secret, strings.Replace(good, "t=1900000000", "t=1900000001", 1), body, now, webhooksout.ErrSignatureMismatch},
		{"missing header", secret, "", body, now, webhooksout.ErrSignatureMissing},
		{"no timestamp", secret, good[strings.Index(good, ",")+1:], body, now, webhooksout.ErrSignatureMissing},
		{"no signature", secret, "t=1900000000", body, now, webhooksout.ErrSignatureMissing},
		{"signature not hex", secret, "t=1900000000,v1=nothex", body, now, webhooksout.ErrSignatureMissing},
	} {
		if err := webhooksout.Verify(tc.secret, tc.header, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if !strings.HasPrefix(good, "t=1900000000,v1=") || len(good) != len("t=1900000000,v1=")+64 {
		t.Errorf("header format: %s", good)
	}
	if err := webhooksout.Verify(secret, good, body, now.Add(time.Hour), 2*time.Hour); err != nil {
		t.Errorf("explicit tolerance: %v", err)
	}
}
