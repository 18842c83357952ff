package promotions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
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

// Coupon is a code a shopper types at checkout for a discount.
type Coupon struct {
	ID              uuid.UUID  `json:"id"`
	Code            string     `json:"code"`
	MerchantID      *uuid.UUID `json:"merchant_id,omitempty" doc:"only this merchant's lines are discounted; absent: the whole cart"`
	Kind            string     `json:"kind" enum:"percentage,fixed"`
	PercentBP       *int       `json:"percent_bp,omitempty" doc:"percentage coupons: basis points, 1000 = 10%"`
	AmountMinor     *int64     `json:"amount_minor,omitempty" doc:"fixed coupons: minor units of currency"`
	Currency        string     `json:"currency"`
	MinSpendMinor   int64      `json:"min_spend_minor" doc:"the eligible lines must add up to at least this"`
	FundedBy        string     `json:"funded_by" enum:"platform,tenant,merchant"`
	StartsAt        time.Time  `json:"starts_at"`
	EndsAt          time.Time  `json:"ends_at"`
	UsageLimit      *int       `json:"usage_limit,omitempty" doc:"redemptions in total; absent: unlimited"`
	PerShopperLimit *int       `json:"per_shopper_limit,omitempty" doc:"redemptions per shopper; absent: unlimited"`
	Used            int        `json:"used"`
	Active          bool       `json:"active"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// CouponInput creates a coupon. Amounts are decimals in major units of the tenant's currency
// ("5.00"); the percentage is a decimal with at most two fraction digits ("12.5").
type CouponInput struct {
	Code            string     `json:"code" doc:"3–32 of A-Z, 0-9, _ and -; case-insensitive"`
	MerchantID      *uuid.UUID `json:"merchant_id,omitempty" doc:"limit to one merchant's lines; merchant staff always get their own"`
	Kind            string     `json:"kind" enum:"percentage,fixed"`
	Percent         string     `json:"percent,omitempty" doc:"percentage coupons: 0.01 to 100"`
	Amount          string     `json:"amount,omitempty" doc:"fixed coupons: the discount, above 0"`
	MinSpend        string     `json:"min_spend,omitempty" doc:"default 0"`
	FundedBy        string     `json:"funded_by,omitempty" enum:"tenant,merchant" doc:"default: merchant for merchant staff, tenant for marketplace staff"`
	StartsAt        *time.Time `json:"starts_at,omitempty" doc:"default now"`
	EndsAt          time.Time  `json:"ends_at"`
	UsageLimit      *int       `json:"usage_limit,omitempty" minimum:"1"`
	PerShopperLimit *int       `json:"per_shopper_limit,omitempty" minimum:"1"`
}

// Line is one cart line as a coupon sees it: unit prices are in the currency given alongside.
type Line struct {
	VariantID, MerchantID uuid.UUID
	UnitPriceMinor        int64
	Quantity              int
}

// Discount says how much a coupon takes off and who pays for it.
type Discount struct {
	CouponID     uuid.UUID
	Code         string
	FundedBy     string  // "platform" | "tenant" | "merchant" (billing/fees constants' values)
	PerLineMinor []int64 // same order and length as the lines given; sums to TotalMinor
	TotalMinor   int64
}

type couponRow struct {
	bun.BaseModel `bun:"table:coupons"`

	TenantID        uuid.UUID  `bun:"tenant_id,pk"`
	ID              uuid.UUID  `bun:"id,pk"`
	Code            string     `bun:"code"`
	MerchantID      *uuid.UUID `bun:"merchant_id"`
	Kind            string     `bun:"kind"`
	PercentBP       *int       `bun:"percent_bp"`
	AmountMinor     *int64     `bun:"amount_minor"`
	Currency        string     `bun:"currency"`
	MinSpendMinor   int64      `bun:"min_spend_minor"`
	FundedBy        string     `bun:"funded_by"`
	StartsAt        time.Time  `bun:"starts_at"`
	EndsAt          time.Time  `bun:"ends_at"`
	UsageLimit      *int       `bun:"usage_limit"`
	PerShopperLimit *int       `bun:"per_shopper_limit"`
	Used            int        `bun:"used"`
	Active          bool       `bun:"active"`
	CreatedBy       string     `bun:"created_by"`
	CreatedAt       time.Time  `bun:"created_at"`
	UpdatedAt       time.Time  `bun:"updated_at"`
}

func (r couponRow) coupon() Coupon {
	return Coupon{ID: r.ID, Code: r.Code, MerchantID: r.MerchantID, Kind: r.Kind, PercentBP: r.PercentBP, AmountMinor: r.AmountMinor,
		Currency: r.Currency, MinSpendMinor: r.MinSpendMinor, FundedBy: r.FundedBy, StartsAt: r.StartsAt, EndsAt: r.EndsAt,
		UsageLimit: r.UsageLimit, PerShopperLimit: r.PerShopperLimit, Used: r.Used, Active: r.Active, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

var codeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{2,31}$`)

