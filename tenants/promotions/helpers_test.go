package promotions_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
	"mercato/tenants/promotions"
)

type fixture struct {
	f        *dbtest.Fixture
	s        *promotions.Service
	cat      *catalog.Service
	tenant   map[string]uuid.UUID // by slug
	merchant map[string]uuid.UUID // by handle
}

func setup(t *testing.T) fixture {
	t.Helper()
	ctx := staff()
	f := dbtest.New(t)
	if err := demo.Load(ctx, f.Platform); err != nil {
		t.Fatal(err)
	}
	pol, err := authz.NewPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{f: f, s: promotions.NewService(f.App, audit.Recorder{}), cat: catalog.NewService(f.App, pol, audit.Recorder{}),
		tenant: map[string]uuid.UUID{}, merchant: map[string]uuid.UUID{}}
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

// variant creates a live product of the merchant with one variant priced at amount (major
// units of currency) and returns the variant's id.
func (fx fixture) variant(t *testing.T, tenant, merchant, slug, currency, amount string) uuid.UUID {
	t.Helper()
	ctx := staff()
	tid := fx.tenant[tenant]
	c, err := fx.cat.CreateCategory(ctx, tid, catalog.CategoryInput{Slug: slug + "-cat", Name: map[string]string{"en": "Things"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fx.cat.CreateProduct(ctx, tid, catalog.ProductInput{MerchantID: fx.merchant[merchant], Slug: slug, CategoryID: &c.ID,
		Translations: map[string]catalog.Translation{"en": {Title: slug}}, Images: []catalog.Image{{Key: "img/" + slug + ".jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := fx.cat.AddVariant(ctx, tid, p.ID, catalog.VariantInput{SKU: slug + "-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.cat.SetPrice(ctx, tid, p.ID, v.ID, catalog.PriceInput{Currency: currency, Amount: amount}); err != nil {
		t.Fatal(err)
	}
	if got, err := fx.cat.Submit(ctx, tid, p.ID); err != nil {
		t.Fatal(err)
	} else if got.Status == catalog.StatusPendingReview {
		if _, err := fx.cat.Moderate(ctx, tid, p.ID, "approve", ""); err != nil {
			t.Fatal(err)
		}
	}
	return v.ID
}

func ptr[T any](v T) *T { return &v }
