package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

type orderRow struct {
	ID               uuid.UUID       `bun:"id"`
	Number           string          `bun:"number"`
	ShopperID        uuid.NullUUID   `bun:"shopper_id"`
	GuestSessionID   uuid.NullUUID   `bun:"guest_session_id"`
	Email            string          `bun:"email"`
	Status           string          `bun:"status"`
	Currency         string          `bun:"currency"`
	Locale           string          `bun:"locale"`
	Address          json.RawMessage `bun:"address"`
	TaxName          string          `bun:"tax_name"`
	TaxRateBP        int             `bun:"tax_rate_bp"`
	TaxInclusive     bool            `bun:"tax_inclusive"`
	CouponID         uuid.NullUUID   `bun:"coupon_id"`
	CouponCode       string          `bun:"coupon_code"`
	ShopperKey       string          `bun:"shopper_key"`
	DiscountFundedBy string          `bun:"discount_funded_by"`
	SubtotalMinor    int64           `bun:"subtotal_minor"`
	DiscountMinor    int64           `bun:"discount_minor"`
	ShippingMinor    int64           `bun:"shipping_minor"`
	TaxMinor         int64           `bun:"tax_minor"`
	TotalMinor       int64           `bun:"total_minor"`
	CommissionMinor  int64           `bun:"commission_minor"`
	PlatformFeeMinor int64           `bun:"platform_fee_minor"`
	PaymentRef       string          `bun:"payment_ref"`
	ExpiresAt        time.Time       `bun:"expires_at"`
	PaidAt           *time.Time      `bun:"paid_at"`
	CancelledAt      *time.Time      `bun:"cancelled_at"`
	CreatedAt        time.Time       `bun:"created_at"`
}

const orderColumns = `id, number, shopper_id, guest_session_id, email, status, currency, locale, address, tax_name, tax_rate_bp,
	tax_inclusive, coupon_id, coupon_code, shopper_key, discount_funded_by, subtotal_minor, discount_minor, shipping_minor,
	tax_minor, total_minor, commission_minor, platform_fee_minor, payment_ref, expires_at, paid_at, cancelled_at, created_at`

func (r orderRow) order() Order {
	o := Order{ID: r.ID, Number: r.Number, Email: r.Email, Status: r.Status, Currency: r.Currency, Locale: r.Locale,
		TaxName: r.TaxName, TaxRateBP: r.TaxRateBP, TaxInclusive: r.TaxInclusive, CouponCode: r.CouponCode,
		DiscountFundedBy: r.DiscountFundedBy, CommissionMinor: r.CommissionMinor, PlatformFeeMinor: r.PlatformFeeMinor,
		PaymentRef: r.PaymentRef, ExpiresAt: r.ExpiresAt, PaidAt: r.PaidAt, CancelledAt: r.CancelledAt, CreatedAt: r.CreatedAt,
		Amounts: Amounts{SubtotalMinor: r.SubtotalMinor, DiscountMinor: r.DiscountMinor, ShippingMinor: r.ShippingMinor,
			TaxMinor: r.TaxMinor, TotalMinor: r.TotalMinor},
		Merchants: []MerchantOrder{}}
	if r.ShopperID.Valid {
		id := r.ShopperID.UUID
		o.ShopperID = &id
	}
	_ = json.Unmarshal(r.Address, &o.Address)
	return o
}

type merchantOrderRow struct {
	ID               uuid.UUID     `bun:"id"`
	OrderID          uuid.UUID     `bun:"order_id"`
	MerchantID       uuid.UUID     `bun:"merchant_id"`
	MerchantName     string        `bun:"merchant_name"`
	Status           string        `bun:"status"`
	Currency         string        `bun:"currency"`
	ShippingRateID   uuid.NullUUID `bun:"shipping_rate_id"`
	ShippingName     string        `bun:"shipping_name"`
	WeightGrams      int           `bun:"weight_grams"`
	SubtotalMinor    int64         `bun:"subtotal_minor"`
	DiscountMinor    int64         `bun:"discount_minor"`
	ShippingMinor    int64         `bun:"shipping_minor"`
	TaxMinor         int64         `bun:"tax_minor"`
	TotalMinor       int64         `bun:"total_minor"`
	CommissionMinor  int64         `bun:"commission_minor"`
	PlatformFeeMinor int64         `bun:"platform_fee_minor"`
	PayableMinor     int64         `bun:"payable_minor"`
	DeliveredAt      *time.Time    `bun:"delivered_at"`
	CreatedAt        time.Time     `bun:"created_at"`
}

