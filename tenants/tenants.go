// Package tenants owns the tenant directory: plans, tenants and their domains, and finding
// the tenant a request is for. Tenant-scoped commerce lives in its subpackages.
package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"mercato/platform/db"
	"mercato/platform/fault"
)

// Errors returned by Service.
var (
	ErrNotFound   = fault.New(fault.NotFound, "tenant_not_found", "no store at this address")
	ErrSuspended  = fault.New(fault.Unavailable, "tenant_suspended", "this store is unavailable")
	ErrSlugTaken  = fault.New(fault.Conflict, "slug_taken", "a tenant with this slug exists")
	ErrHostTaken  = fault.New(fault.Conflict, "host_taken", "this domain belongs to another tenant")
	ErrNoSuchPlan = fault.New(fault.Invalid, "unknown_plan", "there is no plan with this code")
)

// Tenant statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Tenant is one marketplace on the platform.
type Tenant struct {
	ID              uuid.UUID         `json:"id"`
	Slug            string            `json:"slug"`
	Name            string            `json:"name"`
	PlanID          uuid.UUID         `json:"plan_id"`
	Status          string            `json:"status"`
	DefaultLocale   string            `json:"default_locale"`
	DefaultCurrency string            `json:"default_currency"`
	Theme           map[string]string `json:"theme"`
	CreatedAt       time.Time         `json:"created_at"`
}

// Plan is a subscription tier tenants pay the platform for.
type Plan struct {
	ID              uuid.UUID  `json:"id"`
	Code            string     `json:"code"`
	Name            string     `json:"name"`
	PriceMinor      int64      `json:"price_minor" doc:"price per interval in minor units of currency"`
	Currency        string     `json:"currency"`
	BillingInterval string     `json:"billing_interval" enum:"month,year"`
	Limits          PlanLimits `json:"limits"`
}

// PlanLimits are what a plan allows; policies read them.
type PlanLimits struct {
	Merchants int      `json:"merchants"`
	Products  int      `json:"products"`
	Staff     int      `json:"staff"`
	Features  []string `json:"features"`
}

// Service answers questions about tenants and resolves hosts, with a short cache in front of
// host resolution because every storefront request asks it.
type Service struct {
	db       *db.DB
	baseHost string
	ttl      time.Duration

	mu    sync.Mutex
	hosts map[string]cachedHost
}

type cachedHost struct {
	id      uuid.UUID
	expires time.Time
}

// NewService builds the service. baseHost is the platform domain ("localhost" in dev), so
// that {slug}.{baseHost} reaches a tenant without a domain row.
func NewService(d *db.DB, baseHost string) *Service {
	return &Service{db: d, baseHost: baseHost, ttl: 30 * time.Second, hosts: map[string]cachedHost{}}
}

// ResolveHost returns the active tenant served at host. Errors: ErrNotFound, ErrSuspended.
func (s *Service) ResolveHost(ctx context.Context, host string) (Tenant, error) {
	id, err := s.hostID(ctx, host)
	if err != nil {
		return Tenant{}, err
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return Tenant{}, err
	}
	if t.Status != StatusActive {
		return t, ErrSuspended
	}
	return t, nil
}

func (s *Service) hostID(ctx context.Context, host string) (uuid.UUID, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.hosts[host]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.id, nil
	}
	id, err := s.db.ResolveHost(ctx, host, s.baseHost)
	if errors.Is(err, db.ErrUnknownHost) {
		return uuid.Nil, ErrNotFound
	}
	if err != nil {
		return uuid.Nil, err
	}
	s.mu.Lock()
	if len(s.hosts) > 10_000 {
		clear(s.hosts)
	}
	// Callers often pass a string that aliases a request buffer (Fiber reuses them): the
	// cache keeps its own copy.
	s.hosts[strings.Clone(host)] = cachedHost{id: id, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	return id, nil
}

// Get returns the tenant with id. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Tenant, error) {
	t, err := getTenant(ctx, s.db, id)
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant: %w", err)
	}
	return t, nil
}

// Plans lists the platform's plans, cheapest first.
func (s *Service) Plans(ctx context.Context) ([]Plan, error) {
	ps, err := listPlans(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	return ps, nil
}
