package webhooksout

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Guard keeps webhook requests away from the platform's own network (SSRF). Every TCP
// connection is checked at connect time against the IP it is about to reach, after DNS, so a
// name that resolves to an internal address (or starts to, DNS rebinding) is refused as well
// as a literal one; every redirect is checked again before it is followed. The zero value is
// the production guard.
type Guard struct {
	// AllowInsecure permits http:// URLs. Dev and tests only (MERCATO_WEBHOOKS_ALLOW_INSECURE).
	AllowInsecure bool
	// AllowLoopback permits 127.0.0.0/8 and ::1 on any port, so a receiver on the developer's
	// machine works. Dev and tests only; private, link-local and metadata addresses stay blocked.
	AllowLoopback bool
	// AllowAddrs are exact addresses let through whatever their range and port: tests use it
	// to reach one loopback server while proving that every other is refused.
	AllowAddrs []netip.AddrPort
	// LookupIP resolves host names; nil uses the system resolver. Tests use it to make a name
	// resolve to loopback without touching DNS.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// TLS is the client's TLS configuration; nil uses the system roots.
	TLS *tls.Config
	// Timeout bounds a whole attempt, redirects included; 0 means 10 s.
	Timeout time.Duration
}

// BlockedError says why a destination was refused. Delivery errors wrap it.
type BlockedError struct {
	Addr   string // the address or URL refused
	Reason string
}

func (e *BlockedError) Error() string { return "blocked destination " + e.Addr + ": " + e.Reason }

// maxRedirects is how many redirects an attempt follows; receivers rarely need one.
const maxRedirects = 3

// allowedPorts are the ports a webhook may reach: HTTP's and HTTPS's, and their usual
// alternates. Anything else is more likely an internal service than a webhook receiver.
func allowedPort(p uint16) bool { return p == 80 || p == 443 || p == 8080 || p == 8443 }

// blockedPrefixes are the special-purpose ranges (RFC 6890 and successors) that netip's
// predicates do not cover, with the reason a refusal names.
var blockedPrefixes = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a 'this network' address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible IPv6 address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// blockedReason says why ip may not be reached, or "" if it may. IPv4-mapped IPv6 forms
// (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
func blockedReason(ip netip.Addr) (reason string, loopback bool) {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return "not an IP address", false
	case ip.IsUnspecified():
		return "an unspecified address", false
	case ip.IsLoopback():
		return "a loopback address", true
	case ip == netip.AddrFrom4([4]byte{169, 254, 169, 254}):
		return "the cloud metadata address", false
	case ip.IsLinkLocalUnicast():
		return "a link-local address", false
	case ip.IsPrivate():
		return "a private address", false
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "a multicast address", false
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address", false
	}
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(ip) {
			return b.reason, false
		}
	}
	return "", false
}

// checkAddr is the connect-time rule for one resolved address.
func (g Guard) checkAddr(ap netip.AddrPort) error {
	ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
	if slices.Contains(g.AllowAddrs, ap) {
		return nil
	}
	if reason, loopback := blockedReason(ap.Addr()); reason != "" {
		if loopback && g.AllowLoopback {
			return nil
		}
		return &BlockedError{Addr: ap.String(), Reason: reason}
	}
	if !allowedPort(ap.Port()) {
		return &BlockedError{Addr: ap.String(), Reason: "port " + strconv.Itoa(int(ap.Port())) + " is not 80, 443, 8080 or 8443"}
	}
	return nil
}

// control runs after the socket is made and before it connects, with the address chosen
// after any DNS lookup: the one place every connection passes.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Addr: address, Reason: "not an IP address and port"}
	}
	return g.checkAddr(ap)
}

// CheckURL is the static part of the guard, for a URL as it is registered: https (http only
// with AllowInsecure), no credentials, a host that is not a loopback or internal name, one of
// the allowed ports, and, when the host is an IP literal, an address that may be reached. The
// addresses a name resolves to are judged when the client connects.
func (g Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &BlockedError{Addr: raw, Reason: "not a URL"}
	}
	return g.checkURL(u, true)
}

// checkURL applies the static rules. For a request about to be sent (portOfName false) the
// port of a host name is left to the connect-time check, which judges the address first, so
// a name that resolves to loopback is refused as loopback, not for its port.
func (g Guard) checkURL(u *url.URL, portOfName bool) error {
	blocked := func(reason string) error { return &BlockedError{Addr: u.Redacted(), Reason: reason} }
	switch {
	case u.Scheme == "http" && !g.AllowInsecure:
		return blocked("https is required")
	case u.Scheme != "https" && u.Scheme != "http":
		return blocked("https is required")
	case u.User != nil:
		return blocked("credentials in the URL are not allowed; verify the signature instead")
	case u.Hostname() == "":
		return blocked("no host")
	case u.Fragment != "":
		return blocked("a fragment is never sent; remove it")
	}
	port := uint16(443)
	if u.Scheme == "http" {
		port = 80
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return blocked("bad port")
		}
		port = uint16(n)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		return g.checkAddr(netip.AddrPortFrom(ip, port))
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if g.AllowLoopback {
			return nil
		}
		return blocked("a loopback name")
	}
	if strings.HasSuffix(host, ".internal") || strings.HasSuffix(host, ".local") || !strings.Contains(host, ".") {
		return blocked("not a public host name")
	}
	if portOfName && !allowedPort(port) && !g.AllowLoopback {
		return blocked("port " + strconv.Itoa(int(port)) + " is not 80, 443, 8080 or 8443")
	}
	return nil
}

// Client is an http.Client that only reaches what the guard allows: every request, the
// first and each redirect, passes CheckURL, and every connection the connect-time check. It
// ignores proxy settings from the environment: through a proxy, the connect-time check would
// judge the proxy instead of the destination.
func (g Guard) Client() *http.Client {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: 5 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            g.dial(d),
		TLSClientConfig:        g.TLS.Clone(),
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{Transport: guardedTransport{g: g, next: tr}, Timeout: timeout,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		}}
}

// guardedTransport applies the static rules to each request before it is sent, redirects
// included (the client sends each hop through its Transport).
type guardedTransport struct {
	g    Guard
	next http.RoundTripper
}

func (t guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.g.checkURL(req.URL, false); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// dial resolves names itself (through LookupIP when set) and dials each address in turn;
// the dialer's Control judges every one. When all fail, a refusal is reported before a
// network error, since it is the one the endpoint's owner can act on.
func (g Guard) dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		var ips []netip.Addr
		if g.LookupIP != nil {
			ips, err = g.LookupIP(ctx, host)
		} else {
			ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("lookup %s: no addresses", host)
		}
		var firstErr, blockedErr error
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			var b *BlockedError
			if errors.As(err, &b) && blockedErr == nil {
				blockedErr = fmt.Errorf("%s resolves to %s: %w", host, ip, b)
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if blockedErr != nil {
			return nil, blockedErr
		}
		return nil, firstErr
	}
}
