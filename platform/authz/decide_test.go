package authz_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"mercato/platform/authz"
)

func newPolicies(t testing.TB) *authz.Policies {
	t.Helper()
	p, err := authz.NewPolicies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecideEmbeddedDecisions(t *testing.T) {
	p := newPolicies(t)
	want := []string{authz.DecideListing, authz.DecidePayoutHold, authz.DecidePlanLimits, authz.DecideRefunds}
	if got := p.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}

	ctx := context.Background()
	cases := []struct {
		name   string
		input  any
		allow  bool
		extras map[string]any
	}{
		{authz.DecidePlanLimits, map[string]any{
			"plan":   map[string]any{"limits": map[string]any{"merchants": 3}},
			"usage":  map[string]any{"merchants": 2},
			"action": "add_merchant",
		}, true, nil},
		{authz.DecideRefunds, refundInput{
			Refund: refundLine{AmountMinor: 2500, Currency: "EUR"},
			Order:  refundOrder{TotalMinor: 10000},
			Actor:  refundActor{Role: "merchant_staff"},
			Tenant: refundTenant{ThresholdMinor: 5000},
		}, true, map[string]any{"needs_approval": false}},
		{authz.DecideListing, map[string]any{
			"product": map[string]any{
				"title":       map[string]any{"en": "Mug"},
				"images":      []any{"m.jpg"},
				"variants":    []any{map[string]any{"price_minor": 900}},
				"category_id": "kitchen",
			},
			"tenant": map[string]any{"require_review": true},
		}, true, map[string]any{"needs_review": true}},
		{authz.DecidePayoutHold, map[string]any{
			"merchant": map[string]any{"age_days": 10, "dispute_rate_bps": 0},
		}, true, map[string]any{"hold_days": int64(14)}},
	}
	for _, c := range cases {
		d, err := p.Decide(ctx, c.name, c.input)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if d.Allow != c.allow {
			t.Errorf("%s: allow = %v (%v), want %v", c.name, d.Allow, d.Reasons, c.allow)
		}
		for k, v := range c.extras {
			if d.Extra[k] != v {
				t.Errorf("%s: %s = %#v, want %#v", c.name, k, d.Extra[k], v)
			}
		}
	}
}

// refundInput shows that structs work as input; they reach OPA as their JSON.
type refundInput struct {
	Refund refundLine   `json:"refund"`
	Order  refundOrder  `json:"order"`
	Actor  refundActor  `json:"actor"`
	Tenant refundTenant `json:"tenant"`
}

