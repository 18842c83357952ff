package admin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/tenants/promotions"
)

// Platform-funded coupons: a promotion the platform pays for in one tenant's marketplace (a
// launch offer, a campaign), its discount coming off the platform's fee on each order. Only
// operators make them, on the tenant's page; tenants see them in their console like their own.

// platformCoupon is a coupon as the tenant page lists it.
type platformCoupon struct {
	promotions.Coupon
	Percent string // "10%"
	Limit   string // "37 / 500", or "37" without a limit
	Live    bool
}

// maxCouponDays bounds how long an operator's coupon runs from now.
const maxCouponDays = 366

// platformCoupons lists the tenant's platform-funded coupons, newest first.
func (a *portal) platformCoupons(c *fiber.Ctx, tenantID uuid.UUID) ([]platformCoupon, error) {
	page, err := a.Promotions.ListCoupons(c.UserContext(), tenantID, promotions.CouponFilter{FundedBy: promotions.FundedByPlatform,
		PageParams: httpx.PageParams{Limit: httpx.MaxPageSize}})
	if err != nil {
		return nil, err
	}
	now := a.Now()
	out := make([]platformCoupon, len(page.Items))
	for i, cp := range page.Items {
		v := platformCoupon{Coupon: cp, Limit: strconv.Itoa(cp.Used),
			Live: cp.Active && !now.Before(cp.StartsAt) && now.Before(cp.EndsAt)}
		if cp.PercentBP != nil {
			v.Percent = strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%d.%02d", *cp.PercentBP/100, *cp.PercentBP%100), "0"), ".") + "%"
		}
		if cp.UsageLimit != nil {
			v.Limit += " / " + strconv.Itoa(*cp.UsageLimit)
		}
		out[i] = v
	}
	return out, nil
}

// couponCreate makes a percentage coupon funded by the platform, running from now for the
// given number of days. A refused form comes back on the tenant's page with each problem
// beside its field, and nothing is created.
func (a *portal) couponCreate(c *fiber.Ctx, p identity.Principal) error {
	id, err := tenantID(c)
	if err != nil {
		return a.fail(c, err)
	}
	v := web.FormValues(c)
	form := web.FormFrom(nil, v)
	days, derr := strconv.Atoi(strings.TrimSpace(v["days"]))
	if derr != nil || days < 1 || days > maxCouponDays {
		form.Errors["days"] = "admin.coupons.err.days"
	}
	limit, lerr := optionalCount(v["usage_limit"])
	if lerr != nil {
		form.Errors["usage_limit"] = "admin.coupons.err.limit"
	}
	perShopper, perr := optionalCount(v["per_shopper_limit"])
	if perr != nil {
		form.Errors["per_shopper_limit"] = "admin.coupons.err.limit"
	}
	in := promotions.CouponInput{Code: v["code"], Kind: promotions.KindPercentage, Percent: strings.TrimSuffix(strings.TrimSpace(v["percent"]), "%"),
		EndsAt: a.Now().AddDate(0, 0, max(days, 1)), UsageLimit: limit, PerShopperLimit: perShopper}
	if len(form.Errors) > 0 {
		// Let the service judge the other fields too, so one submit shows every problem; a
		// zero limit is one it refuses, so nothing is created.
		in.UsageLimit = new(int)
	}
	cp, err := a.Promotions.CreatePlatformCoupon(c.UserContext(), id, in)
	if err == nil {
		a.r.Flash(c, web.FlashSuccess, "admin.coupons.created", cp.Code)
		return c.Redirect(Prefix+"/tenants/"+id.String()+"#platform-coupons", fiber.StatusSeeOther)
	}
	if !web.Fixable(err) && !errors.Is(err, promotions.ErrCouponCodeTaken) {
		return a.fail(c, err)
	}
	if errors.Is(err, promotions.ErrCouponCodeTaken) {
		form.Errors["code"] = "admin.coupons.err.code_taken"
	}
	if fe := fault.As(err); fe != nil {
		for _, f := range fe.Fields {
			switch name := web.FieldName(f.Location); name {
			case "code", "percent":
				form.Errors[name] = "admin.coupons.err." + name
			case "usage_limit", "per_shopper_limit":
				if _, seen := form.Errors[name]; !seen && v[name] != "" {
					form.Errors[name] = "admin.coupons.err.limit"
				}
			}
		}
	}
	if len(form.Errors) == 0 {
		form.Errors[""] = "form.failed"
	}
	return a.tenantPage(c, p, fiber.StatusUnprocessableEntity, form)
}

// optionalCount reads a form's optional positive whole number: "" is none.
func optionalCount(s string) (*int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return nil, errors.New("not a count")
	}
	return &n, nil
}
