package storefront

import (
	"github.com/gofiber/fiber/v2"

	"mercato/platform/httpx"
	"mercato/platform/web"
	"mercato/tenants/merchants"
	"mercato/tenants/search"
)

// homePage is the store's front page: a welcome, a search box, the newest products, the
// categories, its active merchants and the call to sell.
type homePage struct {
	SignedIn   bool
	Featured   []card
	Categories []link
	Merchants  []merchants.PublicMerchant
	Table      web.TableState
	Next       string // cursor of the next page of merchants; "" on the last
}

// merchantsPerPage fills two columns on a wide screen.
const merchantsPerPage = 12

// featuredCount is how many of the newest products the home page shows.
const featuredCount = 8

func (s *storefront) home(c *fiber.Ctx, v *visit) error {
	ctx := c.UserContext()
	table := web.TableFrom(c)
	page, err := s.d.Merchants.ListActive(ctx, v.tenant.ID, httpx.PageParams{Limit: merchantsPerPage, Cursor: table.Cursor})
	if err != nil {
		return err
	}
	featured, err := s.d.Search.Search(ctx, v.tenant.ID, search.Query{Sort: search.SortNewest, Currency: v.tenant.DefaultCurrency,
		PageParams: httpx.PageParams{Limit: featuredCount}})
	if err != nil {
		return err
	}
	locale := s.r.Locale(c)
	home := homePage{SignedIn: v.shopper != nil, Featured: cards(featured.Items, locale), Merchants: page.Items, Table: table, Next: page.NextCursor}
	for _, cc := range featured.Facets.Categories {
		if cc.ParentID == nil {
			home.Categories = append(home.Categories, link{Href: "/c/" + cc.Slug, Label: localized(cc.Name, locale), Count: cc.Count})
		}
	}
	return s.r.Render(c, fiber.StatusOK, "home", home)
}
