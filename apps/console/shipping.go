package console

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/orders"
)

// shippingPages are the shipping rates (merchant staff manage their own store's; tenant staff
// read every store's) and the marketplace's tax rates (owners and administrators manage
// them), on one page. Capabilities: the API's /v1/shipping-rates and /v1/tax-rates.
func (h *handlers) shippingPages() []page {
	const object = Prefix + "/shipping"
	const rates, taxes = "/v1/shipping-rates", "/v1/tax-rates"
	return []page{
		{fiber.MethodGet, "/shipping", object, rates, authz.ActionRead, false, h.shippingPage},
		{fiber.MethodPost, "/shipping/rates", object, rates, authz.ActionWrite, false, h.createShippingRate},
		{fiber.MethodPost, "/shipping/rates/:id/delete", object, rates, authz.ActionDelete, false, h.deleteShippingRate},
		{fiber.MethodPost, "/shipping/tax-rates", object, taxes, authz.ActionWrite, true, h.createTaxRate},
		{fiber.MethodPost, "/shipping/tax-rates/:id/delete", object, taxes, authz.ActionDelete, true, h.deleteTaxRate},
	}
}

type rateView struct {
	orders.ShippingRate
	Merchant string
	Flat     money.Amount
	FreeOver *money.Amount
	Brackets []bracketView
}

type bracketView struct {
	UpTo  int
	Price money.Amount
}

type taxView struct {
	orders.TaxRate
	Percent string
}

type shippingData struct {
	Rates    []rateView
	Taxes    []taxView
	RateForm web.Form
	TaxForm  web.Form
	Kinds    []web.Option
	CanRates bool // create and delete rates: merchant staff who may write
	CanTaxes bool // see and manage tax rates
	Merchant bool
	Currency string
}

func (h *handlers) shippingPage(c *fiber.Ctx, s *session) error {
	d, err := h.shippingData(c, s, web.FormFrom(nil, map[string]string{"kind": orders.RateFlat, "currency": s.tenant.DefaultCurrency}),
		web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "shipping", d)
}

func (h *handlers) shippingData(c *fiber.Ctx, s *session, rateForm, taxForm web.Form) (shippingData, error) {
	ctx := c.UserContext()
	tid := s.member.TenantID
	d := shippingData{RateForm: rateForm, TaxForm: taxForm, Merchant: s.merchantScope(), Currency: s.tenant.DefaultCurrency,
		CanRates: s.merchantScope() && h.allowed(s, "/v1/shipping-rates", authz.ActionWrite),
		CanTaxes: !s.merchantScope() && h.allowed(s, "/v1/tax-rates", authz.ActionRead),
		Kinds:    []web.Option{{Value: orders.RateFlat, Label: "shipping.kind.flat"}, {Value: orders.RateWeight, Label: "shipping.kind.weight"}}}
	rates, err := h.Orders.ShippingRates(ctx, tid, uuid.Nil, false)
	if err != nil {
		return d, err
	}
	names := map[uuid.UUID]string{}
	for _, r := range rates {
		v := rateView{ShippingRate: r, Flat: amountOf(r.FlatMinor, r.Currency)}
		if r.FreeOverMinor != nil {
			a := amountOf(*r.FreeOverMinor, r.Currency)
			v.FreeOver = &a
		}
		for _, b := range r.Brackets {
			v.Brackets = append(v.Brackets, bracketView{UpTo: b.UpToGrams, Price: amountOf(b.PriceMinor, r.Currency)})
		}
		if !s.merchantScope() {
			if v.Merchant, err = h.merchantName(c, s, r.MerchantID, names); err != nil {
				return d, err
			}
		}
		d.Rates = append(d.Rates, v)
	}
	if d.CanTaxes {
		taxes, err := h.Orders.TaxRates(ctx, tid)
		if err != nil {
			return d, err
		}
		for _, t := range taxes {
			d.Taxes = append(d.Taxes, taxView{TaxRate: t, Percent: percentText(t.RateBP)})
		}
	}
	return d, nil
}

// shippingForm is h.form, with the page's own wording for any field the service refused in
// words meant for the API.
func (h *handlers) shippingForm(c *fiber.Ctx, err error, values map[string]string) web.Form {
	f := h.form(c, err, values)
	for name, msg := range f.Errors {
		if name != "" && h.r.T(c, msg) == msg {
			f.Errors[name] = "shipping.field.invalid"
		}
	}
	return f
}

// errBadAmount is a price field that is not a decimal the currency can hold.
var errBadAmount = errors.New("bad amount")

// minorOf reads a decimal in major units of cur ("5" or "5.00"); "" is zero when optional.
func minorOf(s string, cur money.Currency) (int64, error) {
	a, err := money.ParseDecimal(strings.TrimSpace(s), cur)
	if err != nil || a.Minor < 0 {
		return 0, errBadAmount
	}
	return a.Minor, nil
}

