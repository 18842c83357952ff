package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit/chain"
)

// Platform is the one way to cross tenants: operator dashboards, tenant lifecycle, sweeps.
// It connects as mercato_platform (BYPASSRLS), and every call appends an entry to the
// platform's audit chain (the nil tenant's) in the same transaction, so a use that is not
// recorded cannot have happened.
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
// The entry is written after fn, so the platform chain's lock is held only while committing,
// not for all of fn; fn's error rolls both back.
func (p *Platform) Do(ctx context.Context, action string, fn func(tx bun.IDB) error) error {
	if action == "" {
		return errors.New("db: platform work needs an action name")
	}
	return p.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		// fn may have pointed the transaction at a tenant's chain (audit.UseTenant).
		if err := chain.UseTenant(ctx, tx, uuid.Nil); err != nil {
			return fmt.Errorf("audit platform use: %w", err)
		}
		if err := chain.Record(ctx, tx, chain.Entry{Action: action}); err != nil {
			return fmt.Errorf("audit platform use: %w", err)
		}
		return nil
	})
}
