# May a tenant add one more merchant, product or staff member, or use a feature, on its plan?
#
# input:
#   plan.limits: {merchants, products, staff: whole numbers; features: [string]}
#   usage:       {merchants, products, staff: whole numbers in use now}
#   action:      "add_merchant" | "add_product" | "add_staff" | "use_feature"
#   feature:     string, for use_feature
#
# A limit or a usage figure that is missing or not a whole number denies: an unknown plan is not
# an unlimited one. A plan that means "unlimited" says so with a large number.
#
# Input is read only through the defaulted rules below: in Rego, `not f(input.x)` is false, not
# true, when input.x is missing, so a check written that way would fail open.
package mercato.plan_limits

import data.mercato.lib

counted := {
	"add_merchant": "merchants",
	"add_product": "products",
	"add_staff": "staff",
}

actions := {a | some a, _ in counted} | {"use_feature"}

default action := null

action := input.action

default feature := null

feature := input.feature

default limits := {}

limits := input.plan.limits if is_object(input.plan.limits)

default usage := {}

usage := input.usage if is_object(input.usage)

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
}

deny contains "action is missing" if not is_string(action)

deny contains sprintf("unknown action %q", [action]) if {
	is_string(action)
	not action in actions
}

deny contains sprintf("plan sets no %s limit", [resource]) if {
	resource := counted[action]
	not lib.whole(object.get(limits, resource, null))
}

deny contains sprintf("%s in use is unknown", [resource]) if {
	resource := counted[action]
	not lib.whole(object.get(usage, resource, null))
}

deny contains sprintf("%s limit reached: %v of %v", [resource, used, limit]) if {
	resource := counted[action]
	limit := limits[resource]
	used := usage[resource]
	lib.whole(limit)
	lib.whole(used)
	used >= limit
}

deny contains "feature is missing" if {
	action == "use_feature"
	not lib.non_blank(feature)
}

deny contains sprintf("plan does not include feature %q", [feature]) if {
	action == "use_feature"
	lib.non_blank(feature)
	not feature in features
}

features contains f if {
	some f in limits.features
	is_string(f)
}
