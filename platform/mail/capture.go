package mail

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Captured is one message the capture server accepted.
type Captured struct {
	ID         int // 1, 2, 3, ... in arrival order
	ReceivedAt time.Time
	From       string      // envelope sender (MAIL FROM); "" for the null sender
	To         []string    // envelope recipients (RCPT TO)
	Header     mail.Header // the message's headers as sent
	Subject    string      // decoded from RFC 2047
	Text       string      // the text/plain part, decoded
	HTML       string      // the text/html part, decoded
	Raw        []byte      // the message after dot-unstuffing, CRLF line ends
	ParseError string      // why Header/Subject/Text/HTML may be incomplete
	TLS        bool        // the session had switched to TLS (STARTTLS)
	AuthUser   string      // the user name the client authenticated as, if it did
}

// Limits of the capture server: enough for any mail Mercato sends, small enough that a
// runaway client cannot fill the dev machine's memory.
const (
	CaptureKeep       = 500      // messages kept; older ones are dropped
	captureMaxSize    = 10 << 20 // bytes per message (advertised as SIZE)
	captureMaxRcpt    = 100
	captureMaxLine    = 4096            // bytes per command line
	captureIdle       = 5 * time.Minute // per command
	captureServerName = "mercato-capture"
)

// Capture is a small SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
// that keeps what it receives in memory. Dev points MERCATO_SMTP_URL at it and the admin
// portal lists Messages; tests send through a real Sender and assert on them. Started with
// ListenTLS it also offers STARTTLS and then AUTH PLAIN (any password), so tests can see a
// Sender upgrade the connection before it sends credentials.
type Capture struct {
	ln    net.Listener
	tls   *tls.Config
	mu    sync.Mutex
	msgs  []Captured
	seq   int
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// Listen starts a capture server on addr ("127.0.0.1:0" for any free port).
func Listen(addr string) (*Capture, error) { return ListenTLS(addr, nil) }

// ListenTLS is Listen with STARTTLS offered using cfg (nil: not offered).
func ListenTLS(addr string, cfg *tls.Config) (*Capture, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("capture smtp: %w", err)
	}
	c := &Capture{ln: ln, tls: cfg, conns: map[net.Conn]struct{}{}}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Addr is the host:port the server listens on.
func (c *Capture) Addr() string { return c.ln.Addr().String() }

// URL is the MERCATO_SMTP_URL that reaches this server.
func (c *Capture) URL() string { return "smtp://" + c.Addr() + "?starttls=false" }

// Messages returns the kept messages, oldest first.
func (c *Capture) Messages() []Captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// Clear forgets every kept message.
func (c *Capture) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = nil
}

// Close stops listening, ends open sessions and waits for them.
func (c *Capture) Close() error {
	c.mu.Lock()
	c.done = true
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	err := c.ln.Close()
	c.wg.Wait()
	return err
}

func (c *Capture) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		c.mu.Lock()
		if c.done {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.conns[conn] = struct{}{}
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			defer func() {
				c.mu.Lock()
				delete(c.conns, conn)
				c.mu.Unlock()
				conn.Close()
			}()
			c.session(conn)
		}()
	}
}

func (c *Capture) keep(m Captured) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	m.ID = c.seq
	if len(c.msgs) >= CaptureKeep {
		c.msgs = slices.Delete(c.msgs, 0, len(c.msgs)-CaptureKeep+1)
	}
	c.msgs = append(c.msgs, m)
	return m.ID
}

// errLineTooLong ends a session whose client sends a line beyond captureMaxLine.
var errLineTooLong = errors.New("line too long")

