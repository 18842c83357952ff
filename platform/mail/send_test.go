package mail_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	mmail "mercato/platform/mail"
)

// capture starts a capture server on loopback for the test.
func capture(t *testing.T, cfg *tls.Config) *mmail.Capture {
	t.Helper()
	c, err := mmail.ListenTLS("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sender(t *testing.T, url string, o mmail.SenderOptions) *mmail.Sender {
	t.Helper()
	s, err := mmail.NewSender(url, o)
	if err != nil {
		t.Fatalf("new sender %s: %v", url, err)
	}
	return s
}

func only(t *testing.T, c *mmail.Capture) mmail.Captured {
	t.Helper()
	msgs := c.Messages()
	if len(msgs) != 1 {
		t.Fatalf("captured %d messages, want 1", len(msgs))
	}
	if msgs[0].ParseError != "" {
		t.Fatalf("captured message does not parse: %s\n%s", msgs[0].ParseError, msgs[0].Raw)
	}
	return msgs[0]
}

func TestSendMultipartAlternative(t *testing.T) {
	c := capture(t, nil)
	s := sender(t, c.URL(), mmail.SenderOptions{From: "Lumen <noreply@mercato.test>"})
	text := "Hi Ada,\n\nyour order is confirmed.\nCafé ☕ and 订单 too.\n"
	html := "<p>Hi Ada,</p><p>your order is <b>confirmed</b>. Café ☕ and 订单 too.</p>\n"
	err := s.Send(context.Background(), mmail.Message{To: []string{"ada@example.test"}, Subject: "Order confirmed",
		Text: text, HTML: html, Headers: map[string]string{"reply-to": "help@lumen.test", "X-Mercato-Event": "order_confirmation"}})
	if err != nil {
		t.Fatal(err)
	}
	m := only(t, c)
	if m.From != "noreply@mercato.test" || !slices.Equal(m.To, []string{"ada@example.test"}) {
		t.Errorf("envelope: from %q to %v", m.From, m.To)
	}
	for k, want := range map[string]string{
		"From": `"Lumen" <noreply@mercato.test>`, "To": "<ada@example.test>", "Subject": "Order confirmed",
		"Mime-Version": "1.0", "Reply-To": "help@lumen.test", "X-Mercato-Event": "order_confirmation",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if id := m.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@mercato.test>") {
		t.Errorf("Message-ID = %q", id)
	}
	// The structure, read with the standard library the way a mail client would.
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var bodies []string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // NextPart decodes quoted-printable
		types = append(types, p.Header.Get("Content-Type"))
		bodies = append(bodies, strings.ReplaceAll(string(b), "\r\n", "\n"))
	}
	if !slices.Equal(types, []string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}) {
		t.Errorf("parts %v, want text then html", types)
	}
	if len(bodies) != 2 || bodies[0] != text || bodies[1] != html {
		t.Errorf("bodies %q, want %q and %q", bodies, text, html)
	}
	if m.Text != text || m.HTML != html {
		t.Errorf("capture decoded text %q html %q", m.Text, m.HTML)
	}
	for i, line := range strings.Split(string(m.Raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d is %d characters: %q", i, len(line), line)
		}
	}
	if strings.Contains(strings.ReplaceAll(string(m.Raw), "\r\n", ""), "\n") {
		t.Error("raw message has a bare LF")
	}
}

