package main

import (
	"mercato/billing/fees"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/money"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

// newOrders wires checkout: the cart and promotions it reads and redeems, inventory for the
// stock it holds, billing/fees for the split frozen on each line (tenants may not import
// billing, so the adapter lives here), and no payment provider yet: orders wait in
// pending_payment until the payments issue plugs Stripe in as the PaymentStarter.
func newOrders(r *runtime, policies *authz.Policies, promos *promotions.Service) *orders.Service {
	carts := cart.NewService(r.db, catalog.NewService(r.db, policies, audit.Recorder{}), promos)
	return orders.NewService(r.db, orders.Config{Audit: audit.Recorder{}, Inventory: inventory.NewService(r.db, audit.Recorder{}),
		Carts: carts, Promos: promos, Fees: splitFees, Payments: orders.AwaitPayment{}})
}

// splitFees is billing/fees.Split with the flat defaults of tenants/orders, until the payments
// issue brings each tenant's own fee rule.
func splitFees(currency string, lines []orders.FeeLine) ([]orders.LineFees, error) {
	cur := money.Currency(currency)
	in := make([]fees.Line, len(lines))
	for i, l := range lines {
		in[i] = fees.Line{Merchant: l.MerchantID.String(), Net: money.Amount{Minor: l.NetMinor, Currency: cur},
			DiscountFundedBy: l.DiscountFundedBy}
		if l.DiscountMinor > 0 {
			in[i].Discount = money.Amount{Minor: l.DiscountMinor, Currency: cur}
		}
	}
	s, err := fees.Split(in, fees.Rule{CommissionBP: orders.DefaultCommissionBP, PlatformFeeBP: orders.DefaultPlatformFeeBP})
	if err != nil {
		return nil, err
	}
	out := make([]orders.LineFees, len(lines))
	for i, ls := range s.Lines {
		out[i] = orders.LineFees{PayableMinor: ls.Payable.Minor, CommissionMinor: ls.Commission.Minor, PlatformFeeMinor: ls.PlatformFee.Minor}
	}
	return out, nil
}

var _ orders.FeeSplitter = splitFees
