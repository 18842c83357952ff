# May a product go live?
#
# input:
#   product: {title: {en: string}, images: [...], variants: [{price_minor: whole number}],
#             category_id: string}
#   tenant:  {require_review: bool}
#
# A product goes live with an English title, at least one image, at least one variant priced
# above 0, and a category; reasons name everything missing. A tenant with require_review gets
# needs_review: true on an allowed product, and the catalog queues it for moderation instead of
# publishing it.
#
# Input is read only through the defaulted rules below (see plan_limits.rego for why).
package mercato.listing

import data.mercato.lib

default title := null

title := input.product.title.en

default images := []

images := input.product.images if is_array(input.product.images)

default variants := []

variants := input.product.variants if is_array(input.product.variants)

default category := null

category := input.product.category_id

default needs_review := false

needs_review if input.tenant.require_review == true

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"needs_review": needs_review,
}

deny contains "title (en) is missing" if not lib.non_blank(title)

deny contains "at least one image is required" if count(images) == 0

deny contains "at least one variant priced above 0 is required" if not priced_variant

deny contains "category is missing" if not lib.non_blank(category)

priced_variant if {
	some v in variants
	lib.whole(v.price_minor)
	v.price_minor > 0
}
