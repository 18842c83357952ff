package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants/catalog"
	"mercato/tenants/merchants"
)

// productPages are the listing pages: the product list, the editor with its variants and
// images, CSV import and export, and the actions on a product. The capability is the API's
// /v1/products, which every tenant and merchant role may read and write; the catalog narrows
// merchant staff to their own store. Static paths come before /products/:id.
func (h *handlers) productPages() []page {
	const object, capability = Prefix + "/products", "/v1/products"
	const read, write = authz.ActionRead, authz.ActionWrite
	return []page{
		{fiber.MethodGet, "/products", object, capability, read, false, h.productsPage},
		{fiber.MethodGet, "/products/new", object, capability, write, false, h.newProductPage},
		{fiber.MethodPost, "/products", object, capability, write, false, h.createProduct},
		{fiber.MethodGet, "/products/import", object, capability, write, false, h.importPage},
		{fiber.MethodPost, "/products/import", object, capability, write, false, h.importProducts},
		{fiber.MethodGet, "/products/export", object, capability, read, false, h.exportProducts},
		{fiber.MethodGet, "/products/:id", object, capability, read, false, h.productPage},
		{fiber.MethodPost, "/products/:id", object, capability, write, false, h.updateProduct},
		{fiber.MethodPost, "/products/:id/variants", object, capability, write, false, h.addVariant},
		{fiber.MethodGet, "/products/:id/variants/:variant", object, capability, read, false, h.variantPage},
		{fiber.MethodPost, "/products/:id/variants/:variant", object, capability, write, false, h.updateVariant},
		{fiber.MethodPost, "/products/:id/variants/:variant/prices", object, capability, write, false, h.setVariantPrice},
		{fiber.MethodPost, "/products/:id/images", object, capability, write, false, h.uploadImage},
		{fiber.MethodGet, "/products/:id/images/:image", object, capability, read, false, h.productImage},
		{fiber.MethodPost, "/products/:id/submit", object, capability, write, false, h.submitProduct},
		{fiber.MethodPost, "/products/:id/archive", object, capability, write, false, h.archiveProduct},
	}
}

// productStatuses are the product statuses in the order a product meets them.
var productStatuses = []string{catalog.StatusDraft, catalog.StatusPendingReview, catalog.StatusActive, catalog.StatusArchived}

// productRow is one line of the list.
type productRow struct {
	catalog.Product
	Title    string
	Merchant string
}

type productsData struct {
	Items          []productRow
	Table          web.TableState
	Next           string
	Status         string
	Statuses       []web.Option
	Merchant       string
	Merchants      []web.Option // tenant staff only
	MerchantScoped bool
	CanWrite       bool
}

// productsPage lists products: a merchant's own in a merchant scope, every store's for tenant
// staff, who may filter by store; by status; sorted by creation or slug; paged.
func (h *handlers) productsPage(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	table := web.TableFrom(c, "-created", "slug")
	d := productsData{Table: table, Status: c.Query("status"), MerchantScoped: s.merchantScope(),
		CanWrite: h.allowed(s, "/v1/products", authz.ActionWrite)}
	if !slices.Contains(productStatuses, d.Status) {
		d.Status = ""
	}
	d.Statuses = []web.Option{{Value: "", Label: "products.all_statuses"}}
	for _, st := range productStatuses {
		d.Statuses = append(d.Statuses, web.Option{Value: st, Label: "status." + st})
	}
	names := map[uuid.UUID]string{}
	f := catalog.ListFilter{Status: d.Status, Sort: table.Sort, Desc: table.Desc, PageParams: httpx.PageParams{Cursor: table.Cursor}}
	if !s.merchantScope() {
		page, err := h.Merchants.Browse(ctx, s.member.TenantID, merchants.BrowseFilter{Sort: "name", PageParams: httpx.PageParams{Limit: httpx.MaxPageSize}})
		if err != nil {
			return err
		}
		d.Merchants = []web.Option{{Value: "", Label: "products.all_stores"}}
		for _, m := range page.Items {
			names[m.ID] = m.Name
			d.Merchants = append(d.Merchants, web.Option{Value: m.ID.String(), Label: m.Name})
		}
		if id, err := uuid.Parse(c.Query("merchant")); err == nil && names[id] != "" {
			f.MerchantID, d.Merchant = id, id.String()
		}
	}
	page, err := h.Catalog.ListProducts(ctx, s.member.TenantID, f)
	if errors.Is(err, httpx.ErrBadCursor) { // a stale or edited link: start again
		f.Cursor = ""
		page, err = h.Catalog.ListProducts(ctx, s.member.TenantID, f)
	}
	if err != nil {
		return err
	}
	d.Next = page.NextCursor
	locale := h.r.Locale(c)
	for _, p := range page.Items {
		d.Items = append(d.Items, productRow{Product: p, Title: titleOf(p, locale), Merchant: names[p.MerchantID]})
	}
	return h.r.Render(c, fiber.StatusOK, "products", d)
}

