package merchants_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/jobs"
	"mercato/platform/scope"
	"mercato/tenants"
	"mercato/tenants/merchants"
)

type fixture struct {
	f       *dbtest.Fixture
	s       *merchants.Service
	tenants map[string]uuid.UUID
}

func setup(t *testing.T) fixture {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{f: f, s: merchants.NewService(f.App, tenants.NewPlanPolicy(pol), audit.Recorder{}), tenants: map[string]uuid.UUID{}}
	dir := tenants.NewDirectory(f.Platform, "localhost")
	page, err := dir.List(ctx, tenants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		fx.tenants[tn.Slug] = tn.ID
	}
	return fx
}

func (fx fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if err := fx.f.Platform.Do(ctx, "test.exec", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, sql, args...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func staff(ctx context.Context) context.Context { return scope.WithActor(ctx, "user:tenant-admin") }

func TestApplyAndDecide(t *testing.T) {
	fx := setup(t)
	ctx := staff(context.Background())
	lumen, panda := fx.tenants["lumen"], fx.tenants["panda"]

	_, err := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: "", Handle: "X", ContactEmail: "nope"})
	if fe := fault.As(err); fe == nil || len(fe.Fields) != 3 {
		t.Fatalf("invalid application: %v", err)
	}
	m, err := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: "Candle Corner", Handle: "candle-corner", ContactEmail: "Hi@Candle.Test"})
	if err != nil || m.Status != merchants.StatusPending || m.ContactEmail != "hi@candle.test" {
		t.Fatalf("apply: %v %+v", err, m)
	}
	if _, err := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: "Dup", Handle: "candle-corner", ContactEmail: "a@b.test"}); !errors.Is(err, merchants.ErrHandleTaken) {
		t.Errorf("duplicate handle: %v", err)
	}
	if _, err := fx.s.Apply(ctx, panda, merchants.Application{StoreName: "Same handle elsewhere", Handle: "candle-corner", ContactEmail: "a@b.test"}); err != nil {
		t.Errorf("the same handle in another tenant must be fine: %v", err)
	}

	for _, step := range []struct {
		action string
		want   string
		err    error
	}{
		{"suspend", "", merchants.ErrTransition},
		{"approve", merchants.StatusActive, nil},
		{"approve", "", merchants.ErrTransition},
		{"suspend", merchants.StatusSuspended, nil},
		{"reactivate", merchants.StatusActive, nil},
		{"reject", "", merchants.ErrTransition},
	} {
		got, err := fx.s.Decide(ctx, lumen, m.ID, step.action, "checked by "+step.action)
		if !errors.Is(err, step.err) || (step.err == nil && got.Status != step.want) {
			t.Fatalf("%s: %v %+v", step.action, err, got)
		}
	}
	if _, err := fx.s.Decide(ctx, panda, m.ID, "suspend", ""); !errors.Is(err, merchants.ErrNotFound) {
		t.Errorf("another tenant's merchant: %v, want not found", err)
	}
	if _, err := fx.s.Decide(ctx, lumen, m.ID, "delete", ""); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("unknown action: %v", err)
	}

	// Every decision left an audit entry in lumen's chain, and the chain verifies.
	err = fx.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
		page, err := audit.List(ctx, tx, audit.Filter{ResourceID: m.ID.String()})
		if err != nil {
			return err
		}
		if len(page.Items) != 4 { // apply, approve, suspend, reactivate
			t.Errorf("%d audit entries for the merchant, want 4", len(page.Items))
		}
		rep, err := audit.Verify(ctx, tx, lumen)
		if err != nil {
			return err
		}
		if !rep.OK() {
			t.Errorf("audit chain broken: %+v", rep.Problems)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPlanLimitAndAutoApprove(t *testing.T) {
	fx := setup(t)
	ctx := staff(context.Background())
	lumen := fx.tenants["lumen"]
	// Lumen has 2 active merchants; a plan that allows 3 leaves room for exactly one more.
	fx.exec(t, `UPDATE plans SET limits = jsonb_set(limits, '{merchants}', '3') WHERE id = (SELECT plan_id FROM tenants WHERE slug = 'lumen')`)
	fx.exec(t, `UPDATE tenants SET settings = '{"auto_approve_merchants": true}' WHERE slug = 'lumen'`)

	first, err := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: "One", Handle: "one-more", ContactEmail: "one@x.test"})
	if err != nil || first.Status != merchants.StatusActive {
		t.Fatalf("auto-approve with room: %v %+v", err, first)
	}
	second, err := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: "Two", Handle: "two-more", ContactEmail: "two@x.test"})
	if err != nil || second.Status != merchants.StatusPending {
		t.Fatalf("auto-approve without room must leave it pending: %v %+v", err, second)
	}
	if _, err := fx.s.Decide(ctx, lumen, second.ID, "approve", ""); !errors.Is(err, merchants.ErrPlanLimit) {
		t.Errorf("approve past the plan limit: %v", err)
	}
	if _, err := fx.s.Decide(ctx, lumen, first.ID, "suspend", ""); err != nil {
		t.Fatal(err)
	}
	if got, err := fx.s.Decide(ctx, lumen, second.ID, "approve", ""); err != nil || got.Status != merchants.StatusActive {
		t.Errorf("approve after a slot freed up: %v %+v", err, got)
	}
}

