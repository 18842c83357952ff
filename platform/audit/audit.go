// Package audit keeps the tamper-evident record of who changed what: one hash chain per
// tenant, written in the same transaction as the change.
//
// Slices call Record inside the transaction that makes a change; the admin portal and the
// console read with List; `mercato audit verify` runs VerifyCommand. Operators' own work (every
// db.Platform.Do) goes into the platform's chain, that of the nil tenant. The chain itself
// (hashing, Verify) lives in audit/chain, which platform/db imports directly.
//
// The chain shows any change, deletion or reordering by someone who cannot also rewrite every
// later hash and the head: the app role cannot (it may only INSERT entries), a database
// superuser can. Catching that too needs the heads anchored outside the database.
package audit

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit/chain"
	"mercato/platform/httpx"
)

// The vocabulary of the chain, under this package's name.
type (
	// Entry is one change to record.
	Entry = chain.Entry
	// Logged is an entry as its chain holds it.
	Logged = chain.Logged
	// Report is the outcome of Verify.
	Report = chain.Report
	// Problem is one broken entry, or one run of missing entries.
	Problem = chain.Problem
	// Kind is what is wrong with an entry.
	Kind = chain.Kind
)

// The problems Verify finds.
const (
	HashMismatch = chain.HashMismatch
	Missing      = chain.Missing
	LinkMismatch = chain.LinkMismatch
	HeadMismatch = chain.HeadMismatch
)

// Redacted replaces the value of every field that looks secret.
const Redacted = chain.Redacted

// Errors Record returns.
var (
	ErrNoTenant    = chain.ErrNoTenant
	ErrBadAction   = chain.ErrBadAction
	ErrHeadMissing = chain.ErrHeadMissing
)

// Record appends e to the chain of the transaction's tenant (its app.tenant_id), in that
// transaction. Call it last where you can: it holds the tenant's chain lock until commit.
// Errors: ErrNoTenant, ErrBadAction, ErrHeadMissing, or the encoding's and database's.
func Record(ctx context.Context, tx bun.IDB, e Entry) error { return chain.Record(ctx, tx, e) }

// Verify walks tenantID's chain and reports every changed, missing or relinked entry.
func Verify(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (Report, error) {
	return chain.Verify(ctx, tx, tenantID)
}

// Hash is the SHA-256 of an entry over its canonical encoding (documented in chain.Hash).
func Hash(l Logged) ([]byte, error) { return chain.Hash(l) }

// Diff lists the changed top-level fields as {"field": {"from": old, "to": new}}, secrets
// redacted.
func Diff(before, after any) map[string]any { return chain.Diff(before, after) }

// UseTenant points the transaction at tenantID's chain; the platform role needs it inside
// db.Platform.Do to write or list a tenant's entries. uuid.Nil is the platform's chain.
func UseTenant(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) error {
	return chain.UseTenant(ctx, tx, tenantID)
}

// WithIP records the client's address for the entries written while handling a request.
func WithIP(ctx context.Context, ip netip.Addr) context.Context { return chain.WithIP(ctx, ip) }

// Recorder adapts Record to slices' narrow interfaces (tenants/merchants.Recorder): actor,
// request id and IP come from the context.
type Recorder struct{}

// Record writes one entry in tx.
func (Recorder) Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error {
	return chain.Record(ctx, tx, Entry{Action: action, ResourceType: resourceType, ResourceID: resourceID, Before: before, After: after})
}

// Filter narrows List; zero fields match everything. From is inclusive, To exclusive.
type Filter struct {
	Actor        string    `query:"actor" maxLength:"200"`
	Action       string    `query:"action" maxLength:"100"`
	ResourceType string    `query:"resource_type" maxLength:"100"`
	ResourceID   string    `query:"resource_id" maxLength:"200"`
	From         time.Time `query:"from" doc:"entries at or after this time (RFC 3339)"`
	To           time.Time `query:"to" doc:"entries before this time (RFC 3339)"`
	httpx.PageParams
}

// List pages through the chain of the transaction's tenant, newest first. It reads the
// tenant from app.tenant_id like Record, so the platform role (which bypasses RLS) lists one
// chain too: call UseTenant first. Errors: httpx.ErrBadCursor.
func List(ctx context.Context, tx bun.IDB, f Filter) (httpx.Page[Logged], error) {
	var after int64
	first, err := httpx.DecodeCursor(f.Cursor, &after)
	if err != nil {
		return httpx.Page[Logged]{}, err
	}
	q := tx.NewSelect().Table("audit_entries").
		Column("tenant_id", "seq", "id", "at", "actor", "action", "resource_type", "resource_id",
			"before", "after", "diff", "ip", "request_id", "prev_hash", "hash").
		// Explicit for the platform role, which RLS does not narrow, and for the index.
		Where("tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid").
		OrderExpr("seq DESC").
		Limit(int64(f.Size() + 1))
	if !first {
		q = q.Where("seq < ?", after)
	}
	for col, v := range map[string]string{"actor": f.Actor, "action": f.Action,
		"resource_type": f.ResourceType, "resource_id": f.ResourceID} {
		if v != "" {
			q = q.Where("? = ?", bun.Ident(col), v)
		}
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To)
	}
	rows, err := tx.QueryContext(ctx, q.String())
	if err != nil {
		return httpx.Page[Logged]{}, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []Logged
	for rows.Next() {
		var l Logged
		if err := rows.Scan(&l.TenantID, &l.Seq, &l.ID, &l.At, &l.Actor, &l.Action, &l.ResourceType, &l.ResourceID,
			(*[]byte)(&l.Before), (*[]byte)(&l.After), (*[]byte)(&l.Diff), &l.IP, &l.RequestID, &l.PrevHash, &l.Hash); err != nil {
			return httpx.Page[Logged]{}, fmt.Errorf("list audit entries: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return httpx.Page[Logged]{}, fmt.Errorf("list audit entries: %w", err)
	}
	return httpx.PageOf(out, f.PageParams, func(l Logged) any { return l.Seq }), nil
}
