package console

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/merchants"
	"mercato/tenants/promotions"
)

// promotionPages are the coupons and flash sales: both lists with their usage, a form for
// each, and deactivation. The capability is the API's /v1/promotions; merchant staff see and
// create only their store's (the service narrows to the merchant scope).
func (h *handlers) promotionPages() []page {
	const object, capability = Prefix + "/promotions", "/v1/promotions"
	const read, write = authz.ActionRead, authz.ActionWrite
	return []page{
		{fiber.MethodGet, "/promotions", object, capability, read, false, h.promotionsPage},
		{fiber.MethodPost, "/promotions/coupons", object, capability, write, false, h.createCoupon},
		{fiber.MethodPost, "/promotions/coupons/:id/deactivate", object, capability, write, false, h.deactivateCoupon},
		{fiber.MethodPost, "/promotions/flash-sales", object, capability, write, false, h.createFlashSale},
		{fiber.MethodPost, "/promotions/flash-sales/:id/deactivate", object, capability, write, false, h.deactivateFlashSale},
	}
}

// datetimeLayout is what an <input type="datetime-local"> sends; the console reads it as UTC.
const datetimeLayout = "2006-01-02T15:04"

type couponView struct {
	promotions.Coupon
	Discount   string // "10%" or "$5.00"
	MinSpend   money.Amount
	Merchant   string // "" for every store
	Live       bool   // active and inside its window now
	Limit      int    // total uses allowed; 0 for no limit
	PerShopper int    // uses per shopper; 0 for no limit
}

type flashSaleView struct {
	promotions.FlashSale
	Price money.Amount
	Live  bool
}

type promotionsData struct {
	Coupons        []couponView
	FlashSales     []flashSaleView
	CouponForm     web.Form
	FlashForm      web.Form
	Merchants      []web.Option // the coupon form's store choice (tenant staff)
	Kinds          []web.Option
	FundedBy       []web.Option
	MerchantScoped bool
	CanWrite       bool
	Currency       string
	// Paging: the cursors this view was asked for and those of the next pages ("" at the end).
	CouponsAt, SalesAt     string
	NextCoupons, NextSales string
}

// promotionsPageSize is how many coupons, and how many flash sales, one view of the page lists.
const promotionsPageSize = 25

// OlderCoupons and OlderSales are the links to each list's next page, keeping the other's.
func (d promotionsData) OlderCoupons() string {
	return Prefix + "/promotions?" + url.Values{"coupons": {d.NextCoupons}, "sales": {d.SalesAt}}.Encode() + "#coupons"
}

func (d promotionsData) OlderSales() string {
	return Prefix + "/promotions?" + url.Values{"coupons": {d.CouponsAt}, "sales": {d.NextSales}}.Encode() + "#flash-sales"
}

func (h *handlers) promotionsPage(c *fiber.Ctx, s *session) error {
	d, err := h.promotionsData(c, s, web.FormFrom(nil, map[string]string{"kind": promotions.KindPercentage}), web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "promotions", d)
}

// percentText shows basis points as a percentage: 1250 → "12.5%".
func percentText(bp int) string {
	s := strconv.Itoa(bp/100) + "." + fmt.Sprintf("%02d", bp%100)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".") + "%"
}

