package admin

import (
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/identity"
	"mercato/platform/mail"
	"mercato/platform/web"
)

// DevMailPath is where the mails kept by dev's capturing SMTP server are listed.
const DevMailPath = Prefix + "/dev/mail"

// mailHTMLPolicy is the Content-Security-Policy of a captured mail's HTML part. It is shown
// in a sandboxed frame and may style itself and show inline (data:) images, nothing else: no
// script runs, nothing is fetched, no form is sent, and only the portal may frame it.
const mailHTMLPolicy = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

// mailRow is one captured mail in the list.
type mailRow struct {
	ID         int
	ReceivedAt time.Time
	From       string
	To         string
	Subject    string
}

type devMailData struct {
	Mails []mailRow
}

// devMailList lists the captured mails, newest first.
func (a *portal) devMailList(c *fiber.Ctx, _ identity.Principal) error {
	msgs := a.DevMail()
	rows := make([]mailRow, 0, len(msgs))
	for _, m := range slices.Backward(msgs) {
		rows = append(rows, mailRow{ID: m.ID, ReceivedAt: m.ReceivedAt.UTC(), From: sender(m),
			To: strings.Join(m.To, ", "), Subject: m.Subject})
	}
	return a.r.Render(c, fiber.StatusOK, "dev_mail", devMailData{Mails: rows})
}

// headerRow is one header line of a captured mail, decoded for reading.
type headerRow struct{ Name, Value string }

// segment is a run of a text part: plain text, or a web address to link.
type segment struct{ Text, URL string }

type devMessageData struct {
	Mail     mailRow
	Envelope mailRow // MAIL FROM and RCPT TO, which may differ from the headers
	Headers  []headerRow
	Text     []segment
	HasHTML  bool
	HTMLURL  string
	RawURL   string
	Parse    string // why the parts may be incomplete
	TLS      bool
	AuthUser string
}

// devMailShow shows one captured mail: its headers, its text part (addresses linked, so a
// developer can follow a password-reset link) and its HTML part in a sandboxed frame.
func (a *portal) devMailShow(c *fiber.Ctx, _ identity.Principal) error {
	m, ok := a.capturedMail(c)
	if !ok {
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
	}
	base := DevMailPath + "/" + strconv.Itoa(m.ID)
	d := devMessageData{
		Mail: mailRow{ID: m.ID, ReceivedAt: m.ReceivedAt.UTC(), Subject: m.Subject,
			From: decodeHeader(m.Header.Get("From")), To: decodeHeader(m.Header.Get("To"))},
		Envelope: mailRow{From: sender(m), To: strings.Join(m.To, ", ")},
		Text:     linkify(m.Text),
		HasHTML:  strings.TrimSpace(m.HTML) != "",
		HTMLURL:  base + "/html",
		RawURL:   base + "/raw",
		Parse:    m.ParseError,
		TLS:      m.TLS,
		AuthUser: m.AuthUser,
	}
	names := make([]string, 0, len(m.Header))
	for k := range m.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range m.Header[k] {
			d.Headers = append(d.Headers, headerRow{Name: k, Value: decodeHeader(v)})
		}
	}
	return a.r.Render(c, fiber.StatusOK, "dev_mail_message", d)
}

// devMailHTML serves a captured mail's HTML part for the sandboxed frame on its page.
func (a *portal) devMailHTML(c *fiber.Ctx, _ identity.Principal) error {
	m, ok := a.capturedMail(c)
	if !ok || strings.TrimSpace(m.HTML) == "" {
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
	}
	c.Set(fiber.HeaderContentSecurityPolicy, mailHTMLPolicy)
	c.Set(fiber.HeaderXFrameOptions, "SAMEORIGIN") // the portal's own page frames it
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(m.HTML)
}

// devMailRaw serves a captured mail as it arrived, as text to read.
func (a *portal) devMailRaw(c *fiber.Ctx, _ identity.Principal) error {
	m, ok := a.capturedMail(c)
	if !ok {
		return a.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(m.Raw)
}

// capturedMail finds the mail the :id of the path names.
func (a *portal) capturedMail(c *fiber.Ctx) (mail.Captured, bool) {
	id, err := strconv.Atoi(c.Params("id"))
	if err != nil || id < 1 {
		return mail.Captured{}, false
	}
	for _, m := range a.DevMail() {
		if m.ID == id {
			return m, true
		}
	}
	return mail.Captured{}, false
}

// sender is the envelope sender as a person reads it.
func sender(m mail.Captured) string {
	if m.From == "" {
		return "<>" // the null sender of bounces
	}
	return m.From
}

// decodeHeader decodes RFC 2047 words ("=?UTF-8?q?...?=") for reading; a value that does not
// decode is shown as sent.
func decodeHeader(v string) string {
	var dec mime.WordDecoder
	if s, err := dec.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

var urlRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify splits text into plain runs and web addresses. Punctuation that ends a sentence is
// left out of an address.
func linkify(text string) []segment {
	var out []segment
	for len(text) > 0 {
		loc := urlRE.FindStringIndex(text)
		if loc == nil {
			out = append(out, segment{Text: text})
			break
		}
		u := strings.TrimRight(text[loc[0]:loc[1]], ".,;:!?)]")
		if loc[0] > 0 {
			out = append(out, segment{Text: text[:loc[0]]})
		}
		out = append(out, segment{Text: u, URL: u})
		text = text[loc[0]+len(u):]
	}
	return out
}
