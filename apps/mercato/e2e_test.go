package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/migrations"
	"mercato/platform/blob"
	"mercato/platform/db"
	"mercato/platform/db/dbtest"
	"mercato/platform/devservices"
	"mercato/platform/scope"
	"mercato/tenants"
)

// binPath is the mercato binary TestMain builds once for every test that runs it as a process.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mercato-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "mercato")
	build := exec.Command("go", "build", "-o", binPath, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// TestDevEndToEnd runs `mercato dev` as a newcomer would and walks the surface it prints.
func TestDevEndToEnd(t *testing.T) {
	root := repoRoot(t)
	name := uniqueDBName()
	t.Cleanup(func() { dropDatabase(t, name) })
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	base := "http://" + addr

	p := startProcess(t, map[string]string{
		"MERCATO_DATABASE_URL":          roleURL("mercato_app", name),
		"MERCATO_DATABASE_OWNER_URL":    roleURL("mercato_owner", name),
		"MERCATO_DATABASE_PLATFORM_URL": roleURL("mercato_platform", name),
		// dev points Redis at what devservices found (db 0) whatever this says; see dev.go.
		"MERCATO_REDIS_URL":        "redis://127.0.0.1:6379/15",
		"MERCATO_SHUTDOWN_TIMEOUT": "5s",
	}, "dev", "--http-addr", addr, "--root", root, "--log-format", "json")

	waitFor(t, 120*time.Second, "dev to print its welcome", func() bool {
		p.mustBeRunning(t)
		return strings.Contains(p.stdout.String(), "Mercato is running.")
	})
	waitReady(t, base, 120*time.Second)

	out := p.stdout.String()
	for _, want := range []string{"http://localhost:" + port + "/docs", "http://localhost:" + port + "/admin",
		"http://localhost:" + port + "/console", "http://panda.localhost:" + port + "/", demo.Password} {
		if !strings.Contains(out, want) {
			t.Errorf("welcome does not mention %s:\n%s", want, out)
		}
	}

	t.Run("portals", func(t *testing.T) {
		for _, tc := range []struct{ path, host, want string }{
			{"/admin/login", "", "<form"},
			{"/console/login", "", "<form"},
			{"/", "lumen.localhost:" + port, "Lumen Goods"},
			{"/", "panda.localhost:" + port, "熊猫市集"},
			{"/sell", "lumen.localhost:" + port, "<form"},
		} {
			res := httpDo(t, http.MethodGet, base+tc.path, tc.host, nil)
			if res.status != http.StatusOK || !strings.Contains(res.body, tc.want) {
				t.Errorf("%s%s: %d, want 200 with %q", tc.host, tc.path, res.status, tc.want)
			}
		}
	})

	t.Run("carrier simulator", func(t *testing.T) {
		// dev runs a carrier on loopback and points the generic carrier at it; the platform's
		// webhook route refuses what the carrier did not sign.
		_, rest, ok := strings.Cut(out, "Carrier API")
		fields := strings.Fields(rest)
		if !ok || len(fields) == 0 || !strings.HasPrefix(fields[0], "http://127.0.0.1:") {
			t.Fatalf("welcome names no carrier simulator:\n%s", out)
		}
		res := httpDo(t, http.MethodGet, fields[0]+"/v1/parcels/NOPE-1", "", nil)
		wantStatus(t, res, http.StatusUnauthorized)
		res = httpDo(t, http.MethodPost, base+"/webhooks/carriers/generic_http", "", strings.NewReader(`{"tracking_number":"NOPE-1","events":[]}`))
		wantStatus(t, res, http.StatusBadRequest)
	})

	t.Run("livez", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/livez", "", nil)
		wantStatus(t, res, http.StatusOK)
	})

	t.Run("metrics", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/metrics", "", nil)
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(res.body, "mercato_http_requests_total") {
			t.Errorf("/metrics has no mercato_http_requests_total")
		}
	})

	t.Run("openapi", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/openapi.json", "", nil)
		wantStatus(t, res, http.StatusOK)
		var doc struct {
			OpenAPI string                     `json:"openapi"`
			Paths   map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal([]byte(res.body), &doc); err != nil {
			t.Fatalf("/openapi.json is not JSON: %v", err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.1") {
			t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
		}
		if _, ok := doc.Paths["/v1/plans"]; !ok {
			t.Errorf("/openapi.json has no path /v1/plans; paths: %v", mapKeys(doc.Paths))
		}
	})

	t.Run("docs", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/docs", "", nil)
		wantStatus(t, res, http.StatusOK)
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("/docs Content-Type = %q, want text/html", ct)
		}
		if !strings.Contains(res.body, "/v1/plans") {
			t.Errorf("/docs does not mention /v1/plans")
		}
	})

	t.Run("plans", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/v1/plans", "", nil)
		wantStatus(t, res, http.StatusOK)
		var body struct{ Items []tenants.Plan }
		decodeJSON(t, res, &body)
		var codes []string
		for _, p := range body.Items {
			codes = append(codes, p.Code)
		}
		slices.Sort(codes)
		if want := []string{"growth", "scale", "starter"}; !slices.Equal(codes, want) {
			t.Errorf("plans = %v, want %v", codes, want)
		}
	})

	t.Run("storefront by host", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/v1/storefront", "panda.localhost:"+port, nil)
		wantStatus(t, res, http.StatusOK)
		var store tenants.StoreProfile
		decodeJSON(t, res, &store)
		if store.Slug != "panda" || store.Locale != "zh-CN" || store.Currency != "CNY" {
			t.Errorf("storefront = %+v, want panda in zh-CN and CNY", store)
		}
	})

	t.Run("unknown host", func(t *testing.T) {
		res := httpDo(t, http.MethodGet, base+"/v1/storefront", "nobody.example:"+port, nil)
		wantStatus(t, res, http.StatusNotFound)
		pr := wantProblem(t, res, http.StatusNotFound)
		if id := res.header.Get("X-Request-ID"); id == "" || pr.RequestID != id {
			t.Errorf("problem request_id = %q, X-Request-ID = %q; want equal and set", pr.RequestID, id)
		}
	})

	t.Run("method not allowed", func(t *testing.T) {
		res := httpDo(t, http.MethodPost, base+"/v1/plans", "", strings.NewReader("{}"))
		wantStatus(t, res, http.StatusMethodNotAllowed)
		wantProblem(t, res, http.StatusMethodNotAllowed)
	})

	t.Run("body too large", func(t *testing.T) {
		res := postOversized(t, addr, "/v1/plans", 4<<20+1)
		wantStatus(t, res, http.StatusRequestEntityTooLarge)
		wantProblem(t, res, http.StatusRequestEntityTooLarge)
	})

	t.Run("security headers", func(t *testing.T) {
		for _, path := range []string{"/v1/plans", "/docs", "/nowhere"} {
			res := httpDo(t, http.MethodGet, base+path, "", nil)
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
				if got := res.header.Get(h); got != want {
					t.Errorf("%s: %s = %q, want %q", path, h, got, want)
				}
			}
			if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src") {
				t.Errorf("%s: Content-Security-Policy = %q", path, csp)
			}
		}
	})

	t.Run("worker runs in dev", func(t *testing.T) {
		// dev keeps MERCATO_REDIS_URL (db 15 here) when that Redis answers.
		waitWorkerRegistered(t, "redis://127.0.0.1:6379/15", p.cmd.Process.Pid, true)
	})

	if code := p.terminate(t, 30*time.Second); code != 0 {
		t.Fatalf("dev exited %d after SIGTERM, want 0", code)
	}
	wantClosed(t, addr)
}

