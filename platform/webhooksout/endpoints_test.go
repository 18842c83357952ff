package webhooksout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/webhooksout"
)

func TestCreateEndpointValidates(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, webhooksout.Guard{}, nil, nil)
	for _, tc := range []struct {
		name  string
		in    webhooksout.EndpointInput
		field string
	}{
		{"http", webhooksout.EndpointInput{URL: "http://hooks.example.com/", EventTypes: []string{"order.paid"}}, "body.url"},
		{"loopback", webhooksout.EndpointInput{URL: "https://127.0.0.1/", EventTypes: []string{"order.paid"}}, "body.url"},
		{"metadata", webhooksout.EndpointInput{URL: "https://169.254.169.254/", EventTypes: []string{"order.paid"}}, "body.url"},
		{"no types", webhooksout.EndpointInput{URL: "https://hooks.example.com/"}, "body.event_types"},
		{"unknown type", webhooksout.EndpointInput{URL: "https://hooks.example.com/", EventTypes: []string{"order.exploded"}}, "body.event_types"},
		{"tenant-only type for a merchant", webhooksout.EndpointInput{URL: "https://hooks.example.com/", EventTypes: []string{"order.paid"}, MerchantID: &fx.m1}, "body.event_types"},
		{"another tenant's merchant", webhooksout.EndpointInput{URL: "https://hooks.example.com/", EventTypes: []string{"payout.sent"}, MerchantID: &fx.m3}, "body.merchant_id"},
		{"long description", webhooksout.EndpointInput{URL: "https://hooks.example.com/", EventTypes: []string{"order.paid"}, Description: strings.Repeat("x", 501)}, "body.description"},
	} {
		_, secret, err := s.CreateEndpoint(fx.ctx, fx.a, tc.in)
		fe := fault.As(err)
		if fe == nil || len(fe.Fields) != 1 || fe.Fields[0].Location != tc.field || secret != "" {
			t.Errorf("%s: got %v (%+v), want a %s field error", tc.name, err, fe, tc.field)
		}
	}
	page, err := s.Endpoints(fx.ctx, fx.a, httpx.PageParams{})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("refused endpoints were stored: %v %v", page.Items, err)
	}
}

