package webhooksout_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"mercato/platform/webhooksout"
)

func TestCheckURL(t *testing.T) {
	prod := webhooksout.Guard{}
	for _, tc := range []struct {
		url    string
		g      webhooksout.Guard
		reason string // "" when allowed
	}{
		{"https://hooks.example.com/in", prod, ""},
		{"https://hooks.example.com:8443/in", prod, ""},
		{"https://93.184.215.14/in", prod, ""},
		{"http://hooks.example.com/in", prod, "https is required"},
		{"http://hooks.example.com/in", webhooksout.Guard{AllowInsecure: true}, ""},
		{"ftp://hooks.example.com/in", dev, "https is required"},
		{"https://user:pw@hooks.example.com/in", prod, "credentials"},
		{"https://hooks.example.com:22/in", prod, "port 22"},
		{"https://hooks.example.com/in#frag", prod, "fragment"},
		{"https://127.0.0.1/in", prod, "loopback"},
		{"https://127.8.9.10/in", prod, "loopback"},
		{"https://[::1]/in", prod, "loopback"},
		{"https://[::ffff:127.0.0.1]/in", prod, "loopback"},
		{"https://[::ffff:7f00:1]/in", prod, "loopback"},
		{"https://0.0.0.0/in", prod, "unspecified"},
		{"https://[::]/in", prod, "unspecified"},
		{"https://10.1.2.3/in", prod, "private"},
		{"https://172.16.0.1/in", prod, "private"},
		{"https://192.168.1.1/in", prod, "private"},
		{"https://[fd00:ec2::254]/in", prod, "private"},
		{"https://169.254.169.254/latest/meta-data/", prod, "metadata"},
		{"https://169.254.169.254/latest/meta-data/", dev, "metadata"},
		{"https://[::ffff:169.254.169.254]/", prod, "metadata"},
		{"https://169.254.1.1/", prod, "link-local"},
		{"https://[fe80::1]/", prod, "link-local"},
		{"https://100.100.100.200/", prod, "CGNAT"},
		{"https://224.0.0.1/", prod, "multicast"},
		{"https://[ff02::1]/", prod, "multicast"},
		{"https://255.255.255.255/", prod, "broadcast"},
		{"https://[64:ff9b::7f00:1]/", prod, "NAT64"},
		{"https://[2002:7f00:1::]/", prod, "6to4"},
		{"https://localhost/in", prod, "loopback name"},
		{"https://api.localhost/in", prod, "loopback name"},
		{"https://localhost:3000/in", dev, ""},
		{"http://127.0.0.1:3000/in", dev, ""},
		{"http://10.0.0.1/in", dev, "private"},
		{"https://metadata.google.internal/", prod, "public host"},
		{"https://intranet/", prod, "public host"},
		{"https://printer.local/", prod, "public host"},
	} {
		err := tc.g.CheckURL(tc.url)
		var b *webhooksout.BlockedError
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.url, err)
		case tc.reason != "" && (!errors.As(err, &b) || !strings.Contains(b.Error(), tc.reason)):
			t.Errorf("%s: got %v, want a refusal mentioning %q", tc.url, err, tc.reason)
		}
	}
}