// TestServeAndMigrateCommands walks a database from empty to migrated and back through the
// binary, with serve's readiness following along.
func TestServeAndMigrateCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	svc := localServices(t)
	name := uniqueDBName()
	roles := db.Roles{
		OwnerURL:    roleURL("mercato_owner", name),
		AppURL:      roleURL("mercato_app", name),
		PlatformURL: roleURL("mercato_platform", name),
	}
	if err := db.Bootstrap(ctx, dbtest.AdminURL(), roles); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, name) })
	addr := freeAddr(t)
	base := "http://" + addr
	env := map[string]string{
		"MERCATO_HTTP_ADDR":             addr,
		"MERCATO_DATABASE_URL":          roles.AppURL,
		"MERCATO_DATABASE_OWNER_URL":    roles.OwnerURL,
		"MERCATO_DATABASE_PLATFORM_URL": roles.PlatformURL,
		"MERCATO_REDIS_URL":             redisDB15(t, svc.RedisURL),
		"MERCATO_MINIO_ENDPOINT":        svc.MinIOEndpoint,
		"MERCATO_MINIO_ACCESS_KEY":      svc.MinIOAccessKey,
		"MERCATO_MINIO_SECRET_KEY":      svc.MinIOSecretKey,
		"MERCATO_SHUTDOWN_TIMEOUT":      "5s",
	}
	names := migrationNames(t)

	out := runCommand(t, env, 0, "migrate", "status")
	lines := nonEmptyLines(out)
	if len(lines) != len(names) {
		t.Fatalf("migrate status printed %d lines, want %d:\n%s", len(lines), len(names), out)
	}
	for i, l := range lines {
		if f := strings.Fields(l); len(f) != 2 || f[0] != "pending" || f[1] != names[i] {
			t.Errorf("migrate status line %q, want pending %s", l, names[i])
		}
	}

	serve := startProcess(t, env, "serve")
	checks := waitReadyzStatus(t, serve, base, http.StatusServiceUnavailable)
	for _, c := range []string{"postgres", "redis", "minio"} {
		if checks[c] != "ok" {
			t.Errorf("before migrations: check %s = %q, want ok", c, checks[c])
		}
	}
	if m, ok := checks["migrations"]; !ok || m == "ok" {
		t.Errorf("before migrations: check migrations = %q (present %v), want a failure", m, ok)
	}

	wantMigrated := func(verb string, out string) {
		t.Helper()
		for _, n := range names {
			if !strings.Contains(out, "migrate "+verb+": "+n) {
				t.Errorf("migrate %s output does not name %s:\n%s", verb, n, out)
			}
		}
	}
	wantMigrated("up", runCommand(t, env, 0, "migrate", "up"))
	if out := runCommand(t, env, 0, "migrate", "up"); !strings.Contains(out, "migrate up: nothing to do") {
		t.Errorf("second migrate up printed %q, want nothing to do", out)
	}
	for i := range 2 {
		runCommand(t, env, 0, "seed")
		if n := countTenants(t, roles.PlatformURL); n != 3 {
			t.Errorf("after seed #%d: %d tenants, want 3", i+1, n)
		}
	}
	// The demo's listed products have their search documents already (the triggers); a
	// reindex rewrites the same set: one per active product.
	active := 0
	for _, c := range demo.Catalogs {
		for _, p := range c.Products {
			if p.Status == "active" {
				active++
			}
		}
	}
	if out := runCommand(t, env, 0, "search", "reindex"); !strings.Contains(out, fmt.Sprintf("search reindex: %d documents", active)) {
		t.Errorf("search reindex printed %q, want %d documents", out, active)
	}
	waitReadyzStatus(t, serve, base, http.StatusOK)

	wantMigrated("down", runCommand(t, env, 0, "migrate", "down"))
	checks = waitReadyzStatus(t, serve, base, http.StatusServiceUnavailable)
	if !strings.Contains(checks["migrations"], "pending") {
		t.Errorf("after migrate down: check migrations = %q, want pending", checks["migrations"])
	}
	wantMigrated("up", runCommand(t, env, 0, "migrate", "up"))
	waitReadyzStatus(t, serve, base, http.StatusOK)

	if code := serve.terminate(t, 30*time.Second); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0", code)
	}
	wantClosed(t, addr)
}

