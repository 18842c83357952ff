package storefront

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/cart"
	"mercato/tenants/promotions"
)

// cartPage is the shopper's cart: lines grouped by merchant, each merchant's subtotal,
// problems on the lines that changed, and a coupon preview.
type cartPage struct {
	Groups   []cartGroup
	Subtotal money.Amount
	Count    int
	Problems bool
	Coupon   couponPreview
	Total    money.Amount // subtotal less the previewed discount
	Checkout string       // the checkout link, carrying a coupon that applies
}

type cartGroup struct {
	Merchant string
	Lines    []cartLine
	Subtotal money.Amount
}

type cartLine struct {
	ID        uuid.UUID
	Title     string
	Href      string
	Image     string
	Options   string
	SKU       string
	Quantity  int
	Max       int // the most the quantity field allows: stock, at most 99
	Unit      money.Amount
	List      *money.Amount // the struck-through regular price while a flash sale applies
	Total     money.Amount
	Buyable   bool
	Problem   string // catalogue key; "" for none
	Available int
	Error     string // catalogue key of a refused change to this line; "" for none
	ErrorArg  string
}

// couponPreview is what the coupon field shows: the code typed and either its discount or why
// it does not apply (a catalogue key).
type couponPreview struct {
	Code     string // as typed
	Applied  string // as the coupon has it, when it applies
	Discount money.Amount
	Error    string
}

// cartOwner is whose cart the visit shows: the signed-in shopper's, or the guest session's;
// false for a visitor without a session, who has no cart yet.
func cartOwner(v *visit) (cart.Owner, bool) {
	switch v.principal.Kind {
	case identity.KindShopper:
		return cart.Owner{ShopperID: v.principal.ShopperID}, true
	case identity.KindGuest:
		return cart.Owner{GuestSessionID: v.principal.SessionID}, v.principal.SessionID != uuid.Nil
	}
	return cart.Owner{}, false
}

// shopperKey names the shopper for coupon limits; a guest is known by e-mail only at checkout.
func shopperKey(v *visit) string {
	if v.shopper != nil {
		return "shopper:" + v.shopper.ID.String()
	}
	return ""
}

// cartNav is the navigation's cart link with the number of units in the cart as its badge.
func (s *storefront) cartNav(c *fiber.Ctx, v *visit) (web.NavItem, error) {
	item := web.NavItem{Label: "nav.cart", Path: "/cart"}
	owner, ok := cartOwner(v)
	if !ok {
		return item, nil
	}
	n, err := s.d.Cart.Count(c.UserContext(), v.tenant.ID, owner)
	if err != nil {
		return item, err
	}
	if n > 0 {
		item.Badge = strconv.Itoa(n)
	}
	return item, nil
}

// problemKeys are the catalogue keys of the problems a line can show.
var problemKeys = map[string]string{
	cart.ProblemPriceChanged:    "storefront.cart.problem.price_changed",
	cart.ProblemQuantityReduced: "storefront.cart.problem.quantity_reduced",
	cart.ProblemOutOfStock:      "storefront.cart.problem.out_of_stock",
	cart.ProblemUnavailable:     "storefront.cart.problem.unavailable",
}

// errorKeys turn the domain errors a shopper can cause into catalogue keys.
var errorKeys = []struct {
	err error
	key string
}{
	{cart.ErrNotEnoughStock, "storefront.cart.error.stock"},
	{cart.ErrOutOfStock, "storefront.cart.error.out_of_stock"},
	{cart.ErrUnavailable, "storefront.cart.error.unavailable"},
	{cart.ErrVariantNotFound, "storefront.cart.error.unavailable"},
	{cart.ErrCartFull, "storefront.cart.error.full"},
	{promotions.ErrCouponNotFound, "storefront.cart.coupon.unknown"},
	{promotions.ErrCouponNotActive, "storefront.cart.coupon.not_active"},
	{promotions.ErrCouponMinSpend, "storefront.cart.coupon.min_spend"},
	{promotions.ErrCouponExhausted, "storefront.cart.coupon.exhausted"},
	{promotions.ErrCouponShopperLimit, "storefront.cart.coupon.shopper_limit"},
	{promotions.ErrCouponNotApplicable, "storefront.cart.coupon.not_applicable"},
}

