# May this actor refund this amount on this order?
#
# input:
#   refund: {amount_minor: whole number > 0, currency: ISO 4217 code}
#   order:  {total_minor: whole number, refunded_minor: already refunded (optional, default 0),
#            currency (optional; when given the refund must match it)}
#   actor:  {role}
#   tenant: {refund_approval_threshold_minor: whole number (optional, default 0)}
#
# Staff of the tenant or merchant refund up to the threshold; above it only tenant_owner or
# tenant_admin may. No refund, alone or added to earlier ones, exceeds the order total. A missing
# or malformed threshold counts as 0, so every refund then needs an approver.
#
# Input is read only through the defaulted rules below (see plan_limits.rego for why).
package mercato.refunds

import data.mercato.lib

approver_roles := {"tenant_owner", "tenant_admin"}

refund_roles := approver_roles | {"tenant_staff", "merchant_owner", "merchant_staff"}

default amount := null

amount := input.refund.amount_minor

default currency := null

currency := input.refund.currency

default total := null

total := input.order.total_minor

default refunded := 0

refunded := input.order.refunded_minor

default order_currency := null

order_currency := input.order.currency

default role := null

role := input.actor.role

default threshold := 0

threshold := t if {
	t := input.tenant.refund_approval_threshold_minor
	lib.whole(t)
}

default needs_approval := false

needs_approval if {
	lib.whole(amount)
	amount > threshold
}

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"needs_approval": needs_approval,
}

deny contains "refund amount must be a whole number of minor units above 0" if not positive(amount)

deny contains "refund currency must be an ISO 4217 code" if not iso_currency(currency)

deny contains sprintf("refund currency %v differs from order currency %v", [currency, order_currency]) if {
	order_currency != null
	currency != order_currency
}

deny contains "order total is unknown" if not lib.whole(total)

deny contains "order refunded amount is malformed" if not lib.whole(refunded)

deny contains sprintf("refund of %v exceeds the %v left to refund on the order", [amount, total - refunded]) if {
	positive(amount)
	lib.whole(total)
	lib.whole(refunded)
	amount + refunded > total
}

deny contains "actor role is missing" if not is_string(role)

deny contains sprintf("role %v may not refund", [role]) if {
	is_string(role)
	not role in refund_roles
}

deny contains sprintf("refunds above %v need tenant_owner or tenant_admin", [threshold]) if {
	needs_approval
	role in refund_roles
	not role in approver_roles
}

positive(x) if {
	lib.whole(x)
	x > 0
}

iso_currency(c) if {
	is_string(c)
	regex.match(`^[A-Z]{3}$`, c)
}
