// Package promotions owns what lowers a price: coupons (percentage or fixed, with minimum
// spend, validity window and usage limits enforced atomically) and flash sales (a time-boxed
// price for a limited quantity of one variant, which can never oversell).
package promotions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
	"mercato/platform/scope"
)

// Errors returned by Service. The coupon errors a shopper can meet are Unprocessable, so the
// cart and checkout forms show them beside the code field; staff lookups of an id answer 404.
var (
	ErrCouponNotFound      = fault.New(fault.Unprocessable, "coupon_unknown", "no coupon has this code")
	ErrCouponNotActive     = fault.New(fault.Unprocessable, "coupon_not_active", "this coupon is not valid at the moment")
	ErrCouponMinSpend      = fault.New(fault.Unprocessable, "coupon_min_spend", "the cart does not reach this coupon's minimum spend")
	ErrCouponExhausted     = fault.New(fault.Unprocessable, "coupon_exhausted", "this coupon has been used up")
	ErrCouponShopperLimit  = fault.New(fault.Unprocessable, "coupon_shopper_limit", "you have already used this coupon as often as it allows")
	ErrCouponNotApplicable = fault.New(fault.Unprocessable, "coupon_not_applicable", "this coupon does not apply to anything in the cart")
	ErrCouponRedeemed      = fault.New(fault.Conflict, "coupon_already_redeemed", "this order has already redeemed this coupon")
	ErrCouponCodeTaken     = fault.New(fault.Conflict, "coupon_code_taken", "a coupon with this code exists in this marketplace")

	ErrNoSuchCoupon    = fault.New(fault.NotFound, "coupon_not_found", "coupon not found")
	ErrNoSuchFlashSale = fault.New(fault.NotFound, "flash_sale_not_found", "flash sale not found")
	ErrInactive        = fault.New(fault.Conflict, "already_inactive", "it has already been deactivated")

	ErrFlashSoldOut = fault.New(fault.Conflict, "flash_sold_out", "the flash sale has no units left for this quantity")
	ErrFlashLimit   = fault.New(fault.Conflict, "flash_shopper_limit", "this would exceed the flash sale's limit per shopper")
	ErrFlashEnded   = fault.New(fault.Conflict, "flash_ended", "the flash sale is not running")
	ErrFlashOverlap = fault.New(fault.Conflict, "flash_overlap", "this variant already has a flash sale in that period")
	ErrFlashClaimed = fault.New(fault.Conflict, "flash_already_claimed", "this order has already claimed units of this flash sale")

	ErrMerchantNotFound = fault.New(fault.NotFound, "merchant_not_found", "merchant not found")
	ErrVariantNotFound  = fault.New(fault.NotFound, "variant_not_found", "variant not found")
)

// Who pays for a discount; the values billing/fees reads (FundedByPlatform, ...).
const (
	FundedByPlatform = "platform"
	FundedByTenant   = "tenant"
	FundedByMerchant = "merchant"
)

// Coupon kinds.
const (
	KindPercentage = "percentage"
	KindFixed      = "fixed"
)

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// Service manages coupons and flash sales. Staff methods run in the tenant's RLS scope,
// narrowed to the merchant when the caller works for one, so merchant staff see and change
// only their merchant's promotions, and audit each change. Quote, FlashPrices and the
// checkout-side Redeem and ClaimFlash see the whole tenant: a shopper's cart spans merchants.
// Redeem and ClaimFlash write no audit entry of their own: their redemption and claim rows,
// named by order, are the record, in the checkout's transaction that audits the order.
type Service struct {
	db    *db.DB
	audit Recorder
	now   func() time.Time
}

// NewService builds the service.
func NewService(d *db.DB, audit Recorder) *Service {
	return &Service{db: d, audit: audit, now: time.Now}
}

// SetClock replaces the clock, for tests that need a sale to start or end.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// pageNewest reads one page of rows (a slice of a row model) newest first by their UUIDv7 ids,
// after the page's cursor, optionally only active or inactive ones, narrowed further by
// where: the shape of both lists.
func (s *Service) pageNewest(ctx context.Context, tenantID uuid.UUID, p httpx.PageParams, active *bool, rows any,
	where func(*bun.SelectQuery) *bun.SelectQuery) error {
	var after uuid.UUID
	if _, err := httpx.DecodeCursor(p.Cursor, &after); err != nil {
		return err
	}
	return s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Model(rows).Where("tenant_id = ?", tenantID).OrderExpr("id DESC").Limit(int64(p.Size() + 1))
		if after != uuid.Nil {
			q = q.Where("id < ?", after)
		}
		if active != nil {
			q = q.Where("active = ?", *active)
		}
		return where(q).Scan(ctx)
	})
}

