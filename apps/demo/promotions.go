package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"mercato/tenants/promotions"
)

// Coupon is a demo coupon every demo store gets: what a shopper can type in the cart.
const Coupon = "WELCOME10"

// PlatformCoupon is Lumen's coupon the platform pays for (made in the admin portal).
const PlatformCoupon = "MERCATO5"

// FlashSKU is the variant on a flash sale in Lumen, so the product page shows its countdown.
const FlashSKU = "ARC-BRASS-DESK-LAMP-BLACK"

// loadPromotions gives every demo store the welcome coupon (10% off, once per shopper, paid for
// by the marketplace), Lumen the platform's 5% launch coupon and a week-long flash sale of 10
// black arc lamps. A second load
// changes nothing while the sale runs: the code and the sale's period are taken.
func loadPromotions(ctx context.Context, s *promotions.Service, tenants map[string]uuid.UUID) error {
	for _, t := range Tenants {
		tid, ok := tenants[t.Slug]
		if !ok {
			continue
		}
		_, err := s.CreateCoupon(ctx, tid, promotions.CouponInput{Code: Coupon, Kind: promotions.KindPercentage, Percent: "10",
			FundedBy: promotions.FundedByTenant, EndsAt: time.Now().AddDate(1, 0, 0), UsageLimit: ptrTo(1000), PerShopperLimit: ptrTo(1)})
		if err != nil && !errors.Is(err, promotions.ErrCouponCodeTaken) {
			return fmt.Errorf("demo coupon in %s: %w", t.Slug, err)
		}
	}
	if tid, ok := tenants["lumen"]; ok {
		// The platform's launch offer in Lumen, made as an operator makes it in the admin
		// portal: the discount comes off the platform's fee.
		_, err := s.CreatePlatformCoupon(ctx, tid, promotions.CouponInput{Code: PlatformCoupon, Kind: promotions.KindPercentage, Percent: "5",
			EndsAt: time.Now().AddDate(0, 3, 0), UsageLimit: ptrTo(500), PerShopperLimit: ptrTo(1)})
		if err != nil && !errors.Is(err, promotions.ErrCouponCodeTaken) {
			return fmt.Errorf("demo platform coupon: %w", err)
		}
		_, err = s.CreateFlashSale(ctx, tid, promotions.FlashSaleInput{SKU: FlashSKU, Price: "59.00", Quantity: 10, PerShopperLimit: 2,
			EndsAt: time.Now().AddDate(0, 0, 7)})
		if err != nil && !errors.Is(err, promotions.ErrFlashOverlap) && !errors.Is(err, promotions.ErrVariantNotFound) {
			return fmt.Errorf("demo flash sale: %w", err)
		}
	}
	return nil
}

func ptrTo(n int) *int { return &n }
