// Package migrations holds the numbered SQL migrations, embedded into the binary and run by
// platform/db as the schema owner. Add a pair NNNN_name.tx.up.sql / NNNN_name.tx.down.sql.
package migrations

import "embed"

// FS is the set of migrations, in the layout bun's migrate package discovers.
//
//go:embed *.sql
var FS embed.FS