// NormalizeCode is how codes are stored and looked up: trimmed, upper case.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// CreateCoupon creates a coupon in the tenant's currency. Merchant staff create coupons for
// their own merchant's lines, funded by the merchant; marketplace staff create tenant- or
// merchant-funded ones (a merchant-funded coupon names its merchant). Platform-funded coupons
// are the operator's (CreatePlatformCoupon) and have no route in the tenant API.
// Errors: invalid fields, ErrMerchantNotFound, ErrCouponCodeTaken.
func (s *Service) CreateCoupon(ctx context.Context, tenantID uuid.UUID, in CouponInput) (Coupon, error) {
	return s.createCoupon(ctx, tenantID, in, false)
}

// CreatePlatformCoupon creates a coupon the platform pays for: the discount comes off the
// platform's fee on each order (billing/fees), not off the tenant's commission or the
// merchant's price. Only the admin portal calls it, for a platform operator it has
// authorized; it is recorded in the tenant's audit chain under the operator.
// Errors: those of CreateCoupon.
func (s *Service) CreatePlatformCoupon(ctx context.Context, tenantID uuid.UUID, in CouponInput) (Coupon, error) {
	if _, ok := scope.MerchantFrom(ctx); ok {
		return Coupon{}, fault.New(fault.Forbidden, "operator_only", "only platform operators create platform-funded coupons")
	}
	in.FundedBy = FundedByPlatform
	return s.createCoupon(ctx, tenantID, in, true)
}