// errorKey is the catalogue key for err, "" when it is not one a shopper can fix; a bad
// quantity is the one field error the cart's forms can cause.
func errorKey(err error) string {
	for _, e := range errorKeys {
		if errors.Is(err, e.err) {
			return e.key
		}
	}
	if fe := fault.As(err); fe != nil && fe.Kind == fault.Invalid {
		return "storefront.cart.error.quantity"
	}
	return ""
}

// cartView renders the cart; lineErr marks a refused change of one line.
func (s *storefront) cartView(c *fiber.Ctx, v *visit, status int, lineID uuid.UUID, lineErr string) error {
	ctx := c.UserContext()
	locale := s.r.Locale(c)
	// A visitor who has posted nothing yet has no session, so no cart: an empty one.
	view := cart.View{Currency: v.tenant.DefaultCurrency}
	if owner, ok := cartOwner(v); ok {
		var err error
		if view, err = s.d.Cart.View(ctx, v.tenant.ID, owner, locale); err != nil {
			return err
		}
	}
	page := cartPage{Subtotal: amount(view.SubtotalMinor, view.Currency), Count: view.Count, Problems: view.Problems(), Checkout: "/checkout"}
	for _, g := range view.Groups {
		cg := cartGroup{Merchant: g.MerchantName, Subtotal: amount(g.SubtotalMinor, view.Currency)}
		for _, l := range g.Lines {
			cl := cartLine{ID: l.ID, Title: l.Title, Href: "/p/" + l.ProductSlug, Image: mediaURL(l.ImageKey), Options: optionText(l.OptionValues),
				SKU: l.SKU, Quantity: l.Quantity, Max: max(1, min(l.Available, cart.MaxQuantity)), Unit: amount(l.UnitPriceMinor, view.Currency),
				Total: amount(l.TotalMinor(), view.Currency), Buyable: l.Buyable(), Problem: problemKeys[l.Problem], Available: l.Available}
			if l.FlashSaleID != nil {
				list := amount(l.ListPriceMinor, view.Currency)
				cl.List = &list
			}
			if l.ProductSlug == "" {
				cl.Href = ""
			}
			if l.ID == lineID {
				cl.Error = lineErr
				cl.ErrorArg = strconv.Itoa(l.Available)
			}
			cg.Lines = append(cg.Lines, cl)
		}
		page.Groups = append(page.Groups, cg)
	}
	page.Total = page.Subtotal
	if code := strings.TrimSpace(c.Query("coupon")); code != "" && s.d.Promotions != nil && view.SubtotalMinor > 0 {
		page.Coupon.Code = code
		if len(code) > 64 {
			code = code[:64]
		}
		var lines []promotions.Line
		for _, l := range view.Lines {
			if l.Buyable() {
				lines = append(lines, promotions.Line{VariantID: l.VariantID, MerchantID: l.MerchantID, UnitPriceMinor: l.UnitPriceMinor, Quantity: l.Quantity})
			}
		}
		d, err := s.d.Promotions.Quote(ctx, v.tenant.ID, code, shopperKey(v), view.Currency, lines)
		switch key := errorKey(err); {
		case err == nil:
			page.Coupon.Applied, page.Coupon.Discount = d.Code, amount(d.TotalMinor, view.Currency)
			page.Total = amount(view.SubtotalMinor-d.TotalMinor, view.Currency)
			page.Checkout = "/checkout?coupon=" + d.Code
		case key != "":
			page.Coupon.Error = key
		default:
			return err
		}
	}
	return s.r.Render(c, status, "cart", page)
}

