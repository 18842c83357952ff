package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit/chain"
	"mercato/platform/db"
	"mercato/platform/fault"
)

// PlatformChain is how VerifyCommand names the platform's own chain, the nil tenant's.
const PlatformChain = "platform"

// ErrUnknownTenant is returned by VerifyCommand for a tenant no id or slug names.
var ErrUnknownTenant = fault.New(fault.NotFound, "unknown_tenant", "no tenant has this id or slug")

// VerifyCommand is `mercato audit verify --tenant X`: X is a tenant id, a slug, or "platform".
// It verifies the chain through the audited platform role and writes a report to out: a first
// line "audit chain of tenant <slug> (<id>): N entries, OK" (or "BROKEN: K problems"), then one
// line per problem. ok is false when the chain is broken; err is for failing to check it.
func VerifyCommand(ctx context.Context, p *db.Platform, tenant string, out io.Writer) (ok bool, err error) {
	var rep Report
	slug := tenant
	err = p.Do(ctx, "audit.verify", func(tx bun.IDB) error {
		id, s, err := resolveTenant(ctx, tx, tenant)
		if err != nil {
			return err
		}
		slug = s
		rep, err = chain.Verify(ctx, tx, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("audit verify %s: %w", tenant, err)
	}
	WriteReport(out, slug, rep)
	return rep.OK(), nil
}

// WriteReport prints rep for people: the summary line, then one indented line per problem.
func WriteReport(out io.Writer, slug string, rep Report) {
	status := "OK"
	if n := len(rep.Problems); n == 1 {
		status = "BROKEN: 1 problem"
	} else if n > 1 {
		status = fmt.Sprintf("BROKEN: %d problems", n)
	}
	fmt.Fprintf(out, "audit chain of tenant %s (%s): %d entries, %s\n", slug, rep.TenantID, rep.Entries, status)
	for _, pr := range rep.Problems {
		id := ""
		if pr.ID != uuid.Nil {
			id = " (id " + pr.ID.String() + ")"
		}
		fmt.Fprintf(out, "  seq %d%s: %s: %s\n", pr.Seq, id, pr.What, pr.Detail)
	}
}

// resolveTenant reads "platform", a tenant id or a slug.
func resolveTenant(ctx context.Context, tx bun.IDB, tenant string) (uuid.UUID, string, error) {
	if tenant == PlatformChain || tenant == uuid.Nil.String() {
		return uuid.Nil, PlatformChain, nil
	}
	var id uuid.UUID
	var slug string
	q := tx.NewSelect().Table("tenants").Column("id", "slug")
	if parsed, err := uuid.Parse(tenant); err == nil {
		q = q.Where("id = ?", parsed)
	} else {
		q = q.Where("slug = ?", tenant)
	}
	if err := q.Scan(ctx, &id, &slug); errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, "", ErrUnknownTenant
	} else if err != nil {
		return uuid.Nil, "", fmt.Errorf("find tenant: %w", err)
	}
	return id, slug, nil
}