func (s *Service) createCoupon(ctx context.Context, tenantID uuid.UUID, in CouponInput, platform bool) (Coupon, error) {
	bad := map[string]string{}
	in.Code = NormalizeCode(in.Code)
	if !codeRE.MatchString(in.Code) {
		bad["body.code"] = "3–32 characters of A-Z, 0-9, _ and -"
	}
	m, merchantScope := scope.MerchantFrom(ctx)
	if merchantScope {
		if in.MerchantID != nil && *in.MerchantID != m {
			return Coupon{}, ErrMerchantNotFound
		}
		in.MerchantID = &m
		if in.FundedBy == "" {
			in.FundedBy = FundedByMerchant
		}
		if in.FundedBy != FundedByMerchant {
			bad["body.funded_by"] = "a merchant's coupons are funded by the merchant"
		}
	} else if in.FundedBy == "" {
		in.FundedBy = FundedByTenant
	}
	switch {
	case platform, in.FundedBy == FundedByTenant, in.FundedBy == FundedByMerchant:
	default:
		bad["body.funded_by"] = "tenant or merchant"
	}
	if in.FundedBy == FundedByMerchant && in.MerchantID == nil {
		bad["body.merchant_id"] = "a merchant-funded coupon names its merchant"
	}
	var bp *int
	switch in.Kind {
	case KindPercentage:
		if v, ok := parsePercent(in.Percent); ok {
			bp = &v
		} else {
			bad["body.percent"] = "a percentage from 0.01 to 100, at most two decimals"
		}
	case KindFixed:
	default:
		bad["body.kind"] = "percentage or fixed"
	}
	now := s.now().UTC()
	starts := now
	if in.StartsAt != nil {
		starts = in.StartsAt.UTC()
	}
	if !in.EndsAt.After(starts) {
		bad["body.ends_at"] = "after the start"
	} else if !in.EndsAt.After(now) {
		bad["body.ends_at"] = "in the future"
	}
	if in.UsageLimit != nil && (*in.UsageLimit < 1 || *in.UsageLimit > 10_000_000) {
		bad["body.usage_limit"] = "1 to 10000000, or absent for no limit"
	}
	if in.PerShopperLimit != nil && (*in.PerShopperLimit < 1 || *in.PerShopperLimit > 1000) {
		bad["body.per_shopper_limit"] = "1 to 1000, or absent for no limit"
	}
	var out Coupon
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		cur, err := tenantCurrency(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		var amount *int64
		if in.Kind == KindFixed {
			a := parseMoney(bad, "body.amount", in.Amount, cur, true)
			amount = &a
		}
		var minSpend int64
		if strings.TrimSpace(in.MinSpend) != "" {
			minSpend = parseMoney(bad, "body.min_spend", in.MinSpend, cur, false)
		}
		if len(bad) > 0 {
			return fault.Fields(bad)
		}
		if in.MerchantID != nil {
			var n int
			if err := tx.NewRaw("SELECT count(*) FROM merchants WHERE tenant_id = ? AND id = ?", tenantID, *in.MerchantID).Scan(ctx, &n); err != nil {
				return err
			}
			if n == 0 {
				return ErrMerchantNotFound
			}
		}
		r := couponRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), Code: in.Code, MerchantID: in.MerchantID, Kind: in.Kind,
			PercentBP: bp, AmountMinor: amount, Currency: string(cur), MinSpendMinor: minSpend, FundedBy: in.FundedBy,
			StartsAt: starts, EndsAt: in.EndsAt.UTC(), UsageLimit: in.UsageLimit, PerShopperLimit: in.PerShopperLimit,
			Active: true, CreatedBy: string(scope.ActorFrom(ctx)), CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrCouponCodeTaken
			}
			return err
		}
		out = r.coupon()
		return s.audit.Record(ctx, tx, "coupon.create", "coupon", r.ID.String(), nil, out)
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("create coupon: %w", err)
	}
	return out, nil
}

// CouponFilter narrows ListCoupons.
type CouponFilter struct {
	Active     *bool
	MerchantID uuid.UUID
	FundedBy   string // "" for any
	httpx.PageParams
}

// ListCoupons pages through coupons, newest first; merchant staff see only their merchant's.
func (s *Service) ListCoupons(ctx context.Context, tenantID uuid.UUID, f CouponFilter) (httpx.Page[Coupon], error) {
	var rows []couponRow
	err := s.pageNewest(ctx, tenantID, f.PageParams, f.Active, &rows, func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.MerchantID != uuid.Nil {
			q = q.Where("merchant_id = ?", f.MerchantID)
		}
		if f.FundedBy != "" {
			q = q.Where("funded_by = ?", f.FundedBy)
		}
		return q
	})
	if err != nil {
		return httpx.Page[Coupon]{}, fmt.Errorf("list coupons: %w", err)
	}
	out := make([]Coupon, len(rows))
	for i, r := range rows {
		out[i] = r.coupon()
	}
	return httpx.PageOf(out, f.PageParams, func(c Coupon) any { return c.ID }), nil
}

func getCoupon(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID, lock bool) (couponRow, error) {
	return getRow[couponRow](ctx, tx, tenantID, id, lock, ErrNoSuchCoupon)
}

// GetCoupon returns one coupon. Errors: ErrNoSuchCoupon (also for another tenant's or, in a
// merchant scope, another merchant's id).
func (s *Service) GetCoupon(ctx context.Context, tenantID, id uuid.UUID) (Coupon, error) {
	var out Coupon
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		r, err := getCoupon(ctx, tx, tenantID, id, false)
		out = r.coupon()
		return err
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("get coupon: %w", err)
	}
	return out, nil
}