// titleOf is the product's title in locale, else in English, else its slug.
func titleOf(p catalog.Product, locale string) string {
	if t := p.Translations[locale].Title; t != "" {
		return t
	}
	if t := p.Translations["en"].Title; t != "" {
		return t
	}
	return p.Slug
}

// productData is the editor: the product form and, for a saved product, its images and
// variants with the form that adds one.
type productData struct {
	Product     *catalog.Product // nil while creating
	Title       string
	Form        web.Form
	Merchants   []web.Option // tenant staff creating a product choose the store
	Categories  []web.Option
	Editable    bool // drafts and live products change; pending or archived ones do not
	CanWrite    bool
	CanStock    bool
	CanModerate bool   // marketplace staff, for a product pending review
	Currency    string // the tenant's; the variant form prices in it
	Variants    []variantView
	Options     []optionView // the add-variant form's selects
	Variant     web.Form
	Upload      web.Form
	Images      []catalog.Image
	MaxImageMB  int
}

type variantView struct {
	catalog.Variant
	Options string
	Weight  int // grams, 0 when unknown
	Prices  []priceView
}

type priceView struct {
	Currency        string
	Amount          string // as the price form takes it: "12.50"
	CompareAt       string
	Money           money.Amount // as people read it
	CompareAtAmount *money.Amount
}

type optionView struct {
	Code    string
	Name    string // "option.<code>": the form field
	Label   string
	Choices []web.Option
}

func (h *handlers) newProductPage(c *fiber.Ctx, s *session) error {
	d, err := h.productData(c, s, nil, web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "product", d)
}

func (h *handlers) productPage(c *fiber.Ctx, s *session) error {
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	d, err := h.productData(c, s, &p, web.FormFrom(nil, productValues(p)))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "product", d)
}

// product reads the product the path names, in the caller's scope (another store's is absent).
func (h *handlers) product(c *fiber.Ctx, s *session) (catalog.Product, error) {
	id, err := paramID(c, "id")
	if err != nil {
		return catalog.Product{}, err
	}
	return h.Catalog.GetProduct(c.UserContext(), s.member.TenantID, id)
}

// productValues fills the product form from a saved product.
func productValues(p catalog.Product) map[string]string {
	v := map[string]string{"slug": p.Slug, "options": formatOptions(p.Options)}
	if p.CategoryID != nil {
		v["category_id"] = p.CategoryID.String()
	}
	for _, l := range []string{"en", "zh-CN"} {
		v["translations."+l+".title"] = p.Translations[l].Title
		v["translations."+l+".description"] = p.Translations[l].Description
	}
	return v
}

