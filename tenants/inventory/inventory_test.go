package inventory_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/db/dbtest"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants"
	"mercato/tenants/inventory"
)

type fixture struct {
	f        *dbtest.Fixture
	s        *inventory.Service
	tenant   map[string]uuid.UUID
	merchant map[string]uuid.UUID // by handle
}

func setup(t *testing.T) fixture {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	fx := fixture{f: f, s: inventory.NewService(f.App, audit.Recorder{}), tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{}}
	page, err := tenants.NewDirectory(f.Platform, "localhost").List(ctx, tenants.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range page.Items {
		fx.tenant[tn.Slug] = tn.ID
	}
	var rows []struct {
		Handle string
		ID     uuid.UUID
	}
	if err := f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT handle, id FROM merchants").Scan(ctx, &rows)
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		fx.merchant[r.Handle] = r.ID
	}
	return fx
}

// staff is a tenant-wide staff member's context.
func staff() context.Context {
	return scope.WithActor(context.Background(), "user:tenant-staff")
}

// location creates a location for the merchant with handle in tenant slug.
func (fx fixture) location(t *testing.T, slug, handle, name string, isDefault bool) inventory.Location {
	t.Helper()
	l, err := fx.s.CreateLocation(staff(), fx.tenant[slug], inventory.NewLocation{MerchantID: fx.merchant[handle], Name: name,
		Address: []byte(`{"city":"Oslo"}`), IsDefault: isDefault})
	if err != nil {
		t.Fatalf("create location %s: %v", name, err)
	}
	return l
}