const merchantOrderColumns = `id, order_id, merchant_id, merchant_name, status, currency, shipping_rate_id, shipping_name,
	weight_grams, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, commission_minor, platform_fee_minor,
	payable_minor, delivered_at, created_at`

func (r merchantOrderRow) merchantOrder() MerchantOrder {
	mo := MerchantOrder{ID: r.ID, OrderID: r.OrderID, MerchantID: r.MerchantID, MerchantName: r.MerchantName, Status: r.Status,
		Currency: r.Currency, ShippingName: r.ShippingName, WeightGrams: r.WeightGrams, CommissionMinor: r.CommissionMinor,
		PlatformFeeMinor: r.PlatformFeeMinor, PayableMinor: r.PayableMinor, DeliveredAt: r.DeliveredAt, CreatedAt: r.CreatedAt,
		Amounts: Amounts{SubtotalMinor: r.SubtotalMinor, DiscountMinor: r.DiscountMinor, ShippingMinor: r.ShippingMinor,
			TaxMinor: r.TaxMinor, TotalMinor: r.TotalMinor},
		Lines: []Line{}}
	if r.ShippingRateID.Valid {
		id := r.ShippingRateID.UUID
		mo.ShippingRateID = &id
	}
	return mo
}

type lineRow struct {
	ID               uuid.UUID         `bun:"id"`
	MerchantOrderID  uuid.UUID         `bun:"merchant_order_id"`
	MerchantID       uuid.UUID         `bun:"merchant_id"`
	VariantID        uuid.UUID         `bun:"variant_id"`
	ProductID        uuid.UUID         `bun:"product_id"`
	SKU              string            `bun:"sku"`
	Title            string            `bun:"title"`
	OptionValues     map[string]string `bun:"option_values,type:jsonb"`
	Quantity         int               `bun:"quantity"`
	FulfilledQty     int               `bun:"fulfilled_quantity"`
	UnitPriceMinor   int64             `bun:"unit_price_minor"`
	ListPriceMinor   int64             `bun:"list_price_minor"`
	FlashSaleID      uuid.NullUUID     `bun:"flash_sale_id"`
	WeightGrams      int               `bun:"weight_grams"`
	SubtotalMinor    int64             `bun:"subtotal_minor"`
	DiscountMinor    int64             `bun:"discount_minor"`
	DiscountFundedBy string            `bun:"discount_funded_by"`
	ShippingMinor    int64             `bun:"shipping_minor"`
	TaxMinor         int64             `bun:"tax_minor"`
	TotalMinor       int64             `bun:"total_minor"`
	CommissionMinor  int64             `bun:"commission_minor"`
	PlatformFeeMinor int64             `bun:"platform_fee_minor"`
	PayableMinor     int64             `bun:"payable_minor"`
	ReservationID    uuid.NullUUID     `bun:"reservation_id"`
}

const lineColumns = `id, merchant_order_id, merchant_id, variant_id, product_id, sku, title, option_values, quantity,
	fulfilled_quantity, unit_price_minor, list_price_minor, flash_sale_id, weight_grams, subtotal_minor, discount_minor,
	discount_funded_by, shipping_minor, tax_minor, total_minor, commission_minor, platform_fee_minor, payable_minor, reservation_id`

func (r lineRow) line() Line {
	l := Line{ID: r.ID, MerchantOrderID: r.MerchantOrderID, MerchantID: r.MerchantID, VariantID: r.VariantID,
		ProductID: r.ProductID, SKU: r.SKU, Title: r.Title, OptionValues: r.OptionValues, Quantity: r.Quantity,
		FulfilledQty: r.FulfilledQty, UnitPriceMinor: r.UnitPriceMinor, ListPriceMinor: r.ListPriceMinor,
		WeightGrams: r.WeightGrams, DiscountFundedBy: r.DiscountFundedBy, CommissionMinor: r.CommissionMinor,
		PlatformFeeMinor: r.PlatformFeeMinor, PayableMinor: r.PayableMinor,
		Amounts: Amounts{SubtotalMinor: r.SubtotalMinor, DiscountMinor: r.DiscountMinor, ShippingMinor: r.ShippingMinor,
			TaxMinor: r.TaxMinor, TotalMinor: r.TotalMinor}}
	if l.OptionValues == nil {
		l.OptionValues = map[string]string{}
	}
	if r.FlashSaleID.Valid {
		id := r.FlashSaleID.UUID
		l.FlashSaleID = &id
	}
	if r.ReservationID.Valid {
		id := r.ReservationID.UUID
		l.ReservationID = &id
	}
	return l
}

