package devservices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
)

// The repository root holds the MinIO and stripe-mock builds that every test reuses.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func testLog(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tempRoot is an empty project root whose .bin links to the repository's builds, so nothing
// is rebuilt.
func tempRoot(t *testing.T, bins ...string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range bins {
		src := filepath.Join(repoRoot(t), ".bin", b)
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("%s is not built yet (run an Ensure on the repository root first): %v", src, err)
		}
		if err := os.Symlink(src, filepath.Join(root, ".bin", b)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ensure(t *testing.T, o Options) *Services {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if o.Log == nil {
		o.Log = testLog(t)
	}
	s, err := Ensure(ctx, o)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func requireClosed(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
}

func requirePostgres(t *testing.T, rawURL string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), rawURL)
	if err != nil {
		t.Fatalf("connect %s: %v", rawURL, err)
	}
	defer conn.Close(context.Background())
	var super bool
	if err := conn.QueryRow(t.Context(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Errorf("%s: not a superuser", rawURL)
	}
}

func requireRedis(t *testing.T, rawURL string) {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if got, err := c.Ping(t.Context()).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING %s: %q, %v", rawURL, got, err)
	}
}

func requireStripe(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/customers?limit=1", nil)
	req.Header.Set("Authorization", "Bearer sk_test_123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var list struct{ Object string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || list.Object != "list" {
		t.Fatalf("GET %s/v1/customers: %s %.200s", base, resp.Status, body)
	}
}

func requireBucketRoundTrip(t *testing.T, s *Services) {
	t.Helper()
	mc, err := minio.New(s.MinIOEndpoint, &minio.Options{Creds: credentials.NewStaticV4(s.MinIOAccessKey, s.MinIOSecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	bucket := "devservices-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := mc.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket on %s: %v", s.MinIOEndpoint, err)
	}
	if ok, err := mc.BucketExists(t.Context(), bucket); err != nil || !ok {
		t.Fatalf("BucketExists(%s) = %v, %v", bucket, ok, err)
	}
	if err := mc.RemoveBucket(t.Context(), bucket); err != nil {
		t.Fatalf("RemoveBucket(%s): %v", bucket, err)
	}
}

// minioProcesses counts the minio servers whose data directory is under root.
func minioProcesses(t *testing.T, root string) int {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "server\x00"+filepath.Join(root, ".data", "minio", "data")) {
			n++
		}
	}
	return n
}