func (h *handlers) promotionsData(c *fiber.Ctx, s *session, couponForm, flashForm web.Form) (promotionsData, error) {
	ctx := c.UserContext()
	tid := s.member.TenantID
	d := promotionsData{CouponForm: couponForm, FlashForm: flashForm, MerchantScoped: s.merchantScope(),
		CanWrite: h.allowed(s, "/v1/promotions", authz.ActionWrite), Currency: s.tenant.DefaultCurrency,
		Kinds:    []web.Option{{Value: promotions.KindPercentage, Label: "promotions.kind.percentage"}, {Value: promotions.KindFixed, Label: "promotions.kind.fixed"}},
		FundedBy: []web.Option{{Value: promotions.FundedByTenant, Label: "promotions.funded.tenant"}, {Value: promotions.FundedByMerchant, Label: "promotions.funded.merchant"}}}
	now := time.Now()
	// Each list pages on its own cursor (?coupons=, ?sales=); a stale or edited one starts over.
	d.CouponsAt, d.SalesAt = c.Query("coupons"), c.Query("sales")
	coupons, err := h.Promotions.ListCoupons(ctx, tid, promotions.CouponFilter{PageParams: httpx.PageParams{Limit: promotionsPageSize, Cursor: d.CouponsAt}})
	if errors.Is(err, httpx.ErrBadCursor) {
		d.CouponsAt = ""
		coupons, err = h.Promotions.ListCoupons(ctx, tid, promotions.CouponFilter{PageParams: httpx.PageParams{Limit: promotionsPageSize}})
	}
	if err != nil {
		return d, err
	}
	d.NextCoupons = coupons.NextCursor
	names := map[uuid.UUID]string{}
	for _, cp := range coupons.Items {
		v := couponView{Coupon: cp, MinSpend: amountOf(cp.MinSpendMinor, cp.Currency), Live: cp.Active && !now.Before(cp.StartsAt) && now.Before(cp.EndsAt)}
		if cp.UsageLimit != nil {
			v.Limit = *cp.UsageLimit
		}
		if cp.PerShopperLimit != nil {
			v.PerShopper = *cp.PerShopperLimit
		}
		if cp.PercentBP != nil {
			v.Discount = percentText(*cp.PercentBP)
		} else if cp.AmountMinor != nil {
			v.Discount = money.Format(amountOf(*cp.AmountMinor, cp.Currency), h.r.Locale(c))
		}
		if cp.MerchantID != nil {
			if v.Merchant, err = h.merchantName(c, s, *cp.MerchantID, names); err != nil {
				return d, err
			}
		}
		d.Coupons = append(d.Coupons, v)
	}
	sales, err := h.Promotions.ListFlashSales(ctx, tid, promotions.FlashFilter{PageParams: httpx.PageParams{Limit: promotionsPageSize, Cursor: d.SalesAt}})
	if errors.Is(err, httpx.ErrBadCursor) {
		d.SalesAt = ""
		sales, err = h.Promotions.ListFlashSales(ctx, tid, promotions.FlashFilter{PageParams: httpx.PageParams{Limit: promotionsPageSize}})
	}
	if err != nil {
		return d, err
	}
	d.NextSales = sales.NextCursor
	for _, fs := range sales.Items {
		d.FlashSales = append(d.FlashSales, flashSaleView{FlashSale: fs, Price: amountOf(fs.PriceMinor, fs.Currency),
			Live: fs.Active && !now.Before(fs.StartsAt) && now.Before(fs.EndsAt) && fs.Sold < fs.Quantity})
	}
	if !s.merchantScope() && d.CanWrite {
		ms, err := h.Merchants.List(ctx, tid, merchants.ListFilter{Status: merchants.StatusActive, PageParams: httpx.PageParams{Limit: httpx.MaxPageSize}})
		if err != nil {
			return d, err
		}
		d.Merchants = []web.Option{{Value: "", Label: "promotions.all_stores"}}
		for _, m := range ms.Items {
			d.Merchants = append(d.Merchants, web.Option{Value: m.ID.String(), Label: m.Name})
		}
	}
	return d, nil
}

func amountOf(minor int64, currency string) money.Amount {
	return money.Amount{Minor: minor, Currency: money.Currency(currency)}
}

// promotionForm places the service's field errors beside the form's fields (rename maps a
// service field onto the form's name for it) with the console's wording, "promotions.field.*".
func (h *handlers) promotionForm(c *fiber.Ctx, err error, values map[string]string, rename map[string]string) web.Form {
	f := web.FormFrom(err, values)
	out := map[string]string{}
	for name, msg := range f.Errors {
		if name == "" {
			out[""] = h.message(c, err)
			continue
		}
		if r, ok := rename[name]; ok {
			name = r
		}
		if key := "promotions.field." + name; h.r.T(c, msg) == msg && h.r.T(c, key) != key {
			msg = key // the service's English rule, in the console's words
		}
		out[name] = msg
	}
	f.Errors = out
	return f
}

// formInt reads an optional whole number; bad collects what is not one.
func formInt(bad map[string]string, values map[string]string, name string) *int {
	v := strings.TrimSpace(values[name])
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		bad["body."+name] = "a whole number"
		return nil
	}
	return &n
}

// formTime reads a datetime-local value as UTC.
func formTime(bad map[string]string, values map[string]string, name string, required bool) *time.Time {
	v := strings.TrimSpace(values[name])
	if v == "" {
		if required {
			bad["body."+name] = "required"
		}
		return nil
	}
	t, err := time.Parse(datetimeLayout, v)
	if err != nil {
		bad["body."+name] = "a date and time"
		return nil
	}
	return &t
}

func (h *handlers) createCoupon(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	bad := map[string]string{}
	in := promotions.CouponInput{Code: values["code"], Kind: values["kind"], Percent: values["percent"], Amount: values["amount"],
		MinSpend: values["min_spend"], FundedBy: values["funded_by"], StartsAt: formTime(bad, values, "starts_at", false),
		UsageLimit: formInt(bad, values, "usage_limit"), PerShopperLimit: formInt(bad, values, "per_shopper_limit")}
	if end := formTime(bad, values, "ends_at", true); end != nil {
		in.EndsAt = *end
	}
	if s.merchantScope() {
		in.FundedBy = "" // the service funds a store's coupon by the store
	} else if m := strings.TrimSpace(values["merchant_id"]); m != "" {
		id, err := uuid.Parse(m)
		if err != nil {
			return h.couponFormFailed(c, s, fault.Fields(map[string]string{"body.merchant_id": "choose a store"}), values)
		}
		in.MerchantID = &id
	}
	// What the form could not read goes to the service as a value it refuses, so one submit
	// shows every error at once and nothing is created.
	if _, ok := bad["body.usage_limit"]; ok {
		in.UsageLimit = new(int)
	}
	if _, ok := bad["body.per_shopper_limit"]; ok {
		in.PerShopperLimit = new(int)
	}
	if _, ok := bad["body.starts_at"]; ok {
		in.StartsAt = &in.EndsAt
	}
	_, err := h.Promotions.CreateCoupon(c.UserContext(), s.member.TenantID, in)
	err = withFormErrors(bad, err)
	if errors.Is(err, promotions.ErrCouponCodeTaken) {
		err = fault.Fields(map[string]string{"body.code": "promotions.field.code_taken"})
	}
	if web.Fixable(err) {
		return h.couponFormFailed(c, s, err, values)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "promotions.coupon_created", promotions.NormalizeCode(in.Code))
	return c.Redirect(Prefix+"/promotions", fiber.StatusSeeOther)
}

