package orders_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
	"mercato/tenants/cart"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
	"mercato/tenants/orders"
	"mercato/tenants/promotions"
)

type fixture struct {
	f        *dbtest.Fixture
	s        *orders.Service
	cat      *catalog.Service
	inv      *inventory.Service
	promos   *promotions.Service
	carts    *cart.Service
	tenant   map[string]uuid.UUID // by slug
	merchant map[string]uuid.UUID // by handle
	location map[uuid.UUID]uuid.UUID
}

// fakePayments stands in for the payments slice: it records the orders it was asked to start.
type fakePayments struct {
	mu      sync.Mutex
	started []uuid.UUID
}

func (p *fakePayments) Start(_ context.Context, _ uuid.UUID, o orders.Order) (orders.PaymentSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = append(p.started, o.ID)
	return orders.PaymentSession{ClientSecret: "pi_test_secret_" + o.Number}, nil
}

func setup(t *testing.T) fixture {
	t.Helper()
	f := dbtest.New(t)
	return setupOn(t, f, f.App)
}

// setupOn builds the services on pool (a bigger pool for the concurrency tests).
func setupOn(t *testing.T, f *dbtest.Fixture, pool *db.DB) fixture {
	t.Helper()
	ctx := staff()
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{f: f, cat: catalog.NewService(pool, pol, audit.Recorder{}), inv: inventory.NewService(pool, audit.Recorder{}),
		promos: promotions.NewService(pool, audit.Recorder{}), tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{},
		location: map[uuid.UUID]uuid.UUID{}}
	fx.carts = cart.NewService(pool, fx.cat, fx.promos)
	fx.s = orders.NewService(pool, orders.Config{Audit: audit.Recorder{}, Inventory: fx.inv, Carts: fx.carts, Promos: fx.promos,
		Fees: feeSplitter, Payments: &fakePayments{}})
	var rows []struct {
		Slug, Handle string
		TenantID, ID uuid.UUID
	}
	if err := f.Platform.Do(ctx, "test.read", func(tx bun.IDB) error {
		return tx.NewRaw("SELECT t.slug, m.handle, t.id AS tenant_id, m.id FROM merchants m JOIN tenants t ON t.id = m.tenant_id").Scan(ctx, &rows)
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		fx.tenant[r.Slug], fx.merchant[r.Handle] = r.TenantID, r.ID
	}
	return fx
}

// staff is a tenant-wide staff member's context.
func staff() context.Context { return scope.WithActor(context.Background(), "user:tenant-staff") }

// merchantStaff works for one merchant.
func merchantStaff(m uuid.UUID) context.Context {
	return scope.WithMerchant(scope.WithActor(context.Background(), "user:merchant-staff"), m)
}

// shopperCtx is a signed-in shopper's storefront request.
func shopperCtx(id uuid.UUID) context.Context {
	return scope.WithActor(context.Background(), scope.Actor("shopper:"+id.String()))
}

// variant creates a live product of the merchant with one variant priced at amount (major
// units), weighing grams, with stock units at the merchant's location, and returns its id.
func (fx fixture) variant(t *testing.T, tenant, merchant, slug, currency, amount string, grams, stock int) uuid.UUID {
	t.Helper()
	ctx := staff()
	tid, mid := fx.tenant[tenant], fx.merchant[merchant]
	c, err := fx.cat.CreateCategory(ctx, tid, catalog.CategoryInput{Slug: slug + "-cat", Name: map[string]string{"en": "Things"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fx.cat.CreateProduct(ctx, tid, catalog.ProductInput{MerchantID: mid, Slug: slug, CategoryID: &c.ID,
		Translations: map[string]catalog.Translation{"en": {Title: slug}}, Images: []catalog.Image{{Key: "img/" + slug + ".jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := fx.cat.AddVariant(ctx, tid, p.ID, catalog.VariantInput{SKU: slug + "-1", WeightGrams: &grams})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.cat.SetPrice(ctx, tid, p.ID, v.ID, catalog.PriceInput{Currency: currency, Amount: amount}); err != nil {
		t.Fatal(err)
	}
	if p, err = fx.cat.Submit(ctx, tid, p.ID); err != nil {
		t.Fatal(err)
	}
	if p.Status == catalog.StatusPendingReview { // lumen reviews listings
		if _, err := fx.cat.Moderate(ctx, tid, p.ID, "approve", ""); err != nil {
			t.Fatal(err)
		}
	}
	loc, ok := fx.location[mid]
	if !ok {
		l, err := fx.inv.CreateLocation(ctx, tid, inventory.NewLocation{MerchantID: mid, Name: "Main"})
		if err != nil {
			t.Fatal(err)
		}
		loc = l.ID
		fx.location[mid] = loc
	}
	if stock > 0 {
		if _, _, err := fx.inv.Adjust(ctx, tid, inventory.NewAdjustment{VariantID: v.ID, LocationID: loc, Delta: stock, Reason: inventory.ReasonReceived}); err != nil {
			t.Fatal(err)
		}
	}
	return v.ID
}

// shoppers creates n shopper accounts in the tenant and returns their ids.
func (fx fixture) shoppers(t *testing.T, tenant string, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	prefix := uuid.NewString()[:8]
	if err := fx.f.Platform.Do(staff(), "test.shoppers", func(tx bun.IDB) error {
		return tx.NewRaw(`INSERT INTO shoppers (tenant_id, email) SELECT ?, ? || '-' || g || '@example.com' FROM generate_series(1, ?) g RETURNING id`,
			fx.tenant[tenant], prefix, n).Scan(staff(), &ids)
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// level is the variant's stock at its merchant's location.
func (fx fixture) level(t *testing.T, tenant string, v uuid.UUID) inventory.Level {
	t.Helper()
	ls, err := fx.inv.Levels(staff(), fx.tenant[tenant], v)
	if err != nil || len(ls) != 1 {
		t.Fatalf("levels of %s: %v %+v", v, err, ls)
	}
	return ls[0]
}

// count runs a count query across tenants.
func (fx fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := fx.f.Platform.Do(staff(), "test.count", func(tx bun.IDB) error {
		return tx.NewRaw(q, args...).Scan(staff(), &n)
	}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func address() orders.Address {
	return orders.Address{Name: "Ada Shopper", Line1: "1 Market St", City: "San Francisco", Region: "CA", PostalCode: "94105", Country: "US"}
}

func race(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// must unwraps a fixture call's result; setup failures end the test with the error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func auditRecorder() audit.Recorder { return audit.Recorder{} }

func cartOwner(shopper uuid.UUID) cart.Owner { return cart.Owner{ShopperID: shopper} }
