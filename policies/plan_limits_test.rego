package mercato.plan_limits_test

import data.mercato.plan_limits

plan := {"limits": {"merchants": 2, "products": 100, "staff": 5, "features": ["custom_domain", "api"]}}

usage := {"merchants": 1, "products": 100, "staff": 0}

# decide evaluates action with the fixtures above, replacing whole top-level keys with extra's.
decide(action, extra) := d if {
	fixture := {"plan": plan, "usage": usage, "action": action}
	d := plan_limits.decision with input as object.union(object.remove(fixture, object.keys(extra)), extra)
}

test_under_limit_allows if {
	d := decide("add_merchant", {})
	d.allow == true
	d.reasons == []
}

test_zero_usage_allows if {
	d := decide("add_staff", {})
	d.allow == true
}

test_at_limit_denies if {
	d := decide("add_product", {})
	d.allow == false
	d.reasons == ["products limit reached: 100 of 100"]
}

test_over_limit_denies if {
	d := decide("add_merchant", {"usage": {"merchants": 3}})
	d.allow == false
	d.reasons == ["merchants limit reached: 3 of 2"]
}

test_zero_limit_denies if {
	d := decide("add_staff", {"plan": {"limits": {"staff": 0}}})
	d.allow == false
	d.reasons == ["staff limit reached: 0 of 0"]
}

test_missing_limit_denies if {
	d := decide("add_staff", {"plan": {"limits": {"merchants": 2}}})
	d.allow == false
	d.reasons == ["plan sets no staff limit"]
}

test_non_numeric_limit_denies if {
	d := decide("add_merchant", {"plan": {"limits": {"merchants": "unlimited"}}})
	d.allow == false
	d.reasons == ["plan sets no merchants limit"]
}

test_missing_usage_denies if {
	d := decide("add_merchant", {"usage": {}})
	d.allow == false
	d.reasons == ["merchants in use is unknown"]
}

test_included_feature_allows if {
	d := decide("use_feature", {"feature": "api"})
	d.allow == true
	d.reasons == []
}

test_excluded_feature_denies if {
	d := decide("use_feature", {"feature": "sso"})
	d.allow == false
	d.reasons == [`plan does not include feature "sso"`]
}

test_feature_without_name_denies if {
	d := decide("use_feature", {})
	d.allow == false
	d.reasons == ["feature is missing"]
}

test_plan_without_features_denies_every_feature if {
	d := decide("use_feature", {"feature": "api", "plan": {"limits": {"merchants": 2}}})
	d.allow == false
}

test_unknown_action_denies if {
	d := decide("delete_everything", {})
	d.allow == false
	d.reasons == [`unknown action "delete_everything"`]
}

test_missing_action_denies if {
	d := plan_limits.decision with input as {"plan": plan, "usage": usage}
	d.allow == false
	d.reasons == ["action is missing"]
}

test_empty_input_denies if {
	d := plan_limits.decision with input as {}
	d.allow == false
}

test_no_input_denies if {
	plan_limits.decision.allow == false
}