func (h *handlers) productData(c *fiber.Ctx, s *session, p *catalog.Product, form web.Form) (productData, error) {
	ctx := c.UserContext()
	d := productData{Product: p, Form: form, Editable: true, Currency: s.tenant.DefaultCurrency,
		CanWrite: h.allowed(s, "/v1/products", authz.ActionWrite), CanStock: h.allowed(s, "/v1/inventory", authz.ActionRead),
		Variant: web.FormFrom(nil, map[string]string{}), Upload: web.FormFrom(nil, nil), MaxImageMB: maxImageBytes >> 20}
	cats, err := h.Catalog.ListCategories(ctx, s.member.TenantID)
	if err != nil {
		return d, err
	}
	locale := h.r.Locale(c)
	d.Categories = []web.Option{{Value: "", Label: "products.no_category"}}
	for _, cat := range cats {
		name := cat.Name[locale]
		if name == "" {
			name = cat.Name["en"]
		}
		d.Categories = append(d.Categories, web.Option{Value: cat.ID.String(), Label: name})
	}
	if p == nil {
		if !s.merchantScope() {
			page, err := h.Merchants.Browse(ctx, s.member.TenantID, merchants.BrowseFilter{Status: merchants.StatusActive, Sort: "name",
				PageParams: httpx.PageParams{Limit: httpx.MaxPageSize}})
			if err != nil {
				return d, err
			}
			d.Merchants = []web.Option{{Value: "", Label: "products.choose_store"}}
			for _, m := range page.Items {
				d.Merchants = append(d.Merchants, web.Option{Value: m.ID.String(), Label: m.Name})
			}
		}
		return d, nil
	}
	d.Title = titleOf(*p, locale)
	d.CanModerate = p.Status == catalog.StatusPendingReview && h.may(s, Prefix+"/moderation", "/v1/products", authz.ActionWrite, true)
	d.Editable = p.Status == catalog.StatusDraft || p.Status == catalog.StatusActive
	d.Images = p.Images
	for _, v := range p.Variants {
		vv := variantView{Variant: v, Options: optionValues(p.Options, v.OptionValues)}
		if v.WeightGrams != nil {
			vv.Weight = *v.WeightGrams
		}
		for _, pr := range v.Prices {
			vv.Prices = append(vv.Prices, priceOf(pr))
		}
		d.Variants = append(d.Variants, vv)
	}
	for _, o := range p.Options {
		ov := optionView{Code: o.Code, Name: "option." + o.Code, Label: o.Name[locale]}
		if ov.Label == "" {
			ov.Label = o.Name["en"]
		}
		ov.Choices = []web.Option{{Value: "", Label: "products.choose_value"}}
		for _, val := range o.Values {
			ov.Choices = append(ov.Choices, web.Option{Value: val, Label: val})
		}
		d.Options = append(d.Options, ov)
	}
	return d, nil
}

func priceOf(p catalog.Price) priceView {
	cur := money.Currency(p.Currency)
	v := priceView{Currency: p.Currency, Amount: catalog.Decimal(p.AmountMinor, p.Currency), Money: money.Amount{Minor: p.AmountMinor, Currency: cur}}
	if p.CompareAtMinor != nil {
		v.CompareAt = catalog.Decimal(*p.CompareAtMinor, p.Currency)
		v.CompareAtAmount = &money.Amount{Minor: *p.CompareAtMinor, Currency: cur}
	}
	return v
}