// variant creates a draft product with one variant for merchant in tenant slug, straight in
// the catalog's tables (stock rows reference variants, migration 0011), and returns the variant.
func (fx fixture) variant(t *testing.T, slug string, merchant uuid.UUID) uuid.UUID {
	t.Helper()
	v := uuid.Must(uuid.NewV7())
	ctx := context.Background()
	err := fx.f.Platform.Do(ctx, "test.variant", func(tx bun.IDB) error {
		p := uuid.Must(uuid.NewV7())
		if _, err := tx.ExecContext(ctx, `INSERT INTO products (tenant_id, id, merchant_id, slug) VALUES (?, ?, ?, ?)`,
			fx.tenant[slug], p, merchant, "p-"+p.String()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO variants (tenant_id, id, product_id, merchant_id, sku) VALUES (?, ?, ?, ?, ?)`,
			fx.tenant[slug], v, p, merchant, "SKU-"+v.String())
		return err
	})
	if err != nil {
		t.Fatalf("create variant: %v", err)
	}
	return v
}

// stock puts n units of a new variant of loc's merchant at loc and returns the variant.
func (fx fixture) stock(t *testing.T, slug string, loc inventory.Location, n int) uuid.UUID {
	t.Helper()
	v := fx.variant(t, slug, loc.MerchantID)
	fx.add(t, slug, v, loc, n)
	return v
}

func (fx fixture) add(t *testing.T, slug string, v uuid.UUID, loc inventory.Location, n int) {
	t.Helper()
	if _, _, err := fx.s.Adjust(staff(), fx.tenant[slug], inventory.NewAdjustment{VariantID: v, LocationID: loc.ID, Delta: n, Reason: inventory.ReasonReceived}); err != nil {
		t.Fatalf("stock %s: %v", v, err)
	}
}

// level reads the variant's level at loc, failing when there is none.
func (fx fixture) level(t *testing.T, slug string, v uuid.UUID, loc uuid.UUID) inventory.Level {
	t.Helper()
	ls, err := fx.s.Levels(staff(), fx.tenant[slug], v)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.LocationID == loc {
			return l
		}
	}
	t.Fatalf("no level for %s at %s in %v", v, loc, ls)
	return inventory.Level{}
}

func wantLevel(t *testing.T, l inventory.Level, onHand, reserved int) {
	t.Helper()
	if l.OnHand != onHand || l.Reserved != reserved || l.Available != onHand-reserved {
		t.Errorf("level: on hand %d reserved %d available %d, want %d %d %d", l.OnHand, l.Reserved, l.Available, onHand, reserved, onHand-reserved)
	}
}

func (fx fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	ctx := context.Background()
	if err := fx.f.Platform.Do(ctx, "test.count", func(tx bun.IDB) error {
		return tx.NewRaw(sql, args...).Scan(ctx, &n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLocations(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	first := fx.location(t, "lumen", "northwind-lighting", "Oslo", false)
	second := fx.location(t, "lumen", "northwind-lighting", "Bergen", false)
	if !first.IsDefault || second.IsDefault || string(first.Address) != `{"city": "Oslo"}` && string(first.Address) != `{"city":"Oslo"}` {
		t.Errorf("first location is the default: %+v %+v", first, second)
	}
	third := fx.location(t, "lumen", "northwind-lighting", "Trondheim", true)
	page, err := fx.s.ListLocations(staff(), lumen, fx.merchant["northwind-lighting"], httpx.PageParams{})
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("list: %v %+v", err, page)
	}
	defaults := 0
	for _, l := range page.Items {
		if l.IsDefault {
			defaults++
			if l.ID != third.ID {
				t.Errorf("default is %s, want the newest default %s", l.Name, third.Name)
			}
		}
	}
	if defaults != 1 {
		t.Errorf("%d defaults, want 1", defaults)
	}
	for name, tc := range map[string]struct {
		in   inventory.NewLocation
		want error
	}{
		"duplicate name":   {inventory.NewLocation{MerchantID: fx.merchant["northwind-lighting"], Name: "Oslo"}, inventory.ErrLocationNameTaken},
		"unknown merchant": {inventory.NewLocation{MerchantID: uuid.New(), Name: "X"}, inventory.ErrMerchantNotFound},
		"other tenant's":   {inventory.NewLocation{MerchantID: fx.merchant["xiangyun-tea"], Name: "X"}, inventory.ErrMerchantNotFound},
	} {
		if _, err := fx.s.CreateLocation(staff(), lumen, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	for name, in := range map[string]inventory.NewLocation{
		"no merchant": {Name: "X"},
		"no name":     {MerchantID: fx.merchant["northwind-lighting"], Name: "  "},
		"bad address": {MerchantID: fx.merchant["northwind-lighting"], Name: "Y", Address: []byte(`[1]`)},
	} {
		if _, err := fx.s.CreateLocation(staff(), lumen, in); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

func TestAdjustmentsAndHistory(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	loc := fx.location(t, "lumen", "northwind-lighting", "Oslo", false)
	v := fx.variant(t, "lumen", loc.MerchantID)
	ctx := scope.WithActor(context.Background(), "user:packer")
	steps := []struct {
		delta  int
		reason string
		onHand int
	}{
		{10, inventory.ReasonReceived, 10},
		{-3, inventory.ReasonDamaged, 7},
		{1, inventory.ReasonReturned, 8},
		{-8, inventory.ReasonCorrection, 0},
	}
	for _, st := range steps {
		a, l, err := fx.s.Adjust(ctx, lumen, inventory.NewAdjustment{VariantID: v, LocationID: loc.ID, Delta: st.delta, Reason: st.reason, Note: " counted "})
		if err != nil {
			t.Fatalf("adjust %+v: %v", st, err)
		}
		if a.OnHandAfter != st.onHand || a.Actor != "user:packer" || a.Note != "counted" || a.MerchantID != loc.MerchantID {
			t.Errorf("adjustment: %+v", a)
		}
		wantLevel(t, l, st.onHand, 0)
	}
	page, err := fx.s.ListAdjustments(staff(), lumen, inventory.AdjustmentFilter{VariantID: v, PageParams: httpx.PageParams{Limit: 3}})
	if err != nil || len(page.Items) != 3 || page.NextCursor == "" {
		t.Fatalf("history page 1: %v %+v", err, page)
	}
	rest, err := fx.s.ListAdjustments(staff(), lumen, inventory.AdjustmentFilter{VariantID: v, PageParams: httpx.PageParams{Cursor: page.NextCursor}})
	if err != nil || len(rest.Items) != 1 || rest.NextCursor != "" {
		t.Fatalf("history page 2: %v %+v", err, rest)
	}
	all := append(page.Items, rest.Items...)
	for i, a := range all { // newest first
		st := steps[len(steps)-1-i]
		if a.Delta != st.delta || a.Reason != st.reason || a.OnHandAfter != st.onHand {
			t.Errorf("history[%d] = %+v, want %+v", i, a, st)
		}
	}
	if n := fx.count(t, "SELECT count(*) FROM audit_entries WHERE tenant_id = ? AND action = 'inventory.adjust'", lumen); n != len(steps) {
		t.Errorf("%d audit entries, want %d", n, len(steps))
	}
	for name, in := range map[string]inventory.NewAdjustment{
		"zero delta":      {VariantID: v, LocationID: loc.ID, Delta: 0, Reason: inventory.ReasonOther},
		"sold by hand":    {VariantID: v, LocationID: loc.ID, Delta: -1, Reason: inventory.ReasonSold},
		"unknown reason":  {VariantID: v, LocationID: loc.ID, Delta: 1, Reason: "gift"},
		"no variant":      {LocationID: loc.ID, Delta: 1, Reason: inventory.ReasonOther},
		"no location":     {VariantID: v, Delta: 1, Reason: inventory.ReasonOther},
		"absurd quantity": {VariantID: v, LocationID: loc.ID, Delta: 2_000_000, Reason: inventory.ReasonOther},
	} {
		if _, _, err := fx.s.Adjust(ctx, lumen, in); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, _, err := fx.s.Adjust(ctx, lumen, inventory.NewAdjustment{VariantID: v, LocationID: uuid.New(), Delta: 1, Reason: inventory.ReasonOther}); !errors.Is(err, inventory.ErrLocationNotFound) {
		t.Errorf("unknown location: %v", err)
	}
	// A variant that does not exist, and one of another merchant, cannot be stocked here:
	// 404, and no level or history row appears.
	before := fx.count(t, "SELECT count(*) FROM inventory_adjustments WHERE tenant_id = ?", lumen)
	for name, variant := range map[string]uuid.UUID{
		"unknown variant":            uuid.New(),
		"another merchant's variant": fx.variant(t, "lumen", fx.merchant["oak-and-ash"]),
	} {
		if _, _, err := fx.s.Adjust(ctx, lumen, inventory.NewAdjustment{VariantID: variant, LocationID: loc.ID, Delta: 1, Reason: inventory.ReasonReceived}); !errors.Is(err, inventory.ErrVariantNotFound) {
			t.Errorf("%s: %v, want ErrVariantNotFound", name, err)
		}
	}
	if n := fx.count(t, "SELECT count(*) FROM inventory_adjustments WHERE tenant_id = ?", lumen); n != before {
		t.Errorf("refused adjustments wrote history: %d rows, want %d", n, before)
	}
	// The database holds the same line without the service: a level naming a variant of
	// another merchant than its location's breaks the foreign key of migration 0011.
	err = fx.f.Platform.Do(context.Background(), "test.fk", func(tx bun.IDB) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO inventory_levels (tenant_id, variant_id, location_id, merchant_id)
			VALUES (?, ?, ?, ?)`, lumen, fx.variant(t, "lumen", fx.merchant["oak-and-ash"]), loc.ID, loc.MerchantID)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "inventory_levels_variant_fkey") {
		t.Errorf("a level for another merchant's variant: %v, want the variant foreign key to refuse it", err)
	}
}

func TestAdjustNeverBelowZeroOrReserved(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	loc := fx.location(t, "lumen", "northwind-lighting", "Oslo", false)
	v := fx.stock(t, "lumen", loc, 5)
	adjust := func(d int) error {
		_, _, err := fx.s.Adjust(staff(), lumen, inventory.NewAdjustment{VariantID: v, LocationID: loc.ID, Delta: d, Reason: inventory.ReasonCorrection})
		return err
	}
	if err := adjust(-6); !errors.Is(err, inventory.ErrNegativeStock) {
		t.Errorf("below zero: %v", err)
	}
	if err := adjust(-1); !errors.Is(err, inventory.ErrNegativeStock) && !errors.Is(err, inventory.ErrBelowReserved) && err != nil {
		t.Errorf("fine: %v", err)
	}
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 4, 0)
	if _, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: v, Quantity: 3}}, "checkout-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := adjust(-2); !errors.Is(err, inventory.ErrBelowReserved) {
		t.Errorf("below reserved: %v", err)
	}
	if fe := fault.As(adjust(-2)); fe == nil || fe.Kind != fault.Conflict {
		t.Errorf("below reserved is a conflict: %v", fe)
	}
	if err := adjust(-1); err != nil {
		t.Errorf("down to reserved: %v", err)
	}
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 3, 3)
	if n := fx.count(t, "SELECT count(*) FROM inventory_adjustments WHERE tenant_id = ? AND variant_id = ?", lumen, v); n != 3 {
		t.Errorf("%d history rows, want 3 (refused adjustments leave none)", n)
	}
}

