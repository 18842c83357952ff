// Package httpx is the HTTP kernel: the Fiber app with its middleware chain (request id,
// recover, access log, security headers, body limit, metrics), the one error handler that
// answers RFC 9457 problem+json, the OpenAPI-described /v1 API, cursor pagination and
// Idempotency-Key support. It holds no business rules.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"mercato/platform/scope"
)

// Options configures the app.
type Options struct {
	Log          *slog.Logger
	BodyLimit    int                   // bytes; larger bodies get 413
	Metrics      prometheus.Registerer // where request metrics go; nil means none
	HTTPS        bool                  // served over TLS: adds Strict-Transport-Security
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// TrustedProxies are the load balancers (IPs or CIDRs) whose X-Forwarded-For and
	// X-Forwarded-Host are believed; from anyone else those headers are ignored, so rate limits
	// and audit entries see the real peer.
	TrustedProxies []string
}

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-ID"

// New builds the Fiber app with Mercato's middleware chain. Routes are added by apps/api.
func New(o Options) *fiber.App {
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 60 * time.Second
	}
	app := fiber.New(fiber.Config{
		AppName:               "mercato",
		BodyLimit:             o.BodyLimit,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		IdleTimeout:           2 * time.Minute,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(o.Log, o.HTTPS),
		// Fiber believes X-Forwarded-* from everyone unless told whom to trust.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          o.TrustedProxies,
		ProxyHeader:             proxyHeader(o.TrustedProxies),
	})
	app.Use(requestID, recoverPanics(o.Log), accessLog(o.Log, newMetrics(o.Metrics)), securityHeaders(o.HTTPS))
	return app
}

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// requestState travels in the request's context so that the access log can report the cause
// of an internal error wherever it was turned into a problem.
type requestState struct {
	cause error
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID accepts a well-formed inbound id (from a load balancer) or makes a UUIDv7.
func requestID(c *fiber.Ctx) error {
	id := c.Get(RequestIDHeader)
	if !validRequestID.MatchString(id) {
		id = uuid.Must(uuid.NewV7()).String()
	} else {
		id = strings.Clone(id)
	}
	c.Set(RequestIDHeader, id)
	ctx := context.WithValue(scope.WithRequestID(c.UserContext(), id), stateKey{}, &requestState{})
	c.SetUserContext(ctx)
	return c.Next()
}

func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(c.UserContext(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()),
					"request_id", scope.RequestIDFrom(c.UserContext()))
				err = errors.New("panic in handler")
			}
		}()
		return c.Next()
	}
}

func accessLog(log *slog.Logger, m *metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Let the error handler write the response now, so the status below is final.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		ctx := c.UserContext()
		status := c.Response().StatusCode()
		elapsed := time.Since(start)
		route := c.Route().Path
		m.observe(c.Method(), route, status, elapsed)
		attrs := []slog.Attr{
			slog.String("request_id", scope.RequestIDFrom(ctx)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", elapsed),
			slog.String("ip", c.IP()),
		}
		if t, ok := scope.TenantFrom(ctx); ok {
			attrs = append(attrs, slog.String("tenant_id", t.String()))
		}
		level := slog.LevelInfo
		if s := stateFrom(ctx); s != nil && s.cause != nil {
			attrs = append(attrs, slog.String("error", s.cause.Error()))
			level = slog.LevelError
		}
		log.LogAttrs(ctx, level, "request", attrs...)
		return nil
	}
}

func securityHeaders(https bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		setSecurityHeaders(c, https)
		return c.Next()
	}
}

func setSecurityHeaders(c *fiber.Ctx, https bool) {
	h := &c.Response().Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
	if https {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

// errorHandler is the one place errors become responses. Fiber also calls it for requests it
// refuses before any middleware runs (a body over the limit), so it makes sure those carry a
// request id and the security headers too.
func errorHandler(log *slog.Logger, https bool) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		ctx := c.UserContext()
		rid := scope.RequestIDFrom(ctx)
		if rid == "" {
			rid = uuid.Must(uuid.NewV7()).String()
			c.Set(RequestIDHeader, rid)
			setSecurityHeaders(c, https)
			log.InfoContext(ctx, "request refused before routing", "request_id", rid, "method", c.Method(),
				"path", c.Path(), "error", err.Error())
		}
		p, internal := problemFor(err, rid)
		if internal {
			if s := stateFrom(ctx); s != nil {
				s.cause = err
			} else {
				log.ErrorContext(ctx, "internal error", "error", err.Error())
			}
		}
		p.Instance = c.OriginalURL()
		if p.Status == fiber.StatusTooManyRequests && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
		c.Status(p.Status)
		c.Set(fiber.HeaderContentType, ProblemContentType)
		return c.JSON(p, ProblemContentType)
	}
}

// metrics counts requests by route pattern (never the raw path: ids would explode cardinality).
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mercato_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}
