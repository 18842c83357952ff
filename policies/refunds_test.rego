package mercato.refunds_test

import data.mercato.refunds

# refund builds an input for amount by role, with an order of 10000 and a threshold of 5000.
refund(amount, role) := {
	"refund": {"amount_minor": amount, "currency": "EUR"},
	"order": {"total_minor": 10000, "currency": "EUR"},
	"actor": {"role": role},
	"tenant": {"refund_approval_threshold_minor": 5000},
}

test_staff_refunds_up_to_threshold if {
	every role in ["tenant_staff", "merchant_owner", "merchant_staff"] {
		d := refunds.decision with input as refund(5000, role)
		d.allow == true
		d.reasons == []
		d.needs_approval == false
	}
}

test_staff_cannot_refund_above_threshold if {
	every role in ["tenant_staff", "merchant_owner", "merchant_staff"] {
		d := refunds.decision with input as refund(5001, role)
		d.allow == false
		d.reasons == ["refunds above 5000 need tenant_owner or tenant_admin"]
		d.needs_approval == true
	}
}

test_approvers_refund_above_threshold if {
	every role in ["tenant_owner", "tenant_admin"] {
		d := refunds.decision with input as refund(9000, role)
		d.allow == true
		d.needs_approval == true
	}
}

test_full_refund_allowed_for_approver if {
	d := refunds.decision with input as refund(10000, "tenant_owner")
	d.allow == true
}

test_never_more_than_order_total if {
	every role in ["tenant_owner", "tenant_admin"] {
		d := refunds.decision with input as refund(10001, role)
		d.allow == false
		d.reasons == ["refund of 10001 exceeds the 10000 left to refund on the order"]
	}
}

test_earlier_refunds_count_against_total if {
	inp := json.patch(refund(3000, "merchant_staff"), [{"op": "add", "path": "/order/refunded_minor", "value": 8000}])
	d := refunds.decision with input as inp
	d.allow == false
	d.reasons == ["refund of 3000 exceeds the 2000 left to refund on the order"]
}

test_other_roles_cannot_refund if {
	every role in ["shopper", "platform_support", "owner"] {
		d := refunds.decision with input as refund(100, role)
		d.allow == false
		d.reasons == [sprintf("role %v may not refund", [role])]
	}
}

test_missing_role_denies if {
	inp := json.remove(refund(100, "tenant_owner"), ["actor"])
	d := refunds.decision with input as inp
	d.allow == false
	d.reasons == ["actor role is missing"]
}

test_missing_threshold_means_every_refund_needs_approval if {
	inp := json.remove(refund(1, "merchant_owner"), ["tenant"])
	d := refunds.decision with input as inp
	d.allow == false
	d.needs_approval == true
}

test_malformed_threshold_means_every_refund_needs_approval if {
	inp := json.patch(refund(1, "merchant_owner"), [{"op": "replace", "path": "/tenant/refund_approval_threshold_minor", "value": "9999"}])
	d := refunds.decision with input as inp
	d.allow == false
	d.needs_approval == true
}

test_zero_negative_and_fractional_amounts_deny if {
	every amount in [0, -5, 10.5, "100", null] {
		d := refunds.decision with input as refund(amount, "tenant_owner")
		d.allow == false
		"refund amount must be a whole number of minor units above 0" in d.reasons
	}
}

test_currency_must_match_order if {
	inp := json.patch(refund(100, "tenant_owner"), [{"op": "replace", "path": "/refund/currency", "value": "USD"}])
	d := refunds.decision with input as inp
	d.allow == false
	d.reasons == ["refund currency USD differs from order currency EUR"]
}

test_currency_must_be_iso if {
	inp := json.patch(refund(100, "tenant_owner"), [{"op": "replace", "path": "/refund/currency", "value": "eur"}])
	d := refunds.decision with input as inp
	d.allow == false
	"refund currency must be an ISO 4217 code" in d.reasons
}

test_unknown_order_total_denies if {
	inp := json.remove(refund(100, "tenant_owner"), ["order/total_minor"])
	d := refunds.decision with input as inp
	d.allow == false
	d.reasons == ["order total is unknown"]
}

test_no_input_denies if {
	refunds.decision.allow == false
}
