package webhooksout_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/httpx"
	"mercato/platform/scope"
	"mercato/platform/webhooksout"
)

// apiApp serves Routes behind the middleware chain of httpx. The tenant and merchant scope
// come from test headers, standing in for apps/api's access step (which is tested there).
func apiApp(t *testing.T, s *webhooksout.Service) *fiber.App {
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
	webhooksout.Routes(httpx.NewAPI(app, "test", "1", ""), s)
	return app
}

// caller is who calls the API: a tenant, and a merchant scope when set.
type caller struct {
	tenant, merchant uuid.UUID
}

type answer struct {
	status int
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

func (a answer) code() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(a.body, &p)
	return p.Code
}

func call(t *testing.T, app *fiber.App, who caller, method, path string, body any) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			b = string(raw)
		}
		r = strings.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who.tenant != uuid.Nil {
		req.Header.Set("X-Test-Tenant", who.tenant.String())
	}
	if who.merchant != uuid.Nil {
		req.Header.Set("X-Test-Merchant", who.merchant.String())
	}
	resp, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

type createdEndpoint struct {
	webhooksout.Endpoint
	Secret string `json:"secret"`
}

// An endpoint's life through the API: the secret appears in the answers to create and rotate
// and nowhere else; changes, disable and enable, the delivery log; delete leaves a 404.
func TestAPIEndpointLifecycle(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, nil)
	app := apiApp(t, s)
	a := caller{tenant: fx.a}
	rcv := newReceiver(t, http.StatusNoContent)

	r := call(t, app, a, http.MethodPost, "/v1/webhooks/endpoints", map[string]any{
		"url": rcv.srv.URL + "/hook", "description": "ERP", "event_types": []string{"order.paid", "order.created", "order.paid"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created createdEndpoint
	r.decode(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || created.Status != webhooksout.StatusActive ||
		strings.Join(created.EventTypes, ",") != "order.created,order.paid" || created.Description != "ERP" {
		t.Errorf("created %+v", created)
	}
	id := created.ID.String()

	// No other answer carries the secret.
	for _, path := range []string{"/v1/webhooks/endpoints", "/v1/webhooks/endpoints/" + id, "/v1/webhooks/endpoints/" + id + "/deliveries"} {
		r := call(t, app, a, http.MethodGet, path, nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		if bytes.Contains(r.body, []byte("whsec_")) || bytes.Contains(r.body, []byte(`"secret`)) {
			t.Errorf("GET %s shows a secret: %s", path, r.body)
		}
	}
	var page httpx.Page[webhooksout.Endpoint]
	call(t, app, a, http.MethodGet, "/v1/webhooks/endpoints", nil).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != created.ID {
		t.Errorf("list: %+v", page)
	}

	// Change the description and types; disable; enable.
	r = call(t, app, a, http.MethodPatch, "/v1/webhooks/endpoints/"+id, map[string]any{"description": "ERP v2", "event_types": []string{"order.cancelled"}})
	var got webhooksout.Endpoint
	r.decode(t, &got)
	if r.status != http.StatusOK || got.Description != "ERP v2" || strings.Join(got.EventTypes, ",") != "order.cancelled" || got.URL != created.URL {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	got = webhooksout.Endpoint{} // decoding leaves fields the answer omits as they were
	call(t, app, a, http.MethodPatch, "/v1/webhooks/endpoints/"+id, map[string]any{"enabled": false}).decode(t, &got)
	if got.Status != webhooksout.StatusDisabled || got.DisabledReason != "disabled by user:test" {
		t.Errorf("disable: %+v", got)
	}
	got = webhooksout.Endpoint{}
	call(t, app, a, http.MethodPatch, "/v1/webhooks/endpoints/"+id, map[string]any{"enabled": true}).decode(t, &got)
	if got.Status != webhooksout.StatusActive || got.DisabledReason != "" {
		t.Errorf("enable: %+v", got)
	}
	if r := call(t, app, a, http.MethodPatch, "/v1/webhooks/endpoints/"+id, map[string]any{"url": "https://10.0.0.8/hook"}); r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte("body.url")) {
		t.Errorf("patch to a private address: %d %s", r.status, r.body)
	}

	// Rotate: a new secret, which signs the next delivery (with the old one, for the grace period).
	r = call(t, app, a, http.MethodPost, "/v1/webhooks/endpoints/"+id+"/rotate-secret", nil)
	var rotated struct {
		EndpointID uuid.UUID `json:"endpoint_id"`
		Secret     string    `json:"secret"`
	}
	r.decode(t, &rotated)
	if r.status != http.StatusOK || rotated.EndpointID != created.ID || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret {
		t.Errorf("rotate: %d %s", r.status, r.body)
	}
	ids := fx.queue(t, s, uuid.Nil, "order.cancelled", map[string]string{"order_id": "o-1"})
	if len(ids) != 1 {
		t.Fatalf("queued %d deliveries", len(ids))
	}
	if res := must(s.Deliver(fx.ctx, fx.a, ids[0]))(t); res.Status != webhooksout.DeliverySucceeded {
		t.Fatalf("deliver: %+v", res)
	}
	got0 := rcv.requests()[0]
	for _, secret := range []string{rotated.Secret, created.Secret} {
		if err := webhooksout.Verify(secret, got0.header.Get(webhooksout.SignatureHeader), got0.body, time.Now(), 0); err != nil {
			t.Errorf("verify with %s…: %v", secret[:10], err)
		}
	}

	// The delivery log shows it, and it can be replayed.
	var log httpx.Page[webhooksout.Delivery]
	call(t, app, a, http.MethodGet, "/v1/webhooks/endpoints/"+id+"/deliveries", nil).decode(t, &log)
	if len(log.Items) != 1 || log.Items[0].ID != ids[0] || log.Items[0].ResponseCode != http.StatusNoContent || log.Items[0].Attempt != 1 {
		t.Fatalf("log: %+v", log)
	}
	r = call(t, app, a, http.MethodPost, "/v1/webhooks/deliveries/"+ids[0].String()+"/replay", nil)
	var replay webhooksout.Delivery
	r.decode(t, &replay)
	if r.status != http.StatusAccepted || replay.ReplayOf == nil || *replay.ReplayOf != ids[0] || replay.EventID != log.Items[0].EventID || replay.Status != webhooksout.DeliveryPending {
		t.Errorf("replay: %d %s", r.status, r.body)
	}
	// A pending delivery is not replayed.
	if r := call(t, app, a, http.MethodPost, "/v1/webhooks/deliveries/"+replay.ID.String()+"/replay", nil); r.status != http.StatusConflict || r.code() != "webhook_delivery_pending" {
		t.Errorf("replay of a pending delivery: %d %s", r.status, r.body)
	}

	// Delete: gone, with its log.
	if r := call(t, app, a, http.MethodDelete, "/v1/webhooks/endpoints/"+id, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/webhooks/endpoints/" + id},
		{http.MethodGet, "/v1/webhooks/endpoints/" + id + "/deliveries"},
		{http.MethodDelete, "/v1/webhooks/endpoints/" + id},
		{http.MethodPost, "/v1/webhooks/deliveries/" + ids[0].String() + "/replay"},
	} {
		if r := call(t, app, a, tc.method, tc.path, nil); r.status != http.StatusNotFound {
			t.Errorf("%s %s after delete: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
}

// Bodies are strict: a field the operation does not take is refused (422, by the schema) and
// nothing is saved, so status, tenant_id, secrets or failure counts cannot be written (mass
// assignment). Values the service refuses are field errors (400, like every fault.Fields).
func TestAPIRefusesUnknownFields(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, webhooksout.Guard{}, nil, nil)
	app := apiApp(t, s)
	a := caller{tenant: fx.a}
	e, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: "https://hooks.example.com/a", EventTypes: []string{"order.paid"}})
	path := "/v1/webhooks/endpoints/" + e.ID.String()
	for _, tc := range []struct {
		method, path string
		body         string
		status       int
	}{
		{http.MethodPost, "/v1/webhooks/endpoints", `{"url": "https://hooks.example.com/b", "event_types": ["order.paid"], "status": "disabled"}`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/v1/webhooks/endpoints", `{"url": "https://hooks.example.com/b", "event_types": ["order.paid"], "tenant_id": "` + fx.b.String() + `"}`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/v1/webhooks/endpoints", `{"url": "https://hooks.example.com/b", "event_types": ["order.paid"], "secret": "whsec_mine"}`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/v1/webhooks/endpoints", `{"url": "https://hooks.example.com/b"}`, http.StatusUnprocessableEntity},
		{http.MethodPost, "/v1/webhooks/endpoints", `{"url": "https://hooks.example.com/b", "event_types": ["no.such_type"]}`, http.StatusBadRequest},
		{http.MethodPatch, path, `{"status": "active"}`, http.StatusUnprocessableEntity},
		{http.MethodPatch, path, `{"consecutive_failures": 0}`, http.StatusUnprocessableEntity},
		{http.MethodPatch, path, `{"merchant_id": "` + fx.m1.String() + `"}`, http.StatusUnprocessableEntity},
		{http.MethodPatch, path, `{"description": "x", "tenant_id": "` + fx.b.String() + `"}`, http.StatusUnprocessableEntity},
		{http.MethodPatch, path, `{"event_types": []}`, http.StatusBadRequest},
	} {
		r := call(t, app, a, tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
		}
	}
	var page httpx.Page[webhooksout.Endpoint]
	call(t, app, a, http.MethodGet, "/v1/webhooks/endpoints", nil).decode(t, &page)
	if len(page.Items) != 1 {
		t.Errorf("a refused body created endpoints: %d", len(page.Items))
	}
	got := must(s.Endpoint(fx.ctx, fx.a, e.ID))(t)
	if got.Description != "" || got.MerchantID != nil || strings.Join(got.EventTypes, ",") != "order.paid" {
		t.Errorf("a refused body changed the endpoint: %+v", got)
	}
}

// Another tenant's ids, and in a merchant scope another merchant's, are 404 on every route;
// lists show only what is the caller's; a merchant sees and creates only its own endpoints
// and the event types a merchant may hear; no tenant in scope is a 400.
func TestAPIIsolation(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, webhooksout.Guard{}, nil, nil)
	app := apiApp(t, s)
	tenantA, tenantB := caller{tenant: fx.a}, caller{tenant: fx.b}
	m1, m2 := caller{tenant: fx.a, merchant: fx.m1}, caller{tenant: fx.a, merchant: fx.m2}

	mk := func(who caller, url string, types ...string) uuid.UUID {
		t.Helper()
		r := call(t, app, who, http.MethodPost, "/v1/webhooks/endpoints", map[string]any{"url": url, "event_types": types})
		if r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", url, r.status, r.body)
		}
		var e createdEndpoint
		r.decode(t, &e)
		return e.ID
	}
	aEP := mk(tenantA, "https://hooks.example.com/a", "order.paid")
	m1EP := mk(m1, "https://hooks.example.com/m1", "product.created")
	m2EP := mk(m2, "https://hooks.example.com/m2", "product.created")
	bEP := mk(tenantB, "https://hooks.example.com/b", "order.paid")

	// A merchant's endpoint is the merchant's, whatever the body says; order events are the tenant's.
	r := call(t, app, m1, http.MethodPost, "/v1/webhooks/endpoints", map[string]any{"url": "https://hooks.example.com/x",
		"event_types": []string{"order.paid"}})
	if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte("body.event_types")) {
		t.Errorf("merchant subscribing to order.paid: %d %s", r.status, r.body)
	}
	r = call(t, app, m1, http.MethodPost, "/v1/webhooks/endpoints", map[string]any{"url": "https://hooks.example.com/y",
		"event_types": []string{"product.updated"}, "merchant_id": fx.m2})
	var forged createdEndpoint
	r.decode(t, &forged)
	if r.status != http.StatusCreated || forged.MerchantID == nil || *forged.MerchantID != fx.m1 {
		t.Errorf("merchant_id of another merchant: %d %s", r.status, r.body)
	}
	call(t, app, m1, http.MethodDelete, "/v1/webhooks/endpoints/"+forged.ID.String(), nil)

	// Deliveries of every endpoint, so the delivery routes have ids to try.
	d := map[uuid.UUID]uuid.UUID{}
	for _, tc := range []struct {
		tenant, merchant uuid.UUID
		typ              string
		ep               uuid.UUID
	}{{fx.a, uuid.Nil, "order.paid", aEP}, {fx.a, fx.m1, "product.created", m1EP}, {fx.a, fx.m2, "product.created", m2EP}} {
		ids := fx.queue(t, s, tc.merchant, tc.typ, map[string]int{"n": 1})
		for _, id := range ids {
			dl := must(s.Delivery(fx.ctx, tc.tenant, id))(t)
			if dl.EndpointID == tc.ep {
				d[tc.ep] = id
			}
		}
	}
	var bDelivery uuid.UUID
	err := fx.f.App.WithTenant(fx.ctx, fx.b, func(tx bun.IDB) error {
		ids, err := s.Queue(fx.ctx, tx, fx.b, uuid.Nil, "order.paid", uuid.Must(uuid.NewV7()), map[string]int{"n": 1})
		if len(ids) == 1 {
			bDelivery = ids[0]
		}
		return err
	})
	if err != nil || bDelivery == uuid.Nil {
		t.Fatalf("queue in B: %v", err)
	}

	routes := func(ep, delivery uuid.UUID) []struct{ method, path, body string } {
		e := "/v1/webhooks/endpoints/" + ep.String()
		return []struct{ method, path, body string }{
			{http.MethodGet, e, ""},
			{http.MethodPatch, e, `{"description": "mine now"}`},
			{http.MethodPost, e + "/rotate-secret", ""},
			{http.MethodGet, e + "/deliveries", ""},
			{http.MethodPost, "/v1/webhooks/deliveries/" + delivery.String() + "/replay", ""},
			{http.MethodDelete, e, ""},
		}
	}
	for _, tc := range []struct {
		who       caller
		name      string
		ep, deliv uuid.UUID
	}{
		{tenantA, "A on B's", bEP, bDelivery},
		{tenantB, "B on A's", aEP, d[aEP]},
		{tenantB, "B on M1's", m1EP, d[m1EP]},
		{m1, "M1 on M2's", m2EP, d[m2EP]},
		{m1, "M1 on the tenant's", aEP, d[aEP]},
	} {
		for _, rt := range routes(tc.ep, tc.deliv) {
			var body any
			if rt.body != "" {
				body = rt.body
			}
			if r := call(t, app, tc.who, rt.method, rt.path, body); r.status != http.StatusNotFound {
				t.Errorf("%s: %s %s: %d %s", tc.name, rt.method, rt.path, r.status, r.body)
			}
		}
	}
	for _, ep := range []struct {
		tenant uuid.UUID
		id     uuid.UUID
	}{{fx.a, aEP}, {fx.a, m1EP}, {fx.a, m2EP}, {fx.b, bEP}} {
		if e := must(s.Endpoint(fx.ctx, ep.tenant, ep.id))(t); e.Description != "" {
			t.Errorf("endpoint %s was changed by someone else: %+v", ep.id, e)
		}
	}

	// Lists: the tenant sees its own and its merchants'; a merchant only its own; B only B's.
	for _, tc := range []struct {
		who  caller
		want []uuid.UUID
	}{
		{tenantA, []uuid.UUID{m2EP, m1EP, aEP}},
		{m1, []uuid.UUID{m1EP}},
		{m2, []uuid.UUID{m2EP}},
		{tenantB, []uuid.UUID{bEP}},
	} {
		var page httpx.Page[webhooksout.Endpoint]
		call(t, app, tc.who, http.MethodGet, "/v1/webhooks/endpoints", nil).decode(t, &page)
		var got []uuid.UUID
		for _, e := range page.Items {
			got = append(got, e.ID)
		}
		if !equalIDs(got, tc.want) {
			t.Errorf("list as %+v: %v, want %v", tc.who, got, tc.want)
		}
	}

	// Event types: a merchant is offered only the merchant ones.
	var types struct{ Items []webhooksout.EventType }
	call(t, app, tenantA, http.MethodGet, "/v1/webhooks/event-types", nil).decode(t, &types)
	if len(types.Items) != len(webhooksout.EventTypes()) {
		t.Errorf("tenant event types: %d", len(types.Items))
	}
	call(t, app, m1, http.MethodGet, "/v1/webhooks/event-types", nil).decode(t, &types)
	if len(types.Items) == 0 || len(types.Items) >= len(webhooksout.EventTypes()) {
		t.Errorf("merchant event types: %d", len(types.Items))
	}
	for _, e := range types.Items {
		if !e.Merchant {
			t.Errorf("a merchant is offered %s", e.Name)
		}
	}

	// No tenant in scope.
	if r := call(t, app, caller{}, http.MethodGet, "/v1/webhooks/endpoints", nil); r.status != http.StatusBadRequest || r.code() != "tenant_required" {
		t.Errorf("without a tenant: %d %s", r.status, r.body)
	}
}

// The endpoint list and the delivery log page with cursors.
func TestAPIPaging(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, nil)
	app := apiApp(t, s)
	a := caller{tenant: fx.a}
	rcv := newReceiver(t, http.StatusOK)
	var want []uuid.UUID
	for i := range 3 {
		e, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: rcv.srv.URL + "/" + string(rune('a'+i)), EventTypes: []string{"order.paid"}})
		want = append([]uuid.UUID{e.ID}, want...)
	}
	var got []uuid.UUID
	path := "/v1/webhooks/endpoints?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		var page httpx.Page[webhooksout.Endpoint]
		call(t, app, a, http.MethodGet, path, nil).decode(t, &page)
		if len(page.Items) > 2 {
			t.Errorf("page of %d", len(page.Items))
		}
		for _, e := range page.Items {
			got = append(got, e.ID)
		}
		path = ""
		if page.NextCursor != "" {
			path = "/v1/webhooks/endpoints?limit=2&cursor=" + page.NextCursor
		}
	}
	if !equalIDs(got, want) {
		t.Errorf("paged endpoints %v, want %v", got, want)
	}

	for range 3 {
		fx.queue(t, s, uuid.Nil, "order.paid", map[string]int{"n": 1})
	}
	var log httpx.Page[webhooksout.Delivery]
	call(t, app, a, http.MethodGet, "/v1/webhooks/endpoints/"+want[0].String()+"/deliveries?limit=2", nil).decode(t, &log)
	if len(log.Items) != 2 || log.NextCursor == "" {
		t.Fatalf("first page of the log: %d items, cursor %q", len(log.Items), log.NextCursor)
	}
	first := log.Items
	cursor := log.NextCursor
	log = httpx.Page[webhooksout.Delivery]{}
	call(t, app, a, http.MethodGet, "/v1/webhooks/endpoints/"+want[0].String()+"/deliveries?limit=2&cursor="+cursor, nil).decode(t, &log)
	if len(log.Items) != 1 || log.NextCursor != "" || bytes.Compare(log.Items[0].ID[:], first[1].ID[:]) >= 0 {
		t.Errorf("second page of the log: %+v", log)
	}
	if r := call(t, app, a, http.MethodGet, "/v1/webhooks/endpoints?cursor=garbage!", nil); r.status != http.StatusBadRequest || r.code() != "bad_cursor" {
		t.Errorf("bad cursor: %d %s", r.status, r.body)
	}
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