// optionValues writes a variant's choices in the product's option order: "size M · colour red".
func optionValues(ops []catalog.Option, vals map[string]string) string {
	var parts []string
	for _, o := range ops {
		if v, ok := vals[o.Code]; ok {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " · ")
}

// formatOptions writes options as the editor's textarea shows them: "size: S, M, L" per line.
func formatOptions(ops []catalog.Option) string {
	var lines []string
	for _, o := range ops {
		lines = append(lines, o.Code+": "+strings.Join(o.Values, ", "))
	}
	return strings.Join(lines, "\n")
}

// parseOptions reads the textarea back; names of options the product already has are kept,
// new ones are named after their code. The catalog checks codes and values.
func parseOptions(text string, existing []catalog.Option) ([]catalog.Option, bool) {
	ops := []catalog.Option{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		code, list, ok := strings.Cut(line, ":")
		if !ok {
			return nil, false
		}
		o := catalog.Option{Code: strings.TrimSpace(code), Position: i}
		for _, v := range strings.Split(list, ",") {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(o.Values, v) {
				o.Values = append(o.Values, v)
			}
		}
		o.Name = map[string]string{"en": o.Code}
		for _, e := range existing {
			if e.Code == o.Code {
				o.Name = e.Name
			}
		}
		ops = append(ops, o)
	}
	return ops, true
}

// productInput reads the product form. A malformed options text is a field error of its own.
func productInput(values map[string]string, existing []catalog.Option) (catalog.ProductPatch, error) {
	slug := values["slug"]
	in := catalog.ProductPatch{Slug: &slug, Translations: map[string]catalog.Translation{}}
	if id, err := uuid.Parse(values["category_id"]); err == nil {
		in.CategoryID = &id
	}
	for _, l := range []string{"en", "zh-CN"} {
		t := catalog.Translation{Title: values["translations."+l+".title"], Description: values["translations."+l+".description"]}
		if strings.TrimSpace(t.Title) != "" || t.Description != "" || l == "en" {
			in.Translations[l] = t
		}
	}
	ops, ok := parseOptions(values["options"], existing)
	if !ok {
		return in, faultFields("body.options", "console.field.options")
	}
	in.Options = ops
	return in, nil
}

// productFormError places the catalog's errors beside the editor's fields: taken slugs, unknown
// categories and stores, options by line, and the plan's product limit.
func (h *handlers) productFormError(c *fiber.Ctx, err error, values map[string]string) web.Form {
	switch {
	case errors.Is(err, catalog.ErrSlugTaken):
		err = faultFields("body.slug", "products.error.slug_taken")
	case errors.Is(err, catalog.ErrCategoryNotFound):
		err = faultFields("body.category_id", "products.error.category")
	case errors.Is(err, catalog.ErrMerchantNotFound):
		err = faultFields("body.merchant_id", "products.error.store")
	case errors.Is(err, catalog.ErrPlanLimit):
		f := web.FormFrom(nil, values)
		f.Errors[""] = "products.error.plan_limit"
		return f
	}
	f := h.form(c, err, values)
	if _, ok := f.Errors["merchant_id"]; ok {
		f.Errors["merchant_id"] = "products.error.store_required"
	}
	for name := range f.Errors {
		if strings.HasPrefix(name, "options[") { // one textarea holds every option
			delete(f.Errors, name)
			f.Errors["options"] = "console.field.options"
		}
	}
	return f
}

// createProduct saves a new draft and opens it in the editor; a refused form comes back with
// what was typed and each error beside its field, and nothing is saved.
func (h *handlers) createProduct(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	patch, err := productInput(values, nil)
	var p catalog.Product
	if err == nil {
		in := catalog.ProductInput{Slug: *patch.Slug, CategoryID: patch.CategoryID, Translations: patch.Translations, Options: patch.Options}
		if !s.merchantScope() {
			in.MerchantID, _ = uuid.Parse(values["merchant_id"])
		}
		p, err = h.Catalog.CreateProduct(c.UserContext(), s.member.TenantID, in)
	}
	if web.Fixable(err) {
		d, derr := h.productData(c, s, nil, h.productFormError(c, err, values))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "product", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "products.created", p.Slug)
	return c.Redirect(Prefix+"/products/"+p.ID.String(), fiber.StatusSeeOther)
}

func (h *handlers) updateProduct(c *fiber.Ctx, s *session) error {
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	patch, err := productInput(values, p.Options)
	if err == nil {
		_, err = h.Catalog.UpdateProduct(c.UserContext(), s.member.TenantID, p.ID, patch)
	}
	if web.Fixable(err) {
		d, derr := h.productData(c, s, &p, h.productFormError(c, err, values))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "product", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "products.saved")
	return c.Redirect(Prefix+"/products/"+p.ID.String(), fiber.StatusSeeOther)
}

// variantFields are the variant form's number fields, as the catalog names them.
var variantFields = []string{"weight_grams", "length_mm", "width_mm", "height_mm"}

// variantNumbers reads the dimension fields; a field that is not a whole number is an error
// beside it.
func variantNumbers(values map[string]string) (map[string]*int, map[string]string) {
	out, bad := map[string]*int{}, map[string]string{}
	for _, name := range variantFields {
		raw := strings.TrimSpace(values[name])
		if raw == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(raw, "%d", &n); err != nil || fmt.Sprint(n) != raw {
			bad["body."+name] = "console.field." + name
			continue
		}
		out[name] = &n
	}
	return out, bad
}

// variantFormError places variant and price errors beside the variant form's fields.
func (h *handlers) variantFormError(c *fiber.Ctx, err error, values map[string]string) web.Form {
	if errors.Is(err, catalog.ErrSKUTaken) {
		err = faultFields("body.sku", "products.error.sku_taken")
	}
	f := h.form(c, err, values)
	for name := range f.Errors {
		if code, ok := strings.CutPrefix(name, "option_values."); ok {
			delete(f.Errors, name)
			f.Errors["option."+code] = "products.error.option_value"
		}
	}
	return f
}

// addVariant adds a variant with its price in the tenant's currency. The price is checked
// first, so a bad price saves nothing.
func (h *handlers) addVariant(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	dims, bad := variantNumbers(values)
	price := catalog.PriceInput{Currency: s.tenant.DefaultCurrency, Amount: strings.TrimSpace(values["amount"]), CompareAt: strings.TrimSpace(values["compare_at"])}
	if _, perr := catalog.ParsePrice(price); perr != nil {
		for _, fe := range fault.As(perr).Fields {
			bad[fe.Location] = fe.Message
		}
	}
	in := catalog.VariantInput{SKU: strings.TrimSpace(values["sku"]), OptionValues: map[string]string{},
		WeightGrams: dims["weight_grams"], LengthMM: dims["length_mm"], WidthMM: dims["width_mm"], HeightMM: dims["height_mm"]}
	for _, o := range p.Options {
		if v := values["option."+o.Code]; v != "" {
			in.OptionValues[o.Code] = v
		}
	}
	var v catalog.Variant
	if len(bad) > 0 {
		err = fault.Fields(bad)
	} else if v, err = h.Catalog.AddVariant(ctx, s.member.TenantID, p.ID, in); err == nil {
		_, err = h.Catalog.SetPrice(ctx, s.member.TenantID, p.ID, v.ID, price)
	}
	if web.Fixable(err) {
		d, derr := h.productData(c, s, &p, web.FormFrom(nil, productValues(p)))
		if derr != nil {
			return derr
		}
		d.Variant = h.variantFormError(c, err, values)
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "product", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "products.variant_added", v.SKU)
	return c.Redirect(Prefix+"/products/"+p.ID.String()+"#variants-title", fiber.StatusSeeOther)
}

type variantData struct {
	Product  catalog.Product
	Title    string
	Variant  variantView
	Options  []optionView
	Form     web.Form
	Price    web.Form
	Statuses []web.Option
	CanWrite bool
}

// variant finds the path's variant in the product.
func (h *handlers) variant(c *fiber.Ctx, s *session) (catalog.Product, catalog.Variant, error) {
	p, err := h.product(c, s)
	if err != nil {
		return p, catalog.Variant{}, err
	}
	id, err := paramID(c, "variant")
	if err != nil {
		return p, catalog.Variant{}, err
	}
	for _, v := range p.Variants {
		if v.ID == id {
			return p, v, nil
		}
	}
	return p, catalog.Variant{}, errNotFound
}

func variantValues(v catalog.Variant) map[string]string {
	out := map[string]string{"sku": v.SKU, "status": v.Status}
	for code, val := range v.OptionValues {
		out["option."+code] = val
	}
	for name, n := range map[string]*int{"weight_grams": v.WeightGrams, "length_mm": v.LengthMM, "width_mm": v.WidthMM, "height_mm": v.HeightMM} {
		if n != nil {
			out[name] = fmt.Sprint(*n)
		}
	}
	return out
}

func (h *handlers) variantData(c *fiber.Ctx, s *session, p catalog.Product, v catalog.Variant, form, price web.Form) (variantData, error) {
	pd, err := h.productData(c, s, &p, web.FormFrom(nil, nil))
	if err != nil {
		return variantData{}, err
	}
	d := variantData{Product: p, Title: pd.Title, Options: pd.Options, Form: form, Price: price, CanWrite: pd.CanWrite && pd.Editable,
		Statuses: []web.Option{{Value: "active", Label: "status.active"}, {Value: "archived", Label: "status.archived"}}}
	for _, vv := range pd.Variants {
		if vv.ID == v.ID {
			d.Variant = vv
		}
	}
	return d, nil
}

func (h *handlers) variantPage(c *fiber.Ctx, s *session) error {
	p, v, err := h.variant(c, s)
	if err != nil {
		return err
	}
	d, err := h.variantData(c, s, p, v, web.FormFrom(nil, variantValues(v)), web.FormFrom(nil, map[string]string{"currency": s.tenant.DefaultCurrency}))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "variant", d)
}

