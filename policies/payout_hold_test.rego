package mercato.payout_hold_test

import data.mercato.payout_hold

established := {"age_days": 400, "dispute_rate_bps": 20}

hold(tenant, merchant) := d if {
	d := payout_hold.decision with input as {"tenant": tenant, "merchant": merchant}
}

test_established_merchant_gets_tenant_default if {
	d := hold({"payout_hold_days": 5}, established)
	d.allow == true
	d.hold_days == 5
	d.reasons == []
}

test_default_is_seven_days if {
	d := payout_hold.decision with input as {"merchant": established}
	d.allow == true
	d.hold_days == 7
}

test_young_merchant_raised_to_fourteen if {
	d := hold({"payout_hold_days": 3}, {"age_days": 29, "dispute_rate_bps": 0})
	d.hold_days == 14
	d.reasons == ["merchant is younger than 30 days"]
}

test_thirty_days_is_not_young if {
	d := hold({"payout_hold_days": 3}, {"age_days": 30, "dispute_rate_bps": 0})
	d.hold_days == 3
}

test_dispute_rate_above_one_percent_raised_to_fourteen if {
	d := hold({}, {"age_days": 400, "dispute_rate_bps": 101})
	d.hold_days == 14
	d.reasons == ["dispute rate above 100 bps"]
}

test_dispute_rate_of_exactly_one_percent_is_not_raised if {
	d := hold({}, {"age_days": 400, "dispute_rate_bps": 100})
	d.hold_days == 7
}

test_longer_tenant_default_is_kept_for_risky_merchants if {
	d := hold({"payout_hold_days": 21}, {"age_days": 1, "dispute_rate_bps": 500})
	d.hold_days == 21
	d.reasons == ["dispute rate above 100 bps", "merchant is younger than 30 days"]
}

test_never_below_two_days if {
	every days in [0, 1] {
		d := hold({"payout_hold_days": days}, established)
		d.hold_days == 2
		d.reasons == ["hold raised to the 2-day minimum"]
	}
}

test_two_days_is_allowed if {
	d := hold({"payout_hold_days": 2}, established)
	d.hold_days == 2
	d.reasons == []
}

test_malformed_tenant_default_falls_back_to_seven if {
	every days in [-1, 2.5, "3"] {
		d := hold({"payout_hold_days": days}, established)
		d.hold_days == 7
		count(d.reasons) == 1
	}
}

test_unknown_merchant_facts_are_held_as_risky if {
	d := hold({"payout_hold_days": 3}, {})
	d.allow == true
	d.hold_days == 14
	d.reasons == ["dispute rate is unknown", "merchant age is unknown"]
}

test_missing_merchant_denies if {
	d := payout_hold.decision with input as {"tenant": {"payout_hold_days": 3}}
	d.allow == false
	"merchant is missing" in d.reasons
	d.hold_days == 14
}

test_no_input_denies if {
	payout_hold.decision.allow == false
}
