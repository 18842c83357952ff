package storefront

import (
	"github.com/gofiber/fiber/v2"

	"mercato/platform/httpx"
	"mercato/platform/web"
	"mercato/tenants/merchants"
)

// homePage is the store's front page: a welcome, its active merchants and the call to sell.
type homePage struct {
	SignedIn  bool
	Merchants []merchants.PublicMerchant
	Table     web.TableState
	Next      string // cursor of the next page of merchants; "" on the last
}

// merchantsPerPage fills two columns on a wide screen.
const merchantsPerPage = 12

func (s *storefront) home(c *fiber.Ctx, v *visit) error {
	table := web.TableFrom(c)
	page, err := s.d.Merchants.ListActive(c.UserContext(), v.tenant.ID, httpx.PageParams{Limit: merchantsPerPage, Cursor: table.Cursor})
	if err != nil {
		return err
	}
	return s.r.Render(c, fiber.StatusOK, "home", homePage{
		SignedIn: v.shopper != nil, Merchants: page.Items, Table: table, Next: page.NextCursor,
	})
}