// getRow reads the row of model R with id in the tenant, locked FOR UPDATE when lock; notFound
// when there is none in scope.
func getRow[R any](ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID, lock bool, notFound error) (R, error) {
	var r R
	q := tx.NewSelect().Model(&r).Where("tenant_id = ? AND id = ?", tenantID, id)
	if lock {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, notFound
		}
		return r, err
	}
	return r, nil
}

func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

var shopperKeyRE = regexp.MustCompile(`^(shopper:[0-9a-f-]{36}|email:[^A-Z\s]+@[^A-Z\s]+)$`)

// checkShopperKey refuses keys that are not "shopper:<uuid>" or "email:<lower-case e-mail>":
// two spellings of one shopper would each get the per-shopper limit.
func checkShopperKey(key string) error {
	if !shopperKeyRE.MatchString(key) {
		return fault.Fields(map[string]string{"shopper_key": `"shopper:<uuid>" or "email:<lower-case e-mail>"`})
	}
	return nil
}

// tenantCurrency is the currency the tenant's storefront sells in; promotions are set in it.
func tenantCurrency(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (money.Currency, error) {
	var cur string
	if err := tx.NewRaw("SELECT default_currency FROM tenants WHERE id = ?", tenantID).Scan(ctx, &cur); err != nil {
		return "", fmt.Errorf("read tenant currency: %w", err)
	}
	return money.ParseCurrency(cur)
}

// parseMoney reads a decimal in major units ("12.50") as minor units of cur, refusing a
// fraction the currency does not have rather than rounding it.
func parseMoney(bad map[string]string, field, s string, cur money.Currency, positive bool) int64 {
	a, err := money.ParseDecimal(strings.TrimSpace(s), cur)
	switch {
	case err != nil:
		bad[field] = fmt.Sprintf("a decimal with at most %d fraction digits for %s", cur.Exponent(), cur)
	case a.Minor < 0 || positive && a.Minor == 0:
		if positive {
			bad[field] = "above 0"
		} else {
			bad[field] = "at least 0"
		}
	}
	return a.Minor
}

var percentRE = regexp.MustCompile(`^(\d{1,3})(?:\.(\d{1,2}))?$`)

// parsePercent reads "12.5" as 1250 basis points; 0.01 to 100.
func parsePercent(s string) (int, bool) {
	m := percentRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	whole, _ := strconv.Atoi(m[1])
	frac := 0
	if m[2] != "" {
		frac, _ = strconv.Atoi((m[2] + "0")[:2])
	}
	bp := whole*100 + frac
	return bp, bp >= 1 && bp <= 10000
}

// ReleaseOrder gives back what orderID used of promotions, inside the caller's (cancel's)
// transaction: its coupon redemptions come off coupons.used and its flash-sale claims off
// flash_sales.sold, and those rows go, so the shopper's per-shopper count forgets them too.
// An order that used nothing, or was released before, changes nothing.
func (s *Service) ReleaseOrder(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID) error {
	if _, err := tx.NewRaw(`WITH gone AS (
			DELETE FROM coupon_redemptions WHERE tenant_id = ? AND order_id = ? RETURNING coupon_id)
		UPDATE coupons c SET used = c.used - g.n, updated_at = now()
		FROM (SELECT coupon_id, count(*) AS n FROM gone GROUP BY coupon_id) g
		WHERE c.tenant_id = ? AND c.id = g.coupon_id`, tenantID, orderID, tenantID).Exec(ctx); err != nil {
		return fmt.Errorf("release coupon use: %w", err)
	}
	if _, err := tx.NewRaw(`WITH gone AS (
			DELETE FROM flash_claims WHERE tenant_id = ? AND order_id = ? RETURNING sale_id, quantity)
		UPDATE flash_sales f SET sold = f.sold - g.n, updated_at = now()
		FROM (SELECT sale_id, sum(quantity) AS n FROM gone GROUP BY sale_id) g
		WHERE f.tenant_id = ? AND f.id = g.sale_id`, tenantID, orderID, tenantID).Exec(ctx); err != nil {
		return fmt.Errorf("release flash units: %w", err)
	}
	return nil
}