func (h *handlers) updateVariant(c *fiber.Ctx, s *session) error {
	p, v, err := h.variant(c, s)
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	dims, bad := variantNumbers(values)
	sku, status := strings.TrimSpace(values["sku"]), values["status"]
	in := catalog.VariantPatch{SKU: &sku, Status: &status, OptionValues: map[string]string{},
		WeightGrams: dims["weight_grams"], LengthMM: dims["length_mm"], WidthMM: dims["width_mm"], HeightMM: dims["height_mm"]}
	for _, o := range p.Options {
		if val := values["option."+o.Code]; val != "" {
			in.OptionValues[o.Code] = val
		}
	}
	if len(p.Options) == 0 {
		in.OptionValues = nil
	}
	if len(bad) > 0 {
		err = fault.Fields(bad)
	} else {
		_, err = h.Catalog.UpdateVariant(c.UserContext(), s.member.TenantID, p.ID, v.ID, in)
	}
	if web.Fixable(err) {
		d, derr := h.variantData(c, s, p, v, h.variantFormError(c, err, values), web.FormFrom(nil, map[string]string{"currency": s.tenant.DefaultCurrency}))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "variant", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "products.variant_saved", sku)
	return c.Redirect(Prefix+"/products/"+p.ID.String()+"/variants/"+v.ID.String(), fiber.StatusSeeOther)
}

