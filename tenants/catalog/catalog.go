// Package catalog owns what merchants sell: products, their variants and options, categories,
// attributes, translations and prices, and the path from draft to live.
package catalog

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/scope"
)

// Errors returned by Service.
var (
	ErrNotFound         = fault.New(fault.NotFound, "product_not_found", "product not found")
	ErrVariantNotFound  = fault.New(fault.NotFound, "variant_not_found", "variant not found")
	ErrCategoryNotFound = fault.New(fault.NotFound, "category_not_found", "category not found")
	ErrMerchantNotFound = fault.New(fault.NotFound, "merchant_not_found", "merchant not found")
	ErrSlugTaken        = fault.New(fault.Conflict, "slug_taken", "this slug is already used in this marketplace")
	ErrSKUTaken         = fault.New(fault.Conflict, "sku_taken", "this SKU is already used in this marketplace")
	ErrAttributeTaken   = fault.New(fault.Conflict, "attribute_taken", "an attribute with this code exists")
	ErrTransition       = fault.New(fault.Conflict, "invalid_transition", "the product's status does not allow this")
	ErrCategoryCycle    = fault.New(fault.Conflict, "category_cycle", "a category cannot sit below itself")
	ErrCategoryInUse    = fault.New(fault.Conflict, "category_in_use", "the category still has subcategories")
	ErrTenantOnly       = fault.New(fault.Forbidden, "tenant_staff_only", "only the marketplace's staff may do this")
	ErrNotListable      = fault.New(fault.Unprocessable, "listing_refused", "the product does not meet the marketplace's listing rules")
	ErrPlanLimit        = fault.New(fault.Unprocessable, "plan_limit_reached", "the marketplace's plan has no room for another product")
)

// Product statuses: draft → pending_review → active, or draft → active when the listing rules
// allow it without review; a rejection sends it back to draft; anything but archived → archived.
const (
	StatusDraft         = "draft"
	StatusPendingReview = "pending_review"
	StatusActive        = "active"
	StatusArchived      = "archived"
)

// Translation is a product's text in one locale.
type Translation struct {
	Title       string `json:"title" maxLength:"200"`
	Description string `json:"description,omitempty" maxLength:"20000"`
}

// Option is an axis a product varies along; variants pick one of Values per Code.
type Option struct {
	Code     string            `json:"code" pattern:"^[a-z][a-z0-9_]{0,62}$" doc:"key in the variants' option_values, e.g. size"`
	Name     map[string]string `json:"name" doc:"per locale; en required"`
	Values   []string          `json:"values" minItems:"1" maxItems:"100"`
	Position int               `json:"position,omitempty"`
}

// Image is a reference to an object the media slice stores.
type Image struct {
	ID       uuid.UUID         `json:"id,omitempty" readOnly:"true"`
	Key      string            `json:"key" minLength:"1" maxLength:"1024"`
	Alt      map[string]string `json:"alt,omitempty" doc:"per locale"`
	Position int               `json:"position,omitempty"`
}

// Price is a variant's price in one currency, in minor units.
type Price struct {
	Currency       string `json:"currency"`
	AmountMinor    int64  `json:"amount_minor"`
	CompareAtMinor *int64 `json:"compare_at_minor,omitempty" doc:"the struck-through former price; above amount_minor"`
}

// Variant is one buyable version of a product.
type Variant struct {
	ID           uuid.UUID         `json:"id"`
	SKU          string            `json:"sku"`
	OptionValues map[string]string `json:"option_values"`
	WeightGrams  *int              `json:"weight_grams,omitempty"`
	LengthMM     *int              `json:"length_mm,omitempty"`
	WidthMM      *int              `json:"width_mm,omitempty"`
	HeightMM     *int              `json:"height_mm,omitempty"`
	Status       string            `json:"status" enum:"active,archived"`
	Position     int               `json:"position"`
	Prices       []Price           `json:"prices"`
}

// Product is what a merchant sells, with everything below it.
type Product struct {
	ID           uuid.UUID                  `json:"id"`
	MerchantID   uuid.UUID                  `json:"merchant_id"`
	Slug         string                     `json:"slug"`
	Status       string                     `json:"status" enum:"draft,pending_review,active,archived"`
	CategoryID   *uuid.UUID                 `json:"category_id,omitempty"`
	Attributes   map[string]json.RawMessage `json:"attributes"`
	Translations map[string]Translation     `json:"translations"`
	Options      []Option                   `json:"options"`
	Variants     []Variant                  `json:"variants"`
	Images       []Image                    `json:"images"`
	ReviewNote   string                     `json:"review_note,omitempty"`
	SubmittedAt  *time.Time                 `json:"submitted_at,omitempty"`
	CreatedAt    time.Time                  `json:"created_at"`
	UpdatedAt    time.Time                  `json:"updated_at"`
}

// ListingPolicy decides whether a product may go live (policies/listing.rego) and whether
// the tenant's plan has room for one more (policies/plan_limits.rego); *authz.Policies in
// production.
type ListingPolicy interface {
	Decide(ctx context.Context, name string, input any) (authz.Decision, error)
}

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// Service manages the catalog. Every method runs inside the tenant's RLS scope, narrowed to
// the merchant when the caller works for one (scope.MerchantFrom).
type Service struct {
	db      *db.DB
	listing ListingPolicy
	audit   Recorder
	now     func() time.Time
}

// NewService builds the service.
func NewService(d *db.DB, listing ListingPolicy, audit Recorder) *Service {
	return &Service{db: d, listing: listing, audit: audit, now: time.Now}
}

var (
	slugRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$`)
	skuRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	codeRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	localeRE = regexp.MustCompile(`^[a-z]{2}(-[A-Z][A-Za-z]{1,3})?$`)
)

// inScope narrows to the merchant when the caller works for one.
func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

// publicOnly reports whether the caller buys rather than sells: shoppers (whom the policy lets
// read /v1/products) must see live products only, never drafts or the moderation queue.
func publicOnly(ctx context.Context) bool {
	a := string(scope.ActorFrom(ctx))
	return strings.HasPrefix(a, "shopper:") || strings.HasPrefix(a, "guest:")
}

// tenantStaff refuses callers in a merchant scope.
func tenantStaff(ctx context.Context) error {
	if _, ok := scope.MerchantFrom(ctx); ok {
		return ErrTenantOnly
	}
	return nil
}

func checkNames(bad map[string]string, loc string, names map[string]string, required bool) {
	if required && names["en"] == "" {
		bad[loc+".en"] = "an English name is required"
	}
	for l, n := range names {
		if !localeRE.MatchString(l) {
			bad[loc] = "keys are locales such as en or zh-CN"
		} else if len(n) > 200 {
			bad[loc+"."+l] = "at most 200 characters"
		}
	}
}
