package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// built is a message ready for the SMTP conversation.
type built struct {
	envelopeFrom string
	recipients   []string
	raw          []byte // RFC 5322 with CRLF line ends
}

// reservedHeaders are written by build; Message.Headers may not set them.
var reservedHeaders = []string{"Bcc", "Cc", "Content-Transfer-Encoding", "Content-Type", "Date", "From",
	"Message-Id", "Mime-Version", "Subject", "To"}

const maxRecipients = 100

// build turns m into a MIME message: multipart/alternative with a text/plain and a text/html
// part (or a single text/plain part), both UTF-8 and quoted-printable, and a Subject in
// RFC 2047 encoded words when it is not ASCII.
func build(m Message, now time.Time) (built, error) {
	bad := func(field, why string) (built, error) {
		return built{}, fmt.Errorf("%s: %s: %w", field, why, ErrInvalidMessage)
	}
	if m.From == "" {
		return bad("from", "missing, and the sender has no default")
	}
	from, err := parseAddress(m.From)
	if err != nil {
		return bad("from", err.Error())
	}
	if len(m.To) == 0 || len(m.To) > maxRecipients {
		return bad("to", fmt.Sprintf("want 1 to %d recipients", maxRecipients))
	}
	to := make([]*mail.Address, len(m.To))
	for i, s := range m.To {
		if to[i], err = parseAddress(s); err != nil {
			return bad("to", err.Error())
		}
	}
	if strings.TrimSpace(m.Subject) == "" || len(m.Subject) > 900 || strings.ContainsAny(m.Subject, "\r\n") || !utf8.ValidString(m.Subject) {
		return bad("subject", "want one non-empty line of UTF-8, at most 900 bytes")
	}
	if strings.TrimSpace(m.Text) == "" || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return bad("text", "want a non-empty UTF-8 text part")
	}
	extra := make([]string, 0, len(m.Headers))
	for k, v := range m.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if !isToken(k) || slices.Contains(reservedHeaders, ck) {
			return bad("headers", fmt.Sprintf("%q may not be set", k))
		}
		if strings.ContainsAny(v, "\r\n") || !utf8.ValidString(v) {
			return bad("headers", fmt.Sprintf("%q: want one line of UTF-8", k))
		}
		extra = append(extra, ck+": "+encodeHeader(v))
	}
	slices.Sort(extra)

	var buf bytes.Buffer
	h := func(line string) { buf.WriteString(line); buf.WriteString("\r\n") }
	h("Date: " + now.Format(time.RFC1123Z))
	h("From: " + from.String())
	h("To: " + foldList(addrList(to)))
	h("Subject: " + encodeHeader(m.Subject))
	h("Message-ID: " + messageID(from.Address))
	h("MIME-Version: 1.0")
	for _, l := range extra {
		h(l)
	}
	if m.HTML == "" {
		h("Content-Type: text/plain; charset=utf-8")
		h("Content-Transfer-Encoding: quoted-printable")
		h("")
		writeQP(&buf, m.Text)
	} else {
		mw := multipart.NewWriter(&buf)
		h("Content-Type: multipart/alternative;\r\n boundary=\"" + mw.Boundary() + "\"") // folded: the boundary is 60 characters
		h("")
		// Alternatives go from plainest to richest; clients show the last one they can.
		for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			pw, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return built{}, err
			}
			writeQP(pw, p.body)
		}
		if err := mw.Close(); err != nil {
			return built{}, err
		}
		buf.WriteString("\r\n")
	}
	b := built{envelopeFrom: from.Address, raw: buf.Bytes()}
	for _, a := range to {
		if !slices.Contains(b.recipients, a.Address) {
			b.recipients = append(b.recipients, a.Address)
		}
	}
	return b, nil
}

func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("line break in %q", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", s, err)
	}
	return a, nil
}

// writeQP writes s as quoted-printable with CRLF line ends (the writer converts bare LF),
// ending with a line break so the boundary that follows starts a line of its own.
func writeQP(w interface{ Write([]byte) (int, error) }, s string) {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	qw := quotedprintable.NewWriter(w)
	_, _ = qw.Write([]byte(s))
	_ = qw.Close()
}

// encodeHeader leaves printable ASCII alone and otherwise writes RFC 2047 encoded words
// (base64, which is shorter than Q for CJK text), one per folded line.
func encodeHeader(v string) string {
	if isPrintableASCII(v) {
		return v
	}
	// The encoder splits long text into several words of at most 75 characters, separated by
	// spaces; whitespace between encoded words is dropped when decoding, so each may start a
	// new folded line and the header stays within 78 characters per line.
	return strings.Join(strings.Fields(mime.BEncoding.Encode("utf-8", v)), "\r\n ")
}

// foldList puts each address of a long list on its own folded line.
func foldList(s string) string {
	if len(s) <= 70 {
		return s
	}
	return strings.ReplaceAll(s, ", ", ",\r\n ")
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isToken reports whether s is a valid header field name (RFC 5322 ftext).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':' {
			return false
		}
	}
	return true
}

// messageID is a globally unique id under the sender's domain.
func messageID(from string) string {
	domain := "mercato.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "<" + hex.EncodeToString(b) + "@" + domain + ">"
}
