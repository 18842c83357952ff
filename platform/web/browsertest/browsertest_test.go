package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mercato/platform/web/browsertest"
)

// recorder passes everything to the real test but keeps Errorf calls, so the checks can be
// shown to fail on a bad page without failing this test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.errors, "\n")
	r.errors = nil
	return s
}

const goodPage = `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>Good</title></head><body>
<a href="#main">Skip</a><main id="main"><h1>Title</h1><h2>Part</h2>
<form><label for="q">Search</label><input id="q" name="q"><input type="hidden" name="t" value="1">
<input aria-label="Quantity" name="n"><label>Wrapped <select name="s"><option>a</option></select></label>
<button type="submit">Go</button><button aria-label="Close"><span aria-hidden="true">×</span></button></form>
<img src="data:," alt=""><a href="/x"><img src="data:," alt="Home"></a></main></body></html>`

const badPage = `<!doctype html><html><head><link rel="icon" href="data:,"><title>Bad</title></head><body>
<main><h1>Title</h1><h3>Skipped a level</h3>
<input id="nolabel" name="nolabel"><textarea name="notes"></textarea>
<img src="data:,"><button id="dup"></button><a href="/nowhere" id="dup"><span aria-hidden="true">→</span></a>
<div tabindex="2">x</div><input aria-label="Email" aria-describedby="gone"></main><main></main>
<svg role="img"><rect width="1" height="1"/></svg></body></html>`

func TestChecksCatchProblemsInBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/good":
			fmt.Fprint(w, goodPage)
		case "/bad":
			fmt.Fprint(w, badPage)
		case "/noisy":
			fmt.Fprint(w, `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>Noisy</title><script src="/noisy.js"></script></head><body><main><h1>N</h1><img src="/missing.png" alt="gone"></main></body></html>`)
		case "/noisy.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `console.error("something broke"); null.x;`)
		case "/invalid":
			w.WriteHeader(http.StatusUnprocessableEntity) // a form shown again with errors
			fmt.Fprint(w, `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>Form</title></head><body><main><h1>F</h1></main></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{TB: t}
	b := browsertest.New(rec)

	b.Visit(srv.URL + "/good")
	b.CheckA11y()
	b.AssertNoConsoleErrors()
	if errs := rec.take(); errs != "" {
		t.Errorf("a clean page was reported:\n%s", errs)
	}

	b.Visit(srv.URL + "/bad")
	b.CheckA11y()
	report := rec.take()
	for _, want := range []string{
		"<html> has no lang attribute",
		"form control without a label: input#nolabel",
		`form control without a label: textarea[name="notes"]`,
		"image without alt",
		"the page has 2 <main> landmarks",
		"heading skips from h1 to h3",
		"button without an accessible name: button#dup",
		"link without an accessible name: a#dup",
		`duplicate id "dup"`,
		"positive tabindex",
		`aria-describedby points at missing id "gone"`,
		"svg image without a title",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("CheckA11y missed %q; it reported:\n%s", want, report)
		}
	}

	b.Visit(srv.URL + "/noisy")
	b.AssertNoConsoleErrors()
	report = rec.take()
	for _, want := range []string{"something broke", "Cannot read properties of null", "404"} {
		if !strings.Contains(report, want) {
			t.Errorf("AssertNoConsoleErrors missed %q; it reported:\n%s", want, report)
		}
	}

	if st := b.Visit(srv.URL + "/invalid"); st != 422 {
		t.Errorf("Visit returned %d, want 422", st)
	}
	b.AssertNoConsoleErrors()
	if errs := rec.take(); errs != "" {
		t.Errorf("the document's own 422 counted as a console error:\n%s", errs)
	}

	dir := t.TempDir()
	t.Setenv(browsertest.ScreenshotsEnv, dir)
	p := b.Screenshot("good page/1")
	if filepath.Dir(p) != dir || filepath.Base(p) != "good-page-1.png" {
		t.Errorf("screenshot written to %s", p)
	}
	if png, err := os.ReadFile(p); err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot is not a PNG: %v", err)
	}
}
