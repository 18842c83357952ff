// Package dbtest gives tests a fresh, migrated PostgreSQL database of their own on the real
// server, with the runtime, owner and platform roles, and drops it when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"mercato/platform/db"
	"mercato/platform/devservices"
)

// DefaultAdminURL is the superuser the tests use when MERCATO_TEST_ADMIN_URL is not set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Fixture is one test database.
type Fixture struct {
	AdminURL string
	Name     string
	Roles    db.Roles
	App      *db.DB       // mercato_app: what the API and workers use
	Platform *db.Platform // mercato_platform: the audited cross-tenant entry point
}

// New creates, migrates and opens a database named after a random suffix; t.Cleanup drops it.
func New(tb testing.TB) *Fixture {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin := AdminURL()
	name := "mercato_test_" + randomSuffix()
	f := &Fixture{AdminURL: admin, Name: name, Roles: db.Roles{
		OwnerURL:    roleURL(admin, "mercato_owner", name),
		AppURL:      roleURL(admin, "mercato_app", name),
		PlatformURL: roleURL(admin, "mercato_platform", name),
	}}
	if err := db.Bootstrap(ctx, admin, f.Roles); err != nil {
		tb.Fatalf("dbtest: bootstrap (is PostgreSQL running at %s?): %v", admin, err)
	}
	tb.Cleanup(func() {
		if err := db.DropDatabase(context.Background(), admin, name); err != nil {
			tb.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	m, err := db.OpenMigrator(ctx, f.Roles.OwnerURL)
	if err != nil {
		tb.Fatalf("dbtest: open migrator: %v", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		tb.Fatalf("dbtest: migrate: %v", err)
	}
	if f.App, err = db.Open(ctx, f.Roles.AppURL, 10); err != nil {
		tb.Fatalf("dbtest: open app pool: %v", err)
	}
	if f.Platform, err = db.OpenPlatform(ctx, f.Roles.PlatformURL, 4); err != nil {
		tb.Fatalf("dbtest: open platform pool: %v", err)
	}
	tb.Cleanup(func() { f.App.Close(); f.Platform.Close() })
	return f
}

// AdminURL is the superuser URL tests create databases with: MERCATO_TEST_ADMIN_URL, or the
// PostgreSQL that devservices finds (the machine's own) or starts under .data/.
func AdminURL() string {
	if u := os.Getenv("MERCATO_TEST_ADMIN_URL"); u != "" {
		return u
	}
	adminOnce.Do(func() {
		adminURL = DefaultAdminURL
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		s, err := devservices.Ensure(ctx, devservices.Options{PostgresURL: DefaultAdminURL, Detach: true})
		if err == nil {
			adminURL = s.PostgresURL
		}
	})
	return adminURL
}

var (
	adminOnce sync.Once
	adminURL  string
)

// roleURL is the admin URL with another user and database.
func roleURL(admin, user, database string) string {
	u, err := url.Parse(admin)
	if err != nil {
		return admin
	}
	u.User = url.User(user)
	u.Path = "/" + database
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