func TestReserveAllOrNothing(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	loc := fx.location(t, "lumen", "northwind-lighting", "Oslo", false)
	plenty, scarce := fx.stock(t, "lumen", loc, 5), fx.stock(t, "lumen", loc, 1)

	_, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: plenty, Quantity: 2}, {VariantID: scarce, Quantity: 2}}, "checkout-1", time.Minute)
	var short *inventory.ShortageError
	if !errors.Is(err, inventory.ErrInsufficientStock) || !errors.As(err, &short) || short.VariantID != scarce {
		t.Fatalf("short line: %v", err)
	}
	if fe := fault.As(err); fe == nil || fe.Kind != fault.Conflict || fe.Code != "insufficient_stock" || !strings.Contains(fe.Message, scarce.String()) {
		t.Errorf("problem names the variant: %+v", fe)
	}
	wantLevel(t, fx.level(t, "lumen", plenty, loc.ID), 5, 0)
	wantLevel(t, fx.level(t, "lumen", scarce, loc.ID), 1, 0)
	if rs, err := fx.s.Reservations(staff(), lumen, "checkout-1"); err != nil || len(rs) != 0 {
		t.Errorf("reservations after a refused checkout: %v %v", err, rs)
	}

	// Lines of one variant are merged; 2 + 3 is all there is.
	rs, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: plenty, Quantity: 2}, {VariantID: scarce, Quantity: 1}, {VariantID: plenty, Quantity: 3}}, "checkout-2", time.Minute)
	if err != nil || len(rs) != 2 {
		t.Fatalf("reserve: %v %+v", err, rs)
	}
	wantLevel(t, fx.level(t, "lumen", plenty, loc.ID), 5, 5)
	wantLevel(t, fx.level(t, "lumen", scarce, loc.ID), 1, 1)
	for name, lines := range map[string][]inventory.Line{
		"no lines":      nil,
		"zero quantity": {{VariantID: plenty, Quantity: 0}},
		"no variant":    {{Quantity: 1}},
	} {
		if _, err := fx.s.Reserve(staff(), lumen, lines, "c", time.Minute); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: plenty, Quantity: 1}}, "c", 0); fault.As(err) == nil {
		t.Errorf("zero ttl accepted")
	}
}

