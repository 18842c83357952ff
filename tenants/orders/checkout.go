package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/tenants/cart"
	"mercato/tenants/inventory"
	"mercato/tenants/promotions"
)

// Carts is what checkout needs of tenants/cart.
type Carts interface {
	View(ctx context.Context, tenantID uuid.UUID, owner cart.Owner, locale string) (cart.View, error)
	Clear(ctx context.Context, tx bun.IDB, tenantID, cartID uuid.UUID) error
}

// Promotions is what checkout needs of tenants/promotions.
type Promotions interface {
	Quote(ctx context.Context, tenantID uuid.UUID, code, shopperKey, currency string, lines []promotions.Line) (promotions.Discount, error)
	Redeem(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, code, shopperKey, currency string, lines []promotions.Line) (promotions.Discount, error)
	ClaimFlash(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID, shopperKey string, saleID, variantID uuid.UUID, qty int) error
}

// UsageReleaser gives back what a cancelled order used of promotions: its coupon redemption
// and its flash-sale units. Cancel calls it when Promotions implements it.
type UsageReleaser interface {
	ReleaseOrder(ctx context.Context, tx bun.IDB, tenantID, orderID uuid.UUID) error
}

// ErrShippingChoice is a merchant's parcel without a valid shipping choice.
var ErrShippingChoice = fault.New(fault.Invalid, "shipping_choice_invalid", "choose one of the merchant's shipping options")

// CheckoutInput is what a shopper submits. Prices never come from the client: checkout reads
// the cart and prices it on the server.
type CheckoutInput struct {
	Owner   cart.Owner `json:"-"`
	Email   string     `json:"email" maxLength:"254"`
	Address Address    `json:"address"`
	// Shipping is the chosen rate per merchant (merchant id → rate id); a merchant with one
	// option may be left out.
	Shipping   map[uuid.UUID]uuid.UUID `json:"shipping,omitempty"`
	CouponCode string                  `json:"coupon_code,omitempty" maxLength:"64"`
	Locale     string                  `json:"locale,omitempty" enum:"en,zh-CN"`
}

// Placed is a placed order and how to pay for it.
type Placed struct {
	Order   Order          `json:"order"`
	Payment PaymentSession `json:"payment"`
}

var postalRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]{1,11}$`)

// validate checks what the shopper typed, naming each bad field.
func (in *CheckoutInput) validate() error {
	bad := map[string]string{}
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
		bad["body.email"] = "a valid e-mail address"
	}
	a := &in.Address
	for _, f := range []*string{&a.Name, &a.Line1, &a.Line2, &a.City, &a.Region, &a.PostalCode, &a.Country, &a.Phone} {
		*f = strings.TrimSpace(*f)
	}
	a.Country, a.Region = strings.ToUpper(a.Country), strings.ToUpper(a.Region)
	need := func(field, v string, max int) {
		if v == "" || len(v) > max {
			bad["body.address."+field] = fmt.Sprintf("required, at most %d characters", max)
		}
	}
	need("name", a.Name, 200)
	need("line1", a.Line1, 200)
	need("city", a.City, 100)
	if len(a.Line2) > 200 {
		bad["body.address.line2"] = "at most 200 characters"
	}
	if len(a.Phone) > 40 {
		bad["body.address.phone"] = "at most 40 characters"
	}
	if !countryRE.MatchString(a.Country) {
		bad["body.address.country"] = "a two-letter country code, e.g. US"
	}
	if !regionRE.MatchString(a.Region) {
		bad["body.address.region"] = "up to 10 letters, digits or -"
	}
	if !postalRE.MatchString(a.PostalCode) {
		bad["body.address.postal_code"] = "a postal code: 2–12 letters, digits, spaces or -"
	}
	if in.Locale == "" {
		in.Locale = "en"
	}
	if in.Locale != "en" && in.Locale != "zh-CN" {
		bad["body.locale"] = "en or zh-CN"
	}
	in.CouponCode = strings.TrimSpace(in.CouponCode)
	if len(in.CouponCode) > 64 {
		bad["body.coupon_code"] = "at most 64 characters"
	}
	if (in.Owner.ShopperID == uuid.Nil) == (in.Owner.GuestSessionID == uuid.Nil) {
		return ErrCartEmpty
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// ShopperKey is how promotions count a shopper's uses: the account, or a guest's e-mail.
func ShopperKey(owner cart.Owner, email string) string {
	if owner.ShopperID != uuid.Nil {
		return "shopper:" + owner.ShopperID.String()
	}
	return "email:" + strings.ToLower(strings.TrimSpace(email))
}

// Quote is what the checkout page shows before the order is placed: the priced order for the
// choices so far, the shipping options per merchant, and the coupon's problem if it has one.
type Quote struct {
	Cart      cart.View
	Priced    Priced
	Options   map[uuid.UUID][]ShippingOption
	Chosen    map[uuid.UUID]uuid.UUID // merchant → rate the totals use
	Tax       TaxRate
	Discount  promotions.Discount
	CouponErr error // the coupon was refused; the totals are without it
}

// Preview prices the cart for the checkout page without writing anything: the address's tax,
// each merchant's chosen (or cheapest) shipping option and the coupon's discount. The
// country may be empty (no tax yet). Errors: ErrCartEmpty, and the cart's.
func (s *Service) Preview(ctx context.Context, tenantID uuid.UUID, in CheckoutInput) (Quote, error) {
	if in.Locale == "" {
		in.Locale = "en"
	}
	view, err := s.carts.View(ctx, tenantID, in.Owner, in.Locale)
	if err != nil {
		return Quote{}, fmt.Errorf("preview checkout: %w", err)
	}
	q := Quote{Cart: view, Chosen: map[uuid.UUID]uuid.UUID{}}
	if len(view.Lines) == 0 {
		return q, ErrCartEmpty
	}
	lines := promoLines(view)
	if code := strings.TrimSpace(in.CouponCode); code != "" {
		q.Discount, q.CouponErr = s.promos.Quote(ctx, tenantID, code, ShopperKey(in.Owner, in.Email), view.Currency, lines)
		if q.CouponErr != nil {
			q.Discount = promotions.Discount{}
		}
	}
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		if c := strings.ToUpper(strings.TrimSpace(in.Address.Country)); c != "" {
			if q.Tax, err = taxFor(ctx, tx, tenantID, c, strings.ToUpper(strings.TrimSpace(in.Address.Region))); err != nil {
				return err
			}
		}
		rates, err := shippingRates(ctx, tx, tenantID, uuid.Nil, view.Currency, true)
		if err != nil {
			return err
		}
		q.Options = shippingOptions(rates, parcels(view, q.Discount))
		return nil
	})
	if err != nil {
		return Quote{}, fmt.Errorf("preview checkout: %w", err)
	}
	ship := map[uuid.UUID]int64{}
	for m, opts := range q.Options {
		pick := opts[0]
		for _, o := range opts {
			if o.RateID == in.Shipping[m] {
				pick = o
			}
		}
		q.Chosen[m], ship[m] = pick.RateID, pick.PriceMinor
	}
	q.Priced, err = Price(priceInput(view, q.Discount, q.Tax, ship))
	if err != nil {
		return Quote{}, fmt.Errorf("preview checkout: %w", err)
	}
	return q, nil
}

func promoLines(v cart.View) []promotions.Line {
	out := make([]promotions.Line, len(v.Lines))
	for i, l := range v.Lines {
		out[i] = promotions.Line{VariantID: l.VariantID, MerchantID: l.MerchantID, UnitPriceMinor: l.UnitPriceMinor, Quantity: l.Quantity}
	}
	return out
}

// parcels is each merchant's goods after discount and weight, what shipping rates price.
func parcels(v cart.View, d promotions.Discount) map[uuid.UUID]Parcel {
	out := map[uuid.UUID]Parcel{}
	for i, l := range v.Lines {
		p := out[l.MerchantID]
		p.GoodsMinor += l.UnitPriceMinor * int64(l.Quantity)
		if i < len(d.PerLineMinor) {
			p.GoodsMinor -= d.PerLineMinor[i]
		}
		p.WeightGrams += l.WeightGrams * l.Quantity
		out[l.MerchantID] = p
	}
	return out
}

func priceInput(v cart.View, d promotions.Discount, tax TaxRate, ship map[uuid.UUID]int64) PriceInput {
	in := PriceInput{Currency: v.Currency, Tax: TaxRule{RateBP: int64(tax.RateBP), Inclusive: tax.Inclusive}, ShippingMinor: ship}
	for i, l := range v.Lines {
		pl := PriceLine{MerchantID: l.MerchantID, UnitPriceMinor: l.UnitPriceMinor, Quantity: l.Quantity, WeightGrams: l.WeightGrams}
		if i < len(d.PerLineMinor) {
			pl.DiscountMinor = d.PerLineMinor[i]
		}
		in.Lines = append(in.Lines, pl)
	}
	return in
}

// Checkout places an order from the shopper's cart. In ONE transaction it re-prices the cart
// as read on the server, redeems the coupon, claims flash-sale units, reserves the stock
// (inventory.ReserveTx) until ReservationTTL from now, writes the order, one merchant order per
// merchant and the lines with their prices, discount and its funding, tax, shipping and fee
// shares frozen, records the first timeline event and the audit entry, and empties the cart.
// Any failure leaves nothing behind: no order, no reservation, no coupon use. A deadlock
// between concurrent checkouts reruns the whole transaction (at most three times). Then the
// PaymentStarter starts collecting the money; the order waits in pending_payment.
//
// Errors: invalid fields, ErrCartEmpty, ErrCartUnavailable, ErrShippingChoice (as a field
// error), the coupon's errors (promotions.ErrCoupon*), the flash sale's (ErrFlashSoldOut, ...),
// inventory.ErrInsufficientStock.
func (s *Service) Checkout(ctx context.Context, tenantID uuid.UUID, in CheckoutInput) (Placed, error) {
	if err := in.validate(); err != nil {
		return Placed{}, err
	}
	if s.fees == nil {
		return Placed{}, errors.New("checkout: no FeeSplitter configured")
	}
	view, err := s.carts.View(ctx, tenantID, in.Owner, in.Locale)
	if err != nil {
		return Placed{}, fmt.Errorf("checkout: %w", err)
	}
	if len(view.Lines) == 0 {
		return Placed{}, ErrCartEmpty
	}
	for _, l := range view.Lines {
		if l.Problem == "unavailable" || l.Quantity <= 0 {
			return Placed{}, ErrCartUnavailable
		}
	}
	var o Order
	for attempt := 1; ; attempt++ {
		o, err = s.placeOnce(ctx, tenantID, in, view)
		// PostgreSQL aborted one of two checkouts that locked stock in opposite orders; the
		// loser holds nothing any more, so it may simply run again.
		if !inventory.IsRetryable(err) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return Placed{}, fmt.Errorf("checkout: %w", err)
	}
	pay, err := s.payments.Start(ctx, tenantID, o)
	if err != nil {
		return Placed{Order: o}, fmt.Errorf("start payment for order %s: %w", o.ID, err)
	}
	return Placed{Order: o, Payment: pay}, nil
}

func (s *Service) placeOnce(ctx context.Context, tenantID uuid.UUID, in CheckoutInput, view cart.View) (Order, error) {
	orderID := uuid.Must(uuid.NewV7())
	shopperKey := ShopperKey(in.Owner, in.Email)
	now := s.now().UTC()
	var out Order
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		tax, err := taxFor(ctx, tx, tenantID, in.Address.Country, in.Address.Region)
		if err != nil {
			return err
		}
		rates, err := shippingRates(ctx, tx, tenantID, uuid.Nil, view.Currency, true)
		if err != nil {
			return err
		}
		hasRates := map[uuid.UUID]bool{}
		for _, r := range rates {
			hasRates[r.MerchantID] = true
		}
		var discount promotions.Discount
		if in.CouponCode != "" {
			if discount, err = s.promos.Redeem(ctx, tx, tenantID, orderID, in.CouponCode, shopperKey, view.Currency, promoLines(view)); err != nil {
				return err
			}
		}
		options := shippingOptions(rates, parcels(view, discount))
		ship := map[uuid.UUID]int64{}
		chosen := map[uuid.UUID]ShippingOption{}
		bad := map[string]string{}
		for _, g := range view.Groups {
			opts := options[g.MerchantID]
			if !hasRates[g.MerchantID] {
				continue // the merchant charges nothing for shipping
			}
			want, picked := in.Shipping[g.MerchantID], false
			for _, o := range opts {
				if o.RateID == want || (want == uuid.Nil && len(opts) == 1) {
					chosen[g.MerchantID], ship[g.MerchantID], picked = o, o.PriceMinor, true
				}
			}
			if !picked {
				bad["body.shipping."+g.MerchantID.String()] = ErrShippingChoice.Message
			}
		}
		if len(bad) > 0 {
			return fault.Fields(bad)
		}
		for _, l := range view.Lines {
			if l.FlashSaleID == nil {
				continue
			}
			if err := s.promos.ClaimFlash(ctx, tx, tenantID, orderID, shopperKey, *l.FlashSaleID, l.VariantID, l.Quantity); err != nil {
				return err
			}
		}
		held := make([]inventory.Line, len(view.Lines))
		for i, l := range view.Lines {
			held[i] = inventory.Line{VariantID: l.VariantID, Quantity: l.Quantity}
		}
		reservations, err := s.inventory.ReserveTx(ctx, tx, tenantID, held, "order:"+orderID.String(), ReservationTTL+reservationGrace)
		if err != nil {
			return err
		}
		reservationOf := map[uuid.UUID]uuid.UUID{}
		for _, r := range reservations {
			reservationOf[r.VariantID] = r.ID
		}
		priced, err := Price(priceInput(view, discount, tax, ship))
		if err != nil {
			return err
		}
		feeLines := make([]FeeLine, len(view.Lines))
		for i, l := range view.Lines {
			pl := priced.Lines[i]
			feeLines[i] = FeeLine{MerchantID: l.MerchantID, NetMinor: pl.TotalMinor, DiscountMinor: pl.DiscountMinor}
			if pl.DiscountMinor > 0 {
				feeLines[i].DiscountFundedBy = discount.FundedBy
			}
		}
		shares, err := s.fees(view.Currency, feeLines)
		if err != nil {
			return fmt.Errorf("split fees: %w", err)
		}
		o := Order{ID: orderID, Number: orderNumber(orderID), Email: in.Email, Status: StatusPendingPayment,
			Currency: view.Currency, Locale: in.Locale, Address: in.Address, TaxName: tax.Name, TaxRateBP: tax.RateBP,
			TaxInclusive: tax.Inclusive, CouponCode: discount.Code, ExpiresAt: now.Add(ReservationTTL), CreatedAt: now,
			Amounts: priced.Amounts, Merchants: []MerchantOrder{}}
		if discount.TotalMinor > 0 {
			o.DiscountFundedBy = discount.FundedBy
		}
		if in.Owner.ShopperID != uuid.Nil {
			id := in.Owner.ShopperID
			o.ShopperID = &id
		}
		pos := map[uuid.UUID]int{} // line id → its place in the cart, which the order keeps
		names := map[uuid.UUID]string{}
		for _, g := range view.Groups {
			names[g.MerchantID] = g.MerchantName
		}
		for _, pm := range priced.Merchants {
			mo := MerchantOrder{ID: uuid.Must(uuid.NewV7()), OrderID: orderID, MerchantID: pm.MerchantID,
				MerchantName: names[pm.MerchantID], Status: StatusPendingPayment, Currency: view.Currency,
				WeightGrams: pm.WeightGrams, CreatedAt: now, Amounts: pm.Amounts, Lines: []Line{}}
			if c, ok := chosen[pm.MerchantID]; ok {
				id := c.RateID
				mo.ShippingRateID, mo.ShippingName = &id, c.Name
			}
			for _, li := range pm.Lines {
				cl, fs := view.Lines[li], shares[li]
				l := Line{ID: uuid.Must(uuid.NewV7()), MerchantOrderID: mo.ID, MerchantID: cl.MerchantID, VariantID: cl.VariantID,
					ProductID: cl.ProductID, SKU: cl.SKU, Title: cl.Title, OptionValues: cl.OptionValues, Quantity: cl.Quantity,
					UnitPriceMinor: cl.UnitPriceMinor, ListPriceMinor: cl.ListPriceMinor, FlashSaleID: cl.FlashSaleID,
					WeightGrams: cl.WeightGrams, DiscountFundedBy: feeLines[li].DiscountFundedBy, Amounts: priced.Lines[li],
					CommissionMinor: fs.CommissionMinor, PlatformFeeMinor: fs.PlatformFeeMinor, PayableMinor: fs.PayableMinor}
				if l.OptionValues == nil {
					l.OptionValues = map[string]string{}
				}
				if r, ok := reservationOf[cl.VariantID]; ok {
					l.ReservationID = &r
				}
				pos[l.ID] = li
				mo.CommissionMinor += fs.CommissionMinor
				mo.PlatformFeeMinor += fs.PlatformFeeMinor
				mo.PayableMinor += fs.PayableMinor
				mo.Lines = append(mo.Lines, l)
			}
			o.CommissionMinor += mo.CommissionMinor
			o.PlatformFeeMinor += mo.PlatformFeeMinor
			o.Merchants = append(o.Merchants, mo)
		}
		if err := insertOrder(ctx, tx, tenantID, o, in.Owner, shopperKey, discount, pos); err != nil {
			return err
		}
		if err := writeEvent(ctx, tx, tenantID, orderID, nil, "", StatusPendingPayment, ""); err != nil {
			return err
		}
		if err := s.carts.Clear(ctx, tx, tenantID, view.ID); err != nil {
			return fmt.Errorf("clear cart: %w", err)
		}
		out = o
		return s.audit.Record(ctx, tx, "order.place", "order", orderID.String(), nil, map[string]any{
			"number": o.Number, "status": o.Status, "currency": o.Currency, "total_minor": o.TotalMinor,
			"merchant_orders": len(o.Merchants), "coupon_code": o.CouponCode})
	})
	if err != nil {
		return Order{}, err
	}
	return out, nil
}

// orderNumber is the reference people read out on the phone: the random tail of the UUIDv7,
// which is unique per tenant in practice (the constraint catches the rest).
func orderNumber(id uuid.UUID) string {
	return "M-" + strings.ToUpper(strings.ReplaceAll(id.String(), "-", "")[20:])
}

func insertOrder(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, o Order, owner cart.Owner, shopperKey string, d promotions.Discount, pos map[uuid.UUID]int) error {
	addr, err := json.Marshal(o.Address)
	if err != nil {
		return err
	}
	var shopperID, guestID, couponID any
	if owner.ShopperID != uuid.Nil {
		shopperID = owner.ShopperID
	} else {
		guestID = owner.GuestSessionID
	}
	if d.CouponID != uuid.Nil {
		couponID = d.CouponID
	}
	if _, err := tx.NewRaw(`INSERT INTO orders (tenant_id, id, number, shopper_id, guest_session_id, shopper_key, email, status,
		currency, locale, address, tax_name, tax_rate_bp, tax_inclusive, coupon_id, coupon_code, discount_funded_by,
		subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, commission_minor, platform_fee_minor,
		expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenantID, o.ID, o.Number, shopperID, guestID, shopperKey, o.Email, o.Status, o.Currency, o.Locale, string(addr),
		o.TaxName, o.TaxRateBP, o.TaxInclusive, couponID, o.CouponCode, o.DiscountFundedBy, o.SubtotalMinor, o.DiscountMinor,
		o.ShippingMinor, o.TaxMinor, o.TotalMinor, o.CommissionMinor, o.PlatformFeeMinor, o.ExpiresAt, o.CreatedAt, o.CreatedAt).
		Exec(ctx); err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	for _, mo := range o.Merchants {
		if _, err := tx.NewRaw(`INSERT INTO merchant_orders (tenant_id, id, order_id, merchant_id, merchant_name, status, currency,
			shipping_rate_id, shipping_name, weight_grams, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor,
			commission_minor, platform_fee_minor, payable_minor, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenantID, mo.ID, o.ID, mo.MerchantID, mo.MerchantName, mo.Status, mo.Currency, mo.ShippingRateID, mo.ShippingName,
			mo.WeightGrams, mo.SubtotalMinor, mo.DiscountMinor, mo.ShippingMinor, mo.TaxMinor, mo.TotalMinor,
			mo.CommissionMinor, mo.PlatformFeeMinor, mo.PayableMinor, o.CreatedAt, o.CreatedAt).Exec(ctx); err != nil {
			return fmt.Errorf("insert merchant order: %w", err)
		}
		for _, l := range mo.Lines {
			opts, _ := json.Marshal(l.OptionValues)
			if _, err := tx.NewRaw(`INSERT INTO order_lines (tenant_id, id, order_id, merchant_order_id, merchant_id, variant_id,
				product_id, sku, title, option_values, quantity, unit_price_minor, list_price_minor, flash_sale_id, weight_grams,
				subtotal_minor, discount_minor, discount_funded_by, shipping_minor, tax_minor, total_minor, commission_minor,
				platform_fee_minor, payable_minor, reservation_id, position)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				tenantID, l.ID, o.ID, mo.ID, l.MerchantID, l.VariantID, l.ProductID, l.SKU, l.Title, string(opts), l.Quantity,
				l.UnitPriceMinor, l.ListPriceMinor, l.FlashSaleID, l.WeightGrams, l.SubtotalMinor, l.DiscountMinor,
				l.DiscountFundedBy, l.ShippingMinor, l.TaxMinor, l.TotalMinor, l.CommissionMinor, l.PlatformFeeMinor,
				l.PayableMinor, l.ReservationID, pos[l.ID]).Exec(ctx); err != nil {
				return fmt.Errorf("insert order line: %w", err)
			}
		}
	}
	return nil
}
