package catalog_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/tenants/catalog"
)

// apiApp serves Routes behind httpx's middleware chain. Tenant and merchant scope come from
// test headers, standing in for apps/api's access step (tested there).
func apiApp(t *testing.T, s *catalog.Service) *fiber.App {
	t.Helper()
	app := httpx.New(httpx.Options{Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20})
	app.Use(func(c *fiber.Ctx) error {
		ctx := scope.WithActor(c.UserContext(), "user:test")
		if v := c.Get("X-Test-Tenant"); v != "" {
			ctx = scope.WithTenant(ctx, uuid.MustParse(v))
		}
		if v := c.Get("X-Test-Merchant"); v != "" {
			ctx = scope.WithMerchant(ctx, uuid.MustParse(v))
		}
		c.SetUserContext(ctx)
		return c.Next()
	})
	catalog.Routes(httpx.NewAPI(app, "test", "1", ""), s)
	return app
}

type answer struct {
	status int
	body   []byte
}

func call(t *testing.T, app *fiber.App, tenant, merchant uuid.UUID, method, path, body string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Test-Tenant", tenant.String())
	if merchant != uuid.Nil {
		req.Header.Set("X-Test-Merchant", merchant.String())
	}
	resp, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

func TestAPI(t *testing.T) {
	fx := setup(t)
	app := apiApp(t, fx.s)
	none := uuid.Nil

	a := call(t, app, fx.lumen, fx.m1, http.MethodPost, "/v1/products",
		`{"slug": "api-lamp", "translations": {"en": {"title": "Lamp"}, "zh-CN": {"title": "灯"}}}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var p catalog.Product
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatal(err)
	}
	a = call(t, app, fx.lumen, fx.m1, http.MethodPost, "/v1/products/"+p.ID.String()+"/variants", `{"sku": "API-1"}`)
	var v catalog.Variant
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &v) != nil {
		t.Fatalf("add variant: %d %s", a.status, a.body)
	}
	prices := "/v1/products/" + p.ID.String() + "/variants/" + v.ID.String() + "/prices"
	for _, tc := range []struct {
		name, method, path, body string
		tenant, merchant         uuid.UUID
		status                   int
		contains                 string
	}{
		{"categories is not an id", http.MethodGet, "/v1/products/categories", "", fx.lumen, none, 200, "["},
		{"create category as staff", http.MethodPost, "/v1/products/categories", `{"slug": "lamps", "name": {"en": "Lamps", "zh-CN": "灯具"}}`, fx.lumen, none, 201, "灯具"},
		{"create category as merchant", http.MethodPost, "/v1/products/categories", `{"slug": "mine", "name": {"en": "Mine"}}`, fx.lumen, fx.m1, 403, "tenant_staff_only"},
		{"get own", http.MethodGet, "/v1/products/" + p.ID.String(), "", fx.lumen, fx.m1, 200, `"zh-CN":{"title":"灯"}`},
		{"get as other merchant", http.MethodGet, "/v1/products/" + p.ID.String(), "", fx.lumen, fx.m2, 404, "product_not_found"},
		{"get from other tenant", http.MethodGet, "/v1/products/" + p.ID.String(), "", fx.panda, none, 404, "product_not_found"},
		{"patch status", http.MethodPatch, "/v1/products/" + p.ID.String(), `{"status": "active"}`, fx.lumen, fx.m1, 422, ""},
		{"patch merchant_id", http.MethodPatch, "/v1/products/" + p.ID.String(), `{"merchant_id": "` + fx.m2.String() + `"}`, fx.lumen, fx.m1, 422, ""},
		{"jpy with decimals", http.MethodPut, prices, `{"currency": "JPY", "amount": "100.5"}`, fx.lumen, fx.m1, 400, "body.amount"},
		{"price", http.MethodPut, prices, `{"currency": "USD", "amount": "19.99", "compare_at": "24.99"}`, fx.lumen, fx.m1, 200, `"amount_minor":1999`},
		{"price as other merchant", http.MethodPut, prices, `{"currency": "USD", "amount": "0"}`, fx.lumen, fx.m2, 404, "variant_not_found"},
		{"submit without image and category", http.MethodPost, "/v1/products/" + p.ID.String() + "/submit", "", fx.lumen, fx.m1, 422, "at least one image is required"},
		{"moderate as merchant", http.MethodPost, "/v1/products/" + p.ID.String() + "/moderation/approve", "{}", fx.lumen, fx.m1, 403, "tenant_staff_only"},
		{"moderate a draft", http.MethodPost, "/v1/products/" + p.ID.String() + "/moderation/approve", "{}", fx.lumen, none, 409, "invalid_transition"},
		{"list as other merchant", http.MethodGet, "/v1/products", "", fx.lumen, fx.m2, 200, `"items":[]`},
		{"archive from other tenant", http.MethodPost, "/v1/products/" + p.ID.String() + "/archive", "", fx.panda, none, 404, "product_not_found"},
		{"archive", http.MethodPost, "/v1/products/" + p.ID.String() + "/archive", "", fx.lumen, fx.m1, 200, `"status":"archived"`},
	} {
		a := call(t, app, tc.tenant, tc.merchant, tc.method, tc.path, tc.body)
		if a.status != tc.status || !strings.Contains(string(a.body), tc.contains) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, a.status, a.body, tc.status, tc.contains)
		}
	}
	got, err := fx.s.GetProduct(staff(), fx.lumen, p.ID)
	if err != nil || got.MerchantID != fx.m1 || got.Status != catalog.StatusArchived {
		t.Errorf("after the walk: %v %+v", err, got)
	}
}