// The default location serves first; a line that does not fit there goes to the location with
// the most available; a line is never split.
func TestReserveChoosesLocation(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	def := fx.location(t, "lumen", "northwind-lighting", "Default", false)
	small := fx.location(t, "lumen", "northwind-lighting", "Small", false)
	big := fx.location(t, "lumen", "northwind-lighting", "Big", false)
	v := fx.stock(t, "lumen", def, 2)
	fx.add(t, "lumen", v, small, 3)
	fx.add(t, "lumen", v, big, 4)
	tests := []struct {
		qty  int
		want uuid.UUID // uuid.Nil: refused
	}{
		{2, def.ID},   // default first
		{3, big.ID},   // default is empty; most available
		{2, small.ID}, // big has 1, small 3
		{2, uuid.Nil}, // 1 + 1 left in two places: lines are not split
		{1, small.ID}, // tie of 1 and 1: by location id; either is right, the level tells
	}
	for i, tc := range tests {
		rs, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: v, Quantity: tc.qty}}, "c", time.Minute)
		if tc.want == uuid.Nil {
			if !errors.Is(err, inventory.ErrInsufficientStock) {
				t.Errorf("step %d: %v, want insufficient stock", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i < 3 && rs[0].LocationID != tc.want {
			t.Errorf("step %d: from %s, want %s", i, rs[0].LocationID, tc.want)
		}
	}
}

func TestCommitReleaseExpire(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	loc := fx.location(t, "lumen", "northwind-lighting", "Oslo", false)
	v := fx.stock(t, "lumen", loc, 10)
	ctx := scope.WithActor(context.Background(), "system:checkout")
	hold := func(n int, ttl time.Duration) uuid.UUID {
		t.Helper()
		rs, err := fx.s.Reserve(ctx, lumen, []inventory.Line{{VariantID: v, Quantity: n}}, "checkout-x", ttl)
		if err != nil {
			t.Fatal(err)
		}
		return rs[0].ID
	}
	paid, abandoned, lapsing := hold(2, time.Hour), hold(1, time.Hour), hold(3, time.Second)
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 10, 6)

	for range 2 {
		if err := fx.s.Commit(ctx, lumen, []uuid.UUID{paid}); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 8, 4)
	if n := fx.count(t, "SELECT count(*) FROM inventory_adjustments WHERE tenant_id = ? AND reason = 'sold' AND reservation_id = ? AND delta = -2 AND on_hand_after = 8", lumen, paid); n != 1 {
		t.Errorf("%d sold rows, want 1", n)
	}
	for range 2 {
		if err := fx.s.Release(ctx, lumen, []uuid.UUID{abandoned}); err != nil {
			t.Fatalf("release: %v", err)
		}
	}
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 8, 3)
	if err := fx.s.Release(ctx, lumen, []uuid.UUID{paid}); !errors.Is(err, inventory.ErrReservationCommitted) {
		t.Errorf("release a committed reservation: %v", err)
	}
	if err := fx.s.Commit(ctx, lumen, []uuid.UUID{abandoned}); !errors.Is(err, inventory.ErrReservationLapsed) {
		t.Errorf("commit a released reservation: %v", err)
	}
	if err := fx.s.Commit(ctx, lumen, []uuid.UUID{paid, uuid.New()}); !errors.Is(err, inventory.ErrReservationNotFound) {
		t.Errorf("commit an unknown id: %v", err)
	}

	now := time.Now()
	if n, err := inventory.ExpireDue(ctx, fx.f.Platform, now.Add(-time.Minute), 10); err != nil || n != 0 {
		t.Errorf("expire before due: %d %v", n, err)
	}
	if n, err := inventory.ExpireDue(ctx, fx.f.Platform, now.Add(time.Minute), 10); err != nil || n != 1 {
		t.Errorf("expire: %d %v", n, err)
	}
	if n, err := inventory.ExpireDue(ctx, fx.f.Platform, now.Add(time.Minute), 10); err != nil || n != 0 {
		t.Errorf("expire twice: %d %v", n, err)
	}
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 8, 0)
	if err := fx.s.Commit(ctx, lumen, []uuid.UUID{lapsing}); !errors.Is(err, inventory.ErrReservationLapsed) {
		t.Errorf("commit an expired reservation: %v", err)
	}
	rs, err := fx.s.Reservations(ctx, lumen, "checkout-x")
	if err != nil || len(rs) != 3 {
		t.Fatalf("reservations: %v %+v", err, rs)
	}
	want := map[uuid.UUID]string{paid: inventory.StatusCommitted, abandoned: inventory.StatusReleased, lapsing: inventory.StatusExpired}
	for _, r := range rs {
		if want[r.ID] != r.Status {
			t.Errorf("reservation %s is %s, want %s", r.ID, r.Status, want[r.ID])
		}
	}
}

