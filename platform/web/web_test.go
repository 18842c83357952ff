package web_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
	"mercato/platform/web"
)

// do sends a request to app and returns the response and its body.
func do(t *testing.T, app *fiber.App, method, target string, body url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req := httptest.NewRequest(method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func mustContain(t *testing.T, html string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(html, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestCataloguesHaveTheSameKeys(t *testing.T) {
	for _, dir := range []string{"messages", "testdata/messages"} {
		keys := map[string][]string{}
		for _, loc := range web.Locales() {
			b, err := os.ReadFile(dir + "/" + loc + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s/%s.json: %v", dir, loc, err)
			}
			for k, v := range m {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s/%s.json: %q is empty", dir, loc, k)
				}
				keys[loc] = append(keys[loc], k)
			}
			slices.Sort(keys[loc])
		}
		if !slices.Equal(keys[web.LocaleEN], keys[web.LocaleZH]) {
			t.Errorf("%s: en and zh-CN keys differ", dir)
		}
		if len(keys[web.LocaleEN]) < 20 && dir == "messages" {
			t.Errorf("%s: only %d messages", dir, len(keys[web.LocaleEN]))
		}
	}
}

// pageFS is a minimal portal folder with one page.
func pageFS(page string, extra ...string) fstest.MapFS {
	fsys := fstest.MapFS{"pages/p.html": {Data: []byte(page)}}
	for i := 0; i+1 < len(extra); i += 2 {
		fsys[extra[i]] = &fstest.MapFile{Data: []byte(extra[i+1])}
	}
	return fsys
}

func TestNewRefusesBrokenPortals(t *testing.T) {
	const ok = `{{define "title"}}T{{end}}{{define "content"}}<h1>x</h1>{{end}}`
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		key  []byte
		want string
	}{
		{"short flash key", pageFS(ok), []byte("short"), "FlashKey"},
		{"page without content", pageFS(`{{define "title"}}T{{end}}`), demoKey, `no "content"`},
		{"page without title", pageFS(`{{define "content"}}x{{end}}`), demoKey, `no "title"`},
		{"template syntax", pageFS(`{{define "content"}}{{if}}{{end}}`), demoKey, "parse page p"},
		{"unknown function", pageFS(`{{define "title"}}T{{end}}{{define "content"}}{{nope}}{{end}}`), demoKey, "nope"},
		{"zh-CN lacks a key", pageFS(ok, "messages/en.json", `{"x.only_en": "A"}`, "messages/zh-CN.json", `{}`), demoKey, `zh-CN lacks "x.only_en"`},
		{"key redefines the kit's", pageFS(ok, "messages/en.json", `{"action.save": "Keep"}`, "messages/zh-CN.json", `{"action.save": "留"}`), demoKey, `"action.save" is already defined`},
		{"bad json", pageFS(ok, "messages/en.json", `{`), demoKey, "parse messages/en.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := web.New(tc.fsys, web.Options{FlashKey: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := web.New(pageFS(ok), web.Options{FlashKey: demoKey}); err != nil {
		t.Fatalf("a valid portal: %v", err)
	}
}

func TestNegotiateLocale(t *testing.T) {
	for _, tc := range []struct{ cookie, accept, tenant, want string }{
		{"zh-CN", "en-US,en", "en", "zh-CN"},
		{"en", "zh-CN", "zh-CN", "en"},
		{"fr", "zh-CN,zh;q=0.9", "en", "zh-CN"},                            // unknown cookie is ignored
		{"", "fr-FR, de;q=0.9, zh-Hans-CN;q=0.8, en;q=0.5", "en", "zh-CN"}, // first supported by q
		{"", "en;q=0.4, zh;q=0.7", "en", "zh-CN"},
		{"", "zh-TW, zh-Hant;q=0.9", "en", "en"}, // traditional Chinese is not zh-CN
		{"", "zh-CN;q=0", "en", "en"},            // q=0 means "not this"
		{"", "en-GB", "zh-CN", "en"},
		{"", "", "zh-CN", "zh-CN"},
		{"", "de", "zh_cn", "zh-CN"},
		{"", ";;;,q=", "", "en"},
		{"", "", "", "en"},
	} {
		if got := web.NegotiateLocale(tc.cookie, tc.accept, tc.tenant); got != tc.want {
			t.Errorf("NegotiateLocale(%q, %q, %q) = %q, want %q", tc.cookie, tc.accept, tc.tenant, got, tc.want)
		}
	}
}

func TestSafePathRejectsOpenRedirects(t *testing.T) {
	for _, tc := range []struct {
		next string
		ok   bool
	}{
		{"/orders", true},
		{"/orders?status=paid&page=2#top", true},
		{"/", true},
		{"//evil.example/x", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"https://evil.example/", false},
		{"http:/evil.example", false},
		{"javascript:alert(1)", false},
		{"evil.example", false},
		{"orders", false},
		{"", false},
		{" /orders", false},
		{"/\t/evil.example", false},
		{"/orders\r\nSet-Cookie: x=1", false},
		{"/" + strings.Repeat("a", 3000), false},
	} {
		got := web.SafePath(tc.next, "/home")
		if (got == tc.next) != tc.ok || (!tc.ok && got != "/home") {
			t.Errorf("SafePath(%q) = %q, want ok=%v", tc.next, got, tc.ok)
		}
	}
}

func TestSetLocale(t *testing.T) {
	d := newDemo(t)
	for _, tc := range []struct {
		name, lang, next string
		status           int
		location, cookie string
	}{
		{"to zh-CN, back to the page", "zh-CN", "/demo?sort=price", 303, "/demo?sort=price", "zh-CN"},
		{"tag is normalised", "zh_hans", "/demo", 303, "/demo", "zh-CN"},
		{"scheme-relative next", "en", "//evil.example/", 303, "/", "en"},
		{"absolute next", "en", "https://evil.example/", 303, "/", "en"},
		{"backslash next", "en", "/\\evil.example", 303, "/", "en"},
		{"unknown locale", "fr", "/demo", 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := do(t, d.app, "POST", "/locale", url.Values{"lang": {tc.lang}, "next": {tc.next}, web.CSRFField: {demoCSRF}}, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			c := cookie(resp, web.LocaleCookie)
			if tc.cookie == "" {
				if c != nil {
					t.Errorf("cookie set to %q", c.Value)
				}
				return
			}
			if c == nil || c.Value != tc.cookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %+v, want %s, HttpOnly, SameSite=Lax", c, tc.cookie)
			}
		})
	}
	// The cookie then decides the page's locale, over the browser's preference.
	_, page := do(t, d.app, "GET", "/demo", nil, map[string]string{"Cookie": "lang=zh-CN", "Accept-Language": "en"})
	mustContain(t, page, `<html lang="zh-CN">`, "<title>商品 · Northwind Market</title>")
}

func TestFormFrom(t *testing.T) {
	values := map[string]string{"email": "x", "name": "Ada"}
	f := web.FormFrom(fmtWrap(fault.Fields(map[string]string{
		"body.email":        "form.email_invalid",
		"body.address.city": "form.required",
		"query.q":           "form.too_long",
		"body":              "form.invalid",
	})), values)
	want := map[string]string{"email": "form.email_invalid", "address.city": "form.required", "q": "form.too_long", "": "form.invalid"}
	if len(f.Errors) != len(want) {
		t.Errorf("errors %v, want %v", f.Errors, want)
	}
	for k, v := range want {
		if f.Error(k) != v {
			t.Errorf("Errors[%q] = %q, want %q", k, f.Error(k), v)
		}
	}
	if f.Value("name") != "Ada" || !f.Invalid() {
		t.Errorf("values not kept or not invalid: %+v", f)
	}

	conflict := fault.New(fault.Conflict, "slug_taken", "that address is taken")
	if f := web.FormFrom(conflict, nil); f.Error("") != "that address is taken" || f.Values == nil {
		t.Errorf("form-level error: %+v", f)
	}
	if f := web.FormFrom(errors.New("pq: connection refused"), nil); f.Error("") != "form.failed" {
		t.Errorf("internal error shown as %q", f.Error(""))
	}
	if f := web.FormFrom(nil, values); f.Invalid() {
		t.Errorf("nil error gave errors %v", f.Errors)
	}

	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fault.Fields(map[string]string{"body.a": "x"}), true},
		{conflict, true},
		{fault.New(fault.Unprocessable, "rule", "no"), true},
		{fault.New(fault.NotFound, "nf", "no"), false},
		{fault.New(fault.Internal, "boom", "no"), false},
		{errors.New("plain"), false},
	} {
		if got := web.Fixable(tc.err); got != tc.want {
			t.Errorf("Fixable(%v) = %v", tc.err, got)
		}
	}
}

