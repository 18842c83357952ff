package mercato.listing_test

import data.mercato.listing

product := {
	"title": {"en": "Linen shirt", "zh": "亚麻衬衫"},
	"images": [{"key": "p/1.jpg"}],
	"variants": [{"sku": "S", "price_minor": 0}, {"sku": "M", "price_minor": 4500}],
	"category_id": "0190b1a2-0000-7000-8000-000000000001",
}

test_complete_product_goes_live if {
	d := listing.decision with input as {"product": product}
	d.allow == true
	d.reasons == []
	d.needs_review == false
}

test_require_review_flags_review if {
	d := listing.decision with input as {"product": product, "tenant": {"require_review": true}}
	d.allow == true
	d.needs_review == true
}

test_require_review_must_be_true_not_truthy if {
	d := listing.decision with input as {"product": product, "tenant": {"require_review": "yes"}}
	d.needs_review == false
}

test_missing_english_title_denies if {
	every t in [{"zh": "亚麻衬衫"}, {"en": ""}, {"en": "   "}, "Linen shirt", null] {
		d := listing.decision with input as {"product": json.patch(product, [{"op": "replace", "path": "/title", "value": t}])}
		d.allow == false
		d.reasons == ["title (en) is missing"]
	}
}

test_no_images_denies if {
	every imgs in [[], "p/1.jpg", null] {
		d := listing.decision with input as {"product": json.patch(product, [{"op": "replace", "path": "/images", "value": imgs}])}
		d.allow == false
		d.reasons == ["at least one image is required"]
	}
}

test_no_priced_variant_denies if {
	every vs in [[], [{"price_minor": 0}], [{"price_minor": -100}], [{"price_minor": 12.5}], [{"price_minor": "4500"}], [{"sku": "S"}]] {
		d := listing.decision with input as {"product": json.patch(product, [{"op": "replace", "path": "/variants", "value": vs}])}
		d.allow == false
		d.reasons == ["at least one variant priced above 0 is required"]
	}
}

test_missing_category_denies if {
	d := listing.decision with input as {"product": json.remove(product, ["category_id"])}
	d.allow == false
	d.reasons == ["category is missing"]
}

test_reasons_list_everything_missing if {
	d := listing.decision with input as {"product": {}, "tenant": {"require_review": true}}
	d.allow == false
	d.reasons == [
		"at least one image is required",
		"at least one variant priced above 0 is required",
		"category is missing",
		"title (en) is missing",
	]
}

test_no_input_denies if {
	listing.decision.allow == false
}
