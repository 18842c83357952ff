package merchants

import (
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

type merchantRow struct {
	bun.BaseModel `bun:"table:merchants"`

	TenantID     uuid.UUID  `bun:"tenant_id,pk"`
	ID           uuid.UUID  `bun:"id,pk"`
	Handle       string     `bun:"handle"`
	Name         string     `bun:"name"`
	Status       string     `bun:"status"`
	ContactEmail string     `bun:"contact_email,nullzero"`
	Description  string     `bun:"description"`
	DecidedAt    *time.Time `bun:"decided_at"`
	DecidedBy    string     `bun:"decided_by,nullzero"`
	DecisionNote string     `bun:"decision_note"`
	CreatedAt    time.Time  `bun:"created_at"`
}

func (r merchantRow) merchant() Merchant {
	return Merchant{ID: r.ID, Handle: r.Handle, Name: r.Name, Status: r.Status, ContactEmail: r.ContactEmail,
		Description: r.Description, DecidedAt: r.DecidedAt, DecisionNote: r.DecisionNote, CreatedAt: r.CreatedAt}
}