func TestSecretIsShownOnceAndStoredSealed(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, webhooksout.Guard{}, nil, nil)
	e, secret, err := s.CreateEndpoint(fx.ctx, fx.a, webhooksout.EndpointInput{URL: " https://hooks.example.com/in ",
		Description: "ERP", EventTypes: []string{"order.paid", "order.created", "order.paid"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Errorf("secret %q", secret)
	}
	if e.URL != "https://hooks.example.com/in" || strings.Join(e.EventTypes, ",") != "order.created,order.paid" || e.Status != "active" {
		t.Errorf("endpoint %+v", e)
	}
	// Nothing that reads the endpoint again carries the secret.
	got := must(s.Endpoint(fx.ctx, fx.a, e.ID))(t)
	page := must(s.Endpoints(fx.ctx, fx.a, httpx.PageParams{}))(t)
	for _, v := range []any{got, page} {
		if strings.Contains(fmtAny(v), secret) || strings.Contains(fmtAny(v), secret[6:20]) {
			t.Errorf("secret visible in %T", v)
		}
	}
	// In the database it is sealed: not the secret, nor any recognisable part of it.
	var sealed []byte
	noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT secret_sealed FROM webhook_endpoints WHERE id = ?", e.ID).Scan(fx.ctx, &sealed)
	}))
	if len(sealed) < len(secret) || bytes.Contains(sealed, []byte(secret[6:20])) || bytes.Contains(sealed, []byte("whsec_")) {
		t.Errorf("secret stored in the clear: %q", sealed)
	}
	// The audit entry does not hold it either.
	var audits []string
	noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		return tx.NewRaw("SELECT coalesce(after::text, '') FROM audit_entries WHERE action = 'webhook_endpoint.create'").Scan(fx.ctx, &audits)
	}))
	if len(audits) != 1 || strings.Contains(audits[0], secret) || !strings.Contains(audits[0], "hooks.example.com") {
		t.Errorf("audit entries %v", audits)
	}
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestEndpointIsolation: another tenant's endpoints are invisible, and merchant staff see and
// change only their own merchant's.
func TestEndpointIsolation(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, webhooksout.Guard{}, nil, nil)
	tenantEP, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: "https://erp.example.com/", EventTypes: []string{"order.paid"}})
	// Merchant staff create their own, whatever merchant the body names.
	m1EP, _ := fx.create(t, s, fx.merchantCtx1, webhooksout.EndpointInput{URL: "https://m1.example.com/", EventTypes: []string{"payout.sent"}, MerchantID: &fx.m2})
	if m1EP.MerchantID == nil || *m1EP.MerchantID != fx.m1 {
		t.Fatalf("merchant staff created an endpoint for %v", m1EP.MerchantID)
	}
	m2EP, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: "https://m2.example.com/", EventTypes: []string{"payout.sent"}, MerchantID: &fx.m2})
	otherTenant, _, err := s.CreateEndpoint(fx.ctx, fx.b, webhooksout.EndpointInput{URL: "https://b.example.com/", EventTypes: []string{"order.paid"}})
	if err != nil {
		t.Fatal(err)
	}

	ids := func(p httpx.Page[webhooksout.Endpoint]) map[uuid.UUID]bool {
		out := map[uuid.UUID]bool{}
		for _, e := range p.Items {
			out[e.ID] = true
		}
		return out
	}
	if got := ids(must(s.Endpoints(fx.ctx, fx.a, httpx.PageParams{}))(t)); len(got) != 3 || !got[tenantEP.ID] || !got[m1EP.ID] || !got[m2EP.ID] {
		t.Errorf("tenant A sees %v", got)
	}
	if got := ids(must(s.Endpoints(fx.merchantCtx1, fx.a, httpx.PageParams{}))(t)); len(got) != 1 || !got[m1EP.ID] {
		t.Errorf("merchant M1 sees %v, want only its own", got)
	}

	// Every call with an id that is not the caller's answers not found: 0 of N leak.
	enable := true
	for _, tc := range []struct {
		name string
		ctx  func() (uuid.UUID, uuid.UUID)
	}{
		{"tenant A, B's endpoint", func() (uuid.UUID, uuid.UUID) { return fx.a, otherTenant.ID }},
		{"tenant B, A's endpoint", func() (uuid.UUID, uuid.UUID) { return fx.b, tenantEP.ID }},
	} {
		tid, eid := tc.ctx()
		checkNotFound(t, tc.name, fx, s, fx.ctx, tid, eid, enable)
	}
	for _, eid := range []uuid.UUID{tenantEP.ID, m2EP.ID} {
		checkNotFound(t, "merchant M1", fx, s, fx.merchantCtx1, fx.a, eid, enable)
	}
	// And nothing was changed by those calls.
	for _, e := range []webhooksout.Endpoint{tenantEP, m2EP} {
		if got := must(s.Endpoint(fx.ctx, fx.a, e.ID))(t); got.Description != e.Description || got.Status != "active" {
			t.Errorf("endpoint %s changed: %+v", e.ID, got)
		}
	}
	if _, err := s.Endpoint(fx.ctx, fx.b, otherTenant.ID); err != nil {
		t.Errorf("B's endpoint is gone: %v", err)
	}
}

func checkNotFound(t *testing.T, who string, fx *fixture, s *webhooksout.Service, ctx context.Context, tenantID, endpointID uuid.UUID, enable bool) {
	t.Helper()
	desc := "hijacked"
	calls := map[string]error{}
	_, calls["get"] = s.Endpoint(ctx, tenantID, endpointID)
	_, calls["update"] = s.UpdateEndpoint(ctx, tenantID, endpointID, webhooksout.EndpointUpdate{Description: &desc, Enabled: &enable})
	_, calls["rotate"] = s.RotateSecret(ctx, tenantID, endpointID)
	_, calls["deliveries"] = s.Deliveries(ctx, tenantID, endpointID, httpx.PageParams{})
	calls["delete"] = s.DeleteEndpoint(ctx, tenantID, endpointID)
	for name, err := range calls {
		if !errors.Is(err, webhooksout.ErrEndpointNotFound) {
			t.Errorf("%s: %s of %s: got %v, want ErrEndpointNotFound", who, name, endpointID, err)
		}
	}
}

func TestEndpointLimit(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, webhooksout.Guard{}, nil, nil)
	in := webhooksout.EndpointInput{URL: "https://hooks.example.com/", EventTypes: []string{"payout.sent"}}
	for range webhooksout.MaxEndpoints {
		fx.create(t, s, fx.ctx, in)
	}
	if _, _, err := s.CreateEndpoint(fx.ctx, fx.a, in); !errors.Is(err, webhooksout.ErrTooManyEndpoints) {
		t.Errorf("21st tenant endpoint: %v", err)
	}
	// The limit is per owner: a merchant still has room.
	fx.create(t, s, fx.merchantCtx1, in)
}