// TestWorkerStartsAndStops runs the worker on a migrated database and checks that it joins
// asynq and leaves cleanly on SIGTERM.
func TestWorkerStartsAndStops(t *testing.T) {
	f := dbtest.New(t)
	redisURL := "redis://127.0.0.1:6379/15"
	p := startProcess(t, map[string]string{
		"MERCATO_DATABASE_URL":          f.Roles.AppURL,
		"MERCATO_DATABASE_OWNER_URL":    f.Roles.OwnerURL,
		"MERCATO_DATABASE_PLATFORM_URL": f.Roles.PlatformURL,
		"MERCATO_REDIS_URL":             redisURL,
		"MERCATO_SHUTDOWN_TIMEOUT":      "5s",
	}, "worker")
	waitWorkerRegistered(t, redisURL, p.cmd.Process.Pid, true)
	p.mustBeRunning(t)
	if code := p.terminate(t, 30*time.Second); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0", code)
	}
	waitWorkerRegistered(t, redisURL, p.cmd.Process.Pid, false)
}

// process is the binary running in the background.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error // set before done closes
}

// startProcess runs the binary with args and an environment made of the test's own, without
// any MERCATO_ variable, plus env. Cleanup kills it if it is still running.
func startProcess(t *testing.T, env map[string]string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binPath, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = processEnv(env)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("mercato %v did not die after SIGKILL", args)
			}
		}
		if t.Failed() {
			t.Logf("mercato %v stdout:\n%s\nstderr:\n%s", args, p.stdout.String(), tail(p.stderr.String(), 8000))
		}
	})
	return p
}