// readMerchantOrder reads one merchant order with its lines, as tx's scope shows it.
func readMerchantOrder(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (MerchantOrder, error) {
	var row merchantOrderRow
	err := tx.NewRaw(`SELECT `+merchantOrderColumns+` FROM merchant_orders WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return MerchantOrder{}, ErrMerchantOrderNotFound
	}
	if err != nil {
		return MerchantOrder{}, fmt.Errorf("read merchant order: %w", err)
	}
	mo := row.merchantOrder()
	var lines []lineRow
	if err := tx.NewRaw(`SELECT `+lineColumns+` FROM order_lines WHERE tenant_id = ? AND merchant_order_id = ? ORDER BY position`,
		tenantID, id).Scan(ctx, &lines); err != nil {
		return MerchantOrder{}, fmt.Errorf("read lines: %w", err)
	}
	for _, l := range lines {
		mo.Lines = append(mo.Lines, l.line())
	}
	return mo, nil
}

// readOrder reads an order with the merchant orders, lines and events tx's scope shows. In a
// merchant scope the order's amounts are the merchant's own, so no other merchant's figures
// show; an order without a merchant order of that merchant is ErrNotFound.
func readOrder(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID, merchantScoped bool) (Order, error) {
	var row orderRow
	err := tx.NewRaw(`SELECT `+orderColumns+` FROM orders WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("read order: %w", err)
	}
	o := row.order()
	var mos []merchantOrderRow
	if err := tx.NewRaw(`SELECT `+merchantOrderColumns+` FROM merchant_orders WHERE tenant_id = ? AND order_id = ? ORDER BY id`,
		tenantID, id).Scan(ctx, &mos); err != nil {
		return Order{}, fmt.Errorf("read merchant orders: %w", err)
	}
	if merchantScoped && len(mos) == 0 {
		return Order{}, ErrNotFound
	}
	byID := map[uuid.UUID]int{}
	for i, r := range mos {
		o.Merchants = append(o.Merchants, r.merchantOrder())
		byID[r.ID] = i
	}
	var lines []lineRow
	if err := tx.NewRaw(`SELECT `+lineColumns+` FROM order_lines WHERE tenant_id = ? AND order_id = ? ORDER BY position`,
		tenantID, id).Scan(ctx, &lines); err != nil {
		return Order{}, fmt.Errorf("read lines: %w", err)
	}
	for _, l := range lines {
		if i, ok := byID[l.MerchantOrderID]; ok {
			o.Merchants[i].Lines = append(o.Merchants[i].Lines, l.line())
		}
	}
	if merchantScoped {
		o.Amounts, o.CommissionMinor, o.PlatformFeeMinor = Amounts{}, 0, 0
		for _, mo := range o.Merchants {
			o.add(mo.Amounts)
			o.CommissionMinor += mo.CommissionMinor
			o.PlatformFeeMinor += mo.PlatformFeeMinor
		}
	}
	o.Events = []Event{}
	if err := tx.NewRaw(`SELECT id, merchant_order_id, actor, from_status AS "from", to_status AS "to", note, created_at AS at
		FROM order_events WHERE tenant_id = ? AND order_id = ? ORDER BY id`, tenantID, id).Scan(ctx, &o.Events); err != nil {
		return Order{}, fmt.Errorf("read events: %w", err)
	}
	return o, nil
}

// Get returns an order as staff see it: everything for tenant staff; for merchant staff only
// an order with one of their merchant orders, showing only those.
// Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Order, error) {
	if shopper, ok := shopperOf(ctx); ok {
		return s.ShopperOrder(ctx, tenantID, shopper, id)
	}
	_, merchantScoped := scope.MerchantFrom(ctx)
	var o Order
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		o, err = readOrder(ctx, tx, tenantID, id, merchantScoped)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("get order: %w", err)
	}
	return o, nil
}

