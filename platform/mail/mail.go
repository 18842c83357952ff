// Package mail renders and sends Mercato's e-mail: per-event templates in en and zh-CN with the
// tenant's branding, over SMTP, and a capturing SMTP server for dev and tests.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mercato/platform/fault"
)

// Errors Send and NewSender return besides the SMTP server's own.
var (
	ErrInvalidMessage = fault.New(fault.Invalid, "mail_invalid", "the e-mail is not valid")
	ErrBadURL         = errors.New("mail: want smtp://[user:pass@]host[:port][?starttls=true|false] or smtps://")
	ErrNoTLS          = errors.New("mail: the SMTP server does not offer STARTTLS but the URL requires it")
	ErrAuthInClear    = errors.New("mail: refusing to send SMTP credentials without TLS to a server that is not on loopback")
)

// Message is one e-mail. Text is required; HTML, when set, becomes the alternative part that
// mail clients prefer.
type Message struct {
	From    string   // "Name <addr>" or addr; empty: the sender's default (MERCATO_MAIL_FROM)
	To      []string // one or more recipients, each "Name <addr>" or addr
	Subject string
	Text    string
	HTML    string
	Headers map[string]string // extra headers such as Reply-To or List-Unsubscribe; not the ones Send writes
}

// SenderOptions tune a Sender; the zero value is usable when every message names its From.
type SenderOptions struct {
	From      string        // default From (MERCATO_MAIL_FROM)
	TLS       *tls.Config   // roots and server name for STARTTLS and smtps; nil: system roots, the URL's host
	Timeout   time.Duration // the whole conversation; default 30 s
	LocalName string        // EHLO name; default "localhost"
}

type tlsMode int

const (
	tlsOpportunistic tlsMode = iota // STARTTLS when the server offers it
	tlsRequired                     // STARTTLS or fail
	tlsNever                        // plain text (a local relay or the capture server)
	tlsImplicit                     // smtps: TLS from the first byte
)

// Sender delivers messages to one SMTP server. It opens a connection per message: mail is
// sent from jobs, one at a time, and a held connection would only go stale between them.
type Sender struct {
	addr      string // host:port
	host      string
	user      *url.Userinfo
	mode      tlsMode
	from      *mail.Address
	tls       *tls.Config
	timeout   time.Duration
	localName string
	now       func() time.Time
}

// NewSender parses rawURL (MERCATO_SMTP_URL): smtp://user:pass@host:port?starttls=true.
// starttls=true requires STARTTLS, false never uses it, absent uses it when offered; smtps://
// speaks TLS from the start (port 465). Credentials are sent (AUTH PLAIN) only over TLS or to
// a server on loopback.
func NewSender(rawURL string, o SenderOptions) (*Sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") || (u.Path != "" && u.Path != "/") {
		return nil, ErrBadURL
	}
	s := &Sender{host: u.Hostname(), user: u.User, timeout: o.Timeout, localName: o.LocalName, now: time.Now}
	port := u.Port()
	switch q := u.Query().Get("starttls"); {
	case u.Scheme == "smtps":
		s.mode, port = tlsImplicit, cmp(port, "465")
	case q == "true":
		s.mode, port = tlsRequired, cmp(port, "587")
	case q == "false":
		s.mode, port = tlsNever, cmp(port, "25")
	case q == "":
		s.mode, port = tlsOpportunistic, cmp(port, "25")
	default:
		return nil, ErrBadURL
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, ErrBadURL
	}
	s.addr = net.JoinHostPort(s.host, port)
	if s.user != nil && s.user.Username() == "" {
		s.user = nil
	}
	if o.From != "" {
		if s.from, err = mail.ParseAddress(o.From); err != nil {
			return nil, fmt.Errorf("mail: default From %q: %w", o.From, err)
		}
	}
	if o.TLS != nil {
		s.tls = o.TLS.Clone()
	} else {
		s.tls = &tls.Config{}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	if s.tls.MinVersion == 0 {
		s.tls.MinVersion = tls.VersionTLS12
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.localName == "" {
		s.localName = "localhost"
	}
	return s, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Send delivers m to every recipient in one SMTP transaction. It returns once the server has
// accepted the message (250 after DATA). Errors: ErrInvalidMessage (wrapped, naming the
// field), ErrNoTLS, ErrAuthInClear, and the network's and server's.
func (s *Sender) Send(ctx context.Context, m Message) error {
	if m.From == "" && s.from != nil {
		m.From = s.from.String()
	}
	b, err := build(m, s.now())
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if err := s.transmit(ctx, b); err != nil {
		return fmt.Errorf("send mail via %s: %w", s.addr, err)
	}
	return nil
}

func (s *Sender) transmit(ctx context.Context, b built) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	// net/smtp has no context: a deadline on the connection bounds every read and write, and
	// cancelling ctx moves it to the past so a blocked call returns at once.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	loopback := isLoopback(conn.RemoteAddr())
	secure := false
	if s.mode == tlsImplicit {
		conn = tls.Client(conn, s.tls)
		secure = true
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello(s.localName); err != nil {
		return err
	}
	if s.mode == tlsOpportunistic || s.mode == tlsRequired {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tls); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			secure = true
		} else if s.mode == tlsRequired {
			return ErrNoTLS
		}
	}
	if s.user != nil {
		if !secure && !loopback {
			return ErrAuthInClear
		}
		pass, _ := s.user.Password()
		if err := c.Auth(plainAuth{user: s.user.Username(), pass: pass}); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(b.envelopeFrom); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, r := range b.recipients {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("rcpt to %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(b.raw); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// plainAuth is AUTH PLAIN. net/smtp's own PlainAuth decides "local" by the host name only;
// transmit has already checked TLS or a loopback peer by the connected address.
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected AUTH PLAIN challenge")
	}
	return nil, nil
}

// addrList formats addresses for a header, comma separated.
func addrList(as []*mail.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}
