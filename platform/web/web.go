// Package web renders Mercato's server-side pages: embedded templates with one layout system,
// the shared stylesheet and scripts, per-tenant themes, en and zh-CN messages, and the form,
// table and flash conventions every portal uses.
//
// A portal (apps/admin, apps/console, apps/storefront) embeds a folder laid out as
//
//	pages/<name>.html     one page each: {{define "title"}}...{{end}} {{define "content"}}...{{end}}
//	partials/*.html       optional templates shared by its pages
//	messages/en.json      optional portal strings; messages/zh-CN.json must have the same keys
//
// and passes it to New. Pages are parsed once, at start, per locale, with the template
// functions bound to that locale: t, tn, money, date, datetime, shortdate, number, field,
// selectfield, formerrors, csrf, sortlink, pagelink, filterform, json, chart, badge, empty,
// countdown, dict, initial.
//
// Conventions every page follows: a page template defines "title" and "content", and
// content starts with the page's one <h1>. Forms are POSTed with {{csrf $}}; a handler
// answers a fixable error by rendering the page again with status 422 and FormFrom(err,
// values), and success with r.Flash and a 303 redirect. Tables read TableFrom(c, keys...)
// and render headers with sortlink, paging with pagelink. A data table that should become
// cards on phones has class "data cards", a data-label on each cell, and the row's name in
// its first cell. Forms that destroy something carry data-confirm="{{t "confirm.delete"}}".
// Nothing is loaded from another origin, and pages carry no inline script or style.
package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
	"mercato/platform/scope"
)

//go:embed layouts pages messages assets
var kitFS embed.FS

// ErrUnknownPage is returned by Render for a page the renderer did not parse: a bug in the
// handler, so it is an internal error.
var ErrUnknownPage = fault.New(fault.Internal, "unknown_page", "unknown page")

// Options configures a portal's renderer.
type Options struct {
	Brand         string    // product or portal name, shown in the header and the <title>
	Home          string    // where the brand links to and redirects fall back to; default "/"
	Nav           []NavItem // the main navigation; SetNav replaces it for one request
	DefaultLocale string    // used when neither cookie, browser nor tenant decides; default "en"
	FlashKey      []byte    // at least 32 bytes; signs flash cookies
	SecureCookies bool      // set Secure on cookies (the site is served over HTTPS)
	LocalePath    string    // where the locale switcher posts; default "/locale"
	SignOutPath   string    // where the sign-out button posts; "" shows no button
	AssetsPath    string    // where Assets is mounted; default "/assets"
	ThemePath     string    // where ThemeCSS is mounted; default "/theme.css"
	Now           func() time.Time
}

// NavItem is one link of the main navigation; Label is a catalogue key or text.
type NavItem struct {
	Label   string
	Path    string
	Badge   string // short text beside the label, such as a cart count; "" for none
	Current bool   // set by Render for the item the request's path is under
}

// LocaleChoice is one entry of the locale switcher, named in its own language.
type LocaleChoice struct {
	Code, Name string
	Current    bool
}

// Page is what every template receives as its root: the layout's data and the page's own
// in Data. Inside a page template, $ is the Page: {{csrf $}}, {{$.Locale}}.
type Page struct {
	Status      int
	Locale      string
	Brand       string
	Home        string
	Theme       Theme
	ThemeURL    string // "" when the tenant has no theme: the stylesheet's defaults apply
	Principal   string // display name of who is signed in; "" for nobody
	CSRFToken   string
	Flash       *Flash
	Nav         []NavItem
	Path        string // this request's path and query, where the locale switcher returns to
	Locales     []LocaleChoice
	CSSURL      string
	JSURL       string
	LocalePath  string
	SignOutPath string
	Data        any
}

// Renderer renders a portal's pages. It is safe for concurrent use.
type Renderer struct {
	opts   Options
	cat    catalogue
	pages  map[string]map[string]*template.Template // locale -> page -> template set
	assets assetTable
	bufs   sync.Pool
}

