package console

import (
	"testing"

	"mercato/platform/identity"
)

// The scope checkboxes offer only what identity accepts: a family it dropped would make every
// form with that box ticked fail.
func TestScopeFamiliesAreIdentitys(t *testing.T) {
	for _, f := range scopeFamilies {
		if _, err := identity.ValidateScopes([]string{f + ":read", f + ":write"}); err != nil {
			t.Errorf("family %s: %v", f, err)
		}
	}
	if _, err := identity.ValidateScopes([]string{"nonsense:read"}); err == nil {
		t.Error("ValidateScopes accepts anything; this test proves nothing")
	}
}
