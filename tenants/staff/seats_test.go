package staff_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/tenants"
	"mercato/tenants/staff"
)

// Staff seats (policies/plan_limits.rego): Lumen's starter plan has 3 and its own team holds 2.
// Five owners' additions at once: exactly one takes the last seat, four are told the plan is
// full (422) and add no one. Merchants' staff take no seat, so a store can still add its own.
func TestStaffSeats(t *testing.T) {
	fx := setup(t)
	pol, err := authz.NewPolicies(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := staff.NewService(fx.f.App, staff.Config{Accounts: fx.ids, Audit: audit.Recorder{}, Mailer: fx.mail,
		SetPasswordURL: "http://localhost:8080/console/set-password", ConsoleURL: "http://localhost:8080/console",
		Seats: tenants.NewPlanPolicy(pol)})
	lumen := fx.tenant["lumen"]
	owner := fx.as(t, "owner@lumen-goods.test", "")

	var added, full atomic.Int64
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Add(owner, lumen, fmt.Sprintf("seat%d@lumen-goods.test", i), staff.RoleTenantStaff, uuid.Nil)
			switch {
			case err == nil:
				added.Add(1)
			case errors.Is(err, staff.ErrPlanLimit):
				full.Add(1)
			default:
				t.Errorf("add seat %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if added.Load() != 1 || full.Load() != 4 {
		t.Errorf("%d added and %d refused, want 1 and 4", added.Load(), full.Load())
	}
	members, err := s.List(owner, lumen)
	if err != nil {
		t.Fatal(err)
	}
	team := 0
	for _, m := range members {
		if m.MerchantID == nil {
			team++
		}
	}
	if team != 3 {
		t.Errorf("the marketplace's team has %d members, want the plan's 3", team)
	}
	if _, err := s.Add(owner, lumen, "picker@northwind.test", staff.RoleMerchantStaff, fx.merchant["northwind-lighting"]); err != nil {
		t.Errorf("a store's staff member on a full plan: %v", err)
	}
	// Another tenant's plan is its own.
	if _, err := s.Add(fx.as(t, "owner@panda-market.test", ""), fx.tenant["panda"], "seat@panda-market.test", staff.RoleTenantStaff, uuid.Nil); err != nil {
		t.Errorf("panda adds staff: %v", err)
	}
}