func TestSendChineseSubjectAndTextOnly(t *testing.T) {
	c := capture(t, nil)
	s := sender(t, c.URL(), mmail.SenderOptions{From: "noreply@mercato.test"})
	subject := "您的订单 M-1001 已确认：感谢您在熊猫商城购物，商家正在为您备货，我们会尽快发货并通知您"
	if err := s.Send(context.Background(), mmail.Message{To: []string{"李雷 <li@example.test>"}, Subject: subject, Text: "您好\n"}); err != nil {
		t.Fatal(err)
	}
	m := only(t, c)
	if m.Subject != subject {
		t.Errorf("decoded subject %q, want %q", m.Subject, subject)
	}
	raw := string(m.Raw)
	hdr, _, _ := strings.Cut(raw, "\r\n\r\n")
	if !strings.Contains(hdr, "Subject: =?utf-8?b?") || !strings.Contains(hdr, "\r\n =?utf-8?b?") {
		t.Errorf("subject not in folded encoded words:\n%s", hdr)
	}
	if !isASCII(hdr) {
		t.Errorf("header has raw non-ASCII bytes:\n%s", hdr)
	}
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "李雷" || to[0].Address != "li@example.test" {
		t.Errorf("To: %v %v", to, err)
	}
	if ct := m.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || m.Text != "您好\n" || m.HTML != "" {
		t.Errorf("text-only message: %q %q %q", ct, m.Text, m.HTML)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestSendDotStuffingAndSeveralRecipients(t *testing.T) {
	c := capture(t, nil)
	s := sender(t, c.URL(), mmail.SenderOptions{From: "noreply@mercato.test"})
	// Lines made of or starting with dots: the client doubles a leading dot, the server takes
	// one away; a lone "." must not end the message early.
	text := "first\n.\n..\n.hidden\nlast line\n."
	to := []string{"a@example.test", "Bee <b@example.test>", "c@example.test", "a@example.test"}
	if err := s.Send(context.Background(), mmail.Message{To: to, Subject: "dots", Text: text}); err != nil {
		t.Fatal(err)
	}
	m := only(t, c)
	if m.Text != text+"\n" {
		t.Errorf("text %q, want %q", m.Text, text+"\n")
	}
	if !strings.Contains(string(m.Raw), "\r\n.hidden\r\n") || !strings.Contains(string(m.Raw), "\r\n..\r\n") {
		t.Errorf("dots were encoded away, so the test would not exercise stuffing:\n%s", m.Raw)
	}
	if want := []string{"a@example.test", "b@example.test", "c@example.test"}; !slices.Equal(m.To, want) {
		t.Errorf("envelope recipients %v, want %v (duplicates once)", m.To, want)
	}
	list, err := m.Header.AddressList("To")
	if err != nil || len(list) != 4 || list[1].Name != "Bee" {
		t.Errorf("To header %v %v", list, err)
	}
}

func TestSendRejectsBadMessagesBeforeConnecting(t *testing.T) {
	c := capture(t, nil)
	s := sender(t, c.URL(), mmail.SenderOptions{})
	ok := mmail.Message{From: "a@example.test", To: []string{"b@example.test"}, Subject: "s", Text: "t"}
	for name, mutate := range map[string]func(*mmail.Message){
		"no from":             func(m *mmail.Message) { m.From = "" },
		"no recipient":        func(m *mmail.Message) { m.To = nil },
		"bad address":         func(m *mmail.Message) { m.To = []string{"not an address"} },
		"address injection":   func(m *mmail.Message) { m.To = []string{"b@example.test\r\nBcc: x@evil.test"} },
		"subject injection":   func(m *mmail.Message) { m.Subject = "hi\r\nBcc: x@evil.test" },
		"header injection":    func(m *mmail.Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: x@evil.test"} },
		"reserved header":     func(m *mmail.Message) { m.Headers = map[string]string{"bcc": "x@evil.test"} },
		"bad header name":     func(m *mmail.Message) { m.Headers = map[string]string{"X A:": "1"} },
		"empty text":          func(m *mmail.Message) { m.Text = " " },
		"too many recipients": func(m *mmail.Message) { m.To = slices.Repeat([]string{"b@example.test"}, 101) },
	} {
		m := ok
		mutate(&m)
		if err := s.Send(context.Background(), m); !errors.Is(err, mmail.ErrInvalidMessage) {
			t.Errorf("%s: got %v, want ErrInvalidMessage", name, err)
		}
	}
	if n := len(c.Messages()); n != 0 {
		t.Errorf("%d messages reached the server", n)
	}
	if err := s.Send(context.Background(), ok); err != nil || len(c.Messages()) != 1 {
		t.Errorf("the unmodified message: %v", err)
	}
}

func TestSendStartTLSAndAuth(t *testing.T) {
	cert, roots := selfSigned(t)
	c := capture(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	client := &tls.Config{RootCAs: roots}
	msg := mmail.Message{From: "a@example.test", To: []string{"b@example.test"}, Subject: "s", Text: "t"}

	for _, tc := range []struct {
		name, query string
		wantTLS     bool
	}{
		{"required", "?starttls=true", true},
		{"opportunistic", "", true},
		{"never", "?starttls=false", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Clear()
			s := sender(t, "smtp://"+c.Addr()+tc.query, mmail.SenderOptions{TLS: client})
			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			if m := only(t, c); m.TLS != tc.wantTLS {
				t.Errorf("TLS = %v, want %v", m.TLS, tc.wantTLS)
			}
		})
	}
	t.Run("auth after starttls", func(t *testing.T) {
		c.Clear()
		s := sender(t, "smtp://mailer:s3cret@"+c.Addr()+"?starttls=true", mmail.SenderOptions{TLS: client})
		if err := s.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		if m := only(t, c); !m.TLS || m.AuthUser != "mailer" {
			t.Errorf("TLS %v, user %q", m.TLS, m.AuthUser)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		c.Clear()
		s := sender(t, "smtp://"+c.Addr()+"?starttls=true", mmail.SenderOptions{})
		if err := s.Send(context.Background(), msg); err == nil || len(c.Messages()) != 0 {
			t.Errorf("sent over a certificate nobody trusts: %v", err)
		}
	})
	t.Run("required but not offered", func(t *testing.T) {
		plain := capture(t, nil)
		s := sender(t, "smtp://"+plain.Addr()+"?starttls=true", mmail.SenderOptions{})
		if err := s.Send(context.Background(), msg); !errors.Is(err, mmail.ErrNoTLS) || len(plain.Messages()) != 0 {
			t.Errorf("got %v with %d messages, want ErrNoTLS and none", err, len(plain.Messages()))
		}
	})
}

// TestSendNoCredentialsInClear needs an address that is not loopback; it uses the machine's
// first such interface address.
func TestSendNoCredentialsInClear(t *testing.T) {
	ip := nonLoopbackIP(t)
	c, err := mmail.Listen(net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	msg := mmail.Message{From: "a@example.test", To: []string{"b@example.test"}, Subject: "s", Text: "t"}
	s := sender(t, "smtp://mailer:s3cret@"+c.Addr(), mmail.SenderOptions{})
	if err := s.Send(context.Background(), msg); !errors.Is(err, mmail.ErrAuthInClear) {
		t.Errorf("got %v, want ErrAuthInClear", err)
	}
	if len(c.Messages()) != 0 {
		t.Error("the message was sent")
	}
	// Without credentials the same server is fine.
	if err := sender(t, "smtp://"+c.Addr(), mmail.SenderOptions{}).Send(context.Background(), msg); err != nil || len(c.Messages()) != 1 {
		t.Errorf("without credentials: %v", err)
	}
}

func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatal("no non-loopback IPv4 address on this machine to test a remote SMTP peer with")
	return ""
}

func TestSendHonoursContext(t *testing.T) {
	// A server that accepts and never speaks: Send must give up when the context does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	s := sender(t, "smtp://"+ln.Addr().String(), mmail.SenderOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, mmail.Message{From: "a@example.test", To: []string{"b@example.test"}, Subject: "s", Text: "t"})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("got %v after %v", err, time.Since(start))
	}
}

func TestNewSenderURLs(t *testing.T) {
	for _, u := range []string{"", "http://x", "smtp://", "smtp://host:99999", "smtp://host?starttls=maybe", "smtp://host/path"} {
		if _, err := mmail.NewSender(u, mmail.SenderOptions{}); !errors.Is(err, mmail.ErrBadURL) {
			t.Errorf("%q: got %v, want ErrBadURL", u, err)
		}
	}
	if _, err := mmail.NewSender("smtp://host", mmail.SenderOptions{From: "not an address"}); err == nil {
		t.Error("bad default From accepted")
	}
	for _, u := range []string{"smtp://host", "smtp://u:p@host:2525?starttls=true", "smtps://host"} {
		if _, err := mmail.NewSender(u, mmail.SenderOptions{}); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "capture"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
