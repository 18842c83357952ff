package mail_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	mmail "mercato/platform/mail"
)

// conversation speaks raw SMTP to the capture server: each step sends a line (or nothing for
// the greeting) and expects a reply code.
func TestCaptureConversation(t *testing.T) {
	c := capture(t, nil)
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	step := func(line string, want int) string {
		t.Helper()
		if line != "" {
			if err := tp.PrintfLine("%s", line); err != nil {
				t.Fatal(err)
			}
		}
		code, msg, err := tp.ReadResponse(want)
		if err != nil {
			t.Fatalf("after %q: %d %s: %v", line, code, msg, err)
		}
		return msg
	}
	step("", 220)
	step("MAIL FROM:<a@example.test>", 503) // before EHLO
	if ext := step("EHLO client.test", 250); !strings.Contains(ext, "SIZE") || strings.Contains(ext, "STARTTLS") {
		t.Errorf("EHLO extensions: %q", ext)
	}
	step("RCPT TO:<b@example.test>", 503) // before MAIL
	step("DATA", 503)
	step("MAIL FROM:a@example.test", 501) // no angle brackets
	step("mail from:<a@example.test> BODY=8BITMIME", 250)
	step("MAIL FROM:<x@example.test>", 503) // nested
	step("RCPT TO:<>", 501)
	step("RCPT TO:<first@example.test>", 250)
	step("RSET", 250)
	step("DATA", 503) // the reset dropped the transaction
	step("NOOP", 250)
	step("VRFY someone", 252)
	step("AUTH PLAIN AGZvbwBiYXI=", 504) // not without TLS
	step("TURN", 502)
	step("MAIL FROM:<>", 250) // the null sender of bounces
	step("RCPT TO:<b@example.test>", 250)
	step("RCPT TO:<c@example.test>", 250)
	step("DATA", 354)
	w := tp.DotWriter()
	fmt.Fprint(w, "Subject: raw\r\n\r\n.leading dot\r\n..two\r\nplain\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if msg := step("", 250); !strings.Contains(msg, "queued as 1") {
		t.Errorf("DATA reply %q", msg)
	}
	step("QUIT", 221)

	m := only(t, c)
	if m.From != "" || strings.Join(m.To, ",") != "b@example.test,c@example.test" || m.Subject != "raw" {
		t.Errorf("envelope %q %v subject %q", m.From, m.To, m.Subject)
	}
	if want := "Subject: raw\r\n\r\n.leading dot\r\n..two\r\nplain\r\n"; string(m.Raw) != want {
		t.Errorf("raw %q, want %q", m.Raw, want)
	}
}

func TestCaptureKeepsTheLatest500(t *testing.T) {
	c := capture(t, nil)
	s := sender(t, c.URL(), mmail.SenderOptions{From: "a@example.test"})
	const n = mmail.CaptureKeep + 7
	for i := 1; i <= n; i++ {
		if err := s.Send(context.Background(), mmail.Message{To: []string{"b@example.test"}, Subject: fmt.Sprint("m", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := c.Messages()
	if len(msgs) != mmail.CaptureKeep || msgs[0].Subject != "m8" || msgs[len(msgs)-1].Subject != fmt.Sprint("m", n) || msgs[0].ID != 8 {
		t.Fatalf("kept %d, first %q (id %d), last %q", len(msgs), msgs[0].Subject, msgs[0].ID, msgs[len(msgs)-1].Subject)
	}
}

func TestCaptureCloseEndsSessions(t *testing.T) {
	c, err := mmail.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited on an idle session")
	}
	if _, err := net.DialTimeout("tcp", c.Addr(), time.Second); err == nil {
		t.Error("still listening after Close")
	}
}

func TestCaptureRefusesOversizeMessages(t *testing.T) {
	c := capture(t, nil)
	s := sender(t, c.URL(), mmail.SenderOptions{From: "a@example.test"})
	big := strings.Repeat(strings.Repeat("x", 70)+"\n", (10<<20)/71+10)
	err := s.Send(context.Background(), mmail.Message{To: []string{"b@example.test"}, Subject: "big", Text: big})
	if err == nil || !strings.Contains(err.Error(), "552") {
		t.Errorf("got %v, want a 552 refusal", err)
	}
	if len(c.Messages()) != 0 {
		t.Error("kept an oversize message")
	}
}
