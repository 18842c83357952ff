package chain

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Kind is what is wrong with an entry.
type Kind string

// The problems Verify finds.
const (
	HashMismatch Kind = "hash mismatch" // the entry was changed after it was written
	Missing      Kind = "missing"       // entries Seq..Through are gone (deleted rows, or a gap)
	LinkMismatch Kind = "link mismatch" // prev_hash is not the previous entry's hash: one was replaced
	HeadMismatch Kind = "head mismatch" // the head does not match the chain's last entry
)

// Problem is one broken entry, or one run of missing entries.
type Problem struct {
	Seq     int64     `json:"seq"`
	Through int64     `json:"through,omitempty"` // last missing seq, for Missing
	ID      uuid.UUID `json:"id"`                // uuid.Nil where the entry is gone
	What    Kind      `json:"what"`
	Detail  string    `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Entries  int64     `json:"entries"`  // entries read, up to the head
	HeadSeq  int64     `json:"head_seq"` // 0: the chain has no head (no entries were ever written)
	Problems []Problem `json:"problems"`
}

// OK reports whether the chain is intact.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify walks tenantID's chain in seq order, recomputing every hash and link, and compares
// its end with the head. tx must see the tenant's rows: the platform role, or the app role in
// the tenant's scope. Entries appended while it runs are left for the next run: the walk stops
// at the head it read first, and the entries up to it can no longer change legitimately.
func Verify(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (Report, error) {
	rep := Report{TenantID: tenantID, Problems: []Problem{}}
	var headHash []byte
	err := tx.NewRaw("SELECT seq, hash FROM audit_heads WHERE tenant_id = ?", tenantID).Scan(ctx, &rep.HeadSeq, &headHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rep, fmt.Errorf("verify audit chain: read head: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT seq, id, at, actor, action, resource_type, resource_id,
			before, after, diff, ip, request_id, prev_hash, hash
		FROM audit_entries WHERE tenant_id = ? AND seq <= ? ORDER BY seq`, tenantID, rep.HeadSeq)
	if err != nil {
		return rep, fmt.Errorf("verify audit chain: %w", err)
	}
	defer rows.Close()
	var last Logged // the previous entry read; Seq 0 before the first
	for rows.Next() {
		l := Logged{TenantID: tenantID}
		if err := rows.Scan(&l.Seq, &l.ID, &l.At, &l.Actor, &l.Action, &l.ResourceType, &l.ResourceID,
			(*[]byte)(&l.Before), (*[]byte)(&l.After), (*[]byte)(&l.Diff), &l.IP, &l.RequestID, &l.PrevHash, &l.Hash); err != nil {
			return rep, fmt.Errorf("verify audit chain: %w", err)
		}
		rep.Entries++
		rep.check(last, l)
		last = l
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("verify audit chain: %w", err)
	}

	switch {
	case last.Seq < rep.HeadSeq:
		rep.missing(last.Seq+1, rep.HeadSeq, "the head says the chain is longer: the newest entries were deleted")
	case rep.HeadSeq > 0 && !bytes.Equal(last.Hash, headHash):
		rep.add(Problem{Seq: rep.HeadSeq, ID: last.ID, What: HeadMismatch,
			Detail: "the head's hash is not the last entry's: the entry was replaced, or the head was changed"})
	}
	// Entries beyond the head: Record moves the head with every entry it appends, in one
	// statement, so these were written around it, or the head was moved back. Counted in one
	// snapshot with the head, so a concurrent legitimate append cannot look like this.
	var beyond, now sql.NullInt64
	err = tx.NewRaw(`SELECT (SELECT max(seq) FROM audit_entries WHERE tenant_id = ?0),
			(SELECT seq FROM audit_heads WHERE tenant_id = ?0)`, tenantID).Scan(ctx, &beyond, &now)
	if err != nil {
		return rep, fmt.Errorf("verify audit chain: read end: %w", err)
	}
	switch {
	case beyond.Valid && !now.Valid:
		rep.add(Problem{What: HeadMismatch,
			Detail: fmt.Sprintf("the chain has entries up to seq %d but no head: the head was deleted", beyond.Int64)})
	case beyond.Valid && beyond.Int64 > now.Int64:
		rep.add(Problem{Seq: now.Int64, What: HeadMismatch,
			Detail: fmt.Sprintf("entries up to seq %d lie beyond the head at seq %d: written around the audit log, or the head was moved back",
				beyond.Int64, now.Int64)})
	}
	return rep, nil
}

// check compares entry l with the entry read before it.
func (r *Report) check(prev, l Logged) {
	if l.Seq > prev.Seq+1 {
		r.missing(prev.Seq+1, l.Seq-1, "deleted, or never written")
	}
	want, err := Hash(l)
	switch {
	case err != nil:
		r.add(Problem{Seq: l.Seq, ID: l.ID, What: HashMismatch, Detail: "cannot encode the entry: " + err.Error()})
	case !bytes.Equal(want, l.Hash):
		r.add(Problem{Seq: l.Seq, ID: l.ID, What: HashMismatch, Detail: "the entry's contents do not match its hash: it was changed"})
	}
	switch {
	case l.Seq == 1 && !bytes.Equal(l.PrevHash, genesis):
		r.add(Problem{Seq: l.Seq, ID: l.ID, What: LinkMismatch, Detail: "the first entry does not start the chain"})
	case l.Seq > 1 && l.Seq == prev.Seq+1 && !bytes.Equal(l.PrevHash, prev.Hash):
		// Across a gap the predecessor is gone and the gap is the finding.
		r.add(Problem{Seq: l.Seq, ID: l.ID, What: LinkMismatch,
			Detail: fmt.Sprintf("prev_hash is not the hash of seq %d: that entry was replaced", prev.Seq)})
	}
}

func (r *Report) missing(from, through int64, why string) {
	d := fmt.Sprintf("seq %d is missing: %s", from, why)
	if through > from {
		d = fmt.Sprintf("seq %d to %d (%d entries) are missing: %s", from, through, through-from+1, why)
	}
	r.add(Problem{Seq: from, Through: through, What: Missing, Detail: d})
}

func (r *Report) add(p Problem) { r.Problems = append(r.Problems, p) }