// DeactivateCoupon stops a coupon for good; redemptions made stay.
// Errors: ErrNoSuchCoupon, ErrInactive.
func (s *Service) DeactivateCoupon(ctx context.Context, tenantID, id uuid.UUID) (Coupon, error) {
	var out Coupon
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		r, err := getCoupon(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if !r.Active {
			return ErrInactive
		}
		before := r.coupon()
		r.Active, r.UpdatedAt = false, s.now().UTC()
		if _, err := tx.NewUpdate().Model(&r).Column("active", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		out = r.coupon()
		return s.audit.Record(ctx, tx, "coupon.deactivate", "coupon", id.String(), before, out)
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("deactivate coupon: %w", err)
	}
	return out, nil
}

// Quote previews what code takes off lines (unit prices in currency) for shopperKey, without
// using the coupon up. shopperKey may be "" for a visitor not yet known: the per-shopper limit
// is then checked only at Redeem.
// Errors: ErrCouponNotFound, ErrCouponNotActive, ErrCouponExhausted, ErrCouponShopperLimit,
// ErrCouponNotApplicable, ErrCouponMinSpend.
func (s *Service) Quote(ctx context.Context, tenantID uuid.UUID, code, shopperKey, currency string, lines []Line) (Discount, error) {
	var d Discount
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		r, err := couponByCode(ctx, tx, tenantID, code, false)
		if err != nil {
			return err
		}
		if err := s.usable(ctx, tx, r, shopperKey); err != nil {
			return err
		}
		d, err = discount(r, currency, lines)
		return err
	})
	if err != nil {
		return Discount{}, fmt.Errorf("quote coupon: %w", err)
	}
	return d, nil
}