func (h *handlers) setVariantPrice(c *fiber.Ctx, s *session) error {
	p, v, err := h.variant(c, s)
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	in := catalog.PriceInput{Currency: strings.ToUpper(strings.TrimSpace(values["currency"])), Amount: strings.TrimSpace(values["amount"]),
		CompareAt: strings.TrimSpace(values["compare_at"])}
	if _, err = h.Catalog.SetPrice(c.UserContext(), s.member.TenantID, p.ID, v.ID, in); web.Fixable(err) {
		d, derr := h.variantData(c, s, p, v, web.FormFrom(nil, variantValues(v)), h.form(c, err, values))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "variant", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "products.price_set", in.Currency, v.SKU)
	return c.Redirect(Prefix+"/products/"+p.ID.String()+"/variants/"+v.ID.String(), fiber.StatusSeeOther)
}

// maxImageBytes is the largest product image the console takes: well under the request body
// limit, big enough for a good photo.
const maxImageBytes = 3 << 20

// imageType tells PNG, JPEG and WebP apart by their first bytes, never by the name or the
// type the browser claims; "" for anything else.
func imageType(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	}
	return ""
}

// uploadImage stores a PNG, JPEG or WebP under t/{tenant}/m/{merchant}/products/{uuid} and adds
// it to the product's images. The object is removed again when the product refuses it.
func (h *handlers) uploadImage(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	fail := func(msg string) error {
		d, derr := h.productData(c, s, &p, web.FormFrom(nil, productValues(p)))
		if derr != nil {
			return derr
		}
		d.Upload.Errors["image"] = msg
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "product", d)
	}
	if h.Blob == nil {
		return fail("products.error.no_storage")
	}
	fh, err := c.FormFile("image")
	if err != nil {
		return fail("products.error.image_missing")
	}
	if fh.Size > maxImageBytes {
		return fail("products.error.image_too_large")
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImageBytes+1))
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	if len(data) > maxImageBytes {
		return fail("products.error.image_too_large")
	}
	ctype := imageType(data)
	if ctype == "" {
		return fail("products.error.image_type")
	}
	key := fmt.Sprintf("t/%s/m/%s/products/%s", s.member.TenantID, p.MerchantID, uuid.Must(uuid.NewV7()))
	if err := h.Blob.Put(ctx, key, ctype, bytes.NewReader(data), int64(len(data))); err != nil {
		return err
	}
	images := append(slices.Clone(p.Images), catalog.Image{Key: key, Alt: map[string]string{"en": titleOf(p, "en")}, Position: len(p.Images)})
	for i := range images {
		images[i].ID = uuid.Nil
	}
	if _, err := h.Catalog.UpdateProduct(ctx, s.member.TenantID, p.ID, catalog.ProductPatch{Images: images}); err != nil {
		if derr := h.Blob.Delete(ctx, key); derr != nil {
			h.Log.WarnContext(ctx, "console: uploaded image left behind", "key", key, "error", derr.Error())
		}
		if web.Fixable(err) {
			return fail(h.message(c, err))
		}
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "products.image_added")
	return c.Redirect(Prefix+"/products/"+p.ID.String()+"#images-title", fiber.StatusSeeOther)
}

