package admin_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mercato/apps/admin"
	"mercato/platform/mail"
)

// hostileHTML is a mail's HTML part that tries what a mail must not do in the portal: run a
// script, load a remote image and stylesheet, send a form.
const hostileHTML = `<!doctype html><html><head><link rel="stylesheet" href="https://evil.example/x.css"></head>` +
	`<body><h1 style="color:#1f6feb">Reset your password</h1><p>Follow <a href="http://lumen.localhost/reset?token=abc">this link</a>.</p>` +
	`<img src="https://tracker.example/pixel.gif" alt=""><script>parent.document.title = "owned"</script>` +
	`<form action="https://evil.example/steal" method="post"><button>Go</button></form></body></html>`

// devMail starts a capturing SMTP server and sends messages to it through a real Sender.
func devMail(t *testing.T, msgs ...mail.Message) *mail.Capture {
	t.Helper()
	capture, err := mail.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = capture.Close() })
	sender, err := mail.NewSender(capture.URL(), mail.SenderOptions{From: "Mercato <no-reply@mercato.test>"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := sender.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	return capture
}

func withDevMail(c *mail.Capture) func(*admin.Deps) {
	return func(d *admin.Deps) { d.DevMail = c.Messages }
}

// resetMail and welcomeMail are what the dev mail tests send.
var (
	resetMail = mail.Message{To: []string{"Ada <ada@shopper.test>"}, Subject: "Reset your password",
		Text: "Hello Ada,\n\nReset it here: http://lumen.localhost/reset?token=abc.\n\nLumen Goods", HTML: hostileHTML}
	welcomeMail = mail.Message{From: "Lumen Goods <shop@lumen-goods.test>", To: []string{"bo@shopper.test", "cy@shopper.test"},
		Subject: "欢迎加入 Lumen", Text: "欢迎！"}
)

// The dev mail viewer lists what the capture server kept, newest first, and shows one mail:
// decoded headers, the envelope, the text part with its links, and the HTML part in a
// sandboxed frame whose own response forbids scripts, fetches and framing by others.
func TestDevMail(t *testing.T) {
	capture := devMail(t, resetMail, welcomeMail)
	w := newWorld(t, "", withDevMail(capture))
	op := w.signIn("operator@mercato.test")

	list := op.get("/admin/dev/mail")
	if list.status != 200 {
		t.Fatalf("list: %d", list.status)
	}
	checkPage(t, "mail list", list)
	rows := regexp.MustCompile(`(?s)<tr>\s*<td[^>]*><a class="cell-main" href="(/admin/dev/mail/\d+)">(.*?)</a></td>(.*?)</tr>`).FindAllStringSubmatch(list.body, -1)
	if len(rows) != 2 {
		t.Fatalf("%d rows: %s", len(rows), abbreviate(list.body))
	}
	for i, want := range []struct{ href, subject, rest string }{
		{"/admin/dev/mail/2", "欢迎加入 Lumen", "shop@lumen-goods.test bo@shopper.test, cy@shopper.test"},
		{"/admin/dev/mail/1", "Reset your password", "no-reply@mercato.test ada@shopper.test"},
	} {
		if rows[i][1] != want.href || text(rows[i][2]) != want.subject || !strings.HasSuffix(text(rows[i][3]), want.rest) {
			t.Errorf("row %d: %q %q %q, want %+v", i, rows[i][1], text(rows[i][2]), text(rows[i][3]), want)
		}
	}
	if !strings.Contains(list.body, `href="/admin/dev/mail"`) {
		t.Error("no nav item for the dev mail")
	}

	show := op.get("/admin/dev/mail/1")
	if show.status != 200 {
		t.Fatalf("show: %d", show.status)
	}
	checkPage(t, "mail", show)
	if got := text(element(show.body, "mail-subject")); got != "Reset your password" {
		t.Errorf("h1 %q", got)
	}
	headers := map[string]string{}
	for _, m := range regexp.MustCompile(`<tr><th scope="row"><code>(.*?)</code></th><td>(.*?)</td></tr>`).FindAllStringSubmatch(element(show.body, "mail-headers"), -1) {
		headers[m[1]] = m[2] // element unescaped them
	}
	for name, want := range map[string]string{"From": `"Mercato" <no-reply@mercato.test>`, "To": `"Ada" <ada@shopper.test>`,
		"Subject": "Reset your password", "Mime-Version": "1.0"} {
		if headers[name] != want {
			t.Errorf("header %s: %q, want %q", name, headers[name], want)
		}
	}
	if !strings.HasSuffix(headers["Message-Id"], "@mercato.test>") {
		t.Errorf("Message-Id %q", headers["Message-Id"])
	}
	if env := text(element(show.body, "mail-envelope")); !strings.Contains(env, "MAIL FROM no-reply@mercato.test RCPT TO ada@shopper.test") {
		t.Errorf("envelope %q", env)
	}
	if !strings.Contains(show.body, `Reset it here: <a href="http://lumen.localhost/reset?token=abc" rel="noopener noreferrer" target="_blank">http://lumen.localhost/reset?token=abc</a>.`) {
		t.Errorf("the text part's link: %s", element(show.body, "mail-text"))
	}
	frame := regexp.MustCompile(`<iframe id="mail-html"[^>]*>`).FindString(show.body)
	for _, want := range []string{`src="/admin/dev/mail/1/html"`, `sandbox=""`, `title="The mail&#39;s HTML part"`} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame %s lacks %s", frame, want)
		}
	}
	if strings.Contains(show.body, "tracker.example") || strings.Contains(show.body, "<script>parent") {
		t.Error("the mail's HTML is on the portal's own page")
	}
	if zh := (&client{w: w, cookies: op.cookies, csrf: op.csrf, lang: "zh-CN"}).get("/admin/dev/mail/2"); !strings.Contains(text(zh.body), "这封邮件没有 HTML 部分") ||
		text(element(zh.body, "mail-subject")) != "欢迎加入 Lumen" {
		t.Errorf("text-only mail in Chinese: %s", abbreviate(zh.body))
	} else if !strings.Contains(zh.body, `<code>Subject</code></th><td>欢迎加入 Lumen</td>`) {
		t.Errorf("the encoded Subject header is not decoded: %s", element(zh.body, "mail-headers"))
	}

	h := op.get("/admin/dev/mail/1/html")
	if h.status != 200 || strings.TrimSpace(h.body) != hostileHTML || !strings.HasPrefix(h.header.Get("Content-Type"), "text/html") {
		t.Fatalf("html part: %d %s %q", h.status, h.header.Get("Content-Type"), h.body)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'",
		"X-Frame-Options":         "SAMEORIGIN",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "private, no-store",
	} {
		if got := h.header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("html part %s: %q, want %q", name, got, want)
		}
	}
	if raw := op.get("/admin/dev/mail/1/raw"); raw.status != 200 || !strings.HasPrefix(raw.header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(raw.body, "Subject: Reset your password\r\n") {
		t.Errorf("raw: %d %s", raw.status, raw.header.Get("Content-Type"))
	}

	for _, path := range []string{"/admin/dev/mail/2/html", "/admin/dev/mail/3", "/admin/dev/mail/0", "/admin/dev/mail/x",
		"/admin/dev/mail/-1/html", "/admin/dev/mail/99/raw"} {
		if r := op.get(path); r.status != 404 {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
}

// Only platform staff read the dev mail; without DevMail (production) the pages do not exist
// and the navigation does not offer them.
func TestDevMailAccess(t *testing.T) {
	capture := devMail(t, resetMail)
	w := newWorld(t, "", withDevMail(capture))
	anon, owner := w.anonymous(), w.signIn("owner@lumen-goods.test")
	support := w.signIn("support@mercato.test")
	for _, path := range []string{"/admin/dev/mail", "/admin/dev/mail/1", "/admin/dev/mail/1/html", "/admin/dev/mail/1/raw"} {
		if r := anon.get(path); r.status != 303 || r.location() != "/admin/login?next="+url.QueryEscape(path) {
			t.Errorf("anonymous %s: %d to %q", path, r.status, r.location())
		}
		if r := owner.get(path); r.status != 403 {
			t.Errorf("tenant owner %s: %d", path, r.status)
		}
		if r := support.get(path); r.status != 200 {
			t.Errorf("support %s: %d", path, r.status)
		}
	}

	empty := newWorld(t, "", withDevMail(devMail(t)))
	if r := empty.signIn("operator@mercato.test").get("/admin/dev/mail"); r.status != 200 || !strings.Contains(text(r.body), "No mail yet") {
		t.Errorf("empty list: %d %s", r.status, abbreviate(r.body))
	}

	prod := newWorld(t, "")
	op := prod.signIn("operator@mercato.test")
	for _, path := range []string{"/admin/dev/mail", "/admin/dev/mail/1", "/admin/dev/mail/1/html"} {
		if r := op.get(path); r.status != 404 {
			t.Errorf("without DevMail %s: %d, want 404", path, r.status)
		}
	}
	if r := op.get("/admin"); strings.Contains(r.body, `href="/admin/dev/mail"`) {
		t.Error("nav item for the dev mail without DevMail")
	}
}
