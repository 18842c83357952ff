package web_test

import (
	"cmp"
	"embed"
	"io/fs"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
	"mercato/platform/web"
)

//go:embed testdata
var testdata embed.FS

// demoFS is the demo portal's folder, laid out as a portal embeds its own.
func demoFS(t testing.TB) fs.FS {
	t.Helper()
	sub, err := fs.Sub(testdata, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

const demoCSRF = "demo-csrf-token"

var demoKey = []byte("0123456789abcdef0123456789abcdef") // 32 bytes: the test's flash key

type demoRow struct {
	ID, Name, Merchant, Status, BadgeKind string
	Price                                 money.Amount
	Updated                               time.Time
}

type demoData struct {
	Form         web.Form
	Table        web.TableState
	Rows         []demoRow
	Next         string
	Statuses     []web.Option
	Orders7d     web.Chart
	Revenue      web.Chart
	Sales        money.Amount
	Orders       int
	SaleEnds     time.Time
	Today, Since time.Time
}

func demoRows() []demoRow {
	usd := func(minor int64) money.Amount { return money.MustNew(minor, "USD") }
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 5, 0, 0, time.UTC) }
	return []demoRow{
		{"p1", "Brass desk lamp", "Northwind Lighting", "status.active", "success", usd(8900), at(21, 14)},
		{"p2", "Oak side table", "Oak & Ash Furniture", "status.active", "success", usd(24500), at(20, 9)},
		{"p3", "Linen pendant shade", "Northwind Lighting", "status.draft", "neutral", usd(5450), at(22, 8)},
		{"p4", "Walnut bookshelf", "Oak & Ash Furniture", "status.pending", "warning", usd(61900), at(18, 16)},
		{"p5", "Ceramic table lamp", "Northwind Lighting", "status.suspended", "danger", usd(12000), at(15, 11)},
		{"p6", "Rattan armchair", "Oak & Ash Furniture", "status.archived", "neutral", usd(39900), at(10, 10)},
	}
}

// demoServer serves the demo page through the real httpx app (its CSP applies) on a free
// loopback port.
type demoServer struct {
	URL string
	app *fiber.App
	r   *web.Renderer
}

