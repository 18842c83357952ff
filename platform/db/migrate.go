package db

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"mercato/migrations"
)

// Roles names the three database roles by their connection URLs.
type Roles struct {
	OwnerURL    string // mercato_owner: owns the schema, runs migrations
	AppURL      string // mercato_app: the runtime; no superuser, no BYPASSRLS, owns nothing
	PlatformURL string // mercato_platform: BYPASSRLS, used only through Platform.Do
}

// Bootstrap creates the three roles and the database if they are missing, as the superuser
// at adminURL. It is idempotent and safe to run from several processes at once (an advisory
// lock serialises them). Passwords in the role URLs become the roles' passwords.
func Bootstrap(ctx context.Context, adminURL string, r Roles) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("bootstrap: connect as admin: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('mercato.bootstrap'))"); err != nil {
		return fmt.Errorf("bootstrap: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('mercato.bootstrap'))") //nolint:errcheck

	owner, err := roleOf(r.OwnerURL)
	if err != nil {
		return err
	}
	app, err := roleOf(r.AppURL)
	if err != nil {
		return err
	}
	plat, err := roleOf(r.PlatformURL)
	if err != nil {
		return err
	}
	for _, role := range []struct {
		r     role
		attrs string
	}{
		{owner, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE"},
		{app, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB"},
		{plat, "LOGIN NOSUPERUSER BYPASSRLS NOCREATEROLE NOCREATEDB"},
	} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role.r.name).Scan(&exists); err != nil {
			return fmt.Errorf("bootstrap: look up role %s: %w", role.r.name, err)
		}
		verb := "ALTER"
		if !exists {
			verb = "CREATE"
		}
		stmt := fmt.Sprintf("%s ROLE %s %s", verb, pgx.Identifier{role.r.name}.Sanitize(), role.attrs)
		if role.r.password != "" {
			stmt += " PASSWORD " + quoteLiteral(role.r.password)
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("bootstrap: %s role %s: %w", strings.ToLower(verb), role.r.name, err)
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", owner.database).Scan(&exists); err != nil {
		return fmt.Errorf("bootstrap: look up database: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s",
			pgx.Identifier{owner.database}.Sanitize(), pgx.Identifier{owner.name}.Sanitize())); err != nil {
			return fmt.Errorf("bootstrap: create database %s: %w", owner.database, err)
		}
	}
	return nil
}

// DropDatabase removes a database made by Bootstrap; tests use it in their cleanup.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("drop database: connect as admin: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
	return err
}

type role struct{ name, password, database string }

func roleOf(raw string) (role, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.User.Username() == "" {
		return role{}, fmt.Errorf("bootstrap: %q names no user", raw)
	}
	pw, _ := u.User.Password()
	return role{name: u.User.Username(), password: pw, database: strings.TrimPrefix(u.Path, "/")}, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// MigrationStatus is one embedded migration and whether it is applied.
type MigrationStatus struct {
	Name    string
	Comment string
	Applied bool
}

// Migrator runs the embedded migrations as the schema owner.
type Migrator struct {
	bun *bun.DB
	m   *migrate.Migrator
}

// OpenMigrator connects as the owner. One connection, so the advisory lock that serialises
// concurrent migrators is held by the connection that runs them.
func OpenMigrator(ctx context.Context, ownerURL string) (*Migrator, error) {
	b, err := openBun(ctx, ownerURL, 1)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrations.FS); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	return &Migrator{bun: b, m: migrate.NewMigrator(b, ms, migrate.WithMarkAppliedOnSuccess(true))}, nil
}

// Close closes the owner connection.
func (m *Migrator) Close() error { return m.bun.Close() }

// Up applies every pending migration and returns their names.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	return m.apply(ctx, "migrate up", m.m.Migrate)
}

// Down rolls back the last group of migrations and returns their names.
func (m *Migrator) Down(ctx context.Context) ([]string, error) {
	return m.apply(ctx, "migrate down", m.m.Rollback)
}

func (m *Migrator) apply(ctx context.Context, op string, run func(context.Context, ...migrate.MigrationOption) (*migrate.MigrationGroup, error)) ([]string, error) {
	var names []string
	err := m.locked(ctx, func() error {
		g, err := run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		for _, mig := range g.Migrations {
			names = append(names, mig.Name+"_"+mig.Comment)
		}
		return nil
	})
	return names, err
}

// Status lists every embedded migration with whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	if err := m.m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate init: %w", err)
	}
	ms, err := m.m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, len(ms))
	for i, mig := range ms {
		out[i] = MigrationStatus{Name: mig.Name, Comment: mig.Comment, Applied: mig.IsApplied()}
	}
	return out, nil
}

func (m *Migrator) locked(ctx context.Context, fn func() error) error {
	if _, err := m.bun.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext('mercato.migrate'))"); err != nil {
		return fmt.Errorf("migrate lock: %w", err)
	}
	defer m.bun.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('mercato.migrate'))") //nolint:errcheck
	if err := m.m.Init(ctx); err != nil {
		return fmt.Errorf("migrate init: %w", err)
	}
	if _, err := m.bun.ExecContext(ctx, "GRANT SELECT ON bun_migrations TO mercato_app"); err != nil {
		return fmt.Errorf("grant migration status: %w", err)
	}
	return fn()
}

// PendingMigrations counts embedded migrations the database has not applied. Readiness uses
// it with the runtime pool: an API on an old schema is not ready.
func (d *DB) PendingMigrations(ctx context.Context) (int, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrations.FS); err != nil {
		return 0, err
	}
	var applied []string
	if err := d.bun.NewSelect().Table("bun_migrations").Column("name").Scan(ctx, &applied); err != nil {
		return 0, fmt.Errorf("read applied migrations: %w", err)
	}
	done := make(map[string]bool, len(applied))
	for _, n := range applied {
		done[n] = true
	}
	pending := 0
	for _, mig := range ms.Sorted() {
		if !done[mig.Name] {
			pending++
		}
	}
	return pending, nil
}