// optionText shows a variant's options as "colour: black, size: M", in a stable order.
func optionText(ov map[string]string) string {
	keys := make([]string, 0, len(ov))
	for k := range ov {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + ov[k]
	}
	return strings.Join(parts, ", ")
}

func (s *storefront) cartShow(c *fiber.Ctx, v *visit) error {
	return s.cartView(c, v, fiber.StatusOK, uuid.Nil, "")
}

// quantityOf reads the quantity field; anything but a whole number is 0, which the service
// refuses (or, for a line, reads as "remove" only when typed as 0).
func quantityOf(values map[string]string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(values["quantity"]))
	return n, err == nil
}

// cartAdd is the product page's "add to cart" form: variant_id and quantity. Success and a
// refusal both go to the cart with a flash message.
func (s *storefront) cartAdd(c *fiber.Ctx, v *visit) error {
	owner, ok := cartOwner(v)
	if !ok {
		return cart.ErrNoOwner
	}
	values := web.FormValues(c)
	variant, err := uuid.Parse(values["variant_id"])
	if err != nil {
		s.r.Flash(c, web.FlashError, "storefront.cart.error.choose")
		return c.Redirect("/cart", fiber.StatusSeeOther)
	}
	qty, ok := quantityOf(values)
	if !ok {
		qty = 0
	}
	err = s.d.Cart.Add(c.UserContext(), v.tenant.ID, owner, variant, qty)
	if key := errorKey(err); key != "" {
		s.r.Flash(c, web.FlashError, key, s.available(c, v, variant))
		return c.Redirect("/cart", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.cart.added")
	return c.Redirect("/cart", fiber.StatusSeeOther)
}

// available is how many of a variant are in stock, for "only {0} in stock"; "" when unknown.
func (s *storefront) available(c *fiber.Ctx, v *visit, variant uuid.UUID) string {
	if s.d.Catalog == nil {
		return ""
	}
	offers, err := s.d.Catalog.Offers(c.UserContext(), v.tenant.ID, []uuid.UUID{variant}, v.tenant.DefaultCurrency)
	if err != nil {
		return ""
	}
	if o, ok := offers[variant]; ok {
		return strconv.Itoa(o.Available)
	}
	return ""
}

// cartUpdate changes a line's quantity (0 removes it). A refused change shows the cart again
// with the reason on the line.
func (s *storefront) cartUpdate(c *fiber.Ctx, v *visit) error {
	owner, ok := cartOwner(v)
	if !ok {
		return cart.ErrNoOwner
	}
	line, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return cart.ErrLineNotFound
	}
	qty, ok := quantityOf(web.FormValues(c))
	if !ok {
		qty = -1
	}
	err = s.d.Cart.SetQuantity(c.UserContext(), v.tenant.ID, owner, line, qty)
	if errors.Is(err, cart.ErrLineNotFound) {
		return err
	}
	if key := errorKey(err); key != "" {
		return s.cartView(c, v, fiber.StatusUnprocessableEntity, line, key)
	}
	if err != nil {
		return err
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.cart.updated")
	return c.Redirect("/cart", fiber.StatusSeeOther)
}

// cartRemove takes a line out of the cart.
func (s *storefront) cartRemove(c *fiber.Ctx, v *visit) error {
	owner, ok := cartOwner(v)
	if !ok {
		return cart.ErrNoOwner
	}
	line, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return cart.ErrLineNotFound
	}
	if err := s.d.Cart.Remove(c.UserContext(), v.tenant.ID, owner, line); err != nil {
		return err
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.cart.removed")
	return c.Redirect("/cart", fiber.StatusSeeOther)
}

// cartRoutes mounts the cart pages; without a cart service the store has none.
func (s *storefront) cartRoutes(app fiber.Router) {
	if s.d.Cart == nil {
		return
	}
	app.Get("/cart", s.page(s.cartShow))
	app.Post("/cart/lines", s.page(s.cartAdd))
	app.Post("/cart/lines/:id", s.page(s.cartUpdate))
	app.Post("/cart/lines/:id/remove", s.page(s.cartRemove))
}
