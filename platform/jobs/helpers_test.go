package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"mercato/platform/db/dbtest"
	"mercato/platform/jobs"
	"mercato/platform/scope"
)

// testRedisDB is this package's Redis database; other packages' tests use others.
const testRedisDB = 14

var testRedis = asynq.RedisClientOpt{Addr: "127.0.0.1:6379", DB: testRedisDB}

// TestMain empties this package's Redis database (only it) before the tests.
func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the tests that stop Redis on purpose would drown the output.
	redis.SetLogger(discardRedisLog{})
	rdb := redis.NewClient(&redis.Options{Addr: testRedis.Addr, DB: testRedisDB})
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		fmt.Fprintf(os.Stderr, "jobs tests need Redis at %s: %v\n", testRedis.Addr, err)
		os.Exit(1)
	}
	rdb.Close()
	os.Exit(m.Run())
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// queue is a queue name of the test's own, so tests never see each other's tasks.
func queue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newClient(t *testing.T, opt asynq.RedisConnOpt) *asynq.Client {
	t.Helper()
	c := asynq.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func newInspector(t *testing.T) *asynq.Inspector {
	t.Helper()
	i := asynq.NewInspector(testRedis)
	t.Cleanup(func() { i.Close() })
	return i
}

// startServer runs a job server on queue q (weight 1) until the test ends.
func startServer(t *testing.T, opt asynq.RedisConnOpt, q string, log *slog.Logger, concurrency int, h asynq.Handler) *jobs.Server {
	t.Helper()
	s := jobs.NewServer(opt, jobs.Config{Concurrency: concurrency, Queues: map[string]int{q: 1},
		ShutdownTimeout: 2 * time.Second, PollInterval: 20 * time.Millisecond, Log: log})
	if err := s.Start(h); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(s.Shutdown) })
	return s
}

// superuser opens the test database as the superuser, which RLS does not limit, to look at
// rows the way no role of the application can.
func superuser(t testing.TB, f *dbtest.Fixture) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(f.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + f.Name
	c, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func count(t *testing.T, c *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// commitTasks commits n transactions in tenant, each with one outbox row of kind on q, from
// a few goroutines, and returns the row ids and when each transaction committed.
func commitTasks(t *testing.T, f *dbtest.Fixture, tenant uuid.UUID, kind, q string, n int) ([]uuid.UUID, map[uuid.UUID]time.Time) {
	t.Helper()
	ids := make([]uuid.UUID, n)
	at := make([]time.Time, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	const writers = 8
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				ctx := scope.WithRequestID(context.Background(), "req-"+strconv.Itoa(i))
				err := f.App.WithTenant(ctx, tenant, func(tx bun.IDB) error {
					var err error
					ids[i], err = jobs.Enqueue(ctx, tx, jobs.Task{Kind: kind, Queue: q, Payload: map[string]int{"order": i}})
					return err
				})
				at[i] = time.Now()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("commit: %v", err)
	}
	byID := make(map[uuid.UUID]time.Time, n)
	for i, id := range ids {
		byID[id] = at[i]
	}
	return ids, byID
}

// calls counts handler runs per task id.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func newCalls() *calls { return &calls{n: map[string]int{}} }

func (c *calls) add(id string) {
	c.mu.Lock()
	c.n[id]++
	c.mu.Unlock()
}

func (c *calls) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisServer is a redis-server of the test's own on a free port, to stop and start.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		r.t.Fatalf("this test starts its own redis-server, and none is on PATH: %v", err)
	}
	r.cmd = exec.Command(path, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	waitFor(r.t, 10*time.Second, "redis-server to answer", func() bool { return c.Ping(context.Background()).Err() == nil })
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

func newRedisServer(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{t: t, port: freePort(t)}
	t.Cleanup(r.stop)
	return r
}
