package admin

import (
	"strings"
	"testing"
)

func TestHelpers(t *testing.T) {
	long := make([]string, 30)
	for i := range long {
		long[i] = "table_" + strings.Repeat("x", i%5) + " 12"
	}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"group", groupSecret("ABCDEFGHIJ"), "ABCD EFGH IJ"},
		{"group exact", groupSecret("ABCDEFGH"), "ABCD EFGH"},
		{"month en first", monthLabel(2025, 12, true, "en"), "Dec 2025"},
		{"month en", monthLabel(2026, 2, false, "en"), "Feb"},
		{"month zh", monthLabel(2026, 1, true, "zh-CN"), "2026年1月"},
		{"month zh short", monthLabel(2026, 11, false, "zh-CN"), "11月"},
		{"list", listWithin([]string{"tenants 1", "merchants 4"}, 190), "tenants 1, merchants 4"},
		{"shorten", shorten("熊猫市集 Panda Market", 6), "熊猫市集 …"},
		{"next outside", nextPath("/console"), "/admin"},
		{"next query", nextPath("/admin?x=1"), "/admin?x=1"},
		{"next prefix trick", nextPath("/administrator"), "/admin"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	got := listWithin(long, 190)
	if len(got) > 190+len(", …") || !strings.HasSuffix(got, ", …") {
		t.Errorf("long list: %d bytes %q", len(got), got)
	}
}