func fmtWrap(err error) error { return errors.Join(errors.New("create product"), err) }

// renderOne renders page source with data through a fresh renderer and returns the HTML.
func renderOne(t *testing.T, page string, data any, header map[string]string) (int, string, error) {
	t.Helper()
	r, err := web.New(pageFS(page), web.Options{FlashKey: demoKey, Brand: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	var renderErr error
	app.Get("/p", func(c *fiber.Ctx) error {
		web.SetCSRFToken(c, "tok")
		renderErr = r.Render(c, 200, "p", data)
		return renderErr
	})
	resp, body := do(t, app, "GET", "/p", nil, header)
	return resp.StatusCode, body, renderErr
}

func TestFieldMarkup(t *testing.T) {
	form := web.FormFrom(fault.Fields(map[string]string{"body.email": "form.email_invalid"}),
		map[string]string{"email": `a"><script>alert(1)</script>`, "password": "hunter2", "bio": "</textarea>x", "news": "on", "status": "draft"})
	page := `{{define "title"}}T{{end}}{{define "content"}}<h1>F</h1><form>{{csrf $}}{{formerrors .Data}}
{{field .Data "email" "auth.email" "type=email" "required" "hint=demo.hint"}}
{{field .Data "password" "auth.password" "type=password"}}
{{field .Data "bio" "Bio" "type=textarea" "rows=3"}}
{{field .Data "news" "News" "type=checkbox"}}</form>{{end}}`
	_, html, err := renderOne(t, page, form, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, html,
		`<label for="f-email">Email<span class="required" aria-hidden="true">*</span></label>`,
		`<p class="hint" id="f-email-hint">demo.hint</p>`,
		`aria-describedby="f-email-hint f-email-error"`,
		`aria-invalid="true"`,
		`<p class="field-error" id="f-email-error"><span class="visually-hidden">Error: </span>Enter an email address like name@example.com.</p>`,
		`value="a&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`, // kept, and escaped
		`<textarea id="f-bio" name="bio" rows="3">&lt;/textarea&gt;x</textarea>`,
		`<input type="checkbox" value="on" id="f-news" name="news" checked><label for="f-news">News</label>`,
		`<input type="hidden" name="_csrf" value="tok">`,
		`<div class="form-summary" role="alert" tabindex="-1">`,
		`<a href="#f-email">Enter an email address like name@example.com.</a>`,
	)
	if strings.Contains(html, "hunter2") {
		t.Error("a password was echoed into the page")
	}
	if strings.Contains(html, "<script>alert") {
		t.Error("a value was not escaped")
	}

	for _, bad := range []string{
		`{{field .Data "email" "E" "onclick=alert(1)"}}`,
		`{{field .Data "email" "E" "style=color:red"}}`,
		`{{field .Data "email" "E" "type=select"}}`,
		`{{field .Data "e mail" "E"}}`,
		`{{field .Data "email\" onfocus=\"x" "E"}}`,
	} {
		_, _, err := renderOne(t, `{{define "title"}}T{{end}}{{define "content"}}`+bad+`{{end}}`, form, nil)
		if err == nil {
			t.Errorf("%s rendered without error", bad)
		}
	}
}

func TestSelectField(t *testing.T) {
	type data struct {
		Form web.Form
		Opts []web.Option
	}
	d := data{web.FormFrom(nil, map[string]string{"status": "draft"}), []web.Option{{"active", "status.active"}, {"draft", "status.draft"}}}
	_, html, err := renderOne(t, `{{define "title"}}T{{end}}{{define "content"}}{{selectfield .Data.Form "status" "Status" .Data.Opts}}{{end}}`, d,
		map[string]string{"Accept-Language": "zh-CN"})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, html, `<label for="f-status">Status</label><select id="f-status" name="status">`,
		`<option value="active">正常</option><option value="draft" selected>草稿</option>`)
}

func TestTableState(t *testing.T) {
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	for _, tc := range []struct {
		query    string
		sortable []string
		sort     string
		desc     bool
		search   string
		cursor   string
	}{
		{"", []string{"name", "price"}, "name", false, "", ""},
		{"", []string{"-created", "name"}, "created", true, "", ""},
		{"sort=price&dir=desc", []string{"name", "price"}, "price", true, "", ""},
		{"sort=price&dir=sideways", []string{"name", "price"}, "price", false, "", ""},
		{"sort=password_hash&dir=desc", []string{"name", "price"}, "name", false, "", ""}, // not allowed
		{"sort=name;DROP TABLE x", []string{"name"}, "name", false, "", ""},
		{"q=%20%20lamp%20&cursor=abc", []string{"name"}, "name", false, "lamp", "abc"},
		{"cursor=" + strings.Repeat("x", 600), []string{"name"}, "name", false, "", ""},
	} {
		ts := web.ParseTable(q(tc.query), tc.sortable...)
		if ts.Sort != tc.sort || ts.Desc != tc.desc || ts.Q != tc.search || ts.Cursor != tc.cursor {
			t.Errorf("ParseTable(%q) = %+v, want sort=%s desc=%v q=%q cursor=%q", tc.query, ts, tc.sort, tc.desc, tc.search, tc.cursor)
		}
	}
	if ts := web.ParseTable(q("q="+strings.Repeat("长", 100)), "name"); len(ts.Q) > 200 || !strings.HasPrefix(strings.Repeat("长", 100), ts.Q) {
		t.Errorf("long filter cut badly: %d bytes", len(ts.Q))
	}

	ts := web.ParseTable(q("sort=price&dir=asc&q=lamp&status=active&cursor=c2"), "name", "price")
	for _, tc := range []struct{ got, want string }{
		{ts.SortURL("price"), "?dir=desc&q=lamp&sort=price&status=active"}, // toggles, drops cursor, keeps filters
		{ts.SortURL("name"), "?dir=asc&q=lamp&sort=name&status=active"},
		{ts.PageURL("c3"), "?cursor=c3&dir=asc&q=lamp&sort=price&status=active"},
		{ts.PageURL(""), "?dir=asc&q=lamp&sort=price&status=active"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}

	page := `{{define "title"}}T{{end}}{{define "content"}}<table><tr>{{sortlink .Data "name" "Name"}}{{sortlink .Data "price" "Price"}}</tr></table>{{pagelink .Data "next1"}}{{filterform .Data "Search"}}{{end}}`
	_, html, err := renderOne(t, page, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, html,
		`<th scope="col"><a class="sort" href="?dir=asc&amp;q=lamp&amp;sort=name&amp;status=active">Name`,
		`<th scope="col" aria-sort="ascending"><a class="sort" href="?dir=desc&amp;q=lamp&amp;sort=price&amp;status=active">Price`,
		`<nav class="pagination" aria-label="Pagination">`,
		`href="?dir=asc&amp;q=lamp&amp;sort=price&amp;status=active">First page</a>`,
		`rel="next" href="?cursor=next1&amp;dir=asc&amp;q=lamp&amp;sort=price&amp;status=active">Next page</a>`,
		`<input id="table-q" type="search" name="q" value="lamp">`,
		`<input type="hidden" name="status" value="active">`,
	)
	if n := strings.Count(html, "aria-sort="); n != 1 {
		t.Errorf("aria-sort on %d headers, want 1", n)
	}
	if _, _, err := renderOne(t, `{{define "title"}}T{{end}}{{define "content"}}{{sortlink .Data "secret" "S"}}{{end}}`, ts, nil); err == nil {
		t.Error("sortlink accepted a key outside the allow-list")
	}
}

func TestFlashIsShownOnceAndMustBeSigned(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r, err := web.New(pageFS(`{{define "title"}}T{{end}}{{define "content"}}<h1>P</h1>{{end}}`), web.Options{FlashKey: demoKey, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Post("/act", func(c *fiber.Ctx) error {
		r.Flash(c, c.Query("kind"), "Saved {0}.", "Oak <table>") // text, not a key: shown as it is
		return c.Redirect("/p", fiber.StatusSeeOther)
	})
	app.Get("/p", func(c *fiber.Ctx) error { return r.Render(c, 200, "p", nil) })

	resp, _ := do(t, app, "POST", "/act?kind=success", url.Values{}, nil)
	fc := cookie(resp, web.FlashCookie)
	if fc == nil || !fc.HttpOnly || fc.MaxAge <= 0 || fc.MaxAge > 300 {
		t.Fatalf("flash cookie %+v: want HttpOnly and short-lived", fc)
	}
	resp, page := do(t, app, "GET", "/p", nil, map[string]string{"Cookie": web.FlashCookie + "=" + fc.Value})
	mustContain(t, page, `<div class="flash flash-success">`, "Saved Oak &lt;table&gt;.")
	if cl := cookie(resp, web.FlashCookie); cl == nil || cl.MaxAge >= 0 && !cl.Expires.Before(now) {
		t.Errorf("flash not cleared: %+v", cl)
	}

	payload, sig, _ := strings.Cut(fc.Value, ".")
	for _, tc := range []struct {
		name, value string
		advance     time.Duration
	}{
		{"tampered payload", payload[:len(payload)-2] + "AA." + sig, 0},
		{"no signature", payload, 0},
		{"garbage", "x.y", 0},
		{"expired", fc.Value, 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.advance)
			defer func() { now = now.Add(-tc.advance) }()
			_, page := do(t, app, "GET", "/p", nil, map[string]string{"Cookie": web.FlashCookie + "=" + tc.value})
			if strings.Contains(page, `class="flash `) {
				t.Errorf("%s flash was shown", tc.name)
			}
		})
	}

	// The same cookie under another key is refused: the HMAC key matters.
	r2, _ := web.New(pageFS(`{{define "title"}}T{{end}}{{define "content"}}x{{end}}`), web.Options{FlashKey: []byte(strings.Repeat("k", 32)), Now: clock})
	app2 := fiber.New()
	app2.Get("/p", func(c *fiber.Ctx) error { return r2.Render(c, 200, "p", nil) })
	if _, page := do(t, app2, "GET", "/p", nil, map[string]string{"Cookie": web.FlashCookie + "=" + fc.Value}); strings.Contains(page, `class="flash `) {
		t.Error("a flash signed with another key was shown")
	}

	resp, _ = do(t, app, "POST", "/act?kind=error", url.Values{}, nil)
	_, page = do(t, app, "GET", "/p", nil, map[string]string{"Cookie": web.FlashCookie + "=" + cookie(resp, web.FlashCookie).Value})
	mustContain(t, page, `<div class="flash flash-error">`)
}

func TestTheme(t *testing.T) {
	for _, tc := range []struct {
		theme web.Theme
		bad   []string
	}{
		{web.Theme{}, nil},
		{web.Theme{Primary: "#0F766E", Accent: "#e11d48", LogoURL: "/media/logo.png"}, nil},
		{web.Theme{Primary: "teal"}, []string{"body.primary"}},
		{web.Theme{Primary: "#0f766"}, []string{"body.primary"}},
		{web.Theme{Accent: "#gg0000"}, []string{"body.accent"}},
		{web.Theme{Accent: "#+12345"}, []string{"body.accent"}},
		{web.Theme{Primary: "#000000;}body{display:none"}, []string{"body.primary"}},
		{web.Theme{LogoURL: "https://evil.example/logo.png"}, []string{"body.logo_url"}},
		{web.Theme{LogoURL: "//evil.example/logo.png"}, []string{"body.logo_url"}},
		{web.Theme{LogoURL: "javascript:alert(1)"}, []string{"body.logo_url"}},
		{web.Theme{Primary: "red", LogoURL: "logo.png"}, []string{"body.logo_url", "body.primary"}},
	} {
		err := tc.theme.Validate()
		var got []string
		if de := fault.As(err); de != nil {
			for _, f := range de.Fields {
				got = append(got, f.Location)
			}
		} else if err != nil {
			t.Errorf("%+v: error is not a fault: %v", tc.theme, err)
		}
		if !slices.Equal(got, tc.bad) {
			t.Errorf("Validate(%+v) flagged %v, want %v", tc.theme, got, tc.bad)
		}
	}

	css := web.Theme{Primary: "#fde047", Accent: "#1e3a8a"}.CSS() // a light yellow and a dark blue
	mustContain(t, css, "--primary:#fde047;", "--on-primary:#111827;", "--on-accent:#ffffff;")
	link := regexp.MustCompile(`--link:(#[0-9a-f]{6});`).FindStringSubmatch(css)
	if link == nil || link[1] == "#fde047" {
		t.Errorf("link colour not darkened for white backgrounds: %s", css)
	}
	if css := (web.Theme{Primary: "red;}*{x:y"}).CSS(); strings.Contains(css, "red") {
		t.Errorf("an invalid stored colour reached the CSS: %s", css)
	}

	theme := web.Theme{Primary: "#0f766e"}
	app := fiber.New()
	app.Get("/theme.css", web.ThemeCSS(func(*fiber.Ctx) (web.Theme, error) { return theme, nil }))
	resp, body := do(t, app, "GET", "/theme.css?v="+theme.Version(), nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || body != theme.CSS() {
		t.Errorf("versioned theme: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, _ = do(t, app, "GET", "/theme.css?v=old", nil, nil)
	if resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("stale version cached: %q", resp.Header.Get("Cache-Control"))
	}
	resp, _ = do(t, app, "GET", "/theme.css", nil, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	if (web.Theme{Primary: "#000001"}).Version() == theme.Version() {
		t.Error("different themes share a version")
	}
}

func TestDemoPageMarkup(t *testing.T) {
	d := newDemo(t)
	for _, tc := range []struct {
		accept string
		wants  []string
	}{
		{"en-US,en;q=0.9", []string{
			`<html lang="en">`, "<title>Products · Northwind Market</title>",
			"Figures as of 22 Nov 2026", `id="stat-sales">$12,345.67<`, `id="stat-orders">1,234<`, `id="stat-since">5 Mar 2024<`,
			"21 Nov 2026, 14:05", ">$89.00<", `<label for="f-name">Name`,
			`<button class="locale-option" type="submit" name="lang" value="zh-CN" lang="zh-CN">简体中文</button>`,
			`<svg class="chart-plot" width="100%" height="240" role="img"`, "Highest: 21 Nov, 251. Lowest: 18 Nov, 121.",
			"5 results", `<a class="btn btn-primary" href="/demo/reviews/invite">Invite buyers</a>`,
		}},
		{"zh-CN,zh;q=0.9", []string{
			`<html lang="zh-CN">`, "<title>商品 · Northwind Market</title>",
			"数据截至 2026年11月22日", `id="stat-sales">US$12,345.67<`, `id="stat-orders">1,234<`, `id="stat-since">2024年3月5日<`,
			"2026年11月21日 14:05", `<label for="f-name">名称`, `value="en" lang="en">English</button>`,
			"最高：11月21日，251。最低：11月18日，121。", "跳到主要内容",
		}},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			resp, html := do(t, d.app, "GET", "/demo", nil, map[string]string{"Accept-Language": tc.accept})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, html)
			}
			mustContain(t, html, tc.wants...)
			mustContain(t, html,
				`<a class="skip-link" href="#main">`, `<header class="site-header">`, `<main id="main" tabindex="-1">`,
				`<footer class="site-footer">`, `role="status" aria-live="polite"`,
				`<a href="/demo" aria-current="page">`, `<link rel="stylesheet" href="/theme.css?v=`,
			)
			if n := strings.Count(html, "<main"); n != 1 {
				t.Errorf("%d <main> elements", n)
			}
			if strings.Contains(html, `aria-current="page">`+"Dashboard") || strings.Count(html, `aria-current="page"`) != 1 {
				t.Error("want exactly one current nav item (Products)")
			}
			// Nothing inline that a strict CSP would block, nothing from another origin.
			if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(html) || strings.Contains(html, " style=") ||
				regexp.MustCompile(` on[a-z]+=`).MatchString(html) || regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).MatchString(html) {
				t.Error("page has inline script, inline style, an event handler attribute or a cross-origin URL")
			}
			if resp.Header.Get("Content-Language") == "" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") ||
				resp.Header.Get("Cache-Control") != "private, no-cache" {
				t.Errorf("headers %v", resp.Header)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}

	resp, html := do(t, d.app, "GET", "/missing", nil, map[string]string{"X-Request-ID": "req-12345678"})
	if resp.StatusCode != 404 {
		t.Errorf("error page status %d", resp.StatusCode)
	}
	mustContain(t, html, "<h1>Page not found</h1>", "Reference: req-12345678", "<title>Page not found · Northwind Market</title>")
}

func TestDemoFormPostRedirectGet(t *testing.T) {
	d := newDemo(t)
	form := url.Values{"name": {""}, "email": {"ada"}, "price": {"12.5x"}, "description": {"Brass, <b>bold</b>"}, web.CSRFField: {demoCSRF}}
	resp, html := do(t, d.app, "POST", "/demo", form, nil)
	if resp.StatusCode != 422 {
		t.Fatalf("invalid form: status %d", resp.StatusCode)
	}
	mustContain(t, html, `id="f-name-error"`, `id="f-email-error"`, `id="f-price-error"`,
		`value="ada"`, "Brass, &lt;b&gt;bold&lt;/b&gt;</textarea>", "There are problems with 3 fields:")

	form.Set("name", "Brass lamp")
	form.Set("email", "ada@example.com")
	form.Set("price", "12.50")
	resp, _ = do(t, d.app, "POST", "/demo", form, nil)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/demo" {
		t.Fatalf("valid form: status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	fc := cookie(resp, web.FlashCookie)
	_, html = do(t, d.app, "GET", "/demo", nil, map[string]string{"Cookie": web.FlashCookie + "=" + fc.Value})
	mustContain(t, html, "“Brass lamp” is saved.")
}

func TestAssets(t *testing.T) {
	d := newDemo(t)
	_, html := do(t, d.app, "GET", "/demo", nil, nil)
	for _, name := range []string{"app.css", "app.js"} {
		m := regexp.MustCompile(`"(/assets/` + regexp.QuoteMeta(name) + `\?v=([0-9a-f]{16}))"`).FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("page does not link %s with a version", name)
		}
		resp, body := do(t, d.app, "GET", m[1], nil, map[string]string{"Accept-Encoding": "gzip"})
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=31536000") ||
			resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") != `"`+m[2]+`"` {
			t.Errorf("%s: %d %v", name, resp.StatusCode, resp.Header)
		}
		if len(body) == 0 {
			t.Errorf("%s: empty body", name)
		}
		resp, body = do(t, d.app, "GET", "/assets/"+name, nil, nil)
		if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Content-Encoding") != "" || len(body) < 1000 {
			t.Errorf("%s unversioned: %v, %d bytes", name, resp.Header, len(body))
		}
		resp, _ = do(t, d.app, "GET", "/assets/"+name, nil, map[string]string{"If-None-Match": `"` + m[2] + `"`})
		if resp.StatusCode != 304 {
			t.Errorf("%s If-None-Match: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := do(t, d.app, "GET", "/assets/../web.go", nil, nil); resp.StatusCode != 404 {
		t.Errorf("path outside assets: %d", resp.StatusCode)
	}
	if resp, _ := do(t, d.app, "GET", "/assets/nope.css", nil, nil); resp.StatusCode != 404 {
		t.Errorf("unknown asset: %d", resp.StatusCode)
	}
}

func TestTemplateFuncs(t *testing.T) {
	type data struct {
		When  time.Time
		Nil   *time.Time
		Chart web.Chart
	}
	page := `{{define "title"}}T{{end}}{{define "content"}}
[{{t "no.such.key"}}][{{t "auth.signed_in_as" "Ada"}}][{{tn "table.results" 1}}][{{tn "table.results" 1234}}]
[{{date .Data.When}}][{{datetime .Data.When}}][{{shortdate .Data.When}}][{{date .Data.Nil}}][{{number -1234567}}]
[{{json (dict "a" 1 "b" "<x>")}}][{{badge "success" "status.paid"}}][{{initial "northwind"}}]
<div data-points="{{json .Data.Chart.Labels}}"></div>{{chart .Data.Chart}}{{end}}`
	d := data{When: time.Date(2026, 11, 22, 14, 5, 0, 0, time.UTC),
		Chart: web.Chart{Title: "Sales", Labels: []string{"Mon", "Tue"}, Currency: "CNY",
			Series: []web.Series{{Name: "2026", Values: []int64{150000, 0}}, {Name: "2025", Values: []int64{90000, 45000}}}}}
	for _, tc := range []struct {
		accept string
		wants  []string
	}{
		{"en", []string{"[no.such.key]", "[Signed in as Ada]", "[1 result]", "[1,234 results]",
			"[22 Nov 2026][22 Nov 2026, 14:05][22 Nov][][-1,234,567]",
			`[{&#34;a&#34;:1,&#34;b&#34;:&#34;\u003cx\u003e&#34;}]`, `<span class="badge badge-success">Paid</span>`, "[N]",
			`data-points="[&#34;Mon&#34;,&#34;Tue&#34;]"`,
			"<title id=", "Sales. Highest: Mon, CN¥1,500.00. Lowest: Tue, CN¥0.00.</title>",
			`<td class="num" data-label="2025">CN¥450.00</td>`, `<ul class="chart-legend">`, ">CN¥2,000<", // axis without .00
		}},
		{"zh-CN", []string{"[当前登录：Ada]", "[1 条结果]", "[2026年11月22日][2026年11月22日 14:05][11月22日]",
			"¥1,500.00", "<summary>以表格查看数据</summary>"}},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			_, html, err := renderOne(t, page, d, map[string]string{"Accept-Language": tc.accept})
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, html, tc.wants...)
		})
	}

	for _, bad := range []string{
		`{{chart (dict)}}`,
		`{{money 12}}`,
		`{{number "12"}}`,
		`{{date "2026-11-22"}}`,
		`{{badge "pink" "x"}}`,
		`{{empty "t" "x" "https://evil.example/" "go"}}`,
		`{{dict "a"}}`,
		`{{csrf 42}}`,
	} {
		if _, _, err := renderOne(t, `{{define "title"}}T{{end}}{{define "content"}}`+bad+`{{end}}`, d, nil); err == nil {
			t.Errorf("%s rendered without error", bad)
		}
	}
	mismatched := d
	mismatched.Chart.Series = []web.Series{{Name: "x", Values: []int64{1}}}
	if _, _, err := renderOne(t, `{{define "title"}}T{{end}}{{define "content"}}{{chart .Data.Chart}}{{end}}`, mismatched, nil); err == nil {
		t.Error("a series shorter than its labels rendered")
	}
}
