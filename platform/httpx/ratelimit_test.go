package httpx_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// testRedisDB keeps test state away from the dev database (index 0) and from other packages.
const testRedisDB = 12

// newLimiter returns a limiter on the real Redis under a prefix no other test uses; its keys
// are deleted when the test ends.
func newLimiter(tb testing.TB) *httpx.RateLimiter {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: testRedisDB})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at 127.0.0.1:6379: %v", err)
	}
	prefix := "test:rl:" + uuid.NewString() + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return httpx.NewRateLimiter(rdb, prefix)
}

// limitedApp limits every request to /limited by the key in the X-Key header.
func limitedApp(tb testing.TB, l *httpx.RateLimiter, limit httpx.Limit, log *slog.Logger, fallbacks prometheus.Counter) *fiber.App {
	tb.Helper()
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler)})
	app.Use("/limited", httpx.RateLimit(l, func(c *fiber.Ctx) (string, httpx.Limit, bool) {
		return "key:" + c.Get("X-Key"), limit, true
	}, log, fallbacks))
	app.Get("/limited", func(c *fiber.Ctx) error { return c.SendString("ok") })
	return app
}

func get(t *testing.T, app *fiber.App, path, key string) (*http.Response, problem) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Key", key)
	resp, p, _ := do(t, app, req)
	return resp, p
}

func TestRateLimitBurstThenTooManyRequests(t *testing.T) {
	const burst = 10
	app := limitedApp(t, newLimiter(t), httpx.Limit{Rate: 1, Per: time.Minute, Burst: burst}, slog.New(slog.DiscardHandler), nil)
	for i := 1; i <= burst+5; i++ {
		resp, p := get(t, app, "/limited", "a")
		h := func(name string) string { return resp.Header.Get(name) }
		if h(httpx.RateLimitLimitHeader) != strconv.Itoa(burst) {
			t.Errorf("request %d: RateLimit-Limit %q, want %d", i, h(httpx.RateLimitLimitHeader), burst)
		}
		if i <= burst {
			// Each passed request takes one slot and pushes the full refill a minute further.
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d of the burst: status %d", i, resp.StatusCode)
			}
			if got, want := h(httpx.RateLimitRemainingHeader), strconv.Itoa(burst-i); got != want {
				t.Errorf("request %d: RateLimit-Remaining %q, want %s", i, got, want)
			}
			if got, want := h(httpx.RateLimitResetHeader), strconv.Itoa(60*i); got != want {
				t.Errorf("request %d: RateLimit-Reset %q, want %s", i, got, want)
			}
			if h(fiber.HeaderRetryAfter) != "" {
				t.Errorf("request %d passed but carries Retry-After", i)
			}
			continue
		}
		if resp.StatusCode != http.StatusTooManyRequests || p.Status != http.StatusTooManyRequests || p.Code != "rate_limited" {
			t.Fatalf("request %d past the burst: status %d, problem %+v", i, resp.StatusCode, p)
		}
		// The next slot opens one emission interval (a minute) after the burst began.
		if ra, err := strconv.Atoi(h(fiber.HeaderRetryAfter)); err != nil || ra < 59 || ra > 60 {
			t.Errorf("request %d: Retry-After %q, want 59..60", i, h(fiber.HeaderRetryAfter))
		}
		if h(httpx.RateLimitRemainingHeader) != "0" || h(httpx.RateLimitResetHeader) != strconv.Itoa(60*burst) {
			t.Errorf("request %d: Remaining %q Reset %q", i, h(httpx.RateLimitRemainingHeader), h(httpx.RateLimitResetHeader))
		}
	}
}