func TestUpdateAndRotate(t *testing.T) {
	fx := setup(t)
	c := newClock()
	s := fx.service(t, webhooksout.Guard{}, c, nil)
	e, oldSecret := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: "https://hooks.example.com/", EventTypes: []string{"order.paid"}})

	desc, url, off, on := "new", "https://other.example.com/x", false, true
	got, err := s.UpdateEndpoint(fx.ctx, fx.a, e.ID, webhooksout.EndpointUpdate{Description: &desc, URL: &url,
		EventTypes: []string{"refund.issued", "order.paid"}, Enabled: &off})
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "new" || got.URL != url || strings.Join(got.EventTypes, ",") != "order.paid,refund.issued" ||
		got.Status != "disabled" || !strings.Contains(got.DisabledReason, "user:test") {
		t.Errorf("after update: %+v", got)
	}
	bad := "http://other.example.com/"
	if _, err := s.UpdateEndpoint(fx.ctx, fx.a, e.ID, webhooksout.EndpointUpdate{URL: &bad}); fault.As(err) == nil || fault.As(err).Kind != fault.Invalid {
		t.Errorf("insecure URL accepted on update: %v", err)
	}
	if got, err = s.UpdateEndpoint(fx.ctx, fx.a, e.ID, webhooksout.EndpointUpdate{Enabled: &on}); err != nil || got.Status != "active" || got.DisabledReason != "" {
		t.Errorf("enable: %+v %v", got, err)
	}

	newSecret, err := s.RotateSecret(fx.ctx, fx.a, e.ID)
	if err != nil || newSecret == oldSecret || !strings.HasPrefix(newSecret, "whsec_") {
		t.Fatalf("rotate: %q %v", newSecret, err)
	}
	// Signed with both secrets during the grace period, with the new one only after it.
	r := newReceiver(t, 200)
	url = r.srv.URL
	devService := fx.service(t, dev, c, nil)
	if _, err := devService.UpdateEndpoint(fx.ctx, fx.a, e.ID, webhooksout.EndpointUpdate{URL: &url}); err != nil {
		t.Fatal(err)
	}
	for i, at := range []time.Time{c.Now().Add(time.Hour), c.Now().Add(webhooksout.RotationGrace + time.Minute)} {
		c.Set(at)
		ids := fx.queue(t, devService, uuid.Nil, "order.paid", map[string]int{"n": i})
		if res, err := devService.Deliver(fx.ctx, fx.a, ids[0]); err != nil || res.Status != "succeeded" {
			t.Fatalf("deliver: %+v %v", res, err)
		}
		req := r.requests()[i]
		header := req.header.Get("Mercato-Signature")
		newOK := webhooksout.Verify(newSecret, header, req.body, at, 0) == nil
		oldOK := webhooksout.Verify(oldSecret, header, req.body, at, 0) == nil
		if !newOK || oldOK != (i == 0) {
			t.Errorf("delivery %d: new secret verifies %v, old %v (header %s)", i, newOK, oldOK, header)
		}
	}

	if err := s.DeleteEndpoint(fx.ctx, fx.a, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Endpoint(fx.ctx, fx.a, e.ID); !errors.Is(err, webhooksout.ErrEndpointNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

// TestSealedSecretIsBoundToItsRow: a sealed secret copied onto another endpoint does not
// open, so the delivery fails instead of signing with someone else's secret.
func TestSealedSecretIsBoundToItsRow(t *testing.T) {
	fx := setup(t)
	s := fx.service(t, dev, nil, nil)
	r := newReceiver(t, 200)
	victim, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL + "/v", EventTypes: []string{"product.created"}})
	thief, _ := fx.create(t, s, fx.ctx, webhooksout.EndpointInput{URL: r.srv.URL + "/t", EventTypes: []string{"order.paid"}})
	noErr(t, fx.f.App.WithTenant(fx.ctx, fx.a, func(tx bun.IDB) error {
		_, err := tx.ExecContext(fx.ctx, `UPDATE webhook_endpoints SET secret_sealed = (SELECT secret_sealed FROM webhook_endpoints WHERE id = ?) WHERE id = ?`, victim.ID, thief.ID)
		return err
	}))
	ids := fx.queue(t, s, uuid.Nil, "order.paid", map[string]int{})
	res, err := s.Deliver(fx.ctx, fx.a, ids[0])
	if err != nil || res.Status == "succeeded" || len(r.requests()) != 0 {
		t.Errorf("delivered with a transplanted secret: %+v %v, %d requests", res, err, len(r.requests()))
	}
	d := must(s.Delivery(fx.ctx, fx.a, ids[0]))(t)
	if !strings.Contains(d.Error, "secret") {
		t.Errorf("delivery error %q", d.Error)
	}
}
