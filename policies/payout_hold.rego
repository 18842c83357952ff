# How many days does a merchant's balance wait before it is paid out?
#
# input:
#   tenant:   {payout_hold_days: whole number (optional, default 7)}
#   merchant: {age_days: whole number, dispute_rate_bps: dispute rate in basis points}
#
# hold_days is the tenant's default, raised to 14 for a merchant younger than 30 days or with a
# dispute rate above 1% (100 bps), and never below 2. A merchant whose age or dispute rate is
# unknown is held as a risky one. allow is false only when there is no merchant to decide for.
#
# Input is read only through the defaulted rules below (see plan_limits.rego for why).
package mercato.payout_hold

import data.mercato.lib

default_hold_days := 7

risky_hold_days := 14

min_hold_days := 2

young_merchant_days := 30

max_dispute_rate_bps := 100

default merchant := null

merchant := input.merchant if is_object(input.merchant)

default configured := null

configured := input.tenant.payout_hold_days

default tenant_days := 7

tenant_days := configured if lib.whole(configured)

default age_days := null

age_days := merchant.age_days

default dispute_rate_bps := null

dispute_rate_bps := merchant.dispute_rate_bps

risks contains sprintf("merchant is younger than %v days", [young_merchant_days]) if {
	lib.whole(age_days)
	age_days < young_merchant_days
}

risks contains "merchant age is unknown" if not lib.whole(age_days)

risks contains sprintf("dispute rate above %v bps", [max_dispute_rate_bps]) if {
	is_number(dispute_rate_bps)
	dispute_rate_bps >= 0
	dispute_rate_bps > max_dispute_rate_bps
}

risks contains "dispute rate is unknown" if not known_rate

known_rate if {
	is_number(dispute_rate_bps)
	dispute_rate_bps >= 0
}

notes contains sprintf("tenant payout_hold_days %v is not a whole number; using %v", [configured, default_hold_days]) if {
	configured != null
	not lib.whole(configured)
}

notes contains sprintf("hold raised to the %v-day minimum", [min_hold_days]) if raised < min_hold_days

raised := max({tenant_days, risky_hold_days}) if count(risks) > 0

raised := tenant_days if count(risks) == 0

hold_days := max({raised, min_hold_days})

deny contains "merchant is missing" if merchant == null

decision := {
	"allow": count(deny) == 0,
	"reasons": sort((deny | risks) | notes),
	"hold_days": hold_days,
}
