// Package orders owns what a checkout turns a cart into: shipping rate tables, tax rates, the
// pure pricing of an order, the order split into one merchant order per merchant with frozen
// lines, and the order state machine with its timeline.
package orders

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/scope"
	"mercato/tenants/inventory"
)

// Errors returned by Service.
var (
	ErrNotFound              = fault.New(fault.NotFound, "order_not_found", "order not found")
	ErrMerchantOrderNotFound = fault.New(fault.NotFound, "merchant_order_not_found", "merchant order not found")
	ErrShippingRateNotFound  = fault.New(fault.NotFound, "shipping_rate_not_found", "shipping rate not found")
	ErrTaxRateNotFound       = fault.New(fault.NotFound, "tax_rate_not_found", "tax rate not found")
	ErrShippingRateTaken     = fault.New(fault.Conflict, "shipping_rate_taken", "this merchant already has a rate with this name in this currency")
	ErrTaxRateTaken          = fault.New(fault.Conflict, "tax_rate_taken", "a tax rate for this country and region exists")
	ErrTransition            = fault.New(fault.Conflict, "invalid_transition", "the order's status does not allow this")
	ErrTenantOnly            = fault.New(fault.Forbidden, "tenant_staff_only", "only the marketplace's staff may do this")
	ErrMerchantOnly          = fault.New(fault.Forbidden, "merchant_staff_only", "only a merchant's staff may do this")
	ErrCartEmpty             = fault.New(fault.Unprocessable, "cart_empty", "the cart is empty")
	ErrCartUnavailable       = fault.New(fault.Conflict, "cart_unavailable", "something in the cart can no longer be bought; review the cart")
)

// Statuses of orders and merchant orders.
const (
	StatusPendingPayment     = "pending_payment"
	StatusPaid               = "paid"
	StatusPartiallyFulfilled = "partially_fulfilled"
	StatusFulfilled          = "fulfilled"
	StatusCompleted          = "completed"
	StatusCancelled          = "cancelled"
	StatusRefunded           = "refunded"
)

// Flat fee defaults, until the payments issue brings per-tenant fee rules: the tenant's
// commission on every line and the platform's fee on every charge, in basis points.
const (
	DefaultCommissionBP  = 1000
	DefaultPlatformFeeBP = 200
)

// ReservationTTL is how long checkout holds stock, and so how long an order may wait for its
// payment before the expiry job cancels it.
const ReservationTTL = 30 * time.Minute

// Address is where a shopper wants the parcel.
type Address struct {
	Name       string `json:"name" maxLength:"200"`
	Line1      string `json:"line1" maxLength:"200"`
	Line2      string `json:"line2,omitempty" maxLength:"200"`
	City       string `json:"city" maxLength:"100"`
	Region     string `json:"region,omitempty" maxLength:"10" doc:"state or province code, e.g. CA"`
	PostalCode string `json:"postal_code" maxLength:"20"`
	Country    string `json:"country" maxLength:"2" doc:"ISO 3166-1 alpha-2, e.g. US"`
	Phone      string `json:"phone,omitempty" maxLength:"40"`
}

// Line is one line of an order as it was sold, for its whole quantity.
type Line struct {
	ID               uuid.UUID         `json:"id"`
	MerchantOrderID  uuid.UUID         `json:"merchant_order_id"`
	MerchantID       uuid.UUID         `json:"merchant_id"`
	VariantID        uuid.UUID         `json:"variant_id"`
	ProductID        uuid.UUID         `json:"product_id"`
	SKU              string            `json:"sku"`
	Title            string            `json:"title"`
	OptionValues     map[string]string `json:"option_values"`
	Quantity         int               `json:"quantity"`
	FulfilledQty     int               `json:"fulfilled_quantity"`
	UnitPriceMinor   int64             `json:"unit_price_minor"`
	ListPriceMinor   int64             `json:"list_price_minor"`
	FlashSaleID      *uuid.UUID        `json:"flash_sale_id,omitempty"`
	WeightGrams      int               `json:"weight_grams"`
	DiscountFundedBy string            `json:"discount_funded_by,omitempty"`
	Amounts
	CommissionMinor  int64      `json:"commission_minor"`
	PlatformFeeMinor int64      `json:"platform_fee_minor"`
	PayableMinor     int64      `json:"payable_minor"`
	ReservationID    *uuid.UUID `json:"reservation_id,omitempty"`
}

// MerchantOrder is one merchant's part of an order.
type MerchantOrder struct {
	ID               uuid.UUID  `json:"id"`
	OrderID          uuid.UUID  `json:"order_id"`
	MerchantID       uuid.UUID  `json:"merchant_id"`
	MerchantName     string     `json:"merchant_name"`
	Status           string     `json:"status" enum:"pending_payment,paid,partially_fulfilled,fulfilled,completed,cancelled,refunded"`
	Currency         string     `json:"currency"`
	ShippingRateID   *uuid.UUID `json:"shipping_rate_id,omitempty"`
	ShippingName     string     `json:"shipping_name"`
	WeightGrams      int        `json:"weight_grams"`
	CommissionMinor  int64      `json:"commission_minor"`
	PlatformFeeMinor int64      `json:"platform_fee_minor"`
	PayableMinor     int64      `json:"payable_minor"`
	DeliveredAt      *time.Time `json:"delivered_at,omitempty" doc:"when the shopper got the parcel; starts the payout hold"`
	CreatedAt        time.Time  `json:"created_at"`
	Amounts
	Lines []Line `json:"lines"`
}

