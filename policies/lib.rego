# Helpers shared by Mercato's decisions. No decision lives here.
package mercato.lib

# whole(x) holds for a non-negative whole number, such as an amount in minor units or a count.
whole(x) if {
	is_number(x)
	x >= 0
	x == round(x)
}

# non_blank(s) holds for a string with something other than white space in it.
non_blank(s) if {
	is_string(s)
	trim_space(s) != ""
}
