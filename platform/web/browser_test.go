package web_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"mercato/platform/web/browsertest"
)

// TestDemoPageInBrowser drives the demo page the way a person does, in English and Chinese,
// on a desktop and a phone: keyboard order, a form with errors then fixed (Post/Redirect/
// Get with a flash), sorting, a confirmed delete, clickable rows, a ticking countdown. Each
// page passes the accessibility smoke check and logs no console errors under the real CSP.
func TestDemoPageInBrowser(t *testing.T) {
	d := newDemo(t)
	b := browsertest.New(t)

	if st := b.Visit(d.URL + "/demo"); st != 200 {
		t.Fatalf("GET /demo: %d", st)
	}
	if got := b.Text("h1"); got != "Products" {
		t.Errorf("h1 %q", got)
	}
	for sel, want := range map[string]string{
		`label[for="f-name"]`:  "Name",
		`label[for="f-email"]`: "Contact email",
		"#stat-sales":          "$12,345.67",
		"#stat-orders":         "1,234",
		"#stat-since":          "5 Mar 2024",
		".page-head p":         "Figures as of 22 Nov 2026",
	} {
		if got := b.Text(sel); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	b.CheckA11y()

	// Keyboard: Tab walks skip link, header, navigation, then the page in reading order.
	want := []string{
		"a:Skip to main content", "a:Northwind Market", "a:Dashboard", "a:Products", "a:Orders 3", "button:Sign out",
		"a:Export", "a:New product",
		"input#f-name", "input#f-email", "input#f-price", "select#f-status", "textarea#f-description", "input#f-published",
		"button#save",
	}
	var got []string
	for range want {
		got = append(got, b.Tab())
	}
	if !slices.Equal(got, want) {
		t.Errorf("focus order:\n got  %q\n want %q", got, want)
	}
	// The skip link jumps over the header: Enter on it, and the next Tab is in the page.
	b.Visit(d.URL + "/demo")
	if f := b.Tab(); f != "a:Skip to main content" {
		t.Fatalf("first Tab reached %q", f)
	}
	if b.Attr(".skip-link", "class") == "" || b.Text(".skip-link") == "" {
		t.Error("skip link not visible when focused")
	}
	b.Press(kb.Enter)
	if f := b.Focused(); f != "main#main" {
		t.Errorf("after the skip link, focus is on %q", f)
	}
	if f := b.Tab(); f != "a:Export" {
		t.Errorf("Tab after the skip link reached %q", f)
	}

	// The countdown ticks (app.js runs under the CSP).
	first := b.Text(".countdown")
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d$`).MatchString(first) {
		t.Errorf("countdown %q", first)
	}
	time.Sleep(1100 * time.Millisecond)
	if b.Text(".countdown") == first {
		t.Error("countdown did not tick")
	}
	b.AssertNoConsoleErrors()

	// A form with mistakes comes back with each error beside its field and what was typed.
	b.Fill("#f-name", "")
	b.Fill("#f-email", "ada")
	b.Fill("#f-price", "12.5x")
	b.Fill("#f-description", "Solid brass, hand finished.")
	if st := b.Submit("#save"); st != 422 {
		t.Errorf("invalid form answered %d, want 422", st)
	}
	if f := b.Focused(); !strings.HasPrefix(f, "div:") || b.Count(".form-summary") != 1 {
		t.Errorf("focus after a failed submit is on %q, want the error summary", f)
	}
	for _, name := range []string{"name", "email", "price"} {
		if b.Attr("#f-"+name, "aria-invalid") != "true" || !strings.Contains(b.Attr("#f-"+name, "aria-describedby"), "f-"+name+"-error") {
			t.Errorf("field %s is not marked invalid with its error described", name)
		}
	}
	if got := b.Text("#f-email-error"); !strings.Contains(got, "Enter an email address like name@example.com.") {
		t.Errorf("email error %q", got)
	}
	if got := b.Text(".form-summary li:first-child"); got != "Name: Enter a value." {
		t.Errorf("error summary starts with %q, want the first field, named by its label", got)
	}
	var kept string
	b.Eval(`document.querySelector("#f-description").value + "|" + document.querySelector("#f-email").value`, &kept)
	if kept != "Solid brass, hand finished.|ada" {
		t.Errorf("typed values not kept: %q", kept)
	}
	b.CheckA11y()
	b.Screenshot("web-demo-form-errors-en")

	// Fixed, it saves, redirects, and the next page says so once.
	b.Fill("#f-name", "Brass desk lamp")
	b.Fill("#f-email", "ada@example.com")
	b.Fill("#f-price", "89.00")
	if st := b.Submit("#save"); st != 200 {
		t.Errorf("valid form ended on %d", st)
	}
	if got := b.Text(".flash"); got != "“Brass desk lamp” is saved." {
		t.Errorf("flash %q", got)
	}
	if u := b.URL(); !strings.HasSuffix(u, "/demo") {
		t.Errorf("after saving the page is %s", u)
	}
	b.CheckA11y()
	b.AssertNoConsoleErrors()
	b.Screenshot("web-demo-en")
	b.Visit(d.URL + "/demo")
	if b.Count(".flash") != 0 {
		t.Error("the flash showed twice")
	}

	// Sorting: a header link sorts, says so with aria-sort, and a second click reverses.
	b.Submit(`#products th a[href*="sort=price"]`)
	if got := b.Attr(`#products th[aria-sort]`, "aria-sort"); got != "ascending" {
		t.Errorf("aria-sort %q after sorting by price", got)
	}
	if got := b.Text("#products tbody tr:first-child .cell-main"); got != "Linen pendant shade" {
		t.Errorf("cheapest first: %q", got)
	}
	b.Submit(`#products th[aria-sort] a`)
	if got := b.Text("#products tbody tr:first-child .cell-main"); got != "Walnut bookshelf" {
		t.Errorf("dearest first: %q", got)
	}
	if b.Attr(`#products th[aria-sort]`, "aria-sort") != "descending" {
		t.Error("aria-sort did not turn descending")
	}
	// The next page link keeps the order.
	if st := b.Submit(`.pagination a[rel="next"]`); st != 200 || !strings.Contains(b.URL(), "dir=desc") || b.Count("#products tbody tr") != 1 {
		t.Errorf("next page: %d %s, %d rows", st, b.URL(), b.Count("#products tbody tr"))
	}

	// Delete asks first; cancelling leaves everything as it was.
	b.Visit(d.URL + "/demo")
	b.Click("#products tbody tr:first-child button.delete")
	b.WaitVisible("#confirm-dialog")
	if f := b.Focused(); f != "button:Cancel" {
		t.Errorf("the dialog opened with focus on %q, want Cancel", f)
	}
	if got := b.Text("#confirm-dialog-text"); got != "Delete this? It cannot be undone." {
		t.Errorf("confirm text %q", got)
	}
	b.CheckA11y()
	b.ScreenshotViewport("web-demo-confirm-en")
	b.Press(kb.Escape)
	var open bool
	b.Eval(`document.querySelector("#confirm-dialog").open`, &open)
	if open || strings.Contains(b.URL(), "deleted") {
		t.Errorf("cancel: dialog open=%v, page %s", open, b.URL())
	}
	b.Click("#products tbody tr:first-child button.delete")
	b.WaitVisible("#confirm-dialog")
	b.Submit(`#confirm-dialog button[value="ok"]`)
	if !strings.Contains(b.URL(), "deleted=p1") || b.Text(".flash") != "Deleted." {
		t.Errorf("confirmed delete: page %s, flash %q", b.URL(), b.Text(".flash"))
	}

	// A click anywhere on a row opens it (rows are sorted by name: Ceramic table lamp is second).
	b.Submit("#products tbody tr:nth-child(2) td.num")
	if !strings.HasSuffix(b.URL(), "/demo/products/p5") || b.Text("h1") != "Ceramic table lamp" {
		t.Errorf("row link went to %s", b.URL())
	}
	b.AssertNoConsoleErrors()

	// On a phone the table becomes cards and nothing scrolls sideways.
	b.Viewport(390, 844)
	b.Visit(d.URL + "/demo")
	var layout struct {
		Display  string
		Overflow bool
	}
	b.Eval(`({display: getComputedStyle(document.querySelector("#products tbody tr")).display,
		overflow: document.documentElement.scrollWidth > window.innerWidth})`, &layout)
	if layout.Display != "block" || layout.Overflow {
		t.Errorf("phone layout: rows display %q, page wider than the screen: %v", layout.Display, layout.Overflow)
	}
	b.CheckA11y()
	b.Screenshot("web-demo-mobile-en")

	// The switcher changes the language and returns to the same page.
	b.Viewport(1280, 900)
	b.Visit(d.URL + "/demo?sort=price")
	if st := b.Submit(`.locale-switch button[value="zh-CN"]`); st != 200 {
		t.Fatalf("switch to zh-CN: %d", st)
	}
	if !strings.HasSuffix(b.URL(), "/demo?sort=price") || b.Attr("html", "lang") != "zh-CN" {
		t.Errorf("after switching: %s lang=%q", b.URL(), b.Attr("html", "lang"))
	}
	for sel, want := range map[string]string{
		"h1":                  "商品",
		`label[for="f-name"]`: "名称",
		"#stat-sales":         "US$12,345.67",
		"#stat-since":         "2024年3月5日",
		".page-head p":        "数据截至 2026年11月22日",
		".skip-link":          "跳到主要内容",
	} {
		if got := b.Text(sel); !strings.HasPrefix(got, want) {
			t.Errorf("zh-CN %s: %q, want %q", sel, got, want)
		}
	}
	b.CheckA11y()
	b.Screenshot("web-demo-zh-CN")
	b.Fill("#f-email", "ada")
	b.Submit("#save")
	if got := b.Text("#f-email-error"); !strings.Contains(got, "请输入有效的邮箱地址") {
		t.Errorf("zh-CN email error %q", got)
	}
	b.Screenshot("web-demo-form-errors-zh-CN")
	b.Viewport(390, 844)
	b.Visit(d.URL + "/demo")
	b.Screenshot("web-demo-mobile-zh-CN")
	b.AssertNoConsoleErrors()
}