// Order is one checkout: one payment, split into merchant orders.
type Order struct {
	ID               uuid.UUID  `json:"id"`
	Number           string     `json:"number"`
	ShopperID        *uuid.UUID `json:"shopper_id,omitempty"`
	Email            string     `json:"email"`
	Status           string     `json:"status" enum:"pending_payment,paid,partially_fulfilled,fulfilled,completed,cancelled,refunded"`
	Currency         string     `json:"currency"`
	Locale           string     `json:"locale"`
	Address          Address    `json:"address"`
	TaxName          string     `json:"tax_name"`
	TaxRateBP        int        `json:"tax_rate_bp"`
	TaxInclusive     bool       `json:"tax_inclusive"`
	CouponCode       string     `json:"coupon_code,omitempty"`
	DiscountFundedBy string     `json:"discount_funded_by,omitempty"`
	CommissionMinor  int64      `json:"commission_minor"`
	PlatformFeeMinor int64      `json:"platform_fee_minor"`
	PaymentRef       string     `json:"payment_ref,omitempty"`
	ExpiresAt        time.Time  `json:"expires_at" doc:"an unpaid order is cancelled after this"`
	PaidAt           *time.Time `json:"paid_at,omitempty"`
	CancelledAt      *time.Time `json:"cancelled_at,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	Amounts
	Merchants []MerchantOrder `json:"merchant_orders"`
	Events    []Event         `json:"events,omitempty"`
}

// Event is one status change on the timeline.
type Event struct {
	ID              uuid.UUID  `json:"id"`
	MerchantOrderID *uuid.UUID `json:"merchant_order_id,omitempty"`
	Actor           string     `json:"actor"`
	From            string     `json:"from"`
	To              string     `json:"to"`
	Note            string     `json:"note,omitempty"`
	At              time.Time  `json:"at"`
}

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// FeeLine is one line of a charge as the fee rules see it; NetMinor is the line's total.
type FeeLine struct {
	MerchantID       uuid.UUID
	NetMinor         int64
	DiscountMinor    int64
	DiscountFundedBy string // "", "platform", "tenant" or "merchant"
}

// LineFees is one line's split: PayableMinor + CommissionMinor + PlatformFeeMinor = NetMinor.
type LineFees struct {
	PayableMinor, CommissionMinor, PlatformFeeMinor int64
}

// FeeSplitter splits a charge among merchants, the tenant and the platform, one LineFees per
// line in order. tenants/* may not import billing/*, so apps/mercato wires billing/fees.Split
// into it with the flat defaults above.
type FeeSplitter func(currency string, lines []FeeLine) ([]LineFees, error)

// PaymentSession is what a shopper needs to pay: a client secret for the card form, or a
// redirect (Alipay, WeChat Pay). Both empty means nothing to do yet: the order waits.
type PaymentSession struct {
	ClientSecret string `json:"client_secret,omitempty"`
	RedirectURL  string `json:"redirect_url,omitempty"`
}

// PaymentStarter starts collecting the money of a pending order. The payments issue plugs
// Stripe in here (a PaymentIntent with transfer_group = order id); until then apps/mercato
// wires AwaitPayment, which leaves the order awaiting payment.
type PaymentStarter interface {
	Start(ctx context.Context, tenantID uuid.UUID, o Order) (PaymentSession, error)
}

// AwaitPayment is the PaymentStarter of a platform without a payment provider: the order
// stays pending_payment and the shopper sees "awaiting payment".
type AwaitPayment struct{}

// Start does nothing.
func (AwaitPayment) Start(context.Context, uuid.UUID, Order) (PaymentSession, error) {
	return PaymentSession{}, nil
}

// Service places and moves orders. Staff methods run in the tenant's RLS scope, narrowed to
// the merchant for merchant staff; shopper methods are scoped by the shopper.
type Service struct {
	db        *db.DB
	audit     Recorder
	inventory *inventory.Service
	carts     Carts
	promos    Promotions
	fees      FeeSplitter
	payments  PaymentStarter
	now       func() time.Time
}

// Config is what NewService needs besides the database.
type Config struct {
	Audit     Recorder
	Inventory *inventory.Service
	Carts     Carts
	Promos    Promotions
	Fees      FeeSplitter
	Payments  PaymentStarter // nil: AwaitPayment
}

// NewService builds the service.
func NewService(d *db.DB, c Config) *Service {
	if c.Payments == nil {
		c.Payments = AwaitPayment{}
	}
	return &Service{db: d, audit: c.Audit, inventory: c.Inventory, carts: c.Carts, promos: c.Promos, fees: c.Fees,
		payments: c.Payments, now: time.Now}
}

// inScope narrows to the merchant when the caller works for one.
func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

// tenantStaff refuses callers in a merchant scope.
func tenantStaff(ctx context.Context) error {
	if _, ok := scope.MerchantFrom(ctx); ok {
		return ErrTenantOnly
	}
	return nil
}
