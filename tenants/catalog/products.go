package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/authz"
	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// ProductInput creates a product. Status, tenant and (in a merchant scope) merchant are never
// taken from it.
type ProductInput struct {
	MerchantID   uuid.UUID                  `json:"merchant_id,omitempty" doc:"required for marketplace staff; merchant staff create for their own merchant"`
	Slug         string                     `json:"slug" doc:"unique in the marketplace; 2–100 of a-z, 0-9 and -"`
	CategoryID   *uuid.UUID                 `json:"category_id,omitempty"`
	Attributes   map[string]json.RawMessage `json:"attributes,omitempty" doc:"values for the marketplace's attribute definitions"`
	Translations map[string]Translation     `json:"translations,omitempty" doc:"per locale (en, zh-CN, ...)"`
	Options      []Option                   `json:"options,omitempty" maxItems:"10"`
	Images       []Image                    `json:"images,omitempty" maxItems:"50"`
}

// ProductPatch changes a product; absent fields stay. Given translations are set per locale
// (others stay); given options, images or attributes replace the old ones. There is no way to
// write status, merchant_id or tenant_id through it.
type ProductPatch struct {
	Slug         *string                    `json:"slug,omitempty"`
	CategoryID   *uuid.UUID                 `json:"category_id,omitempty"`
	Attributes   map[string]json.RawMessage `json:"attributes,omitempty"`
	Translations map[string]Translation     `json:"translations,omitempty"`
	Options      []Option                   `json:"options,omitempty" maxItems:"10"`
	Images       []Image                    `json:"images,omitempty" maxItems:"50"`
}

func checkTranslations(bad map[string]string, trs map[string]Translation) {
	for l, t := range trs {
		switch {
		case !localeRE.MatchString(l):
			bad["body.translations"] = "keys are locales such as en or zh-CN"
		case strings.TrimSpace(t.Title) == "" || len(t.Title) > 200:
			bad["body.translations."+l+".title"] = "1–200 characters"
		case len(t.Description) > 20000:
			bad["body.translations."+l+".description"] = "at most 20000 characters"
		}
	}
}

func checkOptions(bad map[string]string, ops []Option) {
	seen := map[string]bool{}
	for i, o := range ops {
		loc := fmt.Sprintf("body.options[%d]", i)
		if !codeRE.MatchString(o.Code) || seen[o.Code] {
			bad[loc+".code"] = "a unique code of a-z, 0-9 and _"
		}
		seen[o.Code] = true
		checkNames(bad, loc+".name", o.Name, true)
		if len(o.Values) == 0 || len(o.Values) > 100 {
			bad[loc+".values"] = "1–100 values"
		}
	}
}

func checkImages(bad map[string]string, imgs []Image) {
	for i, im := range imgs {
		if im.Key == "" || len(im.Key) > 1024 {
			bad[fmt.Sprintf("body.images[%d].key", i)] = "1–1024 characters"
		}
		checkNames(bad, fmt.Sprintf("body.images[%d].alt", i), im.Alt, false)
	}
}

// checkAttributes validates values against the tenant's definitions: integers are whole
// numbers (decoded with UseNumber, never through float64), enums one of their choices.
func checkAttributes(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, attrs map[string]json.RawMessage) error {
	if len(attrs) == 0 {
		return nil
	}
	defs, err := attributeDefs(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	bad := map[string]string{}
	for code, raw := range attrs {
		loc := "body.attributes." + code
		d, ok := defs[code]
		if !ok {
			bad[loc] = "not an attribute of this marketplace"
			continue
		}
		if _, err := typedValue(d, raw); err != nil {
			bad[loc] = err.Error()
		}
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	return nil
}

// typedValue decodes raw as d's type and returns its canonical JSON.
func typedValue(d attributeRow, raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON")
	}
	switch d.Type {
	case "text":
		if s, ok := v.(string); ok && len(s) <= 500 {
			return json.Marshal(s)
		}
		return nil, fmt.Errorf("a string of at most 500 characters")
	case "integer":
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return json.Marshal(i)
			}
		}
		return nil, fmt.Errorf("a whole number")
	case "boolean":
		if b, ok := v.(bool); ok {
			return json.Marshal(b)
		}
		return nil, fmt.Errorf("true or false")
	case "enum":
		if s, ok := v.(string); ok {
			for _, c := range d.Choices {
				if c == s {
					return json.Marshal(s)
				}
			}
		}
		return nil, fmt.Errorf("one of %s", strings.Join(d.Choices, ", "))
	}
	return nil, fmt.Errorf("unknown attribute type")
}