// ExpireDue works in batches across tenants, and each batch leaves a platform audit entry.
func TestExpireDueAcrossTenants(t *testing.T) {
	fx := setup(t)
	ctx := scope.WithActor(context.Background(), "system:inventory.expire")
	var variants []struct {
		slug string
		v    uuid.UUID
		loc  uuid.UUID
	}
	for _, slug := range []string{"lumen", "panda"} {
		handle := map[string]string{"lumen": "northwind-lighting", "panda": "xiangyun-tea"}[slug]
		loc := fx.location(t, slug, handle, "Main", false)
		v := fx.stock(t, slug, loc, 5)
		for range 5 {
			if _, err := fx.s.Reserve(ctx, fx.tenant[slug], []inventory.Line{{VariantID: v, Quantity: 1}}, "c", time.Second); err != nil {
				t.Fatal(err)
			}
		}
		variants = append(variants, struct {
			slug string
			v    uuid.UUID
			loc  uuid.UUID
		}{slug, v, loc.ID})
	}
	before := fx.count(t, "SELECT count(*) FROM audit_entries WHERE tenant_id = '00000000-0000-0000-0000-000000000000' AND action = 'inventory.expire'")
	n, err := inventory.ExpireDue(ctx, fx.f.Platform, time.Now().Add(time.Minute), 3)
	if err != nil || n != 10 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if got := fx.count(t, "SELECT count(*) FROM audit_entries WHERE tenant_id = '00000000-0000-0000-0000-000000000000' AND action = 'inventory.expire'") - before; got != 4 {
		t.Errorf("%d audited batches, want 4 (3+3+3+1)", got)
	}
	for _, x := range variants {
		wantLevel(t, fx.level(t, x.slug, x.v, x.loc), 5, 0)
	}
}