func newDemo(t testing.TB) *demoServer {
	t.Helper()
	r, err := web.New(demoFS(t), web.Options{
		Brand:       "Northwind Market",
		FlashKey:    demoKey,
		SignOutPath: "/sign-out",
		Nav: []web.NavItem{
			{Label: "nav.dashboard", Path: "/"},
			{Label: "nav.products", Path: "/demo"},
			{Label: "nav.orders", Path: "/orders", Badge: "3"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	if err := web.Assets(app); err != nil {
		t.Fatal(err)
	}
	theme := web.Theme{Primary: "#0f766e", Accent: "#e11d48"}
	app.Get("/theme.css", web.ThemeCSS(func(*fiber.Ctx) (web.Theme, error) { return theme, nil }))
	// What a portal's middleware does: CSRF token, who is signed in, the tenant's branding.
	app.Use(func(c *fiber.Ctx) error {
		web.SetCSRFToken(c, demoCSRF)
		web.SetPrincipal(c, "Ada Lovelace")
		web.SetBranding(c, web.Branding{Name: "Northwind Market", Theme: theme})
		if c.Method() == fiber.MethodPost && c.FormValue(web.CSRFField) != demoCSRF {
			return fault.New(fault.Forbidden, "csrf", "the form is out of date; reload the page")
		}
		return c.Next()
	})
	app.Post("/locale", r.SetLocale)
	app.Get("/demo", func(c *fiber.Ctx) error {
		return r.Render(c, fiber.StatusOK, "demo", demoPage(c, r, web.FormFrom(nil, map[string]string{"status": "active"})))
	})
	app.Post("/demo", func(c *fiber.Ctx) error {
		values := web.FormValues(c)
		bad := map[string]string{}
		if strings.TrimSpace(values["name"]) == "" {
			bad["body.name"] = "form.required"
		}
		if !strings.Contains(values["email"], "@") {
			bad["body.email"] = "form.email_invalid"
		}
		if _, err := money.ParseDecimal(values["price"], "USD"); err != nil {
			bad["body.price"] = "form.amount_invalid"
		}
		if len(bad) > 0 {
			err := fault.Fields(bad)
			if !web.Fixable(err) {
				return err
			}
			return r.Render(c, fiber.StatusUnprocessableEntity, "demo", demoPage(c, r, web.FormFrom(err, values)))
		}
		r.Flash(c, web.FlashSuccess, "demo.saved", values["name"])
		return c.Redirect("/demo", fiber.StatusSeeOther)
	})
	app.Post("/demo/delete", func(c *fiber.Ctx) error {
		r.Flash(c, web.FlashSuccess, "flash.deleted")
		return c.Redirect("/demo?deleted="+c.FormValue("id"), fiber.StatusSeeOther)
	})
	app.Get("/demo/products/:id", func(c *fiber.Ctx) error {
		for _, p := range demoRows() {
			if p.ID == c.Params("id") {
				return r.Render(c, fiber.StatusOK, "product", p.Name)
			}
		}
		return r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound})
	})
	app.Get("/missing", func(c *fiber.Ctx) error { return r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound}) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return &demoServer{URL: "http://" + ln.Addr().String(), app: app, r: r}
}

func demoPage(c *fiber.Ctx, r *web.Renderer, form web.Form) demoData {
	locale := r.Locale(c)
	table := web.TableFrom(c, "name", "price", "updated")
	rows := demoRows()
	if q := strings.ToLower(table.Q); q != "" {
		rows = slices.DeleteFunc(rows, func(p demoRow) bool { return !strings.Contains(strings.ToLower(p.Name), q) })
	}
	slices.SortStableFunc(rows, func(a, b demoRow) int {
		var o int
		switch table.Sort {
		case "price":
			o = cmp.Compare(a.Price.Minor, b.Price.Minor)
		case "updated":
			o = a.Updated.Compare(b.Updated)
		default:
			o = cmp.Compare(a.Name, b.Name)
		}
		if table.Desc {
			o = -o
		}
		return o
	})
	// Offset cursors keep the demo short; real lists use httpx.EncodeCursor on the sort key.
	start, _ := strconv.Atoi(table.Cursor)
	start = min(max(start, 0), len(rows))
	const size = 5
	next := ""
	if start+size < len(rows) {
		next = strconv.Itoa(start + size)
	}
	rows = rows[start:min(start+size, len(rows))]

	day := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	var days []string
	for i := range 7 {
		days = append(days, web.FormatShortDate(day.AddDate(0, 0, i), locale))
	}
	var weeks []string
	for i := range 8 {
		weeks = append(weeks, web.FormatShortDate(day.AddDate(0, 0, 7*(i-7)), locale))
	}
	return demoData{
		Form:  form,
		Table: table,
		Rows:  rows,
		Next:  next,
		Statuses: []web.Option{
			{Value: "active", Label: "status.active"}, {Value: "draft", Label: "status.draft"},
			{Value: "archived", Label: "status.archived"},
		},
		Orders7d: web.Chart{Title: "demo.orders_chart", Labels: days,
			Series: []web.Series{{Name: "nav.orders", Values: []int64{132, 148, 121, 170, 214, 251, 198}}}},
		Revenue: web.Chart{Kind: "line", Title: "demo.revenue_chart", Labels: weeks, Currency: "USD",
			Series: []web.Series{
				{Name: "demo.this_year", Values: []int64{812000, 905000, 870000, 1012000, 1103000, 1180000, 1320000, 1234567}},
				{Name: "demo.last_year", Values: []int64{640000, 700000, 690000, 760000, 810000, 905000, 980000, 1010000}},
			}},
		Sales:    money.MustNew(1234567, "USD"),
		Orders:   1234,
		SaleEnds: time.Now().Add(2*time.Hour + 14*time.Minute),
		Today:    time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC),
		Since:    time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC),
	}
}