func TestListAndMerchantScope(t *testing.T) {
	fx := setup(t)
	ctx := staff(context.Background())
	lumen := fx.tenants["lumen"]
	all, err := fx.s.List(ctx, lumen, merchants.ListFilter{PageParams: httpx.PageParams{Limit: 3}})
	if err != nil || len(all.Items) != 3 || all.NextCursor == "" {
		t.Fatalf("page 1: %v %+v", err, all)
	}
	rest, err := fx.s.List(ctx, lumen, merchants.ListFilter{PageParams: httpx.PageParams{Limit: 3, Cursor: all.NextCursor}})
	if err != nil || len(rest.Items) != 1 {
		t.Fatalf("page 2: %v %+v", err, rest)
	}
	pending, _ := fx.s.List(ctx, lumen, merchants.ListFilter{Status: merchants.StatusPending})
	if len(pending.Items) != 1 || pending.Items[0].Handle != "paper-lantern" {
		t.Errorf("pending filter: %+v", pending.Items)
	}
	mine := all.Items[0]
	scoped := scope.WithMerchant(ctx, mine.ID)
	own, err := fx.s.List(scoped, lumen, merchants.ListFilter{})
	if err != nil || len(own.Items) != 1 || own.Items[0].ID != mine.ID {
		t.Errorf("merchant scope lists %+v (%v), want only its own", own.Items, err)
	}
	if _, err := fx.s.Decide(scoped, lumen, mine.ID, "suspend", ""); !errors.Is(err, merchants.ErrTenantDecision) {
		t.Errorf("a merchant deciding on itself: %v", err)
	}
	if _, _, err := fx.s.Invite(scoped, lumen, "x@y.test", "X"); !errors.Is(err, merchants.ErrTenantDecision) {
		t.Errorf("a merchant inviting merchants: %v", err)
	}
	if _, err := fx.s.Get(scoped, lumen, all.Items[1].ID); !errors.Is(err, merchants.ErrNotFound) {
		t.Errorf("merchant staff read another merchant: %v", err)
	}
	if _, err := fx.s.Get(ctx, fx.tenants["panda"], mine.ID); !errors.Is(err, merchants.ErrNotFound) {
		t.Errorf("cross-tenant read: %v", err)
	}
}

