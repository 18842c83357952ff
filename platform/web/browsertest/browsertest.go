// Package browsertest drives Debian's chromium, headless, through chromedp for the portals'
// browser tests: it finds (or, as root, installs) the browser, and offers the few steps a
// journey needs, screenshots for people to look at, a console-error check and an
// accessibility smoke check. It never skips: a test that needs a browser fails without one.
package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// ScreenshotsEnv names the folder screenshots go to; default <repo root>/.data/screenshots.
const ScreenshotsEnv = "MERCATO_SCREENSHOTS"

//go:embed a11y.js
var a11yScript string

// Browser is one headless chromium with one tab, owned by one test.
type Browser struct {
	t       testing.TB
	ctx     context.Context
	Timeout time.Duration // per step; 15s unless changed

	mu         sync.Mutex
	console    []chromedp.ConsoleMessage // errors seen since the last AssertNoConsoleErrors
	failedDocs map[string]bool           // documents answered with an error status
}

// New starts chromium for t and stops it when t ends. It fails the test, with the reason and
// the browser's own output, when chromium is missing and cannot be installed, or does not
// start.
func New(t testing.TB) *Browser {
	t.Helper()
	exe := ensureChromium(t)
	profile := t.TempDir() // registered before the browser's cleanup, so removed after it
	var output syncBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI containers, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("no-proxy-server", true), // tests talk to loopback only
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&output),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	start := time.Now()
	startCtx, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	// The first Run starts the browser; it runs on ctx itself (a timeout on it would stop the
	// browser later), and a watchdog ends a start that hangs.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, chromedp.Sleep(0)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("browsertest: chromium at %s did not start: %v\nits output:\n%s", exe, err, output.String())
		}
	case <-startCtx.Done():
		t.Fatalf("browsertest: chromium at %s did not start within 60s\nits output:\n%s", exe, output.String())
	}
	b := &Browser{t: t, ctx: ctx, Timeout: 15 * time.Second, failedDocs: map[string]bool{}}
	// A page answered with 4xx or 5xx is logged by Chromium as a failed load. For the
	// document itself that is the test's business (Visit and Submit return the status; a
	// form re-rendered with 422 is correct), so those entries are left out; failed
	// subresources (a missing stylesheet, script or image) still count.
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Type == network.ResourceTypeDocument && e.Response.Status >= 400 {
			b.mu.Lock()
			b.failedDocs[e.Response.URL] = true
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("browsertest: listen: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.console = append(b.console, m)
				b.mu.Unlock()
			}
		}
	}()
	t.Logf("browsertest: chromium started in %v", time.Since(start).Round(time.Millisecond))
	return b
}

// Context is the chromedp context of the tab, for steps the helpers do not cover.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs chromedp actions within the step timeout and fails the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	b.t.Fatalf("browsertest: %s: %v (page %s)", what, err, loc)
}

// Visit opens url, waits for the page to load and returns the HTTP status of the document.
func (b *Browser) Visit(url string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.fail("visit "+url, err)
	}
	return int(resp.Status)
}

// Click clicks the first element matching the CSS selector. It does not wait for a page to
// load: use Submit for a click that navigates.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.Do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// Submit clicks the element (a submit button or link) and waits for the page it leads to,
// following redirects; it returns the final document's HTTP status.
func (b *Browser) Submit(sel string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.fail("submit "+sel, err)
	}
	return int(resp.Status)
}