// flashFields maps the service's fields onto the flash sale form's, whose names differ from the
// coupon form's on the same page.
var flashFields = map[string]string{"sku": "flash_sku", "price": "flash_price", "quantity": "flash_quantity",
	"per_shopper_limit": "flash_limit", "starts_at": "flash_starts_at", "ends_at": "flash_ends_at"}

func (h *handlers) createFlashSale(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	bad := map[string]string{}
	in := promotions.FlashSaleInput{SKU: values["flash_sku"], Price: values["flash_price"], StartsAt: formTime(bad, values, "flash_starts_at", false)}
	if q := formInt(bad, values, "flash_quantity"); q != nil {
		in.Quantity = *q
	}
	if l := formInt(bad, values, "flash_limit"); l != nil {
		in.PerShopperLimit = *l
	} else if _, ok := bad["body.flash_limit"]; ok {
		in.PerShopperLimit = -1 // refused by the service too: nothing is created
	}
	if end := formTime(bad, values, "flash_ends_at", true); end != nil {
		in.EndsAt = *end
	}
	if _, ok := bad["body.flash_starts_at"]; ok {
		in.StartsAt = &in.EndsAt
	}
	_, err := h.Promotions.CreateFlashSale(c.UserContext(), s.member.TenantID, in)
	switch {
	case errors.Is(err, promotions.ErrVariantNotFound):
		err = fault.Fields(map[string]string{"body.sku": "promotions.field.sku_unknown"})
	case errors.Is(err, promotions.ErrFlashOverlap):
		err = fault.Fields(map[string]string{"body.sku": "promotions.field.overlap"})
	}
	// The form's names for the fields it could not read are the service's, renamed below.
	for form, service := range map[string]string{"flash_quantity": "quantity", "flash_limit": "per_shopper_limit",
		"flash_starts_at": "starts_at", "flash_ends_at": "ends_at"} {
		if msg, ok := bad["body."+form]; ok {
			delete(bad, "body."+form)
			bad["body."+service] = msg
		}
	}
	err = withFormErrors(bad, err)
	if web.Fixable(err) {
		d, derr := h.promotionsData(c, s, web.FormFrom(nil, map[string]string{"kind": promotions.KindPercentage}), h.promotionForm(c, err, values, flashFields))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "promotions", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "promotions.flash_created", strings.TrimSpace(in.SKU))
	return c.Redirect(Prefix+"/promotions", fiber.StatusSeeOther)
}

// couponFormFailed shows the page again with the coupon form's errors.
func (h *handlers) couponFormFailed(c *fiber.Ctx, s *session, err error, values map[string]string) error {
	d, derr := h.promotionsData(c, s, h.promotionForm(c, err, values, nil), web.FormFrom(nil, nil))
	if derr != nil {
		return derr
	}
	return h.r.Render(c, fiber.StatusUnprocessableEntity, "promotions", d)
}

// withFormErrors adds what the form itself could not read to the service's field errors. The
// form's own message wins for a field both name.
func withFormErrors(bad map[string]string, err error) error {
	if len(bad) == 0 {
		return err
	}
	if fe := fault.As(err); fe != nil && fe.Kind == fault.Invalid {
		for _, f := range fe.Fields {
			if _, ok := bad[f.Location]; !ok {
				bad[f.Location] = f.Message
			}
		}
	}
	return fault.Fields(bad)
}

func (h *handlers) deactivateCoupon(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	cp, err := h.Promotions.DeactivateCoupon(c.UserContext(), s.member.TenantID, id)
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "promotions.coupon_deactivated", cp.Code)
	return c.Redirect(Prefix+"/promotions", fiber.StatusSeeOther)
}

func (h *handlers) deactivateFlashSale(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	fs, err := h.Promotions.DeactivateFlashSale(c.UserContext(), s.member.TenantID, id)
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "promotions.flash_deactivated", fs.SKU)
	return c.Redirect(Prefix+"/promotions", fiber.StatusSeeOther)
}