// bracketsOf reads one bracket per line, "grams: price" ("500: 4.50").
func bracketsOf(text string, cur money.Currency) ([]orders.Bracket, bool) {
	var out []orders.Bracket
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		g, p, ok := strings.Cut(line, ":")
		grams, err := strconv.Atoi(strings.TrimSpace(g))
		if !ok || err != nil {
			return nil, false
		}
		price, err := minorOf(p, cur)
		if err != nil {
			return nil, false
		}
		out = append(out, orders.Bracket{UpToGrams: grams, PriceMinor: price})
	}
	return out, true
}

func (h *handlers) createShippingRate(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	cur := money.Currency(strings.ToUpper(strings.TrimSpace(values["currency"])))
	in := orders.ShippingRateInput{Name: values["name"], Currency: string(cur), Kind: values["kind"]}
	bad := map[string]string{}
	if !cur.Known() {
		bad["body.currency"] = "shipping.field.currency"
	} else {
		if in.Kind == orders.RateFlat {
			v, err := minorOf(values["flat"], cur)
			if err != nil {
				bad["body.flat"] = "shipping.field.amount"
			}
			in.FlatMinor = v
		}
		if in.Kind == orders.RateWeight {
			b, ok := bracketsOf(values["brackets"], cur)
			if !ok {
				bad["body.brackets"] = "shipping.field.brackets"
			}
			in.Brackets = b
		}
		if f := strings.TrimSpace(values["free_over"]); f != "" {
			v, err := minorOf(f, cur)
			if err != nil {
				bad["body.free_over"] = "shipping.field.amount"
			}
			in.FreeOverMinor = &v
		}
	}
	var err error
	if len(bad) > 0 {
		err = fault.Fields(bad)
	} else {
		_, err = h.Orders.CreateShippingRate(c.UserContext(), s.member.TenantID, in)
	}
	if web.Fixable(err) {
		form := h.shippingForm(c, err, values)
		if fe := fault.As(err); fe != nil {
			for _, f := range fe.Fields { // the service's brackets[i] errors belong to the brackets field
				if strings.HasPrefix(f.Location, "body.brackets") {
					form.Errors["brackets"] = "shipping.field.brackets"
				}
			}
		}
		d, derr := h.shippingData(c, s, form, web.FormFrom(nil, nil))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "shipping", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "shipping.rate_created", in.Name)
	return c.Redirect(Prefix+"/shipping", fiber.StatusSeeOther)
}

func (h *handlers) deleteShippingRate(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := h.Orders.DeleteShippingRate(c.UserContext(), s.member.TenantID, id); errors.Is(err, orders.ErrShippingRateNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "shipping.rate_deleted")
	return c.Redirect(Prefix+"/shipping", fiber.StatusSeeOther)
}

// bpOf reads a percentage ("8.25") as basis points: hundredths of a percent, the same shape as
// an amount with two decimals, so the money parser reads it exactly (no float).
func bpOf(s string) (int, bool) {
	a, err := money.ParseDecimal(strings.TrimSpace(s), "USD")
	if err != nil || a.Minor < 0 || a.Minor > 10000 {
		return 0, false
	}
	return int(a.Minor), true
}

func (h *handlers) createTaxRate(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	in := orders.TaxRateInput{Country: values["country"], Region: values["region"], Name: values["name"],
		Inclusive: values["inclusive"] != ""}
	var err error
	if bp, ok := bpOf(values["rate"]); ok {
		in.RateBP = bp
		_, err = h.Orders.CreateTaxRate(c.UserContext(), s.member.TenantID, in)
	} else {
		err = fault.Fields(map[string]string{"body.rate": "shipping.field.rate"})
	}
	if web.Fixable(err) {
		form := h.shippingForm(c, err, values)
		if errors.Is(err, orders.ErrTaxRateTaken) {
			delete(form.Errors, "")
			form.Errors["country"] = "shipping.field.tax_taken"
		}
		d, derr := h.shippingData(c, s, web.FormFrom(nil, map[string]string{"kind": orders.RateFlat, "currency": s.tenant.DefaultCurrency}), form)
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "shipping", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "shipping.tax_created", in.Name)
	return c.Redirect(Prefix+"/shipping", fiber.StatusSeeOther)
}

func (h *handlers) deleteTaxRate(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := h.Orders.DeleteTaxRate(c.UserContext(), s.member.TenantID, id); errors.Is(err, orders.ErrTaxRateNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "shipping.tax_deleted")
	return c.Redirect(Prefix+"/shipping", fiber.StatusSeeOther)
}