// CreateProduct creates a draft. Merchant staff create for their merchant; marketplace staff
// name one. Errors: invalid fields, ErrMerchantNotFound, ErrCategoryNotFound, ErrSlugTaken,
// ErrPlanLimit.
func (s *Service) CreateProduct(ctx context.Context, tenantID uuid.UUID, in ProductInput) (Product, error) {
	merchantID := in.MerchantID
	if m, ok := scope.MerchantFrom(ctx); ok {
		if merchantID != uuid.Nil && merchantID != m {
			return Product{}, ErrMerchantNotFound
		}
		merchantID = m
	}
	bad := map[string]string{}
	in.Slug = strings.ToLower(strings.TrimSpace(in.Slug))
	if !slugRE.MatchString(in.Slug) {
		bad["body.slug"] = "2–100 characters of a-z, 0-9 and -, not starting or ending with -"
	}
	if merchantID == uuid.Nil {
		bad["body.merchant_id"] = "required"
	}
	checkTranslations(bad, in.Translations)
	checkOptions(bad, in.Options)
	checkImages(bad, in.Images)
	if len(bad) > 0 {
		return Product{}, fault.Fields(bad)
	}
	var out Product
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM merchants WHERE tenant_id = ? AND id = ?", tenantID, merchantID).Scan(ctx, &n); err != nil {
			return err
		}
		if n == 0 {
			return ErrMerchantNotFound
		}
		if err := checkCategory(ctx, tx, tenantID, in.CategoryID); err != nil {
			return err
		}
		if err := checkAttributes(ctx, tx, tenantID, in.Attributes); err != nil {
			return err
		}
		if err := s.productRoom(ctx, tx, tenantID); err != nil {
			return err
		}
		now := s.now().UTC()
		r := productRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), MerchantID: merchantID, Slug: in.Slug,
			Status: StatusDraft, CategoryID: in.CategoryID, Attributes: in.Attributes, CreatedAt: now, UpdatedAt: now}
		if r.Attributes == nil {
			r.Attributes = map[string]json.RawMessage{}
		}
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrSlugTaken
			}
			return err
		}
		if err := writeChildren(ctx, tx, r, in.Translations, in.Options, in.Images); err != nil {
			return err
		}
		p, err := getProduct(ctx, tx, tenantID, r.ID, false)
		if err != nil {
			return err
		}
		out = p
		return s.audit.Record(ctx, tx, "product.create", "product", r.ID.String(), nil, p)
	})
	if err != nil {
		return Product{}, fmt.Errorf("create product: %w", err)
	}
	return out, nil
}

