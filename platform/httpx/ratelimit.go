package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"mercato/platform/fault"
	"mercato/platform/scope"
)

// ErrRateLimited is the answer to a caller over its rate; the Retry-After header says when to
// come back.
var ErrRateLimited = fault.New(fault.RateLimited, "rate_limited", "too many requests; retry after the number of seconds in the Retry-After header")

// errInvalidLimit is a programming error in a pick function, not a client's fault.
var errInvalidLimit = errors.New("rate limit: Rate, Per and Burst must be positive")

// Limit is a rate with a burst: Burst requests may arrive at once, after which they are let
// through at Rate per Per (one every Per/Rate), and an idle caller earns the burst back.
type Limit struct {
	Rate  int
	Per   time.Duration
	Burst int
}

// Result is one decision of the limiter.
type Result struct {
	Allowed    bool
	Remaining  int           // requests that may still be made at once
	RetryAfter time.Duration // when refused: wait this long before the next request can pass
	ResetAfter time.Duration // until the caller has its whole burst again
}

// gcraScript is the generic cell rate algorithm: the key holds the theoretical arrival time
// (TAT) of the caller's next request in microseconds; a request passes when it would not push
// the TAT more than the burst ahead of now. One script makes the read and the write atomic and
// one round trip. Time comes from Redis, so API instances with skewed clocks agree. Times are
// integral microseconds (below 2^53, exact in Lua's doubles).
//
// KEYS[1] the caller's key; ARGV[1] emission interval µs; ARGV[2] burst.
// Returns {allowed 0|1, remaining, retry_after µs, reset_after µs}.
const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local new_tat = tat + interval
local diff = now - (new_tat - interval * burst)
if diff < 0 then
  return {0, 0, -diff, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor(diff / interval), 0, new_tat - now}
`

// RateLimiter decides, per caller key, whether a request fits its Limit. The state lives in
// Redis, so every API instance shares it.
type RateLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	script *redis.Script
}

// NewRateLimiter keys its state under prefix (e.g. "mercato:rl:"). The client should fail
// fast (short dial and read timeouts, no retries): the middleware lets requests through when
// Redis does not answer, and each slow answer is latency added to a request.
func NewRateLimiter(rdb redis.UniversalClient, prefix string) *RateLimiter {
	return &RateLimiter{rdb: rdb, prefix: prefix, script: redis.NewScript(gcraScript)}
}

// Allow counts one request for key against limit. It returns an error when the limit is not
// valid or Redis does not answer; the decision is then the caller's.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if limit.Rate <= 0 || limit.Per <= 0 || limit.Burst <= 0 {
		return Result{}, fmt.Errorf("allow %q: %w", key, errInvalidLimit)
	}
	interval := max(int64(math.Round(float64(limit.Per.Microseconds())/float64(limit.Rate))), 1)
	vals, err := l.script.Run(ctx, l.rdb, []string{l.prefix + key}, interval, limit.Burst).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("allow %q: %w", key, err)
	}
	if len(vals) != 4 {
		return Result{}, fmt.Errorf("allow %q: script returned %d values", key, len(vals))
	}
	return Result{
		Allowed:    vals[0] == 1,
		Remaining:  int(vals[1]),
		RetryAfter: time.Duration(vals[2]) * time.Microsecond,
		ResetAfter: time.Duration(vals[3]) * time.Microsecond,
	}, nil
}

// Rate limit response headers, as named by the IETF httpapi RateLimit header fields draft.
const (
	RateLimitLimitHeader     = "RateLimit-Limit"
	RateLimitRemainingHeader = "RateLimit-Remaining"
	RateLimitResetHeader     = "RateLimit-Reset"
)

// rateLimitTimeout bounds one decision; past it the request goes through unlimited. It only
// interrupts a stalled socket when the client has ContextTimeoutEnabled.
const rateLimitTimeout = 250 * time.Millisecond

// fallbackWarnEvery keeps a Redis outage from writing one warning per request.
const fallbackWarnEvery = time.Minute

// RateLimit counts every request that pick selects against the limit pick returns for it.
// pick chooses the key, and so the scope of the limit: "apikey:<id>" from the principal,
// "tenant:<id>", "ip:<addr>"; ok=false leaves the request unlimited. Answers carry
// RateLimit-Limit, -Remaining and -Reset; a refused request gets 429 rate_limited with
// Retry-After in whole seconds.
//
// When Redis does not answer, requests go through (fail open): a limit protects capacity and
// fairness, and refusing every request while Redis is down would turn a degraded dependency
// into a full outage of the API, which is worse than a few minutes without limits. Each such
// request adds to fallbacks (may be nil) and a warning is logged at most once a minute.
func RateLimit(l *RateLimiter, pick func(c *fiber.Ctx) (key string, limit Limit, ok bool), log *slog.Logger, fallbacks prometheus.Counter) fiber.Handler {
	var lastWarn atomic.Int64 // unix nanoseconds of the last fallback warning
	return func(c *fiber.Ctx) error {
		key, limit, ok := pick(c)
		if !ok {
			return c.Next()
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), rateLimitTimeout)
		res, err := l.Allow(ctx, key, limit)
		cancel()
		if errors.Is(err, errInvalidLimit) {
			return err
		}
		if err != nil {
			if fallbacks != nil {
				fallbacks.Inc()
			}
			now, last := time.Now().UnixNano(), lastWarn.Load()
			if now-last >= int64(fallbackWarnEvery) && lastWarn.CompareAndSwap(last, now) {
				log.WarnContext(c.UserContext(), "rate limiter unavailable; letting requests through",
					"error", err.Error(), "request_id", scope.RequestIDFrom(c.UserContext()))
			}
			return c.Next()
		}
		c.Set(RateLimitLimitHeader, strconv.Itoa(limit.Burst))
		c.Set(RateLimitRemainingHeader, strconv.Itoa(res.Remaining))
		c.Set(RateLimitResetHeader, strconv.FormatInt(ceilSeconds(res.ResetAfter), 10))
		if !res.Allowed {
			// Set here: the error handler only supplies a default of 1 when the header is absent.
			c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10))
			return ErrRateLimited
		}
		return c.Next()
	}
}

// ActorOrIP is a pick function: authenticated callers are limited per actor ("apikey:<id>",
// "user:<id>"), anonymous ones per client address. Mount it after authentication. Behind a
// load balancer c.IP() is the balancer's unless Fiber is told which proxy header to trust.
func ActorOrIP(authenticated, anonymous Limit) func(c *fiber.Ctx) (string, Limit, bool) {
	return func(c *fiber.Ctx) (string, Limit, bool) {
		if a := scope.ActorFrom(c.UserContext()); a != "anonymous" {
			return "actor:" + string(a), authenticated, true
		}
		return "ip:" + c.IP(), anonymous, true
	}
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
