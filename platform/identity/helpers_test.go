package identity_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/scope"
)

const testSecret = "test-secret-key-0123456789abcdef-0123456789"

const testIssuer = "https://mercato.test"

// clock is the service's time, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test database with two tenants (each with merchants M1, M2) and a service.
type env struct {
	f        *dbtest.Fixture
	svc      *identity.Service
	clock    *clock
	mail     *identity.CaptureMailer
	a, b     uuid.UUID    // tenants
	m1, m2   uuid.UUID    // merchants of tenant a
	mergeLog *[]mergeCall // calls of MergeGuest
}

type mergeCall struct {
	tenant, session, shopper uuid.UUID
	sessionOwnerInTx         uuid.UUID // what the session row said inside the hook's transaction
}

// mergeFail in a context makes MergeGuest fail, to show it shares the sign-in transaction.
type mergeFail struct{}

func setup(t testing.TB) *env {
	t.Helper()
	f := dbtest.New(t)
	e := &env{f: f, clock: &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, mail: &identity.CaptureMailer{}, mergeLog: &[]mergeCall{}}
	e.a, e.b = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	e.m1, e.m2 = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	ctx := scope.WithActor(context.Background(), "system:test")
	err := f.Platform.Do(ctx, "test.seed", func(tx bun.IDB) error {
		for _, q := range []string{
			`INSERT INTO plans (code, name, price_minor, currency) VALUES ('test', 'Test', 0, 'USD')`,
			`INSERT INTO tenants (id, slug, name, plan_id) SELECT ?0, 'tenant-a', 'A', id FROM plans`,
			`INSERT INTO tenants (id, slug, name, plan_id) SELECT ?1, 'tenant-b', 'B', id FROM plans`,
			`INSERT INTO merchants (tenant_id, id, handle, name) VALUES (?0, ?2, 'm-one', 'M1'), (?0, ?3, 'm-two', 'M2')`,
		} {
			if _, err := tx.ExecContext(ctx, q, e.a, e.b, e.m1, e.m2); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	e.svc, err = identity.New(f.App, identity.Config{
		SecretKey: testSecret, Issuer: testIssuer, Mailer: e.mail, Now: e.clock.Now,
		MergeGuest: func(ctx context.Context, tx bun.IDB, tenantID, guestSessionID, shopperID uuid.UUID) error {
			var owner uuid.UUID
			if err := tx.NewRaw("SELECT shopper_id FROM shopper_sessions WHERE id = ?", guestSessionID).Scan(ctx, &owner); err != nil {
				return err
			}
			mu.Lock()
			*e.mergeLog = append(*e.mergeLog, mergeCall{tenantID, guestSessionID, shopperID, owner})
			mu.Unlock()
			if ctx.Value(mergeFail{}) != nil {
				return io.ErrUnexpectedEOF
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newService is a second instance on the same database (another API process).
func (e *env) newService(t *testing.T) *identity.Service {
	t.Helper()
	s, err := identity.New(e.f.App, identity.Config{SecretKey: testSecret, Issuer: testIssuer, Mailer: e.mail, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// staff creates a staff user with a password.
func (e *env) staff(t testing.TB, email, role string) identity.StaffUser {
	t.Helper()
	u, err := e.svc.CreateStaffUser(context.Background(), identity.NewStaffUser{Email: email, Name: "Staff", Password: "staff password 1", PlatformRole: role})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// principalApp answers every request with the principal and scope Authenticate recorded.
func principalApp(s *identity.Service, cookie identity.CookieKind, tenant uuid.UUID, csrf bool) *fiber.App {
	app := httpx.New(httpx.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BodyLimit: 1 << 20})
	if tenant != uuid.Nil { // the storefront's Host resolution, done before authentication
		app.Use(func(c *fiber.Ctx) error {
			c.SetUserContext(scope.WithTenant(c.UserContext(), tenant))
			return c.Next()
		})
	}
	identity.Routes(app, s) // before Authenticate: the token endpoint does its own client authentication
	app.Use(identity.Authenticate(s, cookie))
	if csrf {
		app.Use(identity.RequireCSRF(s))
	}
	app.All("/whoami", func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		p := identity.PrincipalFrom(ctx)
		tenantID, _ := scope.TenantFrom(ctx)
		merchantID, _ := scope.MerchantFrom(ctx)
		return c.JSON(whoami{Kind: string(p.Kind), Actor: string(scope.ActorFrom(ctx)), Tenant: tenantID, Merchant: merchantID,
			Scopes: p.Scopes, Session: p.SessionID})
	})
	return app
}

type whoami struct {
	Kind     string    `json:"kind"`
	Actor    string    `json:"actor"`
	Tenant   uuid.UUID `json:"tenant"`
	Merchant uuid.UUID `json:"merchant"`
	Scopes   []string  `json:"scopes"`
	Session  uuid.UUID `json:"session"`
}

type response struct {
	status  int
	header  http.Header
	body    []byte
	problem httpx.Problem
	who     whoami
}

func do(t testing.TB, app *fiber.App, req *http.Request) response {
	t.Helper()
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, body: body}
	if strings.HasPrefix(res.Header.Get("Content-Type"), httpx.ProblemContentType) {
		_ = json.Unmarshal(body, &r.problem)
	} else if res.StatusCode == http.StatusOK {
		_ = json.Unmarshal(body, &r.who)
	}
	return r
}

func bearer(token string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}