// productRoom asks the plan_limits policy whether the tenant's plan has room for one more
// product; archived products are off sale and do not count. It takes a per-tenant lock first,
// held until the transaction ends, so two creations cannot both take the last place.
// Errors: ErrPlanLimit with the policy's reasons.
func (s *Service) productRoom(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('products:' || ?::text, 0))", tenantID.String()); err != nil {
		return fmt.Errorf("lock product count: %w", err)
	}
	var raw []byte
	if err := tx.NewRaw("SELECT p.limits FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = ?", tenantID).Scan(ctx, &raw); err != nil {
		return fmt.Errorf("read plan limits: %w", err)
	}
	var limits map[string]any
	if err := json.Unmarshal(raw, &limits); err != nil {
		return fmt.Errorf("plan limits: %w", err)
	}
	// The plan counts the whole marketplace, but a merchant's transaction sees only its own
	// products: the merchant fence is lifted for this one count (tenant RLS still applies, and
	// only the number leaves the statement) and put back as it was.
	var fence string
	if err := tx.NewRaw("SELECT coalesce(current_setting('app.merchant_id', true), '')").Scan(ctx, &fence); err != nil {
		return err
	}
	var used int
	err := func() error {
		if fence != "" {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.merchant_id', '', true)"); err != nil {
				return err
			}
		}
		return tx.NewRaw("SELECT count(*) FROM products WHERE tenant_id = ? AND status <> ?", tenantID, StatusArchived).Scan(ctx, &used)
	}()
	if fence != "" {
		if _, rerr := tx.ExecContext(ctx, "SELECT set_config('app.merchant_id', ?, true)", fence); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("count products: %w", err)
	}
	d, err := s.listing.Decide(ctx, authz.DecidePlanLimits, map[string]any{
		"action": "add_product",
		"plan":   map[string]any{"limits": limits},
		"usage":  map[string]any{"products": used},
	})
	if err != nil {
		return err // fails closed: an undecidable policy creates nothing
	}
	if !d.Allow {
		e := *ErrPlanLimit
		for _, r := range d.Reasons {
			e.Fields = append(e.Fields, fault.FieldError{Location: "plan", Message: r})
		}
		return fmt.Errorf("%w%w", &e, ErrPlanLimit)
	}
	return nil
}

func checkCategory(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, id *uuid.UUID) error {
	if id == nil {
		return nil
	}
	var n int
	if err := tx.NewRaw("SELECT count(*) FROM categories WHERE tenant_id = ? AND id = ?", tenantID, *id).Scan(ctx, &n); err != nil {
		return err
	}
	if n == 0 {
		return ErrCategoryNotFound
	}
	return nil
}

