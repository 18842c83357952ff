package search

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"mercato/platform/db"
)

// Reindex rewrites every product's search document from the catalog, across tenants, through
// the audited platform entry point. The triggers keep documents current from the moment
// migration 0012 runs; this is for products written before it (a database migrated from an
// older release) and for repairing a document by hand. It returns how many documents exist
// afterwards.
func Reindex(ctx context.Context, p *db.Platform) (int, error) {
	var n int
	err := p.Do(ctx, "search.reindex", func(tx bun.IDB) error {
		if _, err := tx.ExecContext(ctx, "SELECT search_refresh(tenant_id, id) FROM products"); err != nil {
			return err
		}
		return tx.NewRaw("SELECT count(*) FROM search_documents").Scan(ctx, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("reindex search: %w", err)
	}
	return n, nil
}