func TestRateLimitRetryAfterIsAtLeastOneSecond(t *testing.T) {
	// 100/s: the next slot opens in 10 ms, which must not be rounded down to "0".
	app := limitedApp(t, newLimiter(t), httpx.Limit{Rate: 100, Per: time.Second, Burst: 1}, slog.New(slog.DiscardHandler), nil)
	if resp, _ := get(t, app, "/limited", "a"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	resp, _ := get(t, app, "/limited", "a")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get(fiber.HeaderRetryAfter) != "1" {
		t.Fatalf("status %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get(fiber.HeaderRetryAfter))
	}
}

func TestRateLimitRefillsAtTheRate(t *testing.T) {
	l := newLimiter(t)
	ctx := context.Background()
	limit := httpx.Limit{Rate: 20, Per: time.Second, Burst: 2} // one every 50 ms
	allow := func(what string) httpx.Result {
		t.Helper()
		res, err := l.Allow(ctx, "k", limit)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res
	}
	for i := range 2 {
		if res := allow("burst"); !res.Allowed {
			t.Fatalf("burst request %d refused", i)
		}
	}
	res := allow("past the burst")
	if res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 50*time.Millisecond {
		t.Fatalf("past the burst: %+v, want refused with 0 < RetryAfter <= 50ms", res)
	}
	time.Sleep(res.RetryAfter)
	if res := allow("after RetryAfter"); !res.Allowed {
		t.Fatalf("after waiting RetryAfter: %+v", res)
	}
	if res := allow("right after"); res.Allowed {
		t.Fatalf("a second request right after the refill passed: %+v", res)
	}
	// A caller slower than the rate is never refused.
	for i := range 10 {
		time.Sleep(60 * time.Millisecond)
		if res := allow("steady"); !res.Allowed {
			t.Fatalf("steady request %d every 60ms at 20/s refused: %+v", i, res)
		}
	}
}

func TestRateLimitKeysAreIndependent(t *testing.T) {
	l := newLimiter(t)
	ctx := context.Background()
	limit := httpx.Limit{Rate: 1, Per: time.Hour, Burst: 3}
	for range 3 {
		if res, err := l.Allow(ctx, "tenant:a", limit); err != nil || !res.Allowed {
			t.Fatalf("a: %+v %v", res, err)
		}
	}
	if res, err := l.Allow(ctx, "tenant:a", limit); err != nil || res.Allowed {
		t.Fatalf("a past its burst: %+v %v", res, err)
	}
	res, err := l.Allow(ctx, "tenant:b", limit)
	if err != nil || !res.Allowed || res.Remaining != 2 {
		t.Fatalf("b after a used its burst: %+v %v, want allowed with 2 remaining", res, err)
	}
}

func TestRateLimitIsAtomicUnderConcurrency(t *testing.T) {
	const burst, workers, perWorker = 50, 20, 10
	app := limitedApp(t, newLimiter(t), httpx.Limit{Rate: 1, Per: time.Minute, Burst: burst}, slog.New(slog.DiscardHandler), nil)
	var passed, refused, other atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				req := httptest.NewRequest(http.MethodGet, "/limited", nil)
				req.Header.Set("X-Key", "shared")
				resp, err := app.Test(req, 5000)
				if err != nil {
					other.Add(1)
					continue
				}
				_ = resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					passed.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if passed.Load() != burst || refused.Load() != workers*perWorker-burst || other.Load() != 0 {
		t.Fatalf("passed %d, refused %d, other %d; want %d, %d, 0",
			passed.Load(), refused.Load(), other.Load(), burst, workers*perWorker-burst)
	}
}

// countingHandler counts warnings.
type countingHandler struct{ warnings *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h countingHandler) WithGroup(string) slog.Handler            { return h }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		h.warnings.Add(1)
	}
	return nil
}

func TestRateLimitFailsOpenWhenRedisIsDown(t *testing.T) {
	// Refused: a port that was just free, nothing listens there. Stalled: a listener that
	// accepts and never answers, as a hung Redis or a black-holed network does.
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	_ = refused.Close()
	stalled, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stalled.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := stalled.Accept()
			if err != nil {
				for _, c := range held {
					_ = c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()

	for _, tc := range []struct {
		name, addr string
	}{
		{"connection refused", refusedAddr},
		{"no answer", stalled.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The client settings recommended for the limiter: fail fast, let the context bound it.
			rdb := redis.NewClient(&redis.Options{Addr: tc.addr, DB: testRedisDB, MaxRetries: -1, DialerRetries: 1,
				DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = rdb.Close() })
			var warnings atomic.Int64
			log := slog.New(countingHandler{warnings: &warnings})
			fallbacks := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_rate_limit_fallbacks_total", Help: "test"})
			app := limitedApp(t, httpx.NewRateLimiter(rdb, "test:rl:down:"), httpx.Limit{Rate: 1, Per: time.Minute, Burst: 1}, log, fallbacks)

			const n = 5 // more than the burst: a working limiter would refuse four
			for i := range n {
				start := time.Now()
				resp, _ := get(t, app, "/limited", "a")
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d with Redis down: status %d, want 200", i, resp.StatusCode)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("request %d took %v with Redis down", i, d)
				}
				if resp.Header.Get(httpx.RateLimitRemainingHeader) != "" {
					t.Errorf("request %d: RateLimit headers without a decision", i)
				}
			}
			var m dto.Metric
			if err := fallbacks.Write(&m); err != nil {
				t.Fatal(err)
			}
			if got := m.GetCounter().GetValue(); got != n {
				t.Errorf("fallback counter %v, want %d", got, n)
			}
			if warnings.Load() != 1 {
				t.Errorf("%d warnings for %d fallbacks within a minute, want 1", warnings.Load(), n)
			}
		})
	}
}

