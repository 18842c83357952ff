package webhooksout_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
	"mercato/platform/webhooksout"
)

const testSecretKey = "test-secret-key-0123456789-abcdefghijklmnop"

// fixture is a fresh database with tenants A (merchants M1, M2) and B (merchant M3).
type fixture struct {
	f            *dbtest.Fixture
	a, b         uuid.UUID
	m1, m2, m3   uuid.UUID
	ctx          context.Context
	merchantCtx1 context.Context // merchant staff of M1
	merchantCtx2 context.Context // merchant staff of M2
}

func setup(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{f: dbtest.New(t), ctx: scope.WithActor(context.Background(), "user:test")}
	fx.a, fx.b = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	fx.m1, fx.m2, fx.m3 = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	err := fx.f.Platform.Do(fx.ctx, "test.seed", func(tx bun.IDB) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO plans (code, name, price_minor, currency) VALUES ('test', 'Test', 0, 'USD')`, nil},
			{`INSERT INTO tenants (id, slug, name, plan_id) SELECT ?, 'tenant-a', 'A', id FROM plans`, []any{fx.a}},
			{`INSERT INTO tenants (id, slug, name, plan_id) SELECT ?, 'tenant-b', 'B', id FROM plans`, []any{fx.b}},
			{`INSERT INTO merchants (tenant_id, id, handle, name, status) VALUES (?, ?, 'm-one', 'M1', 'active'), (?, ?, 'm-two', 'M2', 'active'), (?, ?, 'm-three', 'M3', 'active')`,
				[]any{fx.a, fx.m1, fx.a, fx.m2, fx.b, fx.m3}},
		} {
			if _, err := tx.ExecContext(fx.ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fx.merchantCtx1 = scope.WithMerchant(fx.ctx, fx.m1)
	fx.merchantCtx2 = scope.WithMerchant(fx.ctx, fx.m2)
	return fx
}

// service builds a Service over the fixture's app pool.
func (fx *fixture) service(t *testing.T, g webhooksout.Guard, c *clock, jobs webhooksout.Jobs) *webhooksout.Service {
	t.Helper()
	cfg := webhooksout.Config{SecretKey: testSecretKey, Guard: g, Jobs: jobs, Audit: audit.Recorder{}}
	if c != nil {
		cfg.Now = c.Now
	}
	s, err := webhooksout.New(fx.f.App, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dev is the guard of a developer's machine: http and loopback allowed.
var dev = webhooksout.Guard{AllowInsecure: true, AllowLoopback: true}

// queue records an event for tenant A (merchant m when set) the way a slice would: inside
// its own tenant transaction.
func (fx *fixture) queue(t *testing.T, s *webhooksout.Service, m uuid.UUID, typ string, payload any) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	err := fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		var err error
		ids, err = s.Queue(fx.ctx, tx, fx.a, m, typ, uuid.Must(uuid.NewV7()), payload)
		return err
	})
	if err != nil {
		t.Fatalf("queue %s: %v", typ, err)
	}
	return ids
}

func (fx *fixture) create(t *testing.T, s *webhooksout.Service, ctx context.Context, in webhooksout.EndpointInput) (webhooksout.Endpoint, string) {
	t.Helper()
	e, secret, err := s.CreateEndpoint(ctx, fx.a, in)
	if err != nil {
		t.Fatalf("create endpoint %s: %v", in.URL, err)
	}
	return e, secret
}

// clock is a test clock that only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// jobsLog is the Jobs seam as the job system will use it: it records what was scheduled and
// checks that each call sees the rows it is about, i.e. runs inside their transaction.
type jobsLog struct {
	t         *testing.T
	mu        sync.Mutex
	scheduled []scheduled
	disabled  []webhooksout.Endpoint
}

type scheduled struct {
	delivery uuid.UUID
	at       time.Time
}

func (j *jobsLog) ScheduleDelivery(ctx context.Context, tx bun.IDB, tenantID, deliveryID uuid.UUID, at time.Time) error {
	var status string
	if err := tx.NewRaw("SELECT status FROM webhook_deliveries WHERE tenant_id = ? AND id = ?", tenantID, deliveryID).Scan(ctx, &status); err != nil || status != "pending" {
		j.t.Errorf("ScheduleDelivery outside the delivery's transaction: status %q, %v", status, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.scheduled = append(j.scheduled, scheduled{deliveryID, at})
	return nil
}

func (j *jobsLog) EndpointDisabled(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, e webhooksout.Endpoint, _ string) error {
	var status string
	if err := tx.NewRaw("SELECT status FROM webhook_endpoints WHERE tenant_id = ? AND id = ?", tenantID, e.ID).Scan(ctx, &status); err != nil {
		j.t.Errorf("EndpointDisabled cannot see the endpoint: %v", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.disabled = append(j.disabled, e)
	return nil
}

func (j *jobsLog) count() (int, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.scheduled), len(j.disabled)
}

// counter is a TCP listener that counts the connections it accepts: the SSRF tests assert it
// stays at 0.
type counter struct {
	ln   net.Listener
	hits atomic.Int64
}

func listenCounter(t *testing.T, addr string) *counter {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil
	}
	c := &counter{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.hits.Add(1)
			// Answer like a web server would, so a test that wrongly connects also "succeeds".
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *counter) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

// receiver is a webhook receiver on loopback that answers with the status code it is told
// and keeps the requests it got.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b := make([]byte, 0, 1024)
		buf := make([]byte, 1024)
		for {
			n, err := req.Body.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
		}
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setStatus(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = code
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// resolver answers names from a table and passes the rest to the system resolver.
func resolver(table map[string]string) func(ctx context.Context, host string) ([]netip.Addr, error) {
	return func(ctx context.Context, host string) ([]netip.Addr, error) {
		if ip, ok := table[strings.ToLower(host)]; ok {
			return []netip.Addr{netip.MustParseAddr(ip)}, nil
		}
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
}

// must(f())(t) is f's value, failing the test on f's error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
