package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"mercato/policies"
)

// Decision names, one per Rego package mercato.<name> with a decision rule.
const (
	DecidePlanLimits = "plan_limits"
	DecideRefunds    = "refunds"
	DecideListing    = "listing"
	DecidePayoutHold = "payout_hold"
)

var (
	// ErrUnknownDecision means no module defines data.mercato.<name>.decision.
	ErrUnknownDecision = errors.New("authz: unknown decision")
	// ErrMalformedDecision means a module's decision is not an object with a boolean allow and
	// an array of string reasons: a policy bug, denied.
	ErrMalformedDecision = errors.New("authz: malformed decision")
)

// Decision is the answer of an attribute-based policy.
type Decision struct {
	Allow bool
	// Reasons explain a denial, or what shaped an allowance (a raised payout hold).
	Reasons []string
	// Extra holds the decision's other fields, such as needs_review or hold_days. Whole numbers
	// are int64; other numbers stay json.Number.
	Extra map[string]any
}

// Policies evaluates the Rego decisions in policies.Modules. Each is compiled once, at
// NewPolicies, into a prepared query; Decide only evaluates. It is safe for concurrent use.
type Policies struct {
	queries map[string]rego.PreparedEvalQuery
}

// NewPolicies compiles the embedded Rego modules and prepares one query per decision.
func NewPolicies(ctx context.Context) (*Policies, error) {
	return newPolicies(ctx, policies.Modules())
}

func newPolicies(ctx context.Context, modules map[string]string) (*Policies, error) {
	parsed := make(map[string]*ast.Module, len(modules))
	for name, src := range modules {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("new policies: %w", err)
		}
		parsed[name] = m
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(parsed); compiler.Failed() {
		return nil, fmt.Errorf("new policies: %w", compiler.Errors)
	}

	p := &Policies{queries: map[string]rego.PreparedEvalQuery{}}
	for _, m := range parsed {
		name, ok := decisionName(m)
		if !ok {
			continue
		}
		if _, dup := p.queries[name]; dup {
			continue // one package may span files; it is one decision
		}
		q, err := rego.New(
			rego.Query("data.mercato."+name+".decision"),
			rego.Compiler(compiler),
			// A builtin given bad input raises an error instead of going undefined, so a policy
			// that cannot decide says so rather than quietly skipping a deny rule.
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("new policies: prepare %s: %w", name, err)
		}
		p.queries[name] = q
	}
	return p, nil
}

// decisionName returns <name> for a module in package mercato.<name> that has a decision rule.
func decisionName(m *ast.Module) (string, bool) {
	path := strings.TrimPrefix(m.Package.Path.String(), "data.")
	name, ok := strings.CutPrefix(path, "mercato.")
	if !ok || strings.Contains(name, ".") {
		return "", false
	}
	for _, r := range m.Rules {
		if r.Head.Ref().String() == "decision" {
			return name, true
		}
	}
	return "", false
}

// Names returns the decisions Decide knows, sorted.
func (p *Policies) Names() []string {
	names := make([]string, 0, len(p.queries))
	for n := range p.queries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decide evaluates data.mercato.<name>.decision with input (a map, or a struct that marshals to
// the JSON the module documents). It fails closed: an undefined decision is a denial with no
// error; an evaluation error, a done ctx, an unknown name (ErrUnknownDecision) or a decision of
// the wrong shape (ErrMalformedDecision) is a denial with the error.
func (p *Policies) Decide(ctx context.Context, name string, input any) (Decision, error) {
	q, ok := p.queries[name]
	if !ok {
		return Decision{}, fmt.Errorf("decide %s: %w", name, ErrUnknownDecision)
	}
	// OPA only notices cancellation now and then, and a short evaluation may never look.
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("decide %s: %w", name, err)
	}
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return Decision{}, fmt.Errorf("decide %s: %w", name, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{Reasons: []string{"no decision"}}, nil
	}
	d, err := toDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return Decision{}, fmt.Errorf("decide %s: %w", name, err)
	}
	return d, nil
}

func toDecision(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("%T is not an object: %w", v, ErrMalformedDecision)
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return Decision{}, fmt.Errorf("allow is %T: %w", obj["allow"], ErrMalformedDecision)
	}
	raw, ok := obj["reasons"].([]any)
	if !ok {
		return Decision{}, fmt.Errorf("reasons is %T: %w", obj["reasons"], ErrMalformedDecision)
	}
	reasons := make([]string, 0, len(raw))
	for _, r := range raw {
		s, ok := r.(string)
		if !ok {
			return Decision{}, fmt.Errorf("reason is %T: %w", r, ErrMalformedDecision)
		}
		reasons = append(reasons, s)
	}
	d := Decision{Allow: allow, Reasons: reasons}
	for k, v := range obj {
		if k == "allow" || k == "reasons" {
			continue
		}
		if d.Extra == nil {
			d.Extra = make(map[string]any, len(obj)-2)
		}
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				v = i
			}
		}
		d.Extra[k] = v
	}
	return d, nil
}
