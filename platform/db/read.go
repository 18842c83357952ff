package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// RowFunc runs one read statement (bun placeholders) in a tenant's scope and scans its single
// row into dest. It answers sql.ErrNoRows for no row.
type RowFunc func(query string, args []any, dest ...any) error

// Setting is a transaction-local setting Read sends with each statement (a pg_trgm threshold,
// say), besides the tenant.
type Setting struct{ Name, Value string }

// Read is the hot-read shape ARCHITECTURE.md describes: fn's statements each go out with
// set_config('app.tenant_id', …, true) (and settings) as one pgx batch. PostgreSQL runs a batch
// without BEGIN as one implicit transaction, so the setting is transaction-local, RLS applies,
// and a read costs one round trip instead of the four of WithTenant (BEGIN, set_config, the
// read, COMMIT). Every statement fn runs is on the same pooled connection; each sees its own
// snapshot, so use WithTenant when several reads must agree. For reads only: a write here
// would commit on its own. Errors: ErrNoTenant for the nil tenant.
func (d *DB) Read(ctx context.Context, tenantID uuid.UUID, fn func(row RowFunc) error, settings ...Setting) error {
	if tenantID == uuid.Nil {
		return ErrNoTenant
	}
	set := "SELECT set_config('app.tenant_id', $1, true)"
	args := []any{tenantID.String()}
	for i, st := range settings {
		set += fmt.Sprintf(", set_config($%d, $%d, true)", 2*i+2, 2*i+3)
		args = append(args, st.Name, st.Value)
	}
	conn, err := d.bun.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("db: the pool's driver is %T, not pgx", driverConn)
		}
		pc := sc.Conn()
		return fn(func(query string, qargs []any, dest ...any) error {
			// bun formats the arguments into the text, as it does for every other statement.
			text, err := d.bun.NewRaw(query, qargs...).AppendQuery(d.bun.QueryGen(), nil)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			b.Queue(set, args...)
			b.Queue(string(text))
			br := pc.SendBatch(ctx, b)
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
			err = br.QueryRow().Scan(dest...)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if errors.Is(err, pgx.ErrNoRows) {
				return sql.ErrNoRows
			}
			return err
		})
	})
}