func TestEnsureDetachedServicesAnswer(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	s := ensure(t, Options{Root: root, MinIO: true, Stripe: true, Detach: true})

	requirePostgres(t, s.PostgresURL)
	requireRedis(t, s.RedisURL)
	requireBucketRoundTrip(t, s)
	requireStripe(t, s.StripeURL)

	st, err := readState(filepath.Join(root, ".data", "minio", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Detached || loopback(st.Ports["api"]) != s.MinIOEndpoint || !matches(st.PID, "minio") {
		t.Fatalf("MinIO state %+v does not describe a live detached server on %s", st, s.MinIOEndpoint)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// Detached means other test packages keep using it.
	requireBucketRoundTrip(t, s)
	requireStripe(t, s.StripeURL)
}

func TestDetachedMinIOIsSharedAndOutlivesNonDetachedCallers(t *testing.T) {
	t.Parallel()
	root := tempRoot(t, "minio")
	t.Cleanup(func() {
		if err := StopDetached(root, testLog(t)); err != nil {
			t.Errorf("StopDetached: %v", err)
		}
	})

	// Two concurrent callers, as parallel test packages would be: one server.
	var wg sync.WaitGroup
	got := make([]*Services, 2)
	for i := range got {
		wg.Go(func() {
			s, err := Ensure(t.Context(), Options{Root: root, MinIO: true, Detach: true, Log: testLog(t)})
			if err != nil {
				t.Errorf("Ensure %d: %v", i, err)
				return
			}
			got[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got[0].MinIOEndpoint != got[1].MinIOEndpoint {
		t.Fatalf("concurrent Ensure calls got %s and %s", got[0].MinIOEndpoint, got[1].MinIOEndpoint)
	}
	if n := minioProcesses(t, root); n != 1 {
		t.Fatalf("%d MinIO processes serve %s, want 1", n, root)
	}
	requireBucketRoundTrip(t, got[0])

	// `mercato dev` reuses it and, being a reuser, does not stop it.
	dev := ensure(t, Options{Root: root, MinIO: true})
	if dev.MinIOEndpoint != got[0].MinIOEndpoint {
		t.Fatalf("non-detached Ensure started %s instead of reusing %s", dev.MinIOEndpoint, got[0].MinIOEndpoint)
	}
	if err := dev.Stop(); err != nil {
		t.Fatal(err)
	}
	requireBucketRoundTrip(t, got[0])

	// StopDetached (task clean) does stop it.
	if err := StopDetached(root, testLog(t)); err != nil {
		t.Fatal(err)
	}
	requireClosed(t, got[0].MinIOEndpoint)
	if _, err := os.Stat(filepath.Join(root, ".data", "minio", "state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state.json after StopDetached: %v", err)
	}
}

// TestDetachedOutlivesItsStarter starts stripe-mock detached from another process (this test
// binary, re-executed), which then exits, as a test package would.
func TestDetachedOutlivesItsStarter(t *testing.T) {
	if root := os.Getenv("DEVSERVICES_STARTER_ROOT"); root != "" {
		s, err := Ensure(t.Context(), Options{Root: root, Stripe: true, Detach: true})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("STRIPE_URL=" + s.StripeURL)
		return
	}
	t.Parallel()
	root := tempRoot(t, "stripe-mock")
	t.Cleanup(func() {
		if err := StopDetached(root, testLog(t)); err != nil {
			t.Errorf("StopDetached: %v", err)
		}
	})
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDetachedOutlivesItsStarter$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEVSERVICES_STARTER_ROOT="+root)
	out, err := cmd.Output() // returns only once the starter has exited and its stdout is closed
	if err != nil {
		t.Fatalf("starter: %v\n%s", err, out)
	}
	_, url, ok := strings.Cut(string(out), "STRIPE_URL=")
	url, _, _ = strings.Cut(url, "\n")
	if !ok || url == "" {
		t.Fatalf("starter printed no URL:\n%s", out)
	}
	requireStripe(t, url)

	s := ensure(t, Options{Root: root, Stripe: true, Detach: true})
	if s.StripeURL != url {
		t.Fatalf("second process got %s, want the starter's %s", s.StripeURL, url)
	}
}

func TestStopStopsWhatEnsureStarted(t *testing.T) {
	t.Parallel()
	root := tempRoot(t, "stripe-mock")
	s := ensure(t, Options{Root: root, Stripe: true})
	requireStripe(t, s.StripeURL)

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	requireClosed(t, strings.TrimPrefix(s.StripeURL, "http://"))
	if _, err := os.Stat(filepath.Join(root, ".data", "stripe-mock", "state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state.json after Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestEnsureStartsPostgresAndRedisFromSystemBinaries(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"initdb", "redis-server"} {
		if _, err := findSystemBinary(name); err != nil {
			t.Fatalf("no system %s (install postgresql and redis-server): %v", name, err)
		}
	}
	root := tempRoot(t)
	if os.Geteuid() == 0 {
		// PostgreSQL runs as the postgres user, which must reach the data directory.
		for _, d := range []string{root, filepath.Dir(root)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	closedPG := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", closedPort(t))
	closedRedis := fmt.Sprintf("redis://127.0.0.1:%d/3", closedPort(t))
	t.Cleanup(func() {
		// A long temporary root puts the socket outside .data.
		if dir := (&postgresServer{dir: filepath.Join(root, ".data", "postgres")}).socketDir(); !strings.HasPrefix(dir, root) {
			_ = os.RemoveAll(dir)
		}
	})
	s := ensure(t, Options{Root: root, PostgresURL: closedPG, RedisURL: closedRedis})

	if s.PostgresURL == closedPG || s.RedisURL == closedRedis {
		t.Fatalf("Ensure returned the closed URLs: %s %s", s.PostgresURL, s.RedisURL)
	}
	if !strings.HasSuffix(s.RedisURL, "/3") {
		t.Errorf("Redis URL %s lost the database number", s.RedisURL)
	}
	requirePostgres(t, s.PostgresURL)
	requireRedis(t, s.RedisURL)

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	pg, _ := pgx.ParseConfig(s.PostgresURL)
	rd, _ := redis.ParseURL(s.RedisURL)
	requireClosed(t, loopback(int(pg.Port)))
	requireClosed(t, rd.Addr)
}

func TestEnsureReportsMissingPostgreSQL(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := Ensure(t.Context(), Options{
		Root:        t.TempDir(),
		PostgresURL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", closedPort(t)),
		Log:         testLog(t),
		findBinary:  func(name string) (string, error) { return "", fmt.Errorf("%s not found (test)", name) },
		install:     func(context.Context, string) error { return errors.New("installing is disabled (test)") },
	})
	took := time.Since(start)
	if err == nil {
		t.Fatal("Ensure succeeded without PostgreSQL")
	}
	t.Logf("Ensure failed after %s: %v", took, err)
	for _, want := range []string{"PostgreSQL", "initdb", "apt-get install postgresql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if took > 5*time.Second {
		t.Errorf("Ensure took %s to give up", took)
	}
}

func TestLocalRedisURLKeepsDatabase(t *testing.T) {
	for _, tc := range []struct{ configured, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:7000/0"},
		{"redis://:secret@10.0.0.1:6379/5", "redis://127.0.0.1:7000/5"},
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:7000/0"},
	} {
		if got := localRedisURL(tc.configured, 7000); got != tc.want {
			t.Errorf("localRedisURL(%q) = %q, want %q", tc.configured, got, tc.want)
		}
	}
}