// session speaks SMTP with one client until QUIT, an error or Close.
func (c *Capture) session(conn net.Conn) {
	r := bufio.NewReaderSize(conn, captureMaxLine)
	w := bufio.NewWriter(conn)
	reply := func(code int, lines ...string) bool {
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			fmt.Fprintf(w, "%d%s%s\r\n", code, sep, l)
		}
		return w.Flush() == nil
	}
	var (
		greeted  bool
		from     *string
		rcpts    []string
		secure   bool
		authUser string
	)
	reset := func() { from, rcpts = nil, nil }
	if !reply(220, captureServerName+" ESMTP ready") {
		return
	}
	for {
		_ = conn.SetDeadline(time.Now().Add(captureIdle))
		line, err := readLine(r, captureMaxLine)
		if errors.Is(err, errLineTooLong) {
			reply(500, "5.5.2 line too long")
			return
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(string(line), " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			greeted = true
			reset()
			ext := []string{captureServerName + " greets " + arg, "8BITMIME", "SMTPUTF8", "SIZE " + strconv.Itoa(captureMaxSize)}
			if c.tls != nil && !secure {
				ext = append(ext, "STARTTLS")
			}
			if secure {
				ext = append(ext, "AUTH PLAIN")
			}
			if !reply(250, append(ext, "HELP")...) {
				return
			}
		case "HELO":
			greeted = true
			reset()
			if !reply(250, captureServerName) {
				return
			}
		case "MAIL":
			path, ok := pathArg(arg, "FROM:")
			switch {
			case !greeted:
				reply(503, "5.5.1 say EHLO first")
			case from != nil:
				reply(503, "5.5.1 nested MAIL command")
			case !ok:
				reply(501, "5.5.4 want MAIL FROM:<address>")
			default:
				from = &path
				reply(250, "2.1.0 OK")
			}
		case "RCPT":
			path, ok := pathArg(arg, "TO:")
			switch {
			case from == nil:
				reply(503, "5.5.1 need MAIL first")
			case !ok || path == "":
				reply(501, "5.5.4 want RCPT TO:<address>")
			case len(rcpts) >= captureMaxRcpt:
				reply(452, "4.5.3 too many recipients")
			default:
				rcpts = append(rcpts, path)
				reply(250, "2.1.5 OK")
			}
		case "DATA":
			if from == nil || len(rcpts) == 0 {
				reply(503, "5.5.1 need MAIL and RCPT first")
				continue
			}
			if !reply(354, "end data with <CR><LF>.<CR><LF>") {
				return
			}
			_ = conn.SetDeadline(time.Now().Add(captureIdle))
			raw, err := readData(r, captureMaxSize)
			if errors.Is(err, errTooBig) {
				reset()
				reply(552, "5.3.4 message too big")
				continue
			}
			if err != nil {
				return
			}
			m := parseCaptured(raw)
			m.ReceivedAt, m.From, m.To, m.Raw, m.TLS, m.AuthUser = time.Now(), *from, rcpts, raw, secure, authUser
			id := c.keep(m)
			reset()
			if !reply(250, fmt.Sprintf("2.0.0 OK queued as %d", id)) {
				return
			}
		case "STARTTLS":
			if c.tls == nil || secure {
				reply(502, "5.5.1 STARTTLS not available")
				continue
			}
			if !reply(220, "2.0.0 ready to start TLS") {
				return
			}
			tc := tls.Server(conn, c.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			// RFC 3207: after the handshake the client starts over with EHLO.
			conn, secure, greeted = tc, true, false
			r, w = bufio.NewReaderSize(conn, captureMaxLine), bufio.NewWriter(conn)
			reset()
		case "AUTH":
			user, ok := c.authPlain(arg, secure, r, reply)
			if ok {
				authUser = user
			}
		case "RSET":
			reset()
			reply(250, "2.0.0 OK")
		case "NOOP":
			reply(250, "2.0.0 OK")
		case "VRFY":
			reply(252, "2.1.5 cannot verify, will accept")
		case "QUIT":
			reply(221, "2.0.0 bye")
			return
		default:
			reply(502, "5.5.2 command not implemented")
		}
	}
}

// authPlain answers AUTH PLAIN (RFC 4616), inline or after a 334 prompt, accepting any
// password: the server only records who the client claims to be.
func (c *Capture) authPlain(arg string, secure bool, r *bufio.Reader, reply func(int, ...string) bool) (string, bool) {
	mech, initial, _ := strings.Cut(arg, " ")
	if !secure || !strings.EqualFold(mech, "PLAIN") {
		reply(504, "5.5.4 AUTH PLAIN only, after STARTTLS")
		return "", false
	}
	if initial == "" {
		if !reply(334, "") {
			return "", false
		}
		line, err := readLine(r, captureMaxLine)
		if err != nil {
			return "", false
		}
		initial = string(line)
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != 3 || parts[1] == "" {
		reply(501, "5.5.2 malformed AUTH PLAIN")
		return "", false
	}
	reply(235, "2.7.0 authenticated")
	return parts[1], true
}

// pathArg reads "FROM:<a@b> SIZE=123" (parameters are ignored) and returns a@b.
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// readLine reads one line and strips its CRLF (or a bare LF).
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > max {
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

var errTooBig = errors.New("message too big")

// readData reads the DATA section up to the lone dot, undoing dot-stuffing (RFC 5321
// 4.5.2): a line that starts with a dot had one more added by the client. Line ends are kept
// as sent. Beyond max bytes it keeps reading to the end and returns errTooBig.
func readData(r *bufio.Reader, max int) ([]byte, error) {
	var buf bytes.Buffer
	tooBig := false
	for {
		line, err := readFullLine(r)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(line, []byte(".\r\n")) || bytes.Equal(line, []byte(".\n")) {
			break
		}
		if line[0] == '.' {
			line = line[1:]
		}
		if !tooBig && buf.Len()+len(line) > max {
			tooBig = true
			buf.Reset()
		}
		if !tooBig {
			buf.Write(line)
		}
	}
	if tooBig {
		return nil, errTooBig
	}
	return buf.Bytes(), nil
}

// readFullLine reads a line of any length, with its line end.
func readFullLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := r.ReadSlice('\n')
		line = append(line, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return line, nil
	}
}

// parseCaptured reads headers, subject and the text and HTML bodies, wherever they sit in a
// multipart tree. What it cannot parse it reports in ParseError, keeping the rest.
func parseCaptured(raw []byte) Captured {
	var out Captured
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		out.ParseError = err.Error()
		return out
	}
	out.Header = msg.Header
	var dec mime.WordDecoder
	if out.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		out.Subject = msg.Header.Get("Subject")
		out.ParseError = "subject: " + err.Error()
	}
	if err := walkPart(&out, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		out.ParseError = err.Error()
	}
	return out
}

func walkPart(out *Captured, contentType, encoding string, body io.Reader, depth int) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth > 5 {
			return errors.New("multipart nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextPart decodes quoted-printable itself and hides the header; base64 is left to us.
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := walkPart(out, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // it skips the CRLF between lines
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s body: %w", mt, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mt == "text/plain" && out.Text == "":
		out.Text = text
	case mt == "text/html" && out.HTML == "":
		out.HTML = text
	}
	return nil
}
