package admin_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"

	"mercato/apps/demo"
	"mercato/platform/identity"
	"mercato/platform/mail"
	"mercato/platform/web/browsertest"
)

// TestQueuesAndMailInBrowser is an operator looking after the platform's plumbing in
// Chromium: the dashboard's queue card shows the archived tasks, its link opens asynqmon,
// which renders inside the portal's CSP (no console errors: no CSP violations, nothing from
// a CDN), and retrying an archived task from asynqmon's own button works (its request carries
// the session's CSRF token). Then the dev mail viewer: the list, one mail with its HTML part
// in the sandboxed frame, and a hostile mail whose script and remote image stay inside the
// sandbox.
func TestQueuesAndMailInBrowser(t *testing.T) {
	opt := freshQueues(t)
	seedQueues(t, opt)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://127.0.0.1:" + port

	// Mail as dev sends it: identity's password reset, framed by the branded HTML template.
	capture := devMail(t)
	sender, err := mail.NewSender(capture.URL(), mail.SenderOptions{From: "Mercato <no-reply@mercato.test>"})
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	resetLink := "http://lumen.localhost:" + port + "/reset?token=abc123"
	if err := (mail.IdentityMailer{Sender: sender, Renderer: renderer}).Send(context.Background(), identity.Message{
		To: "ada@shopper.test", Subject: "Reset your password",
		Text: "Someone asked to reset the password of your account.\n\nChoose a new one here: " + resetLink +
			"\n\nIf it was not you, ignore this mail."}); err != nil {
		t.Fatal(err)
	}

	w := newWorld(t, port, withQueues(opt), withDevMail(capture))
	// What a mail's remote content would reach if it got out of its sandbox.
	var escaped atomic.Int32
	w.app.Get("/escaped/*", func(c *fiber.Ctx) error {
		escaped.Add(1)
		return c.SendStatus(fiber.StatusNoContent)
	})
	go func() { _ = w.app.Listener(ln) }()
	t.Cleanup(func() { _ = w.app.ShutdownWithTimeout(5 * time.Second) })
	b := browsertest.New(t)
	check := func(name string) {
		t.Helper()
		b.CheckA11y()
		b.AssertNoConsoleErrors()
		b.Screenshot(name)
	}
	// waitFor polls a JavaScript condition for up to 10 s (asynqmon renders after its API answers).
	waitFor := func(what, cond string) {
		t.Helper()
		var ok bool
		b.Eval(fmt.Sprintf(`new Promise((resolve) => { const end = Date.now() + 10000;
			(function poll() { let v = false; try { v = !!(%s); } catch (e) {}
			if (v || Date.now() > end) { resolve(v); } else { setTimeout(poll, 100); } })(); })`, cond), &ok)
		if !ok {
			var body string
			b.Eval(`document.body.innerText.slice(0, 2000)`, &body)
			t.Fatalf("%s did not happen; the page shows:\n%s", what, body)
		}
	}

	// Sign in.
	b.Visit(base + "/admin/queues")
	if !strings.Contains(b.URL(), "/admin/login?next=%2Fadmin%2Fqueues") {
		t.Fatalf("anonymous visit to the queues: %s", b.URL())
	}
	b.Fill("#f-email", "operator@mercato.test")
	b.Fill("#f-password", demo.Password)
	b.Submit("#sign-in")
	b.Fill("#f-code", totpAt(strings.ReplaceAll(b.Text("#totp-secret"), " ", ""), time.Now()))
	b.Submit("#verify-code")
	waitFor("asynqmon after sign-in", `location.pathname === "/admin/queues" && document.querySelector("#root table")`)

	// The dashboard's card.
	b.Visit(base + "/admin")
	for sel, want := range map[string]string{
		`#queue-critical [data-count="pending"]`:   "2",
		`#queue-default [data-count="scheduled"]`:  "1",
		`#queue-default [data-count="archived"]`:   "1",
		`#queue-default [data-count="processed"]`:  "1",
		`#queue-default [data-count="failed"]`:     "1",
		`#queue-low [data-count="archived"]`:       "1",
		`#queue-low [data-count="pending"]`:        "0",
		`#queues-card .card-head h2`:               "Job queues",
		`.site-nav a[href="/admin/queues"]`:        "Queues",
		`.site-nav a[href="/admin/dev/mail"]`:      "Mail (dev)",
		`#queue-critical [data-count="processed"]`: "0",
	} {
		if got := b.Text(sel); got != want {
			t.Errorf("dashboard %s: %q, want %q", sel, got, want)
		}
	}
	check("admin-dashboard-queues-en")

	// asynqmon, opened from the card.
	if st := b.Submit("#open-queues"); st != 200 {
		t.Fatalf("open the queue console: %d", st)
	}
	waitFor("asynqmon's queue table", `["critical", "default", "low"].every((q) => document.querySelector("#root table").innerText.includes(q))`)
	if got := b.Text("#root nav, #root .MuiDrawer-root"); !strings.Contains(got, "Queues") {
		t.Errorf("asynqmon's menu: %q", got)
	}
	b.AssertNoConsoleErrors() // a CSP violation or a failed asset would be here
	b.Screenshot("admin-queues-en")

	// Retry the archived task with asynqmon's own button.
	b.Visit(base + "/admin/queues/queues/default?status=archived")
	waitFor("the archived task", `document.querySelector("#root tbody") && document.querySelector("#root tbody").innerText.includes("test:fail")`)
	b.Click(`#root tbody tr:first-child td:last-child button`)
	waitFor("the row's actions", `document.querySelector('#root tbody button[title="Run"]')`)
	b.Click(`#root tbody button[title="Run"]`)
	ins := asynq.NewInspector(opt)
	defer ins.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := ins.GetQueueInfo("default")
		if err == nil && info.Archived == 0 && info.Pending == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retry from asynqmon did not happen: %+v %v", info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.AssertNoConsoleErrors()

	// The dev mail.
	b.Visit(base + "/admin")
	if st := b.Submit(`.site-nav a[href="/admin/dev/mail"]`); st != 200 || b.Text("h1") != "Mail sent in dev" {
		t.Fatalf("dev mail: %d %q", st, b.Text("h1"))
	}
	if got := b.Text("#mails tbody tr:first-child"); !strings.Contains(got, "Reset your password") || !strings.Contains(got, "ada@shopper.test") {
		t.Errorf("mail list row %q", got)
	}
	check("admin-dev-mail-en")
	b.Submit(`#mails a.cell-main`)
	if got := b.Text("h1"); got != "Reset your password" {
		t.Errorf("mail h1 %q", got)
	}
	if got := b.Attr(`#mail-text a`, "href"); got != resetLink {
		t.Errorf("the text part's link %q", got)
	}
	if got := b.Attr("#mail-html", "sandbox"); got != "" || b.Count(`#mail-html[sandbox]`) != 1 {
		t.Errorf("frame sandbox %q", got)
	}
	// The page's load event waited for the frame.
	check("admin-dev-mail-message-en")

	// Nothing sideways on a phone.
	b.Viewport(390, 844)
	for _, page := range []string{base + "/admin", base + "/admin/dev/mail", base + "/admin/dev/mail/1"} {
		b.Visit(page)
		var wide bool
		b.Eval(`document.documentElement.scrollWidth > window.innerWidth`, &wide)
		if wide {
			t.Errorf("%s is wider than a phone", page)
		}
	}
	b.Viewport(1280, 900)

	// A hostile mail: its script would take the portal's page elsewhere and its image and
	// stylesheet would call this server; the sandbox and the frame's CSP stop all three.
	// (Chromium reports the blocked script and loads on the console: that is the point, so the
	// console is not checked after this.)
	if err := sender.Send(context.Background(), mail.Message{To: []string{"ada@shopper.test"}, Subject: "Hostile",
		Text: "see HTML", HTML: `<html><head><link rel="stylesheet" href="` + base + `/escaped/style.css"></head><body>` +
			`<p>Hi</p><img src="` + base + `/escaped/pixel.gif" alt="">` +
			`<script>top.location.href = "` + base + `/escaped/script"; fetch("` + base + `/escaped/fetch");</script></body></html>`}); err != nil {
		t.Fatal(err)
	}
	b.Visit(base + "/admin/dev/mail/2")
	time.Sleep(500 * time.Millisecond)
	if got := b.URL(); got != base+"/admin/dev/mail/2" {
		t.Errorf("the mail's script navigated the portal to %s", got)
	}
	if n := escaped.Load(); n != 0 {
		t.Errorf("the hostile mail reached the server %d times", n)
	}
}
