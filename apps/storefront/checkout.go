package storefront

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/cart"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// checkoutPage is the checkout form: what was typed, each merchant's parcel with its shipping
// choice and totals, and the order's totals, all priced on the server.
type checkoutPage struct {
	Form         web.Form
	Groups       []checkoutGroup
	Totals       orderTotals
	TaxName      string
	TaxInclusive bool
	CouponError  string // catalogue key; "" when the coupon applies or none was typed
	Problems     bool   // some cart line changed since it was added
}

type checkoutGroup struct {
	Merchant string
	Field    string // the shipping choice's form field, "shipping.<merchant id>"
	Options  []shippingChoice
	Free     bool // the merchant charges no shipping
	Error    string
	Lines    []checkoutLine
	Totals   orderTotals
}

type shippingChoice struct {
	ID      string
	Name    string
	Price   money.Amount
	Checked bool
}

type checkoutLine struct {
	Title, Options string
	Quantity       int
	Unit, Total    money.Amount
	Problem        string
}

// orderTotals are an order's, a merchant order's or a line's amounts, as money.
type orderTotals struct {
	Subtotal, Discount, Shipping, Tax, Total money.Amount
}

func totalsOf(a orders.Amounts, currency string) orderTotals {
	return orderTotals{Subtotal: amount(a.SubtotalMinor, currency), Discount: amount(a.DiscountMinor, currency),
		Shipping: amount(a.ShippingMinor, currency), Tax: amount(a.TaxMinor, currency), Total: amount(a.TotalMinor, currency)}
}

// checkoutErrors turn refusals of the whole order a shopper can meet at checkout into the
// catalogue keys of the form's own error.
var checkoutErrors = []struct {
	err error
	key string
}{
	{inventory.ErrInsufficientStock, "storefront.checkout.error.stock"},
	{promotions.ErrFlashSoldOut, "storefront.checkout.error.flash_sold_out"},
	{promotions.ErrFlashEnded, "storefront.checkout.error.flash_ended"},
	{promotions.ErrFlashLimit, "storefront.checkout.error.flash_limit"},
	{orders.ErrCartUnavailable, "storefront.checkout.error.cart_changed"},
	{orders.ErrCartEmpty, "storefront.checkout.error.cart_changed"},
}

// fieldKey is the catalogue key shown beside checkout fields the service refused.
func fieldKey(name string) string {
	switch {
	case name == "email":
		return "storefront.checkout.error.email"
	case name == "address.country":
		return "storefront.checkout.error.country"
	case name == "address.postal_code":
		return "storefront.checkout.error.postal_code"
	case name == "address.region":
		return "storefront.checkout.error.region"
	case strings.HasPrefix(name, "shipping."):
		return "storefront.checkout.error.shipping"
	}
	return "storefront.checkout.error.required"
}

// checkoutInput reads the form (or, on the first visit, the query's coupon).
func checkoutInput(values map[string]string, owner cart.Owner, locale string) orders.CheckoutInput {
	in := orders.CheckoutInput{Owner: owner, Email: values["email"], CouponCode: values["coupon_code"], Locale: locale,
		Shipping: map[uuid.UUID]uuid.UUID{},
		Address: orders.Address{Name: values["address.name"], Line1: values["address.line1"], Line2: values["address.line2"],
			City: values["address.city"], Region: values["address.region"], PostalCode: values["address.postal_code"],
			Country: values["address.country"], Phone: values["address.phone"]}}
	for k, v := range values {
		if rest, ok := strings.CutPrefix(k, "shipping."); ok {
			m, err1 := uuid.Parse(rest)
			r, err2 := uuid.Parse(v)
			if err1 == nil && err2 == nil {
				in.Shipping[m] = r
			}
		}
	}
	return in
}

// checkoutRoutes registers checkout and the shopper's orders when the store has both a cart
// and orders.
func (s *storefront) checkoutRoutes(app fiber.Router) {
	if s.d.Orders == nil || s.d.Cart == nil {
		return
	}
	app.Get("/checkout", s.page(s.checkoutForm))
	app.Post("/checkout", s.page(s.checkoutPost))
	app.Get("/account/orders", s.page(s.myOrders))
	app.Get("/account/orders/:id", s.page(s.myOrder))
}

func (s *storefront) checkoutForm(c *fiber.Ctx, v *visit) error {
	values := map[string]string{"coupon_code": strings.Clone(c.Query("coupon")), "address.country": countryOf(v)}
	if v.shopper != nil {
		values["email"], values["address.name"] = v.shopper.Email, v.shopper.Name
	}
	return s.checkoutRender(c, v, fiber.StatusOK, values, nil)
}

// countryOf is the country the address form starts with: the store's, by its locale.
func countryOf(v *visit) string {
	if v.tenant.DefaultLocale == "zh-CN" {
		return "CN"
	}
	return "US"
}

