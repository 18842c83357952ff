package tenants

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/authz"
)

// PlanPolicy asks the plan_limits policy (policies/plan_limits.rego) whether a tenant's plan
// has room for more. The usage figures come from the caller's transaction, so the answer holds
// for the change being made.
type PlanPolicy struct {
	policies *authz.Policies
}

// NewPlanLimits builds the checker.
func NewPlanPolicy(p *authz.Policies) *PlanPolicy { return &PlanPolicy{policies: p} }

// AllowMerchant reports whether one more active merchant fits the plan; activeNow is how many
// are active now. tx must run in the tenant's scope.
func (l *PlanPolicy) AllowMerchant(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, activeNow int) (bool, error) {
	return l.allow(ctx, tx, tenantID, "add_merchant", "merchants", activeNow)
}

// AllowStaff reports whether one more marketplace staff seat fits the plan; seatsNow is how
// many the tenant's own team holds (merchants' staff belong to their stores and take none).
// tx must run in the tenant's scope.
func (l *PlanPolicy) AllowStaff(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, seatsNow int) (bool, error) {
	return l.allow(ctx, tx, tenantID, "add_staff", "staff", seatsNow)
}

func (l *PlanPolicy) allow(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, action, resource string, inUse int) (bool, error) {
	var raw []byte
	if err := tx.NewRaw("SELECT p.limits FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = ?", tenantID).
		Scan(ctx, &raw); err != nil {
		return false, fmt.Errorf("read plan limits: %w", err)
	}
	var limits map[string]any
	if err := json.Unmarshal(raw, &limits); err != nil {
		return false, fmt.Errorf("plan limits: %w", err)
	}
	d, err := l.policies.Decide(ctx, authz.DecidePlanLimits, map[string]any{
		"action": action,
		"plan":   map[string]any{"limits": limits},
		"usage":  map[string]any{resource: inUse},
	})
	if err != nil {
		return false, err
	}
	return d.Allow, nil
}