// mustBeRunning stops the test if the process has exited.
func (p *process) mustBeRunning(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("mercato %v exited early (%v); stderr:\n%s", p.cmd.Args[1:], p.err, tail(p.stderr.String(), 8000))
	default:
	}
}

// wait returns the exit code, or fails the test if the process is still running after d.
func (p *process) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("mercato %v still running after %s", p.cmd.Args[1:], d)
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	t.Fatalf("mercato %v: %v", p.cmd.Args[1:], p.err)
	return -1
}

// terminate sends SIGTERM and returns the exit code.
func (p *process) terminate(t *testing.T, d time.Duration) int {
	t.Helper()
	p.mustBeRunning(t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	return p.wait(t, d)
}

// runCommand runs a short command to completion, checks its exit code and returns its stdout.
func runCommand(t *testing.T, env map[string]string, wantCode int, args ...string) string {
	t.Helper()
	p := startProcess(t, env, args...)
	if code := p.wait(t, 60*time.Second); code != wantCode {
		t.Fatalf("mercato %v exited %d, want %d; stderr:\n%s", args, code, wantCode, tail(p.stderr.String(), 4000))
	}
	return p.stdout.String()
}

func processEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MERCATO_") {
			env = append(env, kv)
		}
	}
	if _, ok := extra["MERCATO_SECRET_KEY"]; !ok {
		env = append(env, "MERCATO_SECRET_KEY=e2e-secret-key-0123456789abcdef0123456789")
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// syncBuffer is a bytes.Buffer the process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type readyzBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// waitReady polls /readyz until it answers 200 with every check ok.
func waitReady(t *testing.T, base string, d time.Duration) {
	t.Helper()
	var last string
	deadline := time.Now().Add(d)
	for {
		res, err := tryDo(http.MethodGet, base+"/readyz", "", nil)
		if err == nil {
			last = fmt.Sprintf("%d %s", res.status, res.body)
			var rb readyzBody
			if res.status == http.StatusOK && json.Unmarshal([]byte(res.body), &rb) == nil && allOK(rb.Checks) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not ready after %s; last answer: %s (err %v)", d, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReadyzStatus polls /readyz (max 30 s) until it answers want and returns its checks.
func waitReadyzStatus(t *testing.T, p *process, base string, want int) map[string]string {
	t.Helper()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mustBeRunning(t)
		res, err := tryDo(http.MethodGet, base+"/readyz", "", nil)
		if err == nil {
			last = fmt.Sprintf("%d %s", res.status, res.body)
			var rb readyzBody
			if res.status == want && json.Unmarshal([]byte(res.body), &rb) == nil {
				if want == http.StatusOK && !allOK(rb.Checks) {
					t.Fatalf("/readyz 200 with a failing check: %s", res.body)
				}
				return rb.Checks
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer %d within 30s; last answer: %s (err %v)", want, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func allOK(checks map[string]string) bool {
	for _, c := range []string{"postgres", "migrations", "redis", "minio"} {
		if checks[c] != "ok" {
			return false
		}
	}
	for _, v := range checks {
		if v != "ok" {
			return false
		}
	}
	return true
}

type response struct {
	status int
	header http.Header
	body   string
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func tryDo(method, url, host string, body io.Reader) (*response, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	if host != "" {
		req.Host = host
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

func httpDo(t *testing.T, method, url, host string, body io.Reader) *response {
	t.Helper()
	res, err := tryDo(method, url, host, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res
}

// postOversized sends a body of n bytes on a raw connection, so the answer is read even when
// the server refuses the body before it has all arrived.
func postOversized(t *testing.T, addr, path string, n int) *response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, addr, n); err != nil {
		t.Fatalf("write request head: %v", err)
	}
	go func() { _, _ = conn.Write(bytes.Repeat([]byte("a"), n)) }() // the server may stop reading early
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response to %d-byte body: %v", n, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func wantStatus(t *testing.T, res *response, want int) {
	t.Helper()
	if res.status != want {
		t.Fatalf("status %d, want %d; body: %s", res.status, want, tail(res.body, 2000))
	}
}

type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id"`
}

func wantProblem(t *testing.T, res *response, status int) problem {
	t.Helper()
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	decodeJSON(t, res, &p)
	if p.Status != status || p.Title == "" {
		t.Errorf("problem = %+v, want status %d with a title", p, status)
	}
	return p
}

func decodeJSON(t *testing.T, res *response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(res.body), v); err != nil {
		t.Fatalf("decode %q: %v", tail(res.body, 2000), err)
	}
}

// claimedPorts are the addresses handed out in this test binary, so that parallel tests never
// get the same port and one test's listener cannot pass for another's.
var claimedPorts sync.Map

// listenUnclaimed listens on a loopback port no other test of this binary has been given.
func listenUnclaimed(t *testing.T) net.Listener {
	t.Helper()
	var rejected []net.Listener
	defer func() {
		for _, ln := range rejected {
			ln.Close()
		}
	}()
	// Ports come from below Linux's ephemeral range (32768–60999), so no other listener on
	// ":0" (a child process's SMTP capture, say) can be handed a port a test just released
	// and make "nothing listens here any more" look false.
	for range 100 {
		port := 20000 + mrand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		if _, taken := claimedPorts.LoadOrStore(ln.Addr().String(), true); !taken {
			return ln
		}
		rejected = append(rejected, ln)
	}
	t.Fatal("no unclaimed loopback port after 100 tries")
	return nil
}

// freeAddr returns a loopback address nobody listened on a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln := listenUnclaimed(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// holdAddr listens on a loopback port until the test ends and returns its address.
func holdAddr(t *testing.T) string {
	t.Helper()
	ln := listenUnclaimed(t)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// wantClosed fails the test if something keeps accepting connections on addr. A socket can
// outlive its Close for a moment when another test forks a process at the same time (the child
// holds a copy of every descriptor until it execs), so one accepted connection is retried
// before it counts.
func wantClosed(t *testing.T, addr string) {
	t.Helper()
	for range 20 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s still accepts connections 2 s later", addr)
}

// waitWorkerRegistered waits (max 30 s) until an asynq server with pid is (or is no longer)
// registered in Redis.
func waitWorkerRegistered(t *testing.T, redisURL string, pid int, want bool) {
	t.Helper()
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { insp.Close() })
	waitFor(t, 30*time.Second, fmt.Sprintf("worker pid %d registered=%v in asynq", pid, want), func() bool {
		servers, err := insp.Servers()
		if err != nil {
			return false
		}
		found := slices.ContainsFunc(servers, func(s *asynq.ServerInfo) bool { return s.PID == pid })
		return found == want
	})
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := devservices.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// localServices makes sure MinIO (with the default bucket) and Redis answer, detached so the
// next test reuses them.
func localServices(t *testing.T) *devservices.Services {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	svc, err := devservices.Ensure(ctx, devservices.Options{Root: repoRoot(t), MinIO: true, Detach: true})
	if err != nil {
		t.Fatalf("devservices: %v", err)
	}
	store, err := blob.Open(blob.Options{Endpoint: svc.MinIOEndpoint, AccessKey: svc.MinIOAccessKey,
		SecretKey: svc.MinIOSecretKey, Bucket: "mercato-media"})
	if err != nil {
		t.Fatalf("blob: %v", err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatalf("bucket: %v", err)
	}
	return svc
}

func redisDB15(t *testing.T, raw string) string {
	t.Helper()
	if _, err := redis.ParseURL(raw); err != nil {
		t.Fatalf("redis url %q: %v", raw, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/15"
	return u.String()
}

func uniqueDBName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "mercato_test_" + hex.EncodeToString(b)
}

// roleURL is the admin URL with another user and database, as dbtest builds them.
func roleURL(user, database string) string {
	u, err := url.Parse(dbtest.AdminURL())
	if err != nil {
		panic(err)
	}
	u.User = url.User(user)
	u.Path = "/" + database
	return u.String()
}

func dropDatabase(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.DropDatabase(ctx, dbtest.AdminURL(), name); err != nil {
		t.Errorf("drop database %s: %v", name, err)
	}
}

// migrationNames are the embedded migrations as migrate prints them, in order.
func migrationNames(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded migrations (%v)", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.SplitN(f, ".", 2)[0])
	}
	slices.Sort(names)
	return names
}

func countTenants(t *testing.T, platformURL string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := db.OpenPlatform(ctx, platformURL, 1)
	if err != nil {
		t.Fatalf("open platform: %v", err)
	}
	defer p.Close()
	var n int
	err = p.Do(scope.WithActor(ctx, "test:count-tenants"), "test.count_tenants", func(tx bun.IDB) error {
		return tx.NewSelect().Table("tenants").ColumnExpr("count(*)").Scan(ctx, &n)
	})
	if err != nil {
		t.Fatalf("count tenants: %v", err)
	}
	return n
}

func nonEmptyLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
