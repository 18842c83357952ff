package storefront_test

import (
	"io"
	"net/http"
	neturl "net/url"
	"testing"
)

// BenchmarkHomePage measures the store's home page over a real socket as a returning visitor
// sees it (guest cookie, theme, active merchants): host resolution, session lookup, one
// merchants query and the render.
//
//	go test -run '^$' -bench HomePage -benchtime 5s ./apps/storefront
func BenchmarkHomePage(b *testing.B) {
	w := newWorld(b)
	port := w.serve()
	url := "http://127.0.0.1:" + port + "/"
	// A guest session, as a returning visitor has (a visitor's first form starts it).
	cookie := guestSession(b, w, "lumen.localhost")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8) // 8 visitors per core keep the server busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Host = "lumen.localhost"
			req.Header.Set("Cookie", shopCookie+"="+cookie)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// guestSession is the shop cookie of a new guest session at host: a visitor gets one with the
// first form they post (here the language switch).
func guestSession(b *testing.B, w *world, host string) string {
	b.Helper()
	cl := w.client(host)
	cl.get("/")
	cl.post("/locale", neturl.Values{"lang": {"en"}, "next": {"/"}})
	cookie := cl.cookie(shopCookie)
	if cookie == "" {
		b.Fatal("no guest session after posting a form")
	}
	return cookie
}
