package mercato.lib_test

import data.mercato.lib

test_whole_accepts_counts if {
	lib.whole(0)
	lib.whole(42)
	lib.whole(9007199254740993)
}

test_whole_rejects_fractions_negatives_and_non_numbers if {
	not lib.whole(1.5)
	not lib.whole(-1)
	not lib.whole("3")
	not lib.whole(null)
	not lib.whole(true)
}

test_non_blank if {
	lib.non_blank("x")
	not lib.non_blank("")
	not lib.non_blank(" \t\n")
	not lib.non_blank(3)
}
