package tenants_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/uptrace/bun"

	"mercato/apps/demo"
	"mercato/platform/db/dbtest"
	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants"
)

func setup(t *testing.T) (*dbtest.Fixture, *tenants.Service) {
	t.Helper()
	f := dbtest.New(t)
	if err := demo.Load(scope.WithActor(context.Background(), "system:test"), f.Platform); err != nil {
		t.Fatal(err)
	}
	return f, tenants.NewService(f.App, "localhost")
}

func TestResolveHost(t *testing.T) {
	f, s := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		host, slug string
		err        error
	}{
		{"lumen.localhost", "lumen", nil},
		{"lumen-goods.test", "lumen", nil},
		{"panda.localhost", "panda", nil},
		{"ghost.localhost", "", tenants.ErrNotFound},
		{"localhost", "", tenants.ErrNotFound},
	} {
		got, err := s.ResolveHost(ctx, tc.host)
		if !errors.Is(err, tc.err) || got.Slug != tc.slug {
			t.Errorf("ResolveHost(%q) = %q, %v; want %q, %v", tc.host, got.Slug, err, tc.slug, tc.err)
		}
	}
	// A suspended tenant is found but refused; the storefront says so instead of "not found".
	err := f.Platform.Do(ctx, "test.suspend", func(tx bun.IDB) error {
		_, err := tx.ExecContext(ctx, "UPDATE tenants SET status = 'suspended' WHERE slug = 'nordic'")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveHost(ctx, "nordic.localhost"); !errors.Is(err, tenants.ErrSuspended) {
		t.Errorf("suspended tenant: %v, want ErrSuspended", err)
	}
}

func TestPlansAndStorefrontRoutes(t *testing.T) {
	_, s := setup(t)
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	app.Use("/v1/storefront", tenants.ByHost(s))
	tenants.Routes(httpx.NewAPI(app, "t", "1", ""), s)

	resp, err := app.Test(httptest.NewRequest("GET", "/v1/plans", nil))
	if err != nil {
		t.Fatal(err)
	}
	var plans struct{ Items []tenants.Plan }
	if err := json.NewDecoder(resp.Body).Decode(&plans); err != nil || len(plans.Items) != len(demo.Plans) {
		t.Fatalf("plans: %v %+v", err, plans)
	}
	for i := 1; i < len(plans.Items); i++ {
		if plans.Items[i].PriceMinor < plans.Items[i-1].PriceMinor {
			t.Errorf("plans not cheapest first: %+v", plans.Items)
		}
	}

	for host, want := range map[string]int{"panda.localhost:8080": 200, "PANDA.LOCALHOST": 200, "panda-market.test": 200, "nobody.localhost": 404} {
		req := httptest.NewRequest("GET", "/v1/storefront", nil)
		req.Host = host
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", host, resp.StatusCode, b, want)
			continue
		}
		if want == 200 {
			var p tenants.StoreProfile
			if err := json.Unmarshal(b, &p); err != nil || p.Slug != "panda" || p.Locale != "zh-CN" || p.Currency != "CNY" {
				t.Errorf("%s: %s", host, b)
			}
		}
	}
}