// writeChildren upserts translations and replaces options and images when given (nil leaves them).
func writeChildren(ctx context.Context, tx bun.IDB, p productRow, trs map[string]Translation, ops []Option, imgs []Image) error {
	for l, t := range trs {
		row := translationRow{TenantID: p.TenantID, ProductID: p.ID, MerchantID: p.MerchantID, Locale: l,
			Title: strings.TrimSpace(t.Title), Description: t.Description}
		if _, err := tx.NewInsert().Model(&row).On("CONFLICT (tenant_id, product_id, locale) DO UPDATE").
			Set("title = EXCLUDED.title, description = EXCLUDED.description").Exec(ctx); err != nil {
			return err
		}
	}
	if ops != nil {
		if _, err := tx.NewDelete().Model((*optionRow)(nil)).Where("tenant_id = ? AND product_id = ?", p.TenantID, p.ID).Exec(ctx); err != nil {
			return err
		}
		for _, o := range ops {
			row := optionRow{TenantID: p.TenantID, ID: uuid.Must(uuid.NewV7()), ProductID: p.ID, MerchantID: p.MerchantID,
				Code: o.Code, Name: o.Name, Values: o.Values, Position: o.Position}
			if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
				return err
			}
		}
	}
	if imgs != nil {
		if _, err := tx.NewDelete().Model((*imageRow)(nil)).Where("tenant_id = ? AND product_id = ?", p.TenantID, p.ID).Exec(ctx); err != nil {
			return err
		}
		for _, im := range imgs {
			alt := im.Alt
			if alt == nil {
				alt = map[string]string{}
			}
			row := imageRow{TenantID: p.TenantID, ID: uuid.Must(uuid.NewV7()), ProductID: p.ID, MerchantID: p.MerchantID,
				Key: im.Key, Alt: alt, Position: im.Position}
			if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func getProduct(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID, lock bool) (Product, error) {
	var r productRow
	q := tx.NewSelect().Model(&r).Where("tenant_id = ? AND id = ?", tenantID, id)
	if lock {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return Product{}, ErrNotFound
	}
	ps, err := loadProducts(ctx, tx, tenantID, []productRow{r})
	if err != nil {
		return Product{}, err
	}
	return ps[0], nil
}

// UpdateProduct applies a patch. Products under review or archived cannot change.
// Errors: ErrNotFound, ErrTransition, ErrSlugTaken, ErrCategoryNotFound, invalid fields.
func (s *Service) UpdateProduct(ctx context.Context, tenantID, id uuid.UUID, in ProductPatch) (Product, error) {
	bad := map[string]string{}
	if in.Slug != nil {
		*in.Slug = strings.ToLower(strings.TrimSpace(*in.Slug))
		if !slugRE.MatchString(*in.Slug) {
			bad["body.slug"] = "2–100 characters of a-z, 0-9 and -, not starting or ending with -"
		}
	}
	checkTranslations(bad, in.Translations)
	checkOptions(bad, in.Options)
	checkImages(bad, in.Images)
	if len(bad) > 0 {
		return Product{}, fault.Fields(bad)
	}
	var out Product
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		before, err := getProduct(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if before.Status == StatusPendingReview || before.Status == StatusArchived {
			return ErrTransition
		}
		if err := checkCategory(ctx, tx, tenantID, in.CategoryID); err != nil {
			return err
		}
		if err := checkAttributes(ctx, tx, tenantID, in.Attributes); err != nil {
			return err
		}
		q := tx.NewUpdate().Table("products").Set("updated_at = ?", s.now().UTC()).Where("tenant_id = ? AND id = ?", tenantID, id)
		if in.Slug != nil {
			q = q.Set("slug = ?", *in.Slug)
		}
		if in.CategoryID != nil {
			q = q.Set("category_id = ?", *in.CategoryID)
		}
		if in.Attributes != nil {
			raw, err := json.Marshal(in.Attributes)
			if err != nil {
				return err
			}
			q = q.Set("attributes = ?::jsonb", string(raw))
		}
		if _, err := q.Exec(ctx); err != nil {
			if _, dup := db.UniqueViolation(err); dup {
				return ErrSlugTaken
			}
			return err
		}
		r := productRow{TenantID: tenantID, ID: id, MerchantID: before.MerchantID}
		if err := writeChildren(ctx, tx, r, in.Translations, in.Options, in.Images); err != nil {
			return err
		}
		if out, err = getProduct(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "product.update", "product", id.String(), before, out)
	})
	if err != nil {
		return Product{}, fmt.Errorf("update product: %w", err)
	}
	return out, nil
}

// GetProduct returns one product with its variants, prices, options, images and translations.
// Errors: ErrNotFound (also for another tenant's or, in a merchant scope, another merchant's id).
func (s *Service) GetProduct(ctx context.Context, tenantID, id uuid.UUID) (Product, error) {
	var p Product
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		p, err = getProduct(ctx, tx, tenantID, id, false)
		if err == nil && publicOnly(ctx) && p.Status != StatusActive {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return Product{}, fmt.Errorf("get product: %w", err)
	}
	return p, nil
}

// ListFilter narrows the product list. Attributes match filterable attributes exactly.
type ListFilter struct {
	Status     string
	CategoryID uuid.UUID
	MerchantID uuid.UUID
	Attributes map[string]string
	// Sort is "" (newest first), "created" (by creation, Desc for newest first) or "slug".
	Sort string
	Desc bool
	httpx.PageParams
}

// ListProducts pages through products, newest first unless f.Sort says otherwise. In a merchant
// scope only the merchant's. Errors: httpx.ErrBadCursor.
func (s *Service) ListProducts(ctx context.Context, tenantID uuid.UUID, f ListFilter) (httpx.Page[Product], error) {
	// Keyset paging on a unique column: id for creation order (UUIDv7), slug by name.
	column, desc := "id", true
	if f.Sort == "created" || f.Sort == "slug" {
		desc = f.Desc
	}
	if f.Sort == "slug" {
		column = "slug"
	}
	var (
		afterID   uuid.UUID
		afterSlug string
		first     bool
		err       error
	)
	if column == "slug" {
		first, err = httpx.DecodeCursor(f.Cursor, &afterSlug)
	} else {
		first, err = httpx.DecodeCursor(f.Cursor, &afterID)
	}
	if err != nil {
		return httpx.Page[Product]{}, err
	}
	var out []Product
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var rows []productRow
		order, cmp := column+" ASC", ">"
		if desc {
			order, cmp = column+" DESC", "<"
		}
		q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).OrderExpr(order).Limit(int64(f.Size() + 1))
		switch {
		case first:
		case column == "slug":
			q = q.Where("slug "+cmp+" ?", afterSlug)
		default:
			q = q.Where("id "+cmp+" ?", afterID)
		}
		if publicOnly(ctx) {
			q = q.Where("status = ?", StatusActive)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if f.CategoryID != uuid.Nil {
			q = q.Where("category_id = ?", f.CategoryID)
		}
		if f.MerchantID != uuid.Nil {
			q = q.Where("merchant_id = ?", f.MerchantID)
		}
		if len(f.Attributes) > 0 {
			match, err := attributeMatch(ctx, tx, tenantID, f.Attributes)
			if err != nil {
				return err
			}
			q = q.Where("attributes @> ?::jsonb", string(match))
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		var err error
		out, err = loadProducts(ctx, tx, tenantID, rows)
		return err
	})
	if err != nil {
		return httpx.Page[Product]{}, fmt.Errorf("list products: %w", err)
	}
	return httpx.PageOf(out, f.PageParams, func(p Product) any {
		if column == "slug" {
			return p.Slug
		}
		return p.ID
	}), nil
}

