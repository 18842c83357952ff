package merchants

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Statuses lists every merchant status in the order of a merchant's life.
func Statuses() []string {
	return []string{StatusPending, StatusActive, StatusSuspended, StatusRejected}
}

// CountByStatus counts the tenant's merchants per status; every status is present, zero or
// not. In a merchant scope RLS counts only the caller's own merchant.
func (s *Service) CountByStatus(ctx context.Context, tenantID uuid.UUID) (map[string]int, error) {
	out := map[string]int{}
	for _, st := range Statuses() {
		out[st] = 0
	}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var rows []struct {
			Status string `bun:"status"`
			N      int    `bun:"n"`
		}
		if err := tx.NewRaw("SELECT status, count(*) AS n FROM merchants WHERE tenant_id = ? GROUP BY status", tenantID).
			Scan(ctx, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			out[r.Status] = r.N
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count merchants: %w", err)
	}
	return out, nil
}