// New parses the kit's layouts and the portal's templates and messages from fsys. It fails
// on a template that does not parse, a page without a "title" or "content" template, catalogues whose
// keys differ between locales, or a flash key shorter than 32 bytes.
func New(fsys fs.FS, opts Options) (*Renderer, error) {
	if len(opts.FlashKey) < 32 {
		return nil, errors.New("web: FlashKey must be at least 32 bytes")
	}
	opts.FlashKey = bytes.Clone(opts.FlashKey)
	if opts.Home == "" {
		opts.Home = "/"
	}
	if opts.LocalePath == "" {
		opts.LocalePath = "/locale"
	}
	if opts.AssetsPath == "" {
		opts.AssetsPath = "/assets"
	}
	if opts.ThemePath == "" {
		opts.ThemePath = "/theme.css"
	}
	if loc, ok := MatchLocale(opts.DefaultLocale); ok {
		opts.DefaultLocale = loc
	} else {
		opts.DefaultLocale = LocaleEN
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cat, err := loadCatalogue(kitFS, fsys)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	r := &Renderer{opts: opts, cat: cat, pages: map[string]map[string]*template.Template{}, assets: assets}
	r.bufs.New = func() any { return new(bytes.Buffer) }

	kitPages, err := pageFiles(kitFS)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	portalPages, err := pageFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	partials, err := fs.Glob(fsys, "partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	for _, loc := range Locales() {
		funcs := (&funcSet{locale: loc, cat: cat, now: opts.Now}).funcMap()
		base, err := template.New("base").Funcs(funcs).ParseFS(kitFS, "layouts/*.html")
		if err != nil {
			return nil, fmt.Errorf("web: parse layouts: %w", err)
		}
		if len(partials) > 0 {
			if base, err = base.ParseFS(fsys, partials...); err != nil {
				return nil, fmt.Errorf("web: parse partials: %w", err)
			}
		}
		r.pages[loc] = map[string]*template.Template{}
		for _, src := range []struct {
			fsys  fs.FS
			files map[string]string
		}{{kitFS, kitPages}, {fsys, portalPages}} { // portal pages may replace the kit's (error)
			for name, file := range src.files {
				set, err := base.Clone()
				if err == nil {
					set, err = set.ParseFS(src.fsys, file)
				}
				if err != nil {
					return nil, fmt.Errorf("web: parse page %s: %w", name, err)
				}
				if set.Lookup("content") == nil {
					return nil, fmt.Errorf("web: page %s defines no \"content\" template", name)
				}
				// Every page needs its own <title> (WCAG 2.4.2): the layout's empty block
				// still being there means the page forgot it.
				if set.Lookup("title").Tree.ParseName == base.Lookup("title").Tree.ParseName {
					return nil, fmt.Errorf("web: page %s defines no \"title\" template", name)
				}
				r.pages[loc][name] = set
			}
		}
	}
	return r, nil
}

// pageFiles maps page names ("products/edit") to files ("pages/products/edit.html").
func pageFiles(fsys fs.FS) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(fsys, "pages", func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == "pages" {
			return fs.SkipDir
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(p) == ".html" {
			files[strings.TrimSuffix(strings.TrimPrefix(p, "pages/"), ".html")] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pages: %w", err)
	}
	return files, nil
}

func (r *Renderer) now() time.Time { return r.opts.Now() }

// Locale is the locale the request's page is shown in: the lang cookie, then
// Accept-Language, then the tenant's default (SetBranding), then Options.DefaultLocale.
func (r *Renderer) Locale(c *fiber.Ctx) string {
	def := r.opts.DefaultLocale
	if st := stateOf(c, false); st != nil && st.branding.DefaultLocale != "" {
		def = st.branding.DefaultLocale
	}
	return NegotiateLocale(c.Cookies(LocaleCookie), c.Get(fiber.HeaderAcceptLanguage), def)
}

// T translates key for the request's locale, for text a handler builds outside a template.
func (r *Renderer) T(c *fiber.Ctx, key string, args ...string) string {
	return format(r.cat.lookup(r.Locale(c), key), args)
}

// Render writes page with status as the response. It reads and clears the flash, fills
// the Page from what the portal's middleware set (SetCSRFToken, SetPrincipal,
// SetBranding, SetNav) and renders into a buffer first, so a template error gives an error
// to return rather than half a page.
func (r *Renderer) Render(c *fiber.Ctx, status int, page string, data any) error {
	locale := r.Locale(c)
	set := r.pages[locale][page]
	if set == nil {
		return fmt.Errorf("render %s: %w", page, ErrUnknownPage)
	}
	p := r.page(c, status, locale, data)
	buf := r.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer r.bufs.Put(buf)
	if err := set.ExecuteTemplate(buf, "base", p); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentLanguage, locale)
	c.Vary(fiber.HeaderAcceptLanguage, fiber.HeaderCookie)
	// Pages carry a CSRF token and personal data: no shared cache may keep them.
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Response().SetBody(buf.Bytes()) // copies, so the buffer can go back to the pool
	return nil
}

func (r *Renderer) page(c *fiber.Ctx, status int, locale string, data any) *Page {
	st := stateOf(c, false)
	if st == nil {
		st = &state{}
	}
	p := &Page{
		Status:      status,
		Locale:      locale,
		Brand:       r.opts.Brand,
		Home:        r.opts.Home,
		Principal:   st.principal,
		CSRFToken:   st.csrf,
		Flash:       r.takeFlash(c),
		Path:        SafePath(c.OriginalURL(), r.opts.Home),
		CSSURL:      r.opts.AssetsPath + "/app.css?v=" + r.assets["app.css"].version,
		JSURL:       r.opts.AssetsPath + "/app.js?v=" + r.assets["app.js"].version,
		LocalePath:  r.opts.LocalePath,
		SignOutPath: r.opts.SignOutPath,
		Data:        data,
	}
	p.Path = strings.Clone(p.Path)
	if p.Flash != nil {
		p.Flash.Text = format(r.cat.lookup(locale, p.Flash.Message), p.Flash.Args)
	}
	if st.branding.Name != "" {
		p.Brand = st.branding.Name
	}
	if t := st.branding.Theme; !t.IsZero() {
		p.Theme = t
		if p.Theme.LogoURL != "" && SafePath(p.Theme.LogoURL, "") == "" {
			p.Theme.LogoURL = "" // never point an <img> elsewhere, even if a bad theme was stored
		}
		p.ThemeURL = r.opts.ThemePath + "?v=" + t.Version()
	}
	nav := r.opts.Nav
	if st.nav != nil {
		nav = st.nav
	}
	// The current item is the longest path the request is at or under, so a portal's home
	// ("/admin") is not current on every page below it; a storefront's home ("/") is current
	// only on itself.
	reqPath, best := c.Path(), -1
	for i, item := range nav {
		under := reqPath == item.Path || item.Path != "/" && strings.HasPrefix(reqPath, strings.TrimSuffix(item.Path, "/")+"/")
		if under && (best < 0 || len(item.Path) > len(nav[best].Path)) {
			best = i
		}
	}
	for i, item := range nav {
		item.Current = i == best
		p.Nav = append(p.Nav, item)
	}
	for _, loc := range Locales() {
		p.Locales = append(p.Locales, LocaleChoice{Code: loc, Name: r.cat.lookup(loc, "locale.name"), Current: loc == locale})
	}
	return p
}

// ErrorPage is what the kit's "error" page shows. Title and Message are catalogue keys or
// text; empty ones default from the status ("error.404.title", ...).
type ErrorPage struct {
	Status    int
	Title     string
	Message   string
	RequestID string // filled by RenderError from the request
}

// RenderError renders the kit's error page (or the portal's own pages/error.html) with the
// request id, so a person can quote it: r.RenderError(c, web.ErrorPage{Status: 404}).
func (r *Renderer) RenderError(c *fiber.Ctx, e ErrorPage) error {
	if e.Status == 0 {
		e.Status = fiber.StatusInternalServerError
	}
	key := "error.500"
	switch e.Status {
	case fiber.StatusNotFound, fiber.StatusForbidden, fiber.StatusServiceUnavailable:
		key = fmt.Sprintf("error.%d", e.Status)
	}
	if e.Title == "" {
		e.Title = key + ".title"
	}
	if e.Message == "" {
		e.Message = key + ".text"
	}
	e.RequestID = scope.RequestIDFrom(c.UserContext())
	return r.Render(c, e.Status, "error", e)
}

// state is what the portal's middleware tells the renderer about the request.
type state struct {
	csrf, principal string
	branding        Branding
	nav             []NavItem
}

// Branding is a tenant's presentation: its name in the header, its theme and its default
// locale. The console and storefront set it per request; the admin portal leaves it unset.
type Branding struct {
	Name          string
	Theme         Theme
	DefaultLocale string
}

type stateKey struct{}

func stateOf(c *fiber.Ctx, create bool) *state {
	if st, ok := c.Locals(stateKey{}).(*state); ok {
		return st
	}
	if !create {
		return nil
	}
	st := &state{}
	c.Locals(stateKey{}, st)
	return st
}

// SetCSRFToken gives the page the token its forms must carry ({{csrf $}}).
func SetCSRFToken(c *fiber.Ctx, token string) { stateOf(c, true).csrf = strings.Clone(token) }

// SetPrincipal shows who is signed in; the header then offers to sign out.
func SetPrincipal(c *fiber.Ctx, displayName string) {
	stateOf(c, true).principal = strings.Clone(displayName)
}

// SetBranding applies a tenant's name, theme and default locale to the request's pages.
func SetBranding(c *fiber.Ctx, b Branding) {
	b.Name = strings.Clone(b.Name)
	stateOf(c, true).branding = b
}

// SetNav replaces the renderer's navigation for one request (for example, by role).
func SetNav(c *fiber.Ctx, items []NavItem) { stateOf(c, true).nav = items }