// attributeMatch turns code=value filters into a typed JSON object for @>; only filterable
// attributes may be filtered on.
func attributeMatch(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, filters map[string]string) ([]byte, error) {
	defs, err := attributeDefs(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	bad := map[string]string{}
	match := map[string]json.RawMessage{}
	for code, v := range filters {
		d, ok := defs[code]
		if !ok || !d.Filterable {
			bad["query.attr."+code] = "not a filterable attribute"
			continue
		}
		raw := json.RawMessage(v)
		if d.Type == "text" || d.Type == "enum" {
			raw, _ = json.Marshal(v)
		}
		typed, err := typedValue(d, raw)
		if err != nil {
			bad["query.attr."+code] = err.Error()
			continue
		}
		match[code] = typed
	}
	if len(bad) > 0 {
		return nil, fault.Fields(bad)
	}
	return json.Marshal(match)
}

// listingInput is the input policies/listing.rego documents. Each variant's price is the one
// in the tenant's default currency, the currency its storefront sells in.
func listingInput(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, p Product) (map[string]any, error) {
	var t struct {
		Currency      string `bun:"currency"`
		RequireReview bool   `bun:"require_review"`
	}
	if err := tx.NewRaw(`SELECT default_currency AS currency,
		coalesce((settings->>'require_listing_review')::boolean, false) AS require_review FROM tenants WHERE id = ?`, tenantID).
		Scan(ctx, &t); err != nil {
		return nil, fmt.Errorf("read tenant settings: %w", err)
	}
	title := map[string]string{}
	for l, tr := range p.Translations {
		title[l] = tr.Title
	}
	images := make([]string, len(p.Images))
	for i, im := range p.Images {
		images[i] = im.Key
	}
	variants := []map[string]any{}
	for _, v := range p.Variants {
		if v.Status != "active" {
			continue
		}
		vi := map[string]any{"sku": v.SKU}
		for _, pr := range v.Prices {
			if pr.Currency == t.Currency {
				vi["price_minor"] = pr.AmountMinor
			}
		}
		variants = append(variants, vi)
	}
	product := map[string]any{"title": title, "images": images, "variants": variants}
	if p.CategoryID != nil {
		product["category_id"] = p.CategoryID.String()
	}
	return map[string]any{"product": product, "tenant": map[string]any{"require_review": t.RequireReview}}, nil
}

// refused carries the policy's reasons as field errors of ErrNotListable, so the one error
// handler shows them; errors.Is(err, ErrNotListable) still holds.
func refused(reasons []string) error {
	e := *ErrNotListable
	for _, r := range reasons {
		e.Fields = append(e.Fields, fault.FieldError{Location: "product", Message: r})
	}
	return fmt.Errorf("%w%w", &e, ErrNotListable)
}

// Submit asks to list a draft: the tenant's listing rules (OPA) either refuse it with reasons
// (ErrNotListable), publish it, or queue it for moderation when the tenant requires review.
// Errors: ErrNotFound, ErrTransition, ErrNotListable.
func (s *Service) Submit(ctx context.Context, tenantID, id uuid.UUID) (Product, error) {
	var out Product
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		before, err := getProduct(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if before.Status != StatusDraft {
			return ErrTransition
		}
		input, err := listingInput(ctx, tx, tenantID, before)
		if err != nil {
			return err
		}
		d, err := s.listing.Decide(ctx, authz.DecideListing, input)
		if err != nil {
			return err // fails closed: an undecidable policy lists nothing
		}
		if !d.Allow {
			return refused(d.Reasons)
		}
		to := StatusActive
		if review, _ := d.Extra["needs_review"].(bool); review {
			to = StatusPendingReview
		}
		now := s.now().UTC()
		if _, err := tx.NewUpdate().Table("products").Set("status = ?, submitted_at = ?, updated_at = ?, review_note = ''", to, now, now).
			Where("tenant_id = ? AND id = ?", tenantID, id).Exec(ctx); err != nil {
			return err
		}
		if out, err = getProduct(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "product.submit", "product", id.String(), before, out)
	})
	if err != nil {
		return Product{}, fmt.Errorf("submit product: %w", err)
	}
	return out, nil
}

