package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed" // csrfScript
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"mercato/platform/authz"
	"mercato/platform/identity"
	"mercato/platform/jobs"
	"mercato/platform/web"
)

// QueuesPath is where asynqmon, the job queues' console, is mounted.
const QueuesPath = Prefix + "/queues"

// ownScripts is where the portal serves the scripts it adds to asynqmon's page.
const ownScripts = QueuesPath + "/_mercato/"

// queueStatsTimeout bounds how long the dashboard waits for Redis before it says the queues
// cannot be read: a Redis that does not answer must not hold the page.
const queueStatsTimeout = 2 * time.Second

// csrfPlaceholder marks where asynqmon's page gets the session's CSRF token.
const csrfPlaceholder = "{{mercato-csrf-token}}"

//go:embed queues_csrf.js
var csrfScript []byte

// errQueuesSlow is a Redis that did not answer within queueStatsTimeout.
var errQueuesSlow = errors.New("queue statistics: redis did not answer in time")

// queueMonitor is asynqmon under /admin/queues plus the inspector behind the dashboard's
// card. There are two asynqmon instances: a read-write one for roles that may write
// /admin/queues (platform_admin) and a read-only one, which hides asynqmon's buttons, for
// roles that may only read it (support, finance). Casbin decides every request by its
// method as well, so a read-only role's POST is refused even if it is sent by hand.
type queueMonitor struct {
	inspector *asynq.Inspector
	ui        [2]fiber.Handler  // [0] read-only, [1] read-write
	index     [2]string         // their pages, with csrfPlaceholder
	scripts   map[string][]byte // file name under ownScripts -> script
}

func newQueueMonitor(opt asynq.RedisConnOpt) (*queueMonitor, error) {
	m := &queueMonitor{inspector: asynq.NewInspector(opt), scripts: map[string][]byte{"csrf.js": csrfScript}}
	for i, readOnly := range []bool{true, false} {
		h := asynqmon.New(asynqmon.Options{RootPath: QueuesPath, RedisConnOpt: opt, ReadOnly: readOnly})
		page, scripts, err := asynqmonPage(h)
		if err != nil {
			return nil, fmt.Errorf("asynqmon page: %w", err)
		}
		for name, s := range scripts {
			m.scripts[name] = s
		}
		m.ui[i], m.index[i] = adaptor.HTTPHandler(h), page
	}
	return m, nil
}

var (
	scriptRE   = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)
	linkRE     = regexp.MustCompile(`<link\b[^>]*>`)
	externalRE = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)`)
	srcAttrRE  = regexp.MustCompile(`\bsrc\s*=`)
	manifestRE = regexp.MustCompile(`\brel\s*=\s*["']?manifest\b`)
	titleRE    = regexp.MustCompile(`(?s)<title>.*?</title>`)
)

const headCloseTag = "</head>"

// asynqmonPage renders asynqmon's index page once and makes it fit the portal's
// Content-Security-Policy (default-src 'self', no inline scripts) instead of loosening the
// policy for it:
//   - its inline scripts (the settings it passes to the app and webpack's loader) move into
//     files served from 'self', named by their content's hash;
//   - the Google Fonts stylesheets go: the app falls back to the system's sans-serif and uses
//     SVG icons, so nothing is lost but a typeface, and no operator's browser calls Google;
//   - the web app manifest goes: nobody installs the admin's queue console as an app;
//   - the tab is titled as the portal's;
//   - csrf.js and a meta tag with the session's CSRF token come in, so asynqmon's requests
//     that change something (retry, delete, archive) pass identity.RequireCSRF.
//
// It fails if anything else on the page still points at another origin or runs inline, so
// an asynqmon upgrade that changes its page is caught at start (and by the tests).
func asynqmonPage(h http.Handler) (string, map[string][]byte, error) {
	req, err := http.NewRequest(http.MethodGet, QueuesPath, nil)
	if err != nil {
		return "", nil, err
	}
	var w bufferedResponse
	h.ServeHTTP(&w, req)
	if w.status != 0 && w.status != http.StatusOK {
		return "", nil, fmt.Errorf("asynqmon answered %d", w.status)
	}
	page := w.body.String()
	if !strings.Contains(page, `<div id="root">`) || !strings.Contains(page, headCloseTag) {
		return "", nil, errors.New("asynqmon's page has no root element")
	}
	page = linkRE.ReplaceAllStringFunc(page, func(tag string) string {
		if externalRE.MatchString(tag) || manifestRE.MatchString(tag) {
			return ""
		}
		return tag
	})
	scripts := map[string][]byte{}
	page = scriptRE.ReplaceAllStringFunc(page, func(tag string) string {
		m := scriptRE.FindStringSubmatch(tag)
		if srcAttrRE.MatchString(m[1]) {
			return tag
		}
		sum := sha256.Sum256([]byte(m[2]))
		name := hex.EncodeToString(sum[:8]) + ".js"
		scripts[name] = []byte(m[2])
		return `<script src="` + ownScripts + name + `"></script>`
	})
	page = titleRE.ReplaceAllLiteralString(page, "<title>Queues · Mercato Admin</title>")
	page = strings.Replace(page, headCloseTag, `<meta name="csrf-token" content="`+csrfPlaceholder+`">`+
		`<script src="`+ownScripts+`csrf.js"></script>`+headCloseTag, 1)
	if loc := externalRE.FindStringIndex(page); loc != nil {
		return "", nil, fmt.Errorf("asynqmon's page loads from another origin: %q", page[loc[0]:min(loc[1]+60, len(page))])
	}
	for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
		if !srcAttrRE.MatchString(m[1]) {
			return "", nil, errors.New("asynqmon's page still has an inline script")
		}
	}
	return page, scripts, nil
}

