package storefront

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/promotions"
	"mercato/tenants/search"
)

// Browse pages: search results, category listings and the product page. Each reads the store
// in one search query (categories, filterable attributes and the documents in one round
// trip each) and the product page in one query plus one for flash sales.

// resultsPerPage fills a two-column grid evenly.
const resultsPerPage = 12

// lowStock is where "in stock" becomes "only N left".
const lowStock = 5

// card is a product in a grid, in the shopper's locale.
type card struct {
	Slug, Title, Merchant, Image string
	Price                        money.Amount
	CompareAt                    *money.Amount
}

// choice is one checkbox of a facet.
type choice struct {
	Name, Value, Label string
	Count              int
	Checked            bool
	From, To           *money.Amount // price buckets: the range, labelled by the template
}

// facetGroup is one fieldset of the filter form.
type facetGroup struct {
	Legend  string // catalogue key or the attribute's name
	Choices []choice
}

// link is a category to browse into, with its count.
type link struct {
	Href, Label string
	Count       int
	Current     bool
}

// resultsPage is the search page and the category page: the same grid, facets and sorts.
type resultsPage struct {
	Heading    string // category name; "" on the search page
	Action     string // where the filter form goes: this page's path
	Q          string
	Total      int
	Cards      []card
	Categories []link
	Groups     []facetGroup
	Sort       string
	Sorts      []string
	Table      web.TableState
	Next       string
	Filtered   bool // any filter ticked: offer to clear them
}

// localized picks the shopper's locale, then English, then any.
func localized(m map[string]string, locale string) string {
	if v := m[locale]; v != "" {
		return v
	}
	if v := m["en"]; v != "" {
		return v
	}
	for _, v := range m {
		return v
	}
	return ""
}

// amount is minor units of a store currency; the catalog only holds known currencies, so the
// fallback (an amount printed without its symbol) never shows in practice.
func amount(minor int64, currency string) money.Amount {
	a, err := money.New(minor, money.Currency(currency))
	if err != nil {
		return money.Amount{Minor: minor, Currency: money.Currency(currency)}
	}
	return a
}

// mediaURL is where the storefront serves an image's object.
func mediaURL(key string) string {
	if key == "" {
		return ""
	}
	return "/media/" + key
}

func cards(hits []search.Hit, locale string) []card {
	out := make([]card, len(hits))
	for i, h := range hits {
		c := card{Slug: h.Slug, Title: localized(h.Title, locale), Merchant: h.MerchantName, Image: mediaURL(h.ImageKey),
			Price: amount(h.PriceMinor, h.Currency)}
		if h.CompareAtMinor != nil {
			a := amount(*h.CompareAtMinor, h.Currency)
			c.CompareAt = &a
		}
		out[i] = c
	}
	return out
}

// errBadFilter answers a query string the store's filters cannot read: a 400 page, not the
// API's 422, because a person followed or edited a link.
var errBadFilter = fault.New(fault.Invalid, "bad_filter", "the filters in the address are not valid")

// searchQuery reads the filter form's GET parameters.
func searchQuery(c *fiber.Ctx, table web.TableState) (search.Query, error) {
	q := search.Query{Q: table.Q, Sort: table.Sort, PageParams: httpx.PageParams{Limit: resultsPerPage, Cursor: table.Cursor}}
	args := c.Request().URI().QueryArgs()
	for _, v := range args.PeekMulti("merchant") {
		id, err := uuid.Parse(string(v))
		if err != nil {
			return search.Query{}, errBadFilter
		}
		q.MerchantIDs = append(q.MerchantIDs, id)
	}
	for _, v := range args.PeekMulti("price") {
		r, ok := search.ParsePriceRange(string(v))
		if !ok {
			return search.Query{}, errBadFilter
		}
		q.Prices = append(q.Prices, r)
	}
	for _, v := range args.PeekMulti("attr") {
		code, val, ok := strings.Cut(string(v), ":")
		if !ok {
			return search.Query{}, errBadFilter
		}
		if q.Attributes == nil {
			q.Attributes = map[string][]string{}
		}
		q.Attributes[code] = append(q.Attributes[code], val)
	}
	if s := string(args.Peek("sort")); s != "" && !slices.Contains(search.Sorts, s) {
		return search.Query{}, errBadFilter
	}
	return q, nil
}