// Merchant staff of M1 neither see nor change M2's stock.
func TestMerchantScope(t *testing.T) {
	fx := setup(t)
	lumen := fx.tenant["lumen"]
	m1, m2 := fx.merchant["northwind-lighting"], fx.merchant["oak-and-ash"]
	loc1 := fx.location(t, "lumen", "northwind-lighting", "North", false)
	loc2 := fx.location(t, "lumen", "oak-and-ash", "Oak", false)
	v1, v2 := fx.stock(t, "lumen", loc1, 5), fx.stock(t, "lumen", loc2, 5)
	asM1 := scope.WithMerchant(scope.WithActor(context.Background(), "user:northwind"), m1)

	page, err := fx.s.ListLocations(asM1, lumen, uuid.Nil, httpx.PageParams{})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != loc1.ID {
		t.Errorf("M1 lists locations: %v %+v", err, page.Items)
	}
	if page, err := fx.s.ListLocations(asM1, lumen, m2, httpx.PageParams{}); err != nil || len(page.Items) != 0 {
		t.Errorf("M1 lists M2's locations: %v %+v", err, page.Items)
	}
	if ls, err := fx.s.Levels(asM1, lumen, v2); !errors.Is(err, inventory.ErrVariantNotFound) || len(ls) != 0 {
		t.Errorf("M1 reads M2's levels: %v %+v", err, ls)
	}
	if _, _, err := fx.s.Adjust(asM1, lumen, inventory.NewAdjustment{VariantID: v2, LocationID: loc2.ID, Delta: -5, Reason: inventory.ReasonDamaged}); !errors.Is(err, inventory.ErrLocationNotFound) {
		t.Errorf("M1 adjusts M2's stock: %v", err)
	}
	if _, err := fx.s.CreateLocation(asM1, lumen, inventory.NewLocation{MerchantID: m2, Name: "Sneaky"}); !errors.Is(err, inventory.ErrMerchantNotFound) {
		t.Errorf("M1 creates a location for M2: %v", err)
	}
	hist, err := fx.s.ListAdjustments(asM1, lumen, inventory.AdjustmentFilter{})
	if err != nil || len(hist.Items) != 1 || hist.Items[0].VariantID != v1 {
		t.Errorf("M1 reads history: %v %+v", err, hist.Items)
	}
	rs, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: v2, Quantity: 1}}, "c", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.s.Release(asM1, lumen, []uuid.UUID{rs[0].ID}); !errors.Is(err, inventory.ErrReservationNotFound) {
		t.Errorf("M1 releases M2's reservation: %v", err)
	}
	// M1's own work goes through, without naming the merchant.
	own, err := fx.s.CreateLocation(asM1, lumen, inventory.NewLocation{Name: "North 2"})
	if err != nil || own.MerchantID != m1 {
		t.Errorf("M1 creates its own location: %v %+v", err, own)
	}
	if _, _, err := fx.s.Adjust(asM1, lumen, inventory.NewAdjustment{VariantID: v1, LocationID: loc1.ID, Delta: -1, Reason: inventory.ReasonDamaged}); err != nil {
		t.Errorf("M1 adjusts its own stock: %v", err)
	}
	wantLevel(t, fx.level(t, "lumen", v2, loc2.ID), 5, 1)
}