// Redeem uses the coupon up once for orderID, inside the caller's (checkout's) transaction, and
// returns the discount. The coupon row is locked first, so concurrent redemptions of one
// coupon queue on it: the per-shopper count and the total are read under that lock, and the
// counter moves only through a conditional UPDATE (used < usage_limit) that a CHECK constraint
// backs. On error nothing has been written.
// Errors: those of Quote, invalid shopperKey, ErrCouponRedeemed.
func (s *Service) Redeem(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, code, shopperKey, currency string, lines []Line) (Discount, error) {
	if err := checkShopperKey(shopperKey); err != nil {
		return Discount{}, err
	}
	r, err := couponByCode(ctx, tx, tenantID, code, true)
	if err != nil {
		return Discount{}, fmt.Errorf("redeem coupon: %w", err)
	}
	if err := s.usable(ctx, tx, r, shopperKey); err != nil {
		return Discount{}, fmt.Errorf("redeem coupon: %w", err)
	}
	d, err := discount(r, currency, lines)
	if err != nil {
		return Discount{}, fmt.Errorf("redeem coupon: %w", err)
	}
	var redeemed int
	if err := tx.NewRaw("SELECT count(*) FROM coupon_redemptions WHERE tenant_id = ? AND coupon_id = ? AND order_id = ?", tenantID, r.ID, orderID).
		Scan(ctx, &redeemed); err != nil {
		return Discount{}, fmt.Errorf("redeem coupon: %w", err)
	}
	if redeemed > 0 {
		return Discount{}, fmt.Errorf("redeem coupon: %w", ErrCouponRedeemed)
	}
	res, err := tx.NewRaw(`UPDATE coupons SET used = used + 1, updated_at = now()
		WHERE tenant_id = ? AND id = ? AND (usage_limit IS NULL OR used < usage_limit)`, tenantID, r.ID).Exec(ctx)
	if err != nil {
		return Discount{}, fmt.Errorf("redeem coupon: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Discount{}, fmt.Errorf("redeem coupon: %w", ErrCouponExhausted)
	}
	if _, err := tx.NewRaw(`INSERT INTO coupon_redemptions (tenant_id, coupon_id, merchant_id, order_id, shopper_key, discount_minor, currency)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tenantID, r.ID, r.MerchantID, orderID, shopperKey, d.TotalMinor, r.Currency).Exec(ctx); err != nil {
		if _, dup := db.UniqueViolation(err); dup {
			return Discount{}, fmt.Errorf("redeem coupon: %w", ErrCouponRedeemed)
		}
		return Discount{}, fmt.Errorf("redeem coupon: %w", err)
	}
	return d, nil
}

func couponByCode(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, code string, lock bool) (couponRow, error) {
	var r couponRow
	code = NormalizeCode(code)
	if !codeRE.MatchString(code) {
		return r, ErrCouponNotFound
	}
	q := tx.NewSelect().Model(&r).Where("tenant_id = ? AND code = ?", tenantID, code)
	if lock {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, ErrCouponNotFound
		}
		return r, err
	}
	return r, nil
}

// usable checks the coupon's state, window and limits at this moment.
func (s *Service) usable(ctx context.Context, tx bun.IDB, r couponRow, shopperKey string) error {
	now := s.now()
	if !r.Active || now.Before(r.StartsAt) || !now.Before(r.EndsAt) {
		return ErrCouponNotActive
	}
	if r.UsageLimit != nil && r.Used >= *r.UsageLimit {
		return ErrCouponExhausted
	}
	if r.PerShopperLimit != nil && shopperKey != "" {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM coupon_redemptions WHERE tenant_id = ? AND coupon_id = ? AND shopper_key = ?",
			r.TenantID, r.ID, shopperKey).Scan(ctx, &n); err != nil {
			return err
		}
		if n >= *r.PerShopperLimit {
			return ErrCouponShopperLimit
		}
	}
	return nil
}

// discount computes what r takes off lines: over the eligible lines (all, or the coupon
// merchant's), a percentage rounded down or the fixed amount capped at their sum, then spread
// over those lines in proportion to their totals by money.Allocate, so the parts add up to
// the total exactly.
func discount(r couponRow, currency string, lines []Line) (Discount, error) {
	cur, err := money.ParseCurrency(strings.ToUpper(currency))
	if err != nil || string(cur) != r.Currency {
		return Discount{}, ErrCouponNotApplicable
	}
	weights := make([]int64, len(lines))
	eligible := money.Amount{Currency: cur}
	for i, l := range lines {
		if r.MerchantID != nil && l.MerchantID != *r.MerchantID {
			continue
		}
		if l.Quantity < 0 || l.UnitPriceMinor < 0 {
			return Discount{}, fmt.Errorf("discount: negative line %d", i)
		}
		lt, err := money.Amount{Minor: l.UnitPriceMinor, Currency: cur}.MulInt(int64(l.Quantity))
		if err != nil {
			return Discount{}, err
		}
		if eligible, err = eligible.Add(lt); err != nil {
			return Discount{}, err
		}
		weights[i] = lt.Minor
	}
	if eligible.Minor == 0 {
		return Discount{}, ErrCouponNotApplicable
	}
	if eligible.Minor < r.MinSpendMinor {
		return Discount{}, ErrCouponMinSpend
	}
	var total money.Amount
	switch r.Kind {
	case KindPercentage:
		if total, err = money.Percent(eligible, int64(*r.PercentBP), money.RoundDown); err != nil {
			return Discount{}, err
		}
	default:
		total = money.Amount{Minor: min(*r.AmountMinor, eligible.Minor), Currency: cur}
	}
	parts, err := money.Allocate(total, weights)
	if err != nil {
		return Discount{}, err
	}
	d := Discount{CouponID: r.ID, Code: r.Code, FundedBy: r.FundedBy, PerLineMinor: make([]int64, len(lines)), TotalMinor: total.Minor}
	for i, p := range parts {
		d.PerLineMinor[i] = p.Minor
	}
	return d, nil
}
