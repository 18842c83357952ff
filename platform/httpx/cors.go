package httpx

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// What a cross-origin caller may send and read. Retry-After, the RateLimit fields and the
// request id are not CORS-safelisted response headers, so browsers hide them unless exposed.
const (
	corsMethods       = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsHeaders       = "Authorization, Content-Type, Idempotency-Key, X-Request-ID, X-Tenant-ID, X-CSRF-Token"
	corsExposeHeaders = "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed, Location"
	corsMaxAge        = 2 * 60 * 60 // seconds; Chromium caps preflight caching at two hours
)

// CORS lets the listed origins call the API from a browser with credentials (cookies,
// Authorization). An origin is "scheme://host[:port]" and matches exactly, as browsers
// serialize it (lower case, default port omitted); "*", "null" and anything with a path are
// refused, because reflecting them with credentials would hand the API to any page (a
// sandboxed iframe or a file:// page sends "null").
//
// A listed origin gets itself reflected in Access-Control-Allow-Origin with
// Access-Control-Allow-Credentials; its preflight is answered 204 here, before authentication
// (browsers send preflights without credentials). Any other origin gets no Access-Control-*
// header at all: its simple requests proceed, and the browser withholds the answer from the
// page; its preflight gets 204 without permission, so the real request is never sent.
// Every answer varies by Origin, so caches never serve one origin's permission to another.
func CORS(allowedOrigins []string) (fiber.Handler, error) {
	allowed := make(map[string]bool, len(allowedOrigins))
	for _, o := range allowedOrigins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("cors: %w", err)
		}
		allowed[n] = true
	}
	return func(c *fiber.Ctx) error {
		c.Vary(fiber.HeaderOrigin)
		origin := c.Get(fiber.HeaderOrigin)
		preflight := c.Method() == fiber.MethodOptions && origin != "" &&
			c.Get(fiber.HeaderAccessControlRequestMethod) != ""
		if !allowed[origin] {
			if preflight {
				return c.SendStatus(fiber.StatusNoContent)
			}
			return c.Next()
		}
		h := &c.Response().Header
		h.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		h.Set(fiber.HeaderAccessControlAllowCredentials, "true")
		if preflight {
			h.Set(fiber.HeaderAccessControlAllowMethods, corsMethods)
			h.Set(fiber.HeaderAccessControlAllowHeaders, corsHeaders)
			h.Set(fiber.HeaderAccessControlMaxAge, strconv.Itoa(corsMaxAge))
			return c.SendStatus(fiber.StatusNoContent)
		}
		h.Set(fiber.HeaderAccessControlExposeHeaders, corsExposeHeaders)
		return c.Next()
	}, nil
}

// normalizeOrigin turns a configured origin into the form a browser sends, or says why it
// cannot be one.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(o), "/"))
	switch {
	case err != nil:
		return "", fmt.Errorf("origin %q: %w", o, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("origin %q: want http:// or https:// (never * or null)", o)
	case u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		strings.Contains(u.Host, "*"):
		return "", fmt.Errorf("origin %q: want scheme://host[:port] and nothing else", o)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