// TestGuardClientMakesNoConnection sends requests through the guarded client to listeners on
// loopback that count every connection they accept: none may be made, whether the internal
// address is literal, behind a name, or at the end of a redirect.
func TestGuardClientMakesNoConnection(t *testing.T) {
	v4 := listenCounter(t, "127.0.0.1:0")
	v6 := listenCounter(t, "[::1]:0")
	// The redirector is the one server the guard may reach (AllowAddrs); it sends each
	// request on to an internal address.
	var redirects atomic.Int64
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	redirAddr := netip.MustParseAddrPort(redirector.Listener.Addr().String())
	roots := redirector.Client().Transport.(*http.Transport).TLSClientConfig
	g := webhooksout.Guard{
		AllowInsecure: true, // so the scheme is not what stops these requests
		AllowAddrs:    []netip.AddrPort{redirAddr},
		LookupIP:      resolver(map[string]string{"example.com": "127.0.0.1", "rebind.example.net": "127.0.0.1", "v6.example.net": "::1"}),
		TLS:           roots,
	}
	client := g.Client()

	type target struct{ url, reason string }
	targets := []target{
		{fmt.Sprintf("http://127.0.0.1:%d/hook", v4.port()), "loopback"},
		{fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/hook", v4.port()), "loopback"},
		{fmt.Sprintf("http://0.0.0.0:%d/hook", v4.port()), "unspecified"}, // reaches loopback on Linux
		{fmt.Sprintf("http://localhost:%d/hook", v4.port()), "loopback"},
		{fmt.Sprintf("http://rebind.example.net:%d/hook", v4.port()), "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "metadata"},
	}
	if v6 != nil {
		targets = append(targets,
			target{fmt.Sprintf("http://[::1]:%d/hook", v6.port()), "loopback"},
			target{fmt.Sprintf("http://v6.example.net:%d/hook", v6.port()), "loopback"})
	}
	redirectBase := fmt.Sprintf("https://example.com:%d/r?to=", redirAddr.Port())
	n := len(targets)
	for _, tg := range targets[:n] {
		targets = append(targets, target{redirectBase + tg.url, tg.reason})
	}
	for _, tg := range targets {
		resp, err := client.Post(tg.url, "application/json", strings.NewReader(`{}`))
		if resp != nil {
			resp.Body.Close()
		}
		var b *webhooksout.BlockedError
		if !errors.As(err, &b) || !strings.Contains(b.Reason, tg.reason) {
			t.Errorf("%s: got %v, want a refusal for %q", tg.url, err, tg.reason)
		}
	}
	if h := v4.hits.Load(); h != 0 {
		t.Errorf("IPv4 loopback listener accepted %d connections, want 0", h)
	}
	if v6 != nil && v6.hits.Load() != 0 {
		t.Errorf("IPv6 loopback listener accepted %d connections, want 0", v6.hits.Load())
	}
	if got := redirects.Load(); got != int64(n) {
		t.Errorf("redirector served %d requests, want %d: the redirect cases did not test redirects", got, n)
	}

	// The same listener is reachable when loopback is allowed, so 0 above means refused.
	open := webhooksout.Guard{AllowInsecure: true, AllowLoopback: true}.Client()
	resp, err := open.Post(targets[0].url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("with AllowLoopback: %v", err)
	}
	resp.Body.Close()
	if v4.hits.Load() != 1 {
		t.Errorf("with AllowLoopback the listener saw %d connections, want 1", v4.hits.Load())
	}
}

func TestGuardClientStopsAfterThreeRedirects(t *testing.T) {
	var hits atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	client := webhooksout.Guard{AllowInsecure: true, AllowLoopback: true}.Client()
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if resp != nil {
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "redirects") || hits.Load() != 4 {
		t.Errorf("got %v after %d requests, want a stop after the 3rd redirect (4 requests)", err, hits.Load())
	}
}

func TestGuardClientRefusesHTTPSDowngradeOnRedirect(t *testing.T) {
	target := listenCounter(t, "127.0.0.1:0")
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d/", target.port()), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	g := webhooksout.Guard{AllowLoopback: true, TLS: redirector.Client().Transport.(*http.Transport).TLSClientConfig}
	resp, err := g.Client().Post(redirector.URL, "application/json", strings.NewReader(`{}`))
	if resp != nil {
		resp.Body.Close()
	}
	var b *webhooksout.BlockedError
	if !errors.As(err, &b) || !strings.Contains(b.Reason, "https") || target.hits.Load() != 0 {
		t.Errorf("got %v and %d connections, want an https refusal and none", err, target.hits.Load())
	}
}

func TestGuardHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://hooks.example.com/", nil)
	if _, err := (webhooksout.Guard{}).Client().Do(req); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
