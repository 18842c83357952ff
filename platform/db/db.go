// Package db owns the connection to PostgreSQL: bun over pgx, the tenant-scoped transaction
// every request and job runs its tenant work in, the audited cross-tenant entry point, the
// roles and the migrations.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// ErrNoTenant is returned when tenant work is asked for without a tenant.
var ErrNoTenant = errors.New("db: no tenant in scope")

// DB is the runtime pool. It connects as mercato_app, so every tenant table is behind RLS and
// nothing is visible until a transaction says which tenant it works for.
type DB struct {
	bun *bun.DB
}

// Open connects to url with at most maxConns connections and checks that the server answers.
func Open(ctx context.Context, url string, maxConns int) (*DB, error) {
	b, err := openBun(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	return &DB{bun: b}, nil
}

func openBun(ctx context.Context, url string, maxConns int) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	// bun formats arguments into the SQL text itself, so every statement is unique: preparing
	// them would cost a round trip each and churn pgx's statement cache. The simple protocol
	// sends the finished text in one round trip.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	b := bun.NewDB(sqldb, pgdialect.New())
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.PingContext(pctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("connect to %s@%s:%d/%s: %w", cfg.User, cfg.Host, cfg.Port, cfg.Database, err)
	}
	return b, nil
}

// Close closes the pool.
func (d *DB) Close() error { return d.bun.Close() }

// Ping checks that PostgreSQL answers.
func (d *DB) Ping(ctx context.Context) error { return d.bun.PingContext(ctx) }

// Bun is the pool for work that is not tenant-scoped: platform tables such as plans, which
// mercato_app may read. Tenant tables read through it return no rows.
func (d *DB) Bun() *bun.DB { return d.bun }

// WithTenant runs fn in one transaction whose first statement sets app.tenant_id for that
// transaction only, so RLS shows fn the tenant's rows and nothing leaks through the pool.
// fn's error rolls the transaction back and is returned as it is.
func (d *DB) WithTenant(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	return d.inScope(ctx, tenantID, uuid.Nil, fn)
}

// WithMerchant is WithTenant narrowed to one merchant: merchant-owned tables also show only
// that merchant's rows (the merchant_fence policy), as defence in depth behind authorization.
func (d *DB) WithMerchant(ctx context.Context, tenantID, merchantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if merchantID == uuid.Nil {
		return errors.New("db: merchant scope without a merchant")
	}
	return d.inScope(ctx, tenantID, merchantID, fn)
}

// WithPlatformScope runs fn for requests that belong to no tenant (the nil tenant), e.g.
// idempotency records of operator calls. Tenant tables show only nil-tenant rows.
func (d *DB) WithPlatformScope(ctx context.Context, fn func(tx bun.IDB) error) error {
	return d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true)", uuid.Nil.String()); err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		return fn(tx)
	})
}

func (d *DB) inScope(ctx context.Context, tenantID, merchantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if tenantID == uuid.Nil {
		return ErrNoTenant
	}
	return d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if merchantID == uuid.Nil {
			_, err = tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true)", tenantID.String())
		} else {
			_, err = tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true), set_config('app.merchant_id', ?, true)",
				tenantID.String(), merchantID.String())
		}
		if err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		return fn(tx)
	})
}

// ErrUnknownHost is returned by ResolveHost for a host no tenant owns.
var ErrUnknownHost = errors.New("db: no tenant at this host")

// ResolveHost finds the tenant that owns host: a custom domain from tenant_domains, or
// "{slug}.{baseHost}". RLS lets the transaction see only the row it names, so the app role
// cannot list other tenants' domains.
func (d *DB) ResolveHost(ctx context.Context, host, baseHost string) (uuid.UUID, error) {
	var id uuid.UUID
	err := d.bun.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		slug, ok := subdomainOf(host, baseHost)
		if ok {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_slug', ?, true)", slug); err != nil {
				return err
			}
			return tx.NewSelect().Table("tenants").Column("id").Where("slug = ?", slug).Scan(ctx, &id)
		}
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.host', ?, true)", host); err != nil {
			return err
		}
		return tx.NewSelect().Table("tenant_domains").Column("tenant_id").Where("host = ?", host).Scan(ctx, &id)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, ErrUnknownHost
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("resolve host: %w", err)
	}
	return id, nil
}

// subdomainOf returns "acme" for ("acme.localhost", "localhost").
func subdomainOf(host, base string) (string, bool) {
	if base == "" || len(host) <= len(base)+1 || host[len(host)-len(base)-1:] != "."+base {
		return "", false
	}
	slug := host[:len(host)-len(base)-1]
	for _, r := range slug {
		if r == '.' {
			return "", false
		}
	}
	return slug, true
}

// UniqueViolation reports whether err is a unique-constraint violation, and which constraint.
// Stores use it to turn a duplicate into their own ErrConflict-style error.
func UniqueViolation(err error) (constraint string, ok bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return pg.ConstraintName, true
	}
	return "", false
}