// Moderate decides on a product pending review: "approve" lists it, "reject" returns it to
// draft with the note for the merchant. Marketplace staff only.
// Errors: ErrTenantOnly, ErrNotFound, ErrTransition, invalid fields.
func (s *Service) Moderate(ctx context.Context, tenantID, id uuid.UUID, action, note string) (Product, error) {
	if err := tenantStaff(ctx); err != nil {
		return Product{}, err
	}
	to := map[string]string{"approve": StatusActive, "reject": StatusDraft}[action]
	if to == "" {
		return Product{}, fault.Fields(map[string]string{"path.action": "approve or reject"})
	}
	if len(note) > 1000 {
		return Product{}, fault.Fields(map[string]string{"body.note": "at most 1000 characters"})
	}
	var out Product
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		before, err := getProduct(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if before.Status != StatusPendingReview {
			return ErrTransition
		}
		now := s.now().UTC()
		if _, err := tx.NewUpdate().Table("products").
			Set("status = ?, review_note = ?, reviewed_at = ?, reviewed_by = ?, updated_at = ?", to, note, now, string(scope.ActorFrom(ctx)), now).
			Where("tenant_id = ? AND id = ?", tenantID, id).Exec(ctx); err != nil {
			return err
		}
		if out, err = getProduct(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "product."+action, "product", id.String(), before, out)
	})
	if err != nil {
		return Product{}, fmt.Errorf("%s product: %w", action, err)
	}
	return out, nil
}

// Archive takes a product off sale for good. Errors: ErrNotFound, ErrTransition.
func (s *Service) Archive(ctx context.Context, tenantID, id uuid.UUID) (Product, error) {
	var out Product
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		before, err := getProduct(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if before.Status == StatusArchived {
			return ErrTransition
		}
		if _, err := tx.NewUpdate().Table("products").Set("status = ?, updated_at = ?", StatusArchived, s.now().UTC()).
			Where("tenant_id = ? AND id = ?", tenantID, id).Exec(ctx); err != nil {
			return err
		}
		if out, err = getProduct(ctx, tx, tenantID, id, false); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "product.archive", "product", id.String(), before, out)
	})
	if err != nil {
		return Product{}, fmt.Errorf("archive product: %w", err)
	}
	return out, nil
}