// Another tenant's ids are not found, whatever the method.
func TestCrossTenant(t *testing.T) {
	fx := setup(t)
	lumen, panda := fx.tenant["lumen"], fx.tenant["panda"]
	loc := fx.location(t, "lumen", "northwind-lighting", "Oslo", false)
	v := fx.stock(t, "lumen", loc, 5)
	rs, err := fx.s.Reserve(staff(), lumen, []inventory.Line{{VariantID: v, Quantity: 1}}, "c", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := staff()
	checks := map[string]func() error{
		"adjust": func() error {
			_, _, err := fx.s.Adjust(ctx, panda, inventory.NewAdjustment{VariantID: v, LocationID: loc.ID, Delta: 1, Reason: inventory.ReasonOther})
			return err
		},
		"location": func() error {
			_, err := fx.s.CreateLocation(ctx, panda, inventory.NewLocation{MerchantID: loc.MerchantID, Name: "X"})
			return err
		},
		"commit":  func() error { return fx.s.Commit(ctx, panda, []uuid.UUID{rs[0].ID}) },
		"release": func() error { return fx.s.Release(ctx, panda, []uuid.UUID{rs[0].ID}) },
		"reserve": func() error {
			_, err := fx.s.Reserve(ctx, panda, []inventory.Line{{VariantID: v, Quantity: 1}}, "c", time.Minute)
			return err
		},
	}
	for name, call := range checks {
		err := call()
		if fe := fault.As(err); fe == nil || (fe.Kind != fault.NotFound && !(name == "reserve" && errors.Is(err, inventory.ErrInsufficientStock))) {
			t.Errorf("%s across tenants: %v", name, err)
		}
	}
	if ls, err := fx.s.Levels(ctx, panda, v); !errors.Is(err, inventory.ErrVariantNotFound) || len(ls) != 0 {
		t.Errorf("levels across tenants: %v %+v", err, ls)
	}
	if p, err := fx.s.ListAdjustments(ctx, panda, inventory.AdjustmentFilter{VariantID: v}); err != nil || len(p.Items) != 0 {
		t.Errorf("history across tenants: %v %+v", err, p.Items)
	}
	wantLevel(t, fx.level(t, "lumen", v, loc.ID), 5, 1)
}

// The /v1/inventory routes answer with the statuses their documentation promises.
func TestRoutes(t *testing.T) {
	fx := setup(t)
	lumen, panda := fx.tenant["lumen"], fx.tenant["panda"]
	_, api := humatest.New(t)
	inventory.Routes(api, fx.s)
	asLumen := scope.WithTenant(staff(), lumen)
	asPanda := scope.WithTenant(staff(), panda)

	r := api.PostCtx(asLumen, "/v1/inventory/locations", map[string]any{"merchant_id": fx.merchant["northwind-lighting"], "name": "Oslo", "address": map[string]string{"city": "Oslo"}})
	if r.Code != http.StatusCreated || !strings.Contains(r.Body.String(), `"is_default":true`) {
		t.Fatalf("create location: %d %s", r.Code, r.Body)
	}
	loc := fx.location(t, "lumen", "northwind-lighting", "Bergen", true)
	v := fx.variant(t, "lumen", loc.MerchantID)
	if r := api.PostCtx(asLumen, "/v1/inventory/adjustments", map[string]any{"variant_id": v, "location_id": loc.ID, "delta": 4, "reason": "received"}); r.Code != http.StatusCreated || !strings.Contains(r.Body.String(), `"available":4`) {
		t.Errorf("adjust: %d %s", r.Code, r.Body)
	}
	if r := api.PostCtx(asLumen, "/v1/inventory/adjustments", map[string]any{"variant_id": v, "location_id": loc.ID, "delta": -5, "reason": "damaged"}); r.Code != http.StatusConflict || !strings.Contains(r.Body.String(), "negative_stock") {
		t.Errorf("adjust below zero: %d %s", r.Code, r.Body)
	}
	if r := api.PostCtx(asPanda, "/v1/inventory/adjustments", map[string]any{"variant_id": v, "location_id": loc.ID, "delta": 1, "reason": "received"}); r.Code != http.StatusNotFound {
		t.Errorf("adjust across tenants: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(asLumen, "/v1/inventory/levels/"+v.String()); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"on_hand":4`) {
		t.Errorf("levels: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(asPanda, "/v1/inventory/levels/"+v.String()); r.Code != http.StatusNotFound || strings.Contains(r.Body.String(), v.String()) {
		t.Errorf("levels across tenants: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(asLumen, "/v1/inventory/adjustments?variant_id="+v.String()); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"reason":"received"`) {
		t.Errorf("history: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(asLumen, "/v1/inventory/locations"); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), "Bergen") {
		t.Errorf("list locations: %d %s", r.Code, r.Body)
	}
	if r := api.GetCtx(staff(), "/v1/inventory/locations"); r.Code != http.StatusBadRequest {
		t.Errorf("no tenant: %d", r.Code)
	}
}