// runSearch searches for a page; the search's own field errors (an unknown attribute, a
// cursor from elsewhere) are the same bad address as ours.
func (s *storefront) runSearch(c *fiber.Ctx, v *visit, q search.Query) (search.Result, error) {
	q.Currency = v.tenant.DefaultCurrency
	res, err := s.d.Search.Search(c.UserContext(), v.tenant.ID, q)
	if de := fault.As(err); de != nil && de.Kind == fault.Unprocessable {
		return search.Result{}, errBadFilter
	}
	return res, err
}

func (s *storefront) searchPage(c *fiber.Ctx, v *visit) error {
	return s.results(c, v, "")
}

func (s *storefront) categoryPage(c *fiber.Ctx, v *visit) error {
	slug := strings.ToLower(c.Params("slug"))
	if slug == "" {
		return fiber.ErrNotFound
	}
	return s.results(c, v, slug)
}

func (s *storefront) results(c *fiber.Ctx, v *visit, category string) error {
	table := web.TableFrom(c, search.Sorts...)
	q, err := searchQuery(c, table)
	if err != nil {
		return err
	}
	q.CategorySlug = category
	res, err := s.runSearch(c, v, q)
	if errors.Is(err, search.ErrCategoryNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	locale := s.r.Locale(c)
	page := resultsPage{Action: c.Path(), Q: table.Q, Total: res.Total, Cards: cards(res.Items, locale), Sort: table.Sort,
		Sorts: search.Sorts, Table: table, Next: res.NextCursor,
		Filtered: len(q.MerchantIDs)+len(q.Prices)+len(q.Attributes) > 0}
	if res.Category != nil {
		page.Heading = localized(res.Category.Name, locale)
	}
	// Categories one level below where the shopper is (the top level on the search page),
	// each keeping the words searched for.
	var parent *uuid.UUID
	if res.Category != nil {
		parent = &res.Category.ID
	}
	for _, cc := range res.Facets.Categories {
		if (parent == nil) != (cc.ParentID == nil) || (parent != nil && *cc.ParentID != *parent) {
			continue
		}
		href := "/c/" + cc.Slug
		if table.Q != "" {
			href += "?" + url.Values{"q": {table.Q}}.Encode()
		}
		page.Categories = append(page.Categories, link{Href: href, Label: localized(cc.Name, locale), Count: cc.Count})
	}
	page.Groups = facetGroups(c, res, locale)
	return s.r.Render(c, fiber.StatusOK, "search", page)
}

// facetGroups turns the result's facets into the filter form's checkboxes, ticked as the
// query string has them.
func facetGroups(c *fiber.Ctx, res search.Result, locale string) []facetGroup {
	args := c.Request().URI().QueryArgs()
	ticked := map[string]bool{}
	for _, name := range []string{"merchant", "price", "attr"} {
		for _, v := range args.PeekMulti(name) {
			ticked[name+"="+string(v)] = true
		}
	}
	var groups []facetGroup
	if len(res.Facets.Merchants) > 0 {
		g := facetGroup{Legend: "storefront.browse.facet.merchant"}
		for _, m := range res.Facets.Merchants {
			val := m.ID.String()
			g.Choices = append(g.Choices, choice{Name: "merchant", Value: val, Label: m.Name, Count: m.Count, Checked: ticked["merchant="+val]})
		}
		groups = append(groups, g)
	}
	if len(res.Facets.Prices) > 0 {
		g := facetGroup{Legend: "storefront.browse.facet.price"}
		for _, p := range res.Facets.Prices {
			from := amount(p.FromMinor, res.Currency)
			ch := choice{Name: "price", Value: p.Range, Count: p.Count, Checked: ticked["price="+p.Range], From: &from}
			if p.ToMinor > 0 {
				to := amount(p.ToMinor, res.Currency)
				ch.To = &to
			}
			g.Choices = append(g.Choices, ch)
		}
		groups = append(groups, g)
	}
	for _, a := range res.Facets.Attributes {
		g := facetGroup{Legend: localized(a.Name, locale)}
		for _, v := range a.Values {
			val := a.Code + ":" + v.Value
			g.Choices = append(g.Choices, choice{Name: "attr", Value: val, Label: v.Value, Count: v.Count, Checked: ticked["attr="+val]})
		}
		groups = append(groups, g)
	}
	return groups
}

// variantView is one variant of the picker.
type variantView struct {
	ID        uuid.UUID
	Label     string // its option values, "Colour: black · Size: M"
	Price     money.Amount
	CompareAt *money.Amount
	Available int
	Stock     string // "in", "low" or "out"
	Flash     *flashView
	Checked   bool
}

// flashView is a running flash sale of a variant.
type flashView struct {
	Price     money.Amount
	Remaining int
	EndsAt    time.Time
}

type imageView struct{ URL, Alt string }

type productPage struct {
	Slug, Title, Description, Merchant string
	Category                           *link
	Images                             []imageView
	Variants                           []variantView
	Selected                           *variantView // the variant the price at the top is for
	Buyable                            bool         // some variant is in stock
}

func (s *storefront) productPage(c *fiber.Ctx, v *visit) error {
	ctx := c.UserContext()
	p, err := s.d.Search.Product(ctx, v.tenant.ID, c.Params("slug"), v.tenant.DefaultCurrency)
	if errors.Is(err, search.ErrProductNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	locale := s.r.Locale(c)
	flash := map[uuid.UUID]promotions.FlashPrice{}
	if s.d.Promotions != nil && len(p.Variants) > 0 {
		ids := make([]uuid.UUID, len(p.Variants))
		for i, vr := range p.Variants {
			ids[i] = vr.ID
		}
		if flash, err = s.d.Promotions.FlashPrices(ctx, v.tenant.ID, ids, p.Currency); err != nil {
			return err
		}
	}
	page := productPage{Slug: p.Slug, Title: localized(p.Title, locale), Description: localized(p.Description, locale),
		Merchant: p.MerchantName}
	if p.Category != nil {
		page.Category = &link{Href: "/c/" + p.Category.Slug, Label: localized(p.Category.Name, locale)}
	}
	for _, im := range p.Images {
		alt := localized(im.Alt, locale)
		if alt == "" {
			alt = page.Title
		}
		page.Images = append(page.Images, imageView{URL: mediaURL(im.Key), Alt: alt})
	}
	names := map[string]string{}
	for _, o := range p.Options {
		names[o.Code] = localized(o.Name, locale)
	}
	want, _ := uuid.Parse(c.Query("variant"))
	for _, vr := range p.Variants {
		vv := variantView{ID: vr.ID, Price: amount(vr.PriceMinor, p.Currency), Available: vr.Available, Stock: "in"}
		var parts []string
		for _, o := range p.Options {
			if val, ok := vr.OptionValues[o.Code]; ok {
				parts = append(parts, names[o.Code]+": "+val)
			}
		}
		vv.Label = strings.Join(parts, " · ")
		if vv.Label == "" {
			vv.Label = vr.SKU
		}
		if vr.CompareAtMinor != nil {
			a := amount(*vr.CompareAtMinor, p.Currency)
			vv.CompareAt = &a
		}
		switch {
		case vr.Available <= 0:
			vv.Stock = "out"
		case vr.Available <= lowStock:
			vv.Stock = "low"
		}
		if f, ok := flash[vr.ID]; ok && vr.Available > 0 {
			vv.Flash = &flashView{Price: amount(f.PriceMinor, f.Currency), Remaining: min(f.Remaining, vr.Available), EndsAt: f.EndsAt}
		}
		page.Variants = append(page.Variants, vv)
	}
	// The variant asked for (?variant=), else the first on a flash sale (its price and
	// countdown are what the shopper came for), else the first in stock, else the first.
	pick := -1
	for i, vv := range page.Variants {
		if vv.ID == want && vv.Stock != "out" {
			pick = i
		}
	}
	for i, vv := range page.Variants {
		if pick < 0 && vv.Flash != nil && vv.Stock != "out" {
			pick = i
		}
	}
	for i, vv := range page.Variants {
		if pick < 0 && vv.Stock != "out" {
			pick = i
		}
	}
	if pick >= 0 {
		page.Buyable = true
	} else if len(page.Variants) > 0 {
		pick = 0
	}
	if pick >= 0 {
		page.Variants[pick].Checked = true
		page.Selected = &page.Variants[pick]
	}
	return s.r.Render(c, fiber.StatusOK, "product", page)
}
