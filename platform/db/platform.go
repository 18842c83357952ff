package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"mercato/platform/scope"
)

// Platform is the one way to cross tenants: operator dashboards, tenant lifecycle, sweeps.
// It connects as mercato_platform (BYPASSRLS), and every call writes a platform_audit row in
// the same transaction, so a use that is not recorded cannot have happened.
type Platform struct {
	bun *bun.DB
}

// OpenPlatform connects to url as the platform role.
func OpenPlatform(ctx context.Context, url string, maxConns int) (*Platform, error) {
	b, err := openBun(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	return &Platform{bun: b}, nil
}

// Close closes the pool.
func (p *Platform) Close() error { return p.bun.Close() }

// Do runs fn across tenants in one transaction and records action, the actor and the
// request id from ctx. action names what is done and why ("tenant.create", "sweep.idempotency").
func (p *Platform) Do(ctx context.Context, action string, fn func(tx bun.IDB) error) error {
	if action == "" {
		return errors.New("db: platform work needs an action name")
	}
	return p.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO platform_audit (actor, action, request_id) VALUES (?, ?, ?)",
			string(scope.ActorFrom(ctx)), action, scope.RequestIDFrom(ctx))
		if err != nil {
			return fmt.Errorf("audit platform use: %w", err)
		}
		return fn(tx)
	})
}