// checkoutPost either recalculates (the "update totals" button, or a changed shipping choice
// or coupon) or places the order. A refusal shows the form again with what was typed and the
// reason beside its field; success goes to the order's page.
func (s *storefront) checkoutPost(c *fiber.Ctx, v *visit) error {
	owner, ok := cartOwner(v)
	if !ok {
		return cart.ErrNoOwner
	}
	values := web.FormValues(c)
	if values["action"] == "update" {
		return s.checkoutRender(c, v, fiber.StatusOK, values, nil)
	}
	placed, err := s.d.Orders.Checkout(c.UserContext(), v.tenant.ID, checkoutInput(values, owner, s.r.Locale(c)))
	if err != nil && placed.Order.ID == uuid.Nil {
		if web.Fixable(err) {
			return s.checkoutRender(c, v, fiber.StatusUnprocessableEntity, values, err)
		}
		return err
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.checkout.placed", placed.Order.Number)
	if placed.Payment.RedirectURL != "" && web.SafePath(placed.Payment.RedirectURL, "") != "" {
		return c.Redirect(placed.Payment.RedirectURL, fiber.StatusSeeOther)
	}
	return c.Redirect("/account/orders/"+placed.Order.ID.String(), fiber.StatusSeeOther)
}

// checkoutRender prices the cart for what the form holds and shows it; formErr is a refused
// checkout to show beside its fields.
func (s *storefront) checkoutRender(c *fiber.Ctx, v *visit, status int, values map[string]string, formErr error) error {
	owner, ok := cartOwner(v)
	if !ok { // no session yet, so nothing in a cart
		s.r.Flash(c, web.FlashError, "storefront.checkout.empty")
		return c.Redirect("/cart", fiber.StatusSeeOther)
	}
	ctx := c.UserContext()
	in := checkoutInput(values, owner, s.r.Locale(c))
	q, err := s.d.Orders.Preview(ctx, v.tenant.ID, in)
	if errors.Is(err, orders.ErrCartEmpty) {
		s.r.Flash(c, web.FlashError, "storefront.checkout.empty")
		return c.Redirect("/cart", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	page := checkoutPage{Form: web.FormFrom(nil, values), Problems: q.Cart.Problems(), TaxName: q.Tax.Name, TaxInclusive: q.Tax.Inclusive,
		Totals: totalsOf(q.Priced.Amounts, q.Cart.Currency)}
	if formErr != nil {
		page.Form = web.FormFrom(formErr, values)
		for name := range page.Form.Errors {
			if name != "" {
				page.Form.Errors[name] = fieldKey(name)
			}
		}
		if _, whole := page.Form.Errors[""]; whole {
			page.Form.Errors[""] = "storefront.checkout.error.failed"
			for _, e := range checkoutErrors {
				if errors.Is(formErr, e.err) {
					page.Form.Errors[""] = e.key
				}
			}
		}
		if key := errorKey(formErr); strings.HasPrefix(key, "storefront.cart.coupon.") {
			delete(page.Form.Errors, "")
			page.Form.Errors["coupon_code"] = key
		}
		// The fee rules refuse an order whose fees a merchant's lines cannot cover.
		if fe := fault.As(formErr); fe != nil && fe.Code == "negative_share" {
			delete(page.Form.Errors, "")
			page.Form.Errors["coupon_code"] = "storefront.checkout.error.coupon_too_large"
		}
	}
	if in.CouponCode != "" && q.CouponErr != nil {
		if key := errorKey(q.CouponErr); key != "" {
			page.CouponError = key
			page.Form.Errors["coupon_code"] = key
		} else {
			return q.CouponErr
		}
	}
	merchantAt := map[uuid.UUID]int{}
	for i, m := range q.Priced.Merchants {
		merchantAt[m.MerchantID] = i
	}
	for _, g := range q.Cart.Groups {
		field := "shipping." + g.MerchantID.String()
		cg := checkoutGroup{Merchant: g.MerchantName, Field: field, Error: page.Form.Errors[field]}
		opts := q.Options[g.MerchantID]
		cg.Free = len(opts) == 0
		for _, o := range opts {
			cg.Options = append(cg.Options, shippingChoice{ID: o.RateID.String(), Name: o.Name, Price: amount(o.PriceMinor, q.Cart.Currency),
				Checked: q.Chosen[g.MerchantID] == o.RateID})
		}
		for _, l := range g.Lines {
			cg.Lines = append(cg.Lines, checkoutLine{Title: l.Title, Options: optionText(l.OptionValues), Quantity: l.Quantity,
				Unit: amount(l.UnitPriceMinor, q.Cart.Currency), Total: amount(l.TotalMinor(), q.Cart.Currency), Problem: problemKeys[l.Problem]})
		}
		if i, ok := merchantAt[g.MerchantID]; ok {
			cg.Totals = totalsOf(q.Priced.Merchants[i].Amounts, q.Cart.Currency)
		}
		page.Groups = append(page.Groups, cg)
	}
	return s.r.Render(c, status, "checkout", page)
}