// Fill replaces the value of a text field with text, as typing would: input events fire.
func (b *Browser) Fill(sel, text string) {
	b.t.Helper()
	b.Do("fill "+sel,
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.select && document.activeElement.select(), document.activeElement.value = ""`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if text == "" {
				return nil
			}
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
	)
}

// Select chooses the option with value in a select and fires change.
func (b *Browser) Select(sel, value string) {
	b.t.Helper()
	b.Do("select "+sel, chromedp.SetValue(chromedp.CSS(sel), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`document.querySelector(%s).dispatchEvent(new Event("change", {bubbles: true}))`, jsString(sel))))
}

// Text is the visible text of the first element matching sel, trimmed.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fail("text of "+sel, err)
	}
	return strings.TrimSpace(s)
}

// Attr is the value of attribute name on the first element matching sel ("" when absent).
func (b *Browser) Attr(sel, name string) string {
	b.t.Helper()
	var v string
	b.Eval(fmt.Sprintf(`(document.querySelector(%s) || {getAttribute: () => null}).getAttribute(%s) || ""`,
		jsString(sel), jsString(name)), &v)
	return v
}

// Count is how many elements match sel now (no waiting).
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	var n int
	b.Eval(fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)), &n)
	return n
}

// WaitVisible waits until an element matching sel is visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	b.Do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// URL is the address of the page now shown.
func (b *Browser) URL() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.fail("location", err)
	}
	return loc
}

// Eval runs a JavaScript expression and decodes its JSON result into out (nil to ignore).
func (b *Browser) Eval(expr string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("eval "+abbreviate(expr, 80), err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			b.fail("decode result of "+abbreviate(expr, 80), err)
		}
	}
}

// Press sends one key, such as kb.Tab, kb.Enter or kb.Escape, to the focused element.
func (b *Browser) Press(key string) {
	b.t.Helper()
	b.Do("press key", chromedp.KeyEvent(key))
}

// Tab presses Tab and describes the element that has focus afterwards (see Focused).
func (b *Browser) Tab() string {
	b.t.Helper()
	b.Press(kb.Tab)
	return b.Focused()
}

// Focused describes the focused element as "tag#id", or "tag:text" when it has no id (its
// aria-label, or its text without aria-hidden parts), e.g. "a:Skip to main content";
// "body" when nothing has focus.
func (b *Browser) Focused() string {
	b.t.Helper()
	var s string
	b.Eval(`(() => {
		const el = document.activeElement;
		if (!el || el === document.body) return "body";
		const tag = el.tagName.toLowerCase();
		if (el.id) return tag + "#" + el.id;
		const copy = el.cloneNode(true);
		copy.querySelectorAll("[aria-hidden=true]").forEach((n) => n.remove());
		const text = (el.getAttribute("aria-label") || copy.textContent || el.value || "").replace(/\s+/g, " ").trim();
		return tag + ":" + text;
	})()`, &s)
	return s
}

// Viewport resizes the page, e.g. 390x844 for a phone; a width under 600 also emulates a
// mobile device (touch, mobile viewport meta honoured).
func (b *Browser) Viewport(width, height int) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.Do(fmt.Sprintf("viewport %dx%d", width, height), chromedp.EmulateViewport(int64(width), int64(height), opts...))
}

// Screenshot writes the whole page as <folder>/<name>.png and returns the path. The folder
// is $MERCATO_SCREENSHOTS, or .data/screenshots under the repository root.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	return b.screenshot(name, chromedp.FullScreenshot(100))
}

// ScreenshotViewport writes what is on screen only, for a modal dialog over the page.
func (b *Browser) ScreenshotViewport(name string) string {
	b.t.Helper()
	return b.screenshot(name, chromedp.CaptureScreenshot())
}

func (b *Browser) screenshot(name string, capture chromedp.Action[[]byte]) string {
	b.t.Helper()
	dir, err := ScreenshotDir()
	if err != nil {
		b.t.Fatalf("browsertest: screenshot folder: %v", err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	p := filepath.Join(dir, safeName(name)+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatalf("browsertest: write screenshot: %v", err)
	}
	b.t.Logf("screenshot %s", p)
	return p
}

// ScreenshotDir is the folder screenshots are written to, created if needed.
func ScreenshotDir() (string, error) {
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".data", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return dir, nil
}

// repoRoot is the nearest folder above the working directory that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repo root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}

func safeName(name string) string {
	s := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(name, "-")
	if s == "" {
		return "page"
	}
	return s
}

// AssertNoConsoleErrors fails the test if the page logged errors (script exceptions, failed
// loads, CSP violations) since the browser started or since the last call, and resets.
func (b *Browser) AssertNoConsoleErrors() {
	b.t.Helper()
	// A round trip plus a short pause lets messages already sent by the page arrive.
	b.Eval(`1`, nil)
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	var errs []string
	for _, m := range b.console {
		if m.Source == string(log.EntrySourceNetwork) && b.failedDocs[m.URL] {
			continue
		}
		errs = append(errs, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line))
	}
	b.console = nil
	b.mu.Unlock()
	if len(errs) > 0 {
		b.t.Errorf("browsertest: console errors on %s:\n  %s", b.URL(), strings.Join(errs, "\n  "))
	}
}

// CheckA11y runs the accessibility smoke check on the current page and fails the test
// listing each offending element: form controls without a label, images without alt, not
// exactly one <main>, headings that skip a level, buttons and links without an accessible
// name, a missing lang, duplicate ids, positive tabindex, dangling aria references.
func (b *Browser) CheckA11y() {
	b.t.Helper()
	var problems []string
	b.Eval(a11yScript, &problems)
	if len(problems) > 0 {
		b.t.Errorf("browsertest: accessibility problems on %s:\n  %s", b.URL(), strings.Join(problems, "\n  "))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func abbreviate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// syncBuffer collects the browser's output from its reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 64<<10 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
