package merchants

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
)

// PublicMerchant is what anyone visiting the storefront may know of a seller: never its
// contact e-mail, status history or decision notes.
type PublicMerchant struct {
	ID          uuid.UUID `json:"id" bun:"id"`
	Handle      string    `json:"handle" bun:"handle"`
	Name        string    `json:"name" bun:"name"`
	Description string    `json:"description" bun:"description"`
}

// ListActive pages through a tenant's active merchants by handle, for the storefront. Pending,
// suspended and rejected merchants never appear. Errors: httpx.ErrBadCursor.
func (s *Service) ListActive(ctx context.Context, tenantID uuid.UUID, p httpx.PageParams) (httpx.Page[PublicMerchant], error) {
	var after string
	if _, err := httpx.DecodeCursor(p.Cursor, &after); err != nil {
		return httpx.Page[PublicMerchant]{}, err
	}
	var rows []PublicMerchant
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		// Ordered by handle: unique per tenant and indexed by (tenant_id, handle), so the
		// cursor is the last handle shown and each page is an index range scan.
		q := tx.NewSelect().Table("merchants").Column("id", "handle", "name", "description").
			Where("tenant_id = ?", tenantID).Where("status = ?", StatusActive).
			OrderExpr("handle").Limit(int64(p.Size() + 1))
		if after != "" {
			q = q.Where("handle > ?", after)
		}
		return q.Scan(ctx, &rows)
	})
	if err != nil {
		return httpx.Page[PublicMerchant]{}, fmt.Errorf("list active merchants: %w", err)
	}
	return httpx.PageOf(rows, p, func(m PublicMerchant) any { return m.Handle }), nil
}

// OpenInvitation returns the invitation behind an e-mailed token while it can still be
// accepted, so the acceptance page can say who is invited to open which store.
// Errors: ErrInvitationInvalid (unknown, used or expired).
func (s *Service) OpenInvitation(ctx context.Context, tenantID uuid.UUID, token string) (Invitation, error) {
	hash := sha256.Sum256([]byte(token))
	var inv Invitation
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT id, email, merchant_name, expires_at FROM merchant_invitations
			WHERE tenant_id = ? AND token_hash = ? AND accepted_at IS NULL AND expires_at > ?`,
			tenantID, hash[:], s.now().UTC()).Scan(ctx, &inv.ID, &inv.Email, &inv.MerchantName, &inv.ExpiresAt)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, ErrInvitationInvalid
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("open invitation: %w", err)
	}
	inv.ExpiresAt = inv.ExpiresAt.In(time.UTC)
	return inv, nil
}