type refundLine struct {
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

type refundOrder struct {
	TotalMinor int64 `json:"total_minor"`
}

type refundActor struct {
	Role string `json:"role"`
}

type refundTenant struct {
	ThresholdMinor int64 `json:"refund_approval_threshold_minor"`
}

func TestDecideMissingInputDenies(t *testing.T) {
	p := newPolicies(t)
	for _, name := range p.Names() {
		for _, input := range []any{nil, map[string]any{}, "not an object", []any{1, 2}} {
			d, err := p.Decide(context.Background(), name, input)
			if d.Allow {
				t.Errorf("%s with %#v: allowed (%v, %v)", name, input, d.Reasons, err)
			}
		}
	}
}

func TestDecideUnknownDecision(t *testing.T) {
	p := newPolicies(t)
	for _, name := range []string{"", "lib", "refunds.decision", "nope"} {
		d, err := p.Decide(context.Background(), name, map[string]any{})
		if d.Allow || !errors.Is(err, authz.ErrUnknownDecision) {
			t.Errorf("%q: got %v, %v; want deny, ErrUnknownDecision", name, d.Allow, err)
		}
	}
}

// testModules decide in every way a real module might go wrong.
var testModules = map[string]string{
	"sometimes.rego": `package mercato.sometimes

decision := {"allow": true, "reasons": []} if input.ok == true
`,
	"conflict.rego": `package mercato.conflict

decision := {"allow": true, "reasons": []} if input.x
decision := {"allow": false, "reasons": ["no"]} if input.x
`,
	"builtin.rego": `package mercato.builtin

decision := {"allow": to_number(input.n) > 0, "reasons": []}
`,
	"malformed.rego": `package mercato.malformed

decision := {"allow": "yes", "reasons": []} if input.kind == "string allow"
decision := {"allow": true, "reasons": "fine"} if input.kind == "string reasons"
decision := {"allow": true, "reasons": [1]} if input.kind == "number reason"
decision := true if input.kind == "not an object"
`,
}

func TestDecideFailsClosed(t *testing.T) {
	ctx := context.Background()
	p, err := authz.NewPoliciesFromModules(ctx, testModules)
	if err != nil {
		t.Fatal(err)
	}

	// The module can allow, so the denials below are the policy's doing and not the harness's.
	if d, err := p.Decide(ctx, "sometimes", map[string]any{"ok": true}); err != nil || !d.Allow {
		t.Fatalf("sometimes with ok: got %v, %v; want allow", d.Allow, err)
	}
	if d, err := p.Decide(ctx, "builtin", map[string]any{"n": "5"}); err != nil || !d.Allow {
		t.Fatalf("builtin with 5: got %v, %v; want allow", d.Allow, err)
	}

	undefined := []struct {
		name  string
		input any
	}{
		{"sometimes", nil},
		{"sometimes", map[string]any{"ok": "true"}},
		{"conflict", map[string]any{}},
		{"malformed", map[string]any{"kind": "none of them"}},
	}
	for _, c := range undefined {
		d, err := p.Decide(ctx, c.name, c.input)
		if d.Allow || err != nil {
			t.Errorf("%s with %v (undefined): got %v, %v; want deny without error", c.name, c.input, d.Allow, err)
		}
	}

	failing := []struct {
		name  string
		input any
		want  error // nil: any error
	}{
		{"conflict", map[string]any{"x": true}, nil},
		{"builtin", map[string]any{"n": "five"}, nil},
		{"malformed", map[string]any{"kind": "string allow"}, authz.ErrMalformedDecision},
		{"malformed", map[string]any{"kind": "string reasons"}, authz.ErrMalformedDecision},
		{"malformed", map[string]any{"kind": "number reason"}, authz.ErrMalformedDecision},
		{"malformed", map[string]any{"kind": "not an object"}, authz.ErrMalformedDecision},
	}
	for _, c := range failing {
		d, err := p.Decide(ctx, c.name, c.input)
		if d.Allow || err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s with %v: got %v, %v; want deny with error %v", c.name, c.input, d.Allow, err, c.want)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if d, err := p.Decide(cancelled, "sometimes", map[string]any{"ok": true}); d.Allow || err == nil {
		t.Errorf("cancelled context: got %v, %v; want deny with error", d.Allow, err)
	}
}

func TestNewPoliciesRejectsBrokenModules(t *testing.T) {
	for name, src := range map[string]string{
		"syntax":     "package mercato.x\n\ndecision := {\n",
		"v0 syntax":  "package mercato.x\n\ndecision = d { d := {\"allow\": true, \"reasons\": []} }\n",
		"unsafe var": "package mercato.x\n\ndecision := {\"allow\": x, \"reasons\": []}\n",
	} {
		if _, err := authz.NewPoliciesFromModules(context.Background(), map[string]string{"x.rego": src}); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

func TestDecideConcurrent(t *testing.T) {
	p := newPolicies(t)
	input := map[string]any{
		"refund": map[string]any{"amount_minor": 6000, "currency": "EUR"},
		"order":  map[string]any{"total_minor": 10000},
		"actor":  map[string]any{"role": "merchant_staff"},
		"tenant": map[string]any{"refund_approval_threshold_minor": 5000},
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				d, err := p.Decide(context.Background(), authz.DecideRefunds, input)
				if err != nil || d.Allow || len(d.Reasons) != 1 {
					t.Errorf("got %+v, %v; want one reason to deny", d, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkDecide(b *testing.B) {
	p := newPolicies(b)
	ctx := context.Background()
	input := map[string]any{
		"refund": map[string]any{"amount_minor": 2500, "currency": "EUR"},
		"order":  map[string]any{"total_minor": 10000, "currency": "EUR"},
		"actor":  map[string]any{"role": "merchant_staff"},
		"tenant": map[string]any{"refund_approval_threshold_minor": 5000},
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(ctx, authz.DecideRefunds, input)
		if err != nil || !d.Allow {
			b.Fatalf("got %+v, %v", d, err)
		}
	}
}
