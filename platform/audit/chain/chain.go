// Package chain writes and checks the per-tenant hash chains of audit entries. It is
// platform/audit's core, kept apart so that platform/db can record its own use in the
// platform's chain without an import cycle (audit needs db and httpx, which need db).
// Everything but platform/db should use platform/audit.
package chain

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/scope"
)

// Errors Record returns.
var (
	ErrNoTenant = fault.New(fault.Internal, "audit_no_tenant",
		"audit: the transaction has no app.tenant_id; record inside db.WithTenant, WithPlatformScope or after UseTenant")
	ErrBadAction = fault.New(fault.Internal, "audit_bad_action",
		`audit: action must be dotted lower-case words, e.g. "merchant.approve"`)
	ErrHeadMissing = fault.New(fault.Internal, "audit_head_missing",
		"audit: the chain has entries but no head; run `mercato audit verify` and restore the head before writing")
)

// Entry is one change to record. Actor, RequestID and IP default from the context.
type Entry struct {
	Action       string // what was done, "noun.verb": "merchant.approve"
	ResourceType string // "merchant"
	ResourceID   string
	// Before and After are the resource as JSON-encodable values: nil Before for a creation,
	// nil After for a deletion. Fields that look secret are stored as "[redacted]".
	Before, After any
	IP            netip.Addr  // the client; zero: IPFrom(ctx)
	Actor         scope.Actor // zero: scope.ActorFrom(ctx)
	RequestID     string      // zero: scope.RequestIDFrom(ctx)
}

// Logged is an entry as its chain holds it. Before, After and Diff are canonical JSON (see
// Hash), nil where the column is NULL.
type Logged struct {
	TenantID     uuid.UUID       `json:"tenant_id"`
	Seq          int64           `json:"seq"`
	ID           uuid.UUID       `json:"id"`
	At           time.Time       `json:"at"`
	Actor        string          `json:"actor"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	Before       json.RawMessage `json:"before,omitempty"`
	After        json.RawMessage `json:"after,omitempty"`
	Diff         json.RawMessage `json:"diff,omitempty"`
	IP           string          `json:"ip,omitempty"`
	RequestID    string          `json:"request_id,omitempty"`
	PrevHash     []byte          `json:"prev_hash"`
	Hash         []byte          `json:"hash"`
}

var actionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// genesis is the prev_hash of every chain's first entry.
var genesis = make([]byte, 32)

// UseTenant points the transaction at tenantID's chain (and RLS at its rows) until it ends.
// The platform role needs it to write or list a tenant's chain; uuid.Nil is the platform's.
func UseTenant(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true)", tenantID.String()); err != nil {
		return fmt.Errorf("audit: use tenant: %w", err)
	}
	return nil
}

// Record appends e to the chain of the tenant the transaction works for (its app.tenant_id),
// so it commits or rolls back with the change it describes and cannot be written for another
// tenant. It holds the tenant's chain lock from here to commit, so call it as late in the
// transaction as you can. Under REPEATABLE READ a concurrent writer makes it fail with a
// unique violation (retry the transaction); it never forks the chain.
// Errors: ErrNoTenant, ErrBadAction, ErrHeadMissing, or the encoding's and database's.
func Record(ctx context.Context, tx bun.IDB, e Entry) error {
	if !actionRE.MatchString(e.Action) || len(e.Action) > 100 {
		return fmt.Errorf("%w: %q", ErrBadAction, e.Action)
	}
	l := Logged{
		Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		Actor: string(e.Actor), RequestID: e.RequestID,
	}
	if l.Actor == "" {
		l.Actor = string(scope.ActorFrom(ctx))
	}
	if l.RequestID == "" {
		l.RequestID = scope.RequestIDFrom(ctx)
	}
	ip := e.IP
	if !ip.IsValid() {
		ip = IPFrom(ctx)
	}
	if ip.IsValid() {
		l.IP = ip.WithZone("").String()
	}
	var err error
	if l.Before, l.After, l.Diff, err = changeOf(e.Before, e.After); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	if l.ID, err = uuid.NewV7(); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}

	// Statement 1 takes the chain lock. Statement 2 reads the head with a snapshot taken after
	// the lock, so it sees the previous holder's commit; one statement could not.
	var tenant uuid.NullUUID
	var locked sql.NullString
	err = tx.NewRaw(`SELECT s.t, pg_advisory_xact_lock(hashtextextended('audit:' || s.t::text, 0))::text
		FROM (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid AS t) s`).Scan(ctx, &tenant, &locked)
	if err != nil {
		return fmt.Errorf("audit %s: lock chain: %w", e.Action, err)
	}
	if !tenant.Valid {
		return ErrNoTenant
	}
	l.TenantID = tenant.UUID

	var at string
	var headSeq sql.NullInt64
	var headHash []byte
	var anyEntry bool
	err = tx.NewRaw(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			h.seq, h.hash, EXISTS (SELECT 1 FROM audit_entries WHERE tenant_id = ?0)
		FROM (SELECT 1) one LEFT JOIN audit_heads h ON h.tenant_id = ?0`, l.TenantID).
		Scan(ctx, &at, &headSeq, &headHash, &anyEntry)
	if err != nil {
		return fmt.Errorf("audit %s: read head: %w", e.Action, err)
	}
	// The clock is the database's, after the lock: entries' times never go backwards along a
	// chain, whichever app server wrote them.
	if l.At, err = time.Parse(timeLayout, at); err != nil {
		return fmt.Errorf("audit %s: read clock: %w", e.Action, err)
	}
	switch {
	case headSeq.Valid:
		l.Seq, l.PrevHash = headSeq.Int64+1, headHash
	case anyEntry:
		// Starting over at 1 would collide; continuing from the last entry would hide a
		// deleted tail. Fail closed until someone looks.
		return ErrHeadMissing
	default:
		l.Seq, l.PrevHash = 1, genesis
	}
	if l.Hash, err = Hash(l); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}

	_, err = tx.ExecContext(ctx, `WITH e AS (
			INSERT INTO audit_entries (tenant_id, seq, id, at, actor, action, resource_type, resource_id,
			                           before, after, diff, ip, request_id, prev_hash, hash)
			VALUES (?, ?, ?, ?::timestamptz, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?, ?, ?)
			RETURNING tenant_id, seq, hash)
		INSERT INTO audit_heads (tenant_id, seq, hash) SELECT tenant_id, seq, hash FROM e
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
		l.TenantID, l.Seq, l.ID, at, l.Actor, l.Action, l.ResourceType, l.ResourceID,
		nullJSON(l.Before), nullJSON(l.After), nullJSON(l.Diff), l.IP, l.RequestID, l.PrevHash, l.Hash)
	if err != nil {
		return fmt.Errorf("audit %s: append: %w", e.Action, err)
	}
	return nil
}

// nullJSON is nil for SQL NULL, else the text, so bun quotes it as a string literal rather
// than as a bytea.
func nullJSON(j json.RawMessage) any {
	if j == nil {
		return nil
	}
	return string(j)
}

type ipKey struct{}

// WithIP records the client's address for the audit entries written while handling a request.
func WithIP(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

// IPFrom returns the client's address, the zero Addr outside a request.
func IPFrom(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(ipKey{}).(netip.Addr)
	return ip
}