func TestInvitations(t *testing.T) {
	fx := setup(t)
	ctx := staff(context.Background())
	lumen := fx.tenants["lumen"]
	token, inv, err := fx.s.Invite(ctx, lumen, "Owner@Newshop.Test", "New Shop")
	if err != nil || inv.Email != "owner@newshop.test" || len(token) < 40 {
		t.Fatalf("invite: %v %+v", err, inv)
	}
	var ownerEmail string
	m, err := fx.s.AcceptInvitation(ctx, lumen, token, "new-shop", func(tx bun.IDB, m merchants.Merchant, email string) error {
		ownerEmail = email
		return nil
	})
	if err != nil || m.Status != merchants.StatusActive || m.Name != "New Shop" || ownerEmail != "owner@newshop.test" {
		t.Fatalf("accept: %v %+v %q", err, m, ownerEmail)
	}
	if _, err := fx.s.AcceptInvitation(ctx, lumen, token, "new-shop-2", nil); !errors.Is(err, merchants.ErrInvitationInvalid) {
		t.Errorf("second use: %v", err)
	}
	if _, err := fx.s.AcceptInvitation(ctx, fx.tenants["panda"], token, "elsewhere", nil); !errors.Is(err, merchants.ErrInvitationInvalid) {
		t.Errorf("token used in another tenant: %v", err)
	}
	// An expired invitation is refused, and a failing hook undoes everything.
	expired, _, err := fx.s.Invite(ctx, lumen, "late@x.test", "Late")
	if err != nil {
		t.Fatal(err)
	}
	fx.exec(t, "UPDATE merchant_invitations SET expires_at = now() - interval '1 minute' WHERE email = 'late@x.test'")
	if _, err := fx.s.AcceptInvitation(ctx, lumen, expired, "late", nil); !errors.Is(err, merchants.ErrInvitationInvalid) {
		t.Errorf("expired: %v", err)
	}
	fresh, _, _ := fx.s.Invite(ctx, lumen, "hook@x.test", "Hook")
	boom := errors.New("account creation failed")
	if _, err := fx.s.AcceptInvitation(ctx, lumen, fresh, "hook-shop", func(bun.IDB, merchants.Merchant, string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("hook error: %v", err)
	}
	if got, err := fx.s.AcceptInvitation(ctx, lumen, fresh, "hook-shop", nil); err != nil || got.Handle != "hook-shop" {
		t.Errorf("after a failed hook the invitation must still be usable: %v", err)
	}
}

func TestApprovalTellsTheMerchantOnce(t *testing.T) {
	fx := setup(t)
	ctx := staff(context.Background())
	lumen := fx.tenants["lumen"]
	pending, _ := fx.s.List(ctx, lumen, merchants.ListFilter{Status: merchants.StatusPending})
	m := pending.Items[0]
	count := func() (n int) {
		t.Helper()
		if err := fx.f.App.WithTenant(ctx, lumen, func(tx bun.IDB) error {
			return tx.NewRaw("SELECT count(*) FROM outbox WHERE kind = ?", merchants.KindApproved).Scan(ctx, &n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := fx.s.Decide(ctx, lumen, m.ID, "reject", ""); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Fatal("a rejection must not tell the merchant it was approved")
	}
	other, _ := fx.s.Apply(ctx, lumen, merchants.Application{StoreName: "Told", Handle: "told-shop", ContactEmail: "told@x.test"})
	if _, err := fx.s.Decide(ctx, lumen, other.ID, "approve", "welcome"); err != nil {
		t.Fatal(err)
	}
	if count() != 1 {
		t.Fatalf("%d approval tasks in the outbox, want 1", count())
	}
	var told []merchants.Merchant
	kind := fx.s.Kinds(func(_ context.Context, tenantID uuid.UUID, m merchants.Merchant) error {
		if tenantID != lumen {
			t.Errorf("told tenant %v", tenantID)
		}
		told = append(told, m)
		return nil
	})[0]
	data, _ := json.Marshal(map[string]string{"merchant_id": other.ID.String()})
	if err := kind.Handler(ctx, jobs.Payload{TenantID: lumen, Data: data}); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0].ContactEmail != "told@x.test" || told[0].DecisionNote != "welcome" {
		t.Errorf("told %+v", told)
	}
}
