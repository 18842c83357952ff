package identity

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// LockoutPolicy says when failed sign-ins lock an e-mail or a client address: Threshold
// failures with no more than Window between them (counted from the end of any lock) lock it
// for 2^(n-Threshold) minutes at the n-th failure, at most MaxLock.
type LockoutPolicy struct {
	Threshold   int           // failures per e-mail before the first lock
	IPThreshold int           // failures per client address before the first lock
	Window      time.Duration // a quiet spell this long forgets the failures
	MaxLock     time.Duration
}

// withDefaults fills zero fields: 5 failures within 15 minutes, per e-mail and per address,
// then locks of 1, 2, 4 … minutes, capped at an hour.
func (p LockoutPolicy) withDefaults() LockoutPolicy {
	if p.Threshold <= 0 {
		p.Threshold = 5
	}
	if p.IPThreshold <= 0 {
		p.IPThreshold = 5
	}
	if p.Window <= 0 {
		p.Window = 15 * time.Minute
	}
	if p.MaxLock <= 0 {
		p.MaxLock = time.Hour
	}
	return p
}

// lockedError carries when a lock ends, for a Retry-After header.
type lockedError struct{ until time.Time }

func (e *lockedError) Error() string { return ErrLoginLocked.Error() }
func (e *lockedError) Unwrap() error { return ErrLoginLocked }

// LockedUntil returns when the lock behind an ErrLoginLocked ends.
func LockedUntil(err error) (time.Time, bool) {
	var le *lockedError
	if errors.As(err, &le) {
		return le.until, true
	}
	return time.Time{}, false
}

// throttleKey is one counter: an e-mail in a realm, or a client address.
type throttleKey struct {
	hash      []byte
	threshold int
}

// throttleKeys are the counters a sign-in attempt touches. realm separates staff from each
// tenant's shoppers: the same e-mail is a different account in each. Keys are HMACs so the
// table holds no e-mails or addresses in the clear.
func (s *Service) throttleKeys(realm, email, ip string) []throttleKey {
	keys := []throttleKey{{mac(s.keys.throttle, []byte("email"), []byte(realm), []byte(email)), s.lockout.Threshold}}
	if ip != "" {
		keys = append(keys, throttleKey{mac(s.keys.throttle, []byte("ip"), []byte(ip)), s.lockout.IPThreshold})
	}
	return keys
}

// checkLock refuses while any of keys is locked.
func (s *Service) checkLock(ctx context.Context, keys []throttleKey) error {
	hashes := make([][]byte, len(keys))
	for i, k := range keys {
		hashes[i] = k.hash
	}
	var until []time.Time
	err := s.db.Bun().NewSelect().Table("login_throttle").Column("locked_until").
		Where("key IN (?)", bun.In(hashes)).Where("locked_until > ?", s.now()).Scan(ctx, &until)
	if err != nil {
		return fmt.Errorf("check login lock: %w", err)
	}
	var last time.Time
	for _, u := range until {
		if u.After(last) {
			last = u
		}
	}
	if !last.IsZero() {
		return &lockedError{until: last}
	}
	return nil
}

// recordFailure counts one failure against each key and locks those past their threshold.
// One statement per key, so concurrent failures all count.
func (s *Service) recordFailure(ctx context.Context, keys []throttleKey) error {
	now := s.now()
	for _, k := range keys {
		_, err := s.db.Bun().NewRaw(`
			INSERT INTO login_throttle AS t (key, failures, last_failure_at, locked_until)
			VALUES (?0, 1, ?1, CASE WHEN 1 >= ?2 THEN ?1::timestamptz + interval '1 minute' END)
			ON CONFLICT (key) DO UPDATE SET
			  failures = CASE WHEN greatest(t.last_failure_at, coalesce(t.locked_until, t.last_failure_at)) + ?3::interval < ?1
			                  THEN 1 ELSE t.failures + 1 END,
			  last_failure_at = ?1,
			  locked_until = CASE
			    WHEN (CASE WHEN greatest(t.last_failure_at, coalesce(t.locked_until, t.last_failure_at)) + ?3::interval < ?1
			               THEN 1 ELSE t.failures + 1 END) >= ?2
			    THEN ?1::timestamptz + least(interval '1 minute' * power(2, least(
			           (CASE WHEN greatest(t.last_failure_at, coalesce(t.locked_until, t.last_failure_at)) + ?3::interval < ?1
			                 THEN 1 ELSE t.failures + 1 END) - ?2, 12)), ?4::interval)
			    ELSE t.locked_until END`,
			k.hash, now, k.threshold, pgInterval(s.lockout.Window), pgInterval(s.lockout.MaxLock)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("record failed sign-in: %w", err)
		}
	}
	return nil
}

// clearFailures forgets the failures of keys after a successful sign-in.
func (s *Service) clearFailures(ctx context.Context, keys []throttleKey) error {
	hashes := make([][]byte, len(keys))
	for i, k := range keys {
		hashes[i] = k.hash
	}
	if _, err := s.db.Bun().NewDelete().Table("login_throttle").Where("key IN (?)", bun.In(hashes)).Exec(ctx); err != nil {
		return fmt.Errorf("clear failed sign-ins: %w", err)
	}
	return nil
}

// normalizeEmail lower-cases and checks an e-mail the way the tables store it.
func normalizeEmail(e string) (string, error) {
	e = strings.ToLower(strings.TrimSpace(e))
	if len(e) > 254 {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// pgInterval writes d for a ?::interval parameter.
func pgInterval(d time.Duration) string { return fmt.Sprintf("%d milliseconds", d.Milliseconds()) }
