package fees

import (
	"mercato/platform/money"
	"mercato/tenants/orders"
)

// ForOrders is Split in the shape checkout asks for (orders.FeeSplitter), with the flat
// defaults of tenants/orders until the payments issue brings each tenant's own fee rule.
// Tenants may not import billing, so the binaries hand this to orders.
func ForOrders(currency string, lines []orders.FeeLine) ([]orders.LineFees, error) {
	cur := money.Currency(currency)
	in := make([]Line, len(lines))
	for i, l := range lines {
		in[i] = Line{Merchant: l.MerchantID.String(), Net: money.Amount{Minor: l.NetMinor, Currency: cur},
			DiscountFundedBy: l.DiscountFundedBy}
		if l.DiscountMinor > 0 {
			in[i].Discount = money.Amount{Minor: l.DiscountMinor, Currency: cur}
		}
	}
	s, err := Split(in, Rule{CommissionBP: orders.DefaultCommissionBP, PlatformFeeBP: orders.DefaultPlatformFeeBP})
	if err != nil {
		return nil, err
	}
	out := make([]orders.LineFees, len(lines))
	for i, ls := range s.Lines {
		out[i] = orders.LineFees{PayableMinor: ls.Payable.Minor, CommissionMinor: ls.Commission.Minor, PlatformFeeMinor: ls.PlatformFee.Minor}
	}
	return out, nil
}

var _ orders.FeeSplitter = ForOrders