// productImage streams one of the product's images from the bucket, which is private: the
// console shows only images of products the person may see.
func (h *handlers) productImage(c *fiber.Ctx, s *session) error {
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	id, err := paramID(c, "image")
	if err != nil {
		return err
	}
	i := slices.IndexFunc(p.Images, func(im catalog.Image) bool { return im.ID == id })
	if i < 0 || h.Blob == nil {
		return errNotFound
	}
	r, obj, err := h.Blob.Get(c.UserContext(), p.Images[i].Key)
	if err != nil {
		return err
	}
	ctype := obj.ContentType
	if !slices.Contains([]string{"image/png", "image/jpeg", "image/webp"}, ctype) {
		ctype = "application/octet-stream" // never let a stored object render as a page
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	return c.SendStream(r, int(obj.Size))
}

// submitProduct asks to list a draft: live at once, queued for moderation, or refused with
// the marketplace's reasons in a flash.
func (h *handlers) submitProduct(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	back := Prefix + "/products/" + id.String()
	p, err := h.Catalog.Submit(c.UserContext(), s.member.TenantID, id)
	if web.Fixable(err) {
		msg := h.message(c, err)
		if fe := fault.As(err); errors.Is(err, catalog.ErrNotListable) && len(fe.Fields) > 0 {
			var reasons []string
			for _, f := range fe.Fields {
				reasons = append(reasons, f.Message)
			}
			h.r.Flash(c, web.FlashError, "products.refused", strings.Join(reasons, "; "))
		} else {
			h.r.Flash(c, web.FlashError, msg)
		}
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	if p.Status == catalog.StatusPendingReview {
		h.r.Flash(c, web.FlashSuccess, "products.submitted_review", p.Slug)
	} else {
		h.r.Flash(c, web.FlashSuccess, "products.submitted_live", p.Slug)
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}

func (h *handlers) archiveProduct(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	p, err := h.Catalog.Archive(c.UserContext(), s.member.TenantID, id)
	if err != nil {
		return err // a product archived already: flash, back
	}
	h.r.Flash(c, web.FlashSuccess, "products.archived", p.Slug)
	return c.Redirect(Prefix+"/products/"+id.String(), fiber.StatusSeeOther)
}

type importData struct {
	Form     web.Form
	Report   *catalog.ImportReport
	MaxRows  int
	MaxBytes string
}

func (h *handlers) importPage(c *fiber.Ctx, s *session) error {
	return h.r.Render(c, fiber.StatusOK, "products-import", importData{Form: web.FormFrom(nil, nil), MaxRows: catalog.MaxImportRows, MaxBytes: "1 MiB"})
}

// importProducts runs a CSV import and shows its report: how many rows were created, updated
// or unchanged, and each rejected row with its line and reason.
func (h *handlers) importProducts(c *fiber.Ctx, s *session) error {
	d := importData{Form: web.FormFrom(nil, nil), MaxRows: catalog.MaxImportRows, MaxBytes: "1 MiB"}
	fh, err := c.FormFile("file")
	if err != nil {
		d.Form.Errors["file"] = "products.error.file_missing"
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "products-import", d)
	}
	if fh.Size > catalog.MaxImportBytes {
		d.Form.Errors["file"] = "products.error.file_too_large"
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "products-import", d)
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, catalog.MaxImportBytes+1))
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	rep, err := h.Catalog.ImportCSV(c.UserContext(), s.member.TenantID, data)
	if web.Fixable(err) {
		fe := fault.As(err)
		d.Form.Errors["file"] = h.message(c, err)
		for _, f := range fe.Fields {
			d.Form.Errors["file"] += " " + f.Message
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "products-import", d)
	}
	if err != nil {
		return err
	}
	d.Report = &rep
	return h.r.Render(c, fiber.StatusOK, "products-import", d)
}

// exportProducts downloads the products in scope as the import's CSV.
func (h *handlers) exportProducts(c *fiber.Ctx, s *session) error {
	var b bytes.Buffer
	if err := h.Catalog.ExportCSV(c.UserContext(), s.member.TenantID, &b); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="products.csv"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(b.Bytes())
}