// Shopper is who may see an order on the storefront: a signed-in shopper, or a guest's
// session.
type Shopper struct {
	ShopperID      uuid.UUID
	GuestSessionID uuid.UUID
}

// shopperOf reads the shopper from the actor of a storefront request ("shopper:<id>" or
// "guest:<session>"); staff and keys are not shoppers.
func shopperOf(ctx context.Context) (Shopper, bool) {
	a := string(scope.ActorFrom(ctx))
	if rest, ok := strings.CutPrefix(a, "shopper:"); ok {
		id, err := uuid.Parse(rest)
		return Shopper{ShopperID: id}, err == nil
	}
	if rest, ok := strings.CutPrefix(a, "guest:"); ok {
		id, err := uuid.Parse(rest)
		return Shopper{GuestSessionID: id}, err == nil
	}
	return Shopper{}, false
}

// ShopperFrom is the shopper of a storefront request, from its actor.
func ShopperFrom(ctx context.Context) (Shopper, bool) { return shopperOf(ctx) }

func (sh Shopper) where() (string, uuid.UUID) {
	if sh.ShopperID != uuid.Nil {
		return "shopper_id = ?", sh.ShopperID
	}
	return "guest_session_id = ?", sh.GuestSessionID
}

// ShopperOrder returns one of the shopper's own orders; anyone else's is ErrNotFound.
func (s *Service) ShopperOrder(ctx context.Context, tenantID uuid.UUID, sh Shopper, id uuid.UUID) (Order, error) {
	if sh.ShopperID == uuid.Nil && sh.GuestSessionID == uuid.Nil {
		return Order{}, ErrNotFound
	}
	cond, arg := sh.where()
	var o Order
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var mine bool
		if err := tx.NewRaw(`SELECT EXISTS (SELECT 1 FROM orders WHERE tenant_id = ? AND id = ? AND `+cond+`)`, tenantID, id, arg).
			Scan(ctx, &mine); err != nil {
			return err
		}
		if !mine {
			return ErrNotFound
		}
		var err error
		o, err = readOrder(ctx, tx, tenantID, id, false)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("get shopper order: %w", err)
	}
	// Shoppers see what they paid, not how it is split.
	o.CommissionMinor, o.PlatformFeeMinor = 0, 0
	for i := range o.Merchants {
		mo := &o.Merchants[i]
		mo.CommissionMinor, mo.PlatformFeeMinor, mo.PayableMinor = 0, 0, 0
		for j := range mo.Lines {
			l := &mo.Lines[j]
			l.CommissionMinor, l.PlatformFeeMinor, l.PayableMinor, l.ReservationID = 0, 0, 0, nil
		}
	}
	return o, nil
}

// Summary is an order in a list.
type Summary struct {
	ID        uuid.UUID `json:"id"`
	Number    string    `json:"number"`
	Email     string    `json:"email"`
	Status    string    `json:"status"`
	Currency  string    `json:"currency"`
	Merchants int       `json:"merchant_count" doc:"merchant orders the caller can see"`
	// TotalMinor is the order's total for tenant staff and shoppers, the merchant's part of it
	// for merchant staff.
	TotalMinor int64     `json:"total_minor"`
	CreatedAt  time.Time `json:"created_at"`
}

// ListFilter narrows and orders List; zero fields match everything.
type ListFilter struct {
	Status     string    `query:"status" enum:"pending_payment,paid,partially_fulfilled,fulfilled,completed,cancelled,refunded"`
	MerchantID uuid.UUID `query:"merchant_id" doc:"orders with a merchant order of this merchant"`
	Email      string    `query:"email" maxLength:"200" doc:"the shopper's e-mail, exactly"`
	Sort       string    `query:"sort" enum:"newest,oldest,total_desc,total_asc" doc:"newest first by default"`
	httpx.PageParams
}

// ErrBadFilter is returned for a filter value List cannot use.
var ErrBadFilter = fault.New(fault.Invalid, "invalid_filter", "a filter or sort value is not valid")

type listCursor struct {
	Total int64     `json:"t"`
	ID    uuid.UUID `json:"i"`
}