// bufferedResponse keeps what an http.Handler writes.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header {
	if b.header == nil {
		b.header = http.Header{}
	}
	return b.header
}

func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// actionOf is the Casbin action an HTTP method asks for.
func actionOf(method string) string {
	switch method {
	case fiber.MethodGet, fiber.MethodHead:
		return authz.ActionRead
	case fiber.MethodDelete:
		return authz.ActionDelete
	}
	return authz.ActionWrite
}

// queuesUI serves asynqmon: its API, its assets and, for every page of the single-page app,
// the rewritten index with the session's CSRF token.
func (a *portal) queuesUI(c *fiber.Ctx, p identity.Principal) error {
	path := c.Path()
	if name, ok := strings.CutPrefix(path, ownScripts); ok {
		s, found := a.queues.scripts[name]
		if !found || c.Method() != fiber.MethodGet {
			return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
		}
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable") // names change with content
		if name == "csrf.js" {
			c.Set(fiber.HeaderCacheControl, "private, no-cache")
		}
		return c.Send(s)
	}
	mode := 0
	if a.can(p, QueuesPath, authz.ActionWrite) {
		mode = 1
	}
	if err := a.queues.ui[mode](c); err != nil {
		return err
	}
	if strings.HasPrefix(path, QueuesPath+"/api/") {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return nil
	}
	// asynqmon answers every path that is not one of its files with its index page, so the
	// single-page app's own routes (/admin/queues/queues/default) open on reload.
	if bytes.HasPrefix(c.Response().Header.ContentType(), []byte("text/html")) {
		token := html.EscapeString(a.Identity.CSRFToken(p.SessionID))
		c.Status(fiber.StatusOK)
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "private, no-store")
		return c.SendString(strings.Replace(a.queues.index[mode], csrfPlaceholder, token, 1))
	}
	if strings.HasPrefix(path, QueuesPath+"/static/") {
		c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable") // webpack hashes the names
	}
	return nil
}

// queueRow is one queue on the dashboard.
type queueRow struct {
	Name                                        string
	Pending, Active, Scheduled, Retry, Archived int
	Processed, Failed                           int // today (UTC), as asynq counts them
	Paused                                      bool
}

// queuesCard is the dashboard's queue card; nil when the portal has no queues.
type queuesCard struct {
	Rows        []queueRow
	Unavailable bool // Redis did not answer
	Archived    int  // across all queues
}

// queuesCard reads the queues for the dashboard. A Redis that is down or slow gives a card
// that says so; the rest of the dashboard still renders.
func (a *portal) queuesCard(ctx context.Context) *queuesCard {
	if a.queues == nil {
		return nil
	}
	rows, err := a.queues.stats(ctx)
	if err != nil {
		a.Log.WarnContext(ctx, "admin: queue statistics unavailable", "error", err.Error())
		return &queuesCard{Unavailable: true}
	}
	card := &queuesCard{Rows: rows}
	for _, r := range rows {
		card.Archived += r.Archived
	}
	return card
}

// stats reads every queue, waiting at most queueStatsTimeout: the inspector takes no
// context, so a slow Redis is left to finish (within its client's own timeouts) unheard.
func (m *queueMonitor) stats(ctx context.Context) ([]queueRow, error) {
	type result struct {
		rows []queueRow
		err  error
	}
	done := make(chan result, 1)
	go func() {
		rows, err := m.readStats()
		done <- result{rows, err}
	}()
	timer := time.NewTimer(queueStatsTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.rows, r.err
	case <-timer.C:
		return nil, errQueuesSlow
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readStats lists the worker's three queues first, always (a queue exists in Redis only
// after its first task), then any other queue Redis knows, by name.
func (m *queueMonitor) readStats() ([]queueRow, error) {
	known, err := m.inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	names := []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow}
	slices.Sort(known)
	for _, q := range known {
		if !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	rows := make([]queueRow, 0, len(names))
	for _, q := range names {
		if !slices.Contains(known, q) {
			rows = append(rows, queueRow{Name: q})
			continue
		}
		info, err := m.inspector.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", q, err)
		}
		rows = append(rows, queueRow{Name: q, Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled,
			Retry: info.Retry, Archived: info.Archived, Processed: info.Processed, Failed: info.Failed, Paused: info.Paused})
	}
	return rows, nil
}
