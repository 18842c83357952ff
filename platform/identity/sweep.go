package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"mercato/platform/db"
)

// SweepExpired deletes sessions past their absolute end, reset tokens past their expiry,
// throttle counters nobody has failed against for a day, and returns how many rows went.
// Expired rows are already refused when read; this only keeps the tables small. Shopper rows
// live in every tenant, so that part goes through the audited platform entry point; run it
// from the scheduler.
func (s *Service) SweepExpired(ctx context.Context, p *db.Platform) (int64, error) {
	now := s.now()
	var total int64
	del := func(q *bun.DeleteQuery) error {
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		total += n
		return nil
	}
	b := s.db.Bun()
	if err := del(b.NewDelete().Table("staff_sessions").Where("expires_at <= ? OR last_seen_at <= ?", now, now.Add(-staffIdle))); err != nil {
		return total, fmt.Errorf("sweep staff sessions: %w", err)
	}
	if err := del(b.NewDelete().Table("login_throttle").Where("last_failure_at <= ?", now.Add(-24*time.Hour)).
		Where("locked_until IS NULL OR locked_until <= ?", now)); err != nil {
		return total, fmt.Errorf("sweep login throttle: %w", err)
	}
	err := p.Do(ctx, "sweep.identity", func(tx bun.IDB) error {
		if err := del(tx.NewDelete().Table("shopper_sessions").Where("expires_at <= ? OR last_seen_at <= ?", now, now.Add(-shopperIdle))); err != nil {
			return err
		}
		return del(tx.NewDelete().Table("shopper_password_resets").Where("expires_at <= ?", now))
	})
	if err != nil {
		return total, fmt.Errorf("sweep shopper sessions: %w", err)
	}
	return total, nil
}