// List pages through orders as staff see them (merchant staff: orders with one of their
// merchant orders), sorted by creation or total, keyset-paginated.
// Errors: httpx.ErrBadCursor, ErrBadFilter.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter) (httpx.Page[Summary], error) {
	return s.list(ctx, tenantID, f, nil)
}

// ShopperOrders pages through the shopper's own orders, newest first.
func (s *Service) ShopperOrders(ctx context.Context, tenantID uuid.UUID, sh Shopper, p httpx.PageParams) (httpx.Page[Summary], error) {
	if sh.ShopperID == uuid.Nil && sh.GuestSessionID == uuid.Nil {
		return httpx.Page[Summary]{Items: []Summary{}}, nil
	}
	return s.list(ctx, tenantID, ListFilter{PageParams: p}, &sh)
}

func (s *Service) list(ctx context.Context, tenantID uuid.UUID, f ListFilter, sh *Shopper) (httpx.Page[Summary], error) {
	var after listCursor
	first, err := httpx.DecodeCursor(f.Cursor, &after)
	if err != nil {
		return httpx.Page[Summary]{}, err
	}
	if f.Status != "" && !validStatus(f.Status) {
		return httpx.Page[Summary]{}, fmt.Errorf("status %q: %w", f.Status, ErrBadFilter)
	}
	key, dir := "o.id", "DESC"
	switch f.Sort {
	case "", "newest":
	case "oldest":
		dir = "ASC"
	case "total_desc":
		key = "t.total"
	case "total_asc":
		key, dir = "t.total", "ASC"
	default:
		return httpx.Page[Summary]{}, fmt.Errorf("sort %q: %w", f.Sort, ErrBadFilter)
	}
	cmp := "<"
	if dir == "ASC" {
		cmp = ">"
	}
	items := []Summary{}
	run := s.inScope
	if sh != nil {
		run = s.db.WithTenant
	}
	err = run(ctx, tenantID, func(tx bun.IDB) error {
		// t sums the merchant orders the scope can see: in a merchant scope the merchant fence
		// leaves only the merchant's own, and orders without one drop out.
		q := tx.NewSelect().TableExpr("orders AS o").
			Join(`JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(total_minor), 0) AS total FROM merchant_orders mo
				WHERE mo.tenant_id = o.tenant_id AND mo.order_id = o.id) AS t ON t.n > 0`).
			ColumnExpr("o.id, o.number, o.email, o.status, o.currency, t.n AS merchants, o.created_at").
			Where("o.tenant_id = ?", tenantID).Limit(int64(f.Size() + 1))
		if _, merchantScoped := scope.MerchantFrom(ctx); merchantScoped || sh != nil {
			q = q.ColumnExpr("t.total AS total_minor")
		} else {
			q = q.ColumnExpr("o.total_minor")
		}
		if sh != nil {
			cond, arg := sh.where()
			q = q.Where("o."+cond, arg)
		}
		if f.Status != "" {
			q = q.Where("o.status = ?", f.Status)
		}
		if f.Email != "" {
			q = q.Where("o.email = ?", strings.ToLower(strings.TrimSpace(f.Email)))
		}
		if f.MerchantID != uuid.Nil {
			q = q.Where("EXISTS (SELECT 1 FROM merchant_orders m2 WHERE m2.tenant_id = o.tenant_id AND m2.order_id = o.id AND m2.merchant_id = ?)", f.MerchantID)
		}
		if key == "o.id" {
			q = q.OrderExpr("o.id " + dir)
			if !first {
				q = q.Where("o.id "+cmp+" ?", after.ID)
			}
		} else {
			q = q.OrderExpr("t.total " + dir + ", o.id " + dir)
			if !first {
				q = q.Where("(t.total, o.id) "+cmp+" (?, ?)", after.Total, after.ID)
			}
		}
		return q.Scan(ctx, &items)
	})
	if err != nil {
		return httpx.Page[Summary]{}, fmt.Errorf("list orders: %w", err)
	}
	return httpx.PageOf(items, f.PageParams, func(o Summary) any {
		// The total of a merchant-scoped list is the merchant's part; the cursor keeps what was sorted by.
		return listCursor{Total: o.TotalMinor, ID: o.ID}
	}), nil
}

func validStatus(st string) bool {
	for _, s := range Statuses() {
		if s == st {
			return true
		}
	}
	return false
}