func TestRateLimitRejectsInvalidLimits(t *testing.T) {
	l := newLimiter(t)
	for _, limit := range []httpx.Limit{
		{Rate: 0, Per: time.Second, Burst: 1},
		{Rate: 1, Per: 0, Burst: 1},
		{Rate: 1, Per: time.Second, Burst: 0},
	} {
		if _, err := l.Allow(context.Background(), "k", limit); err == nil {
			t.Errorf("Allow with %+v: no error", limit)
		}
	}
	// A pick function with a bad limit is a bug to see, not a reason to stop limiting quietly.
	app := limitedApp(t, l, httpx.Limit{Rate: 0, Per: time.Second, Burst: 1}, slog.New(slog.DiscardHandler), nil)
	if resp, _ := get(t, app, "/limited", "a"); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("bad limit: status %d, want 500", resp.StatusCode)
	}
}

func TestActorOrIP(t *testing.T) {
	l := newLimiter(t)
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler)})
	// Stands in for authentication: the actor comes from a header.
	app.Use(func(c *fiber.Ctx) error {
		if a := c.Get("X-Actor"); a != "" {
			c.SetUserContext(scope.WithActor(c.UserContext(), scope.Actor(a)))
		}
		return c.Next()
	})
	authenticated := httpx.Limit{Rate: 1, Per: time.Hour, Burst: 3}
	anonymous := httpx.Limit{Rate: 1, Per: time.Hour, Burst: 1}
	pick := httpx.ActorOrIP(authenticated, anonymous)
	app.Use("/v1", httpx.RateLimit(l, func(c *fiber.Ctx) (string, httpx.Limit, bool) {
		if c.Path() == "/v1/free" {
			return "", httpx.Limit{}, false
		}
		return pick(c)
	}, slog.New(slog.DiscardHandler), nil))
	app.Get("/v1/*", func(c *fiber.Ctx) error { return c.SendString("ok") })

	for _, tc := range []struct {
		name, path, actor string
		passes            int // then one refused; -1: never limited
	}{
		{"anonymous by address", "/v1/x", "", 1},
		{"api key by actor", "/v1/x", "apikey:k1", 3},
		{"another key has its own budget", "/v1/x", "apikey:k2", 3},
		{"unpicked route is not limited", "/v1/free", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := max(tc.passes, 5)
			for i := range n + 1 {
				req := httptest.NewRequest(http.MethodGet, tc.path, nil)
				if tc.actor != "" {
					req.Header.Set("X-Actor", tc.actor)
				}
				resp, _, _ := do(t, app, req)
				want := http.StatusOK
				if tc.passes >= 0 && i >= tc.passes {
					want = http.StatusTooManyRequests
				}
				if resp.StatusCode != want {
					t.Fatalf("request %d: status %d, want %d", i, resp.StatusCode, want)
				}
				if tc.passes < 0 && resp.Header.Get(httpx.RateLimitLimitHeader) != "" {
					t.Fatalf("unlimited request carries RateLimit-Limit")
				}
			}
		})
	}
}

// BenchmarkAllow measures one decision: one EVALSHA round trip to the local Redis.
func BenchmarkAllow(b *testing.B) {
	l := newLimiter(b)
	ctx := context.Background()
	limit := httpx.Limit{Rate: 1_000_000, Per: time.Second, Burst: 1_000_000}
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, "k"+strconv.Itoa(i%1024), limit); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAllowParallel is the throughput figure to set beside redis-benchmark's, which uses
// 50 connections by default.
func BenchmarkAllowParallel(b *testing.B) {
	l := newLimiter(b)
	ctx := context.Background()
	limit := httpx.Limit{Rate: 1_000_000, Per: time.Second, Burst: 1_000_000}
	var n atomic.Int64
	b.SetParallelism(25) // × GOMAXPROCS goroutines: 50 on two cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Allow(ctx, "k"+strconv.FormatInt(n.Add(1)%1024, 10), limit); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
