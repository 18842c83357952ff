package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/tenants"
)

// tenantView is a tenant as the pages show it.
type tenantView struct {
	tenants.Tenant
	PlanName    string
	StatusKey   string // catalogue key of the status
	StatusKind  string // badge kind
	LocaleName  string // catalogue key
	URL         string // the detail page
	Storefront  string
	IsSuspended bool
}

func (a *portal) view(t tenants.Tenant, plans map[uuid.UUID]tenants.Plan) tenantView {
	v := tenantView{Tenant: t, PlanName: plans[t.PlanID].Name, StatusKey: "status." + t.Status, StatusKind: "success",
		LocaleName: "admin.locale." + t.DefaultLocale, URL: Prefix + "/tenants/" + t.ID.String(),
		Storefront: a.StorefrontURL(t.Slug), IsSuspended: t.Status == tenants.StatusSuspended}
	if v.IsSuspended {
		v.StatusKind = "danger"
	}
	if v.PlanName == "" {
		v.PlanName = "—"
	}
	return v
}

type tenantsData struct {
	Table    web.TableState
	Filter   web.Form
	Statuses []web.Option
	Rows     []tenantView
	Next     string
	Filtered bool
	CanWrite bool
}

// statusOptions is the status filter: everything, or one status.
func statusOptions() []web.Option {
	return []web.Option{{Value: "", Label: "admin.tenants.all_statuses"},
		{Value: tenants.StatusActive, Label: "status.active"}, {Value: tenants.StatusSuspended, Label: "status.suspended"}}
}

func (a *portal) tenantList(c *fiber.Ctx, p identity.Principal) error {
	table := web.TableFrom(c, "-created", "name", "slug")
	status := c.Query("status")
	if status != tenants.StatusActive && status != tenants.StatusSuspended {
		status = ""
	}
	plans, _, err := a.planNames(c)
	if err != nil {
		return a.fail(c, err)
	}
	page, err := a.Directory.Browse(c.UserContext(), tenants.BrowseFilter{Status: status, Query: table.Q,
		Sort: table.Sort, Desc: table.Desc, PageParams: httpx.PageParams{Limit: 20, Cursor: table.Cursor}})
	if err != nil {
		return a.fail(c, err)
	}
	d := tenantsData{Table: table, Statuses: statusOptions(), Next: page.NextCursor,
		Filter:   web.FormFrom(nil, map[string]string{"status": status, "q": table.Q}),
		Filtered: status != "" || table.Q != "", CanWrite: a.can(p, Prefix+"/tenants", authz.ActionWrite)}
	for _, t := range page.Items {
		d.Rows = append(d.Rows, a.view(t, plans))
	}
	return a.r.Render(c, fiber.StatusOK, "tenants", d)
}

type tenantFormData struct {
	Form    web.Form
	Plans   []web.Option
	Locales []web.Option
}

func (a *portal) tenantForm(c *fiber.Ctx, status int, form web.Form) error {
	_, plans, err := a.planNames(c)
	if err != nil {
		return a.fail(c, err)
	}
	d := tenantFormData{Form: form, Locales: []web.Option{
		{Value: web.LocaleEN, Label: "admin.locale.en"}, {Value: web.LocaleZH, Label: "admin.locale.zh-CN"}}}
	d.Plans = append(d.Plans, web.Option{Value: "", Label: "admin.tenants.choose_plan"})
	for _, p := range plans {
		d.Plans = append(d.Plans, web.Option{Value: p.Code, Label: p.Name})
	}
	return a.r.Render(c, status, "tenant_new", d)
}

func (a *portal) tenantNew(c *fiber.Ctx, _ identity.Principal) error {
	return a.tenantForm(c, fiber.StatusOK, web.FormFrom(nil, map[string]string{"locale": web.LocaleEN, "currency": "USD"}))
}

func (a *portal) tenantCreate(c *fiber.Ctx, _ identity.Principal) error {
	v := web.FormValues(c)
	var domains []string
	for line := range strings.Lines(v["domains"]) {
		if h := strings.TrimSpace(line); h != "" {
			domains = append(domains, h)
		}
	}
	t, err := a.Directory.Create(c.UserContext(), tenants.NewTenant{
		Slug: strings.TrimSpace(v["slug"]), Name: v["name"], Plan: v["plan"], Locale: v["locale"],
		Currency: strings.ToUpper(strings.TrimSpace(v["currency"])), Domains: slices.Clone(domains),
	})
	if err != nil {
		if !web.Fixable(err) {
			return a.fail(c, err)
		}
		return a.tenantForm(c, fiber.StatusUnprocessableEntity, a.createErrors(c, err, v, domains))
	}
	a.r.Flash(c, web.FlashSuccess, "admin.tenants.create_done", t.Name)
	return c.Redirect(Prefix+"/tenants/"+t.ID.String(), fiber.StatusSeeOther)
}

// createErrors places each problem of a refused tenant beside its field, in the portal's
// words (the directory's messages are English API text). domains are the non-empty lines of
// the domains field, which the directory's indexes refer to.
func (a *portal) createErrors(c *fiber.Ctx, err error, values map[string]string, domains []string) web.Form {
	form := web.FormFrom(nil, values)
	de := fault.As(err)
	for _, fe := range de.Fields {
		name := web.FieldName(fe.Location)
		switch {
		case strings.HasPrefix(name, "domains["):
			i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "domains["), "]"))
			if _, seen := form.Errors["domains"]; !seen && i >= 0 && i < len(domains) {
				form.Errors["domains"] = a.r.T(c, "admin.tenants.err.domain", domains[i])
			}
		case slices.Contains([]string{"slug", "name", "locale", "currency", "plan"}, name):
			form.Errors[name] = "admin.tenants.err." + name
		default:
			form.Errors[""] = "form.failed"
		}
	}
	switch {
	case errors.Is(err, tenants.ErrSlugTaken):
		form.Errors["slug"] = "admin.tenants.err.slug_taken"
	case errors.Is(err, tenants.ErrHostTaken):
		form.Errors["domains"] = "admin.tenants.err.host_taken"
	case errors.Is(err, tenants.ErrNoSuchPlan):
		form.Errors["plan"] = "admin.tenants.err.plan"
	case len(de.Fields) == 0:
		form.Errors[""] = de.Message
	}
	// The directory checks the plan only once the other fields are right; say it at once.
	if values["plan"] == "" {
		form.Errors["plan"] = "admin.tenants.err.plan"
	}
	return form
}

type tenantData struct {
	T         tenantView
	Domains   []tenants.CustomDomain
	Merchants []merchantCount
	Plan      *planRow
	CanWrite  bool
	CanDelete bool
	AuditURL  string
	// Platform-funded coupons (coupons.go), when the portal has promotions.
	ShowCoupons bool
	Coupons     []platformCoupon
	CouponForm  web.Form
}

type merchantCount struct {
	StatusKey, Kind string
	N               int64
}

func (a *portal) tenantShow(c *fiber.Ctx, p identity.Principal) error {
	return a.tenantPage(c, p, fiber.StatusOK, web.FormFrom(nil, map[string]string{"days": "30", "percent": "10"}))
}

// tenantPage renders a tenant's page with couponForm as the platform coupon form (a refused
// one comes back with its errors and status 422).
func (a *portal) tenantPage(c *fiber.Ctx, p identity.Principal, status int, couponForm web.Form) error {
	id, err := tenantID(c)
	if err != nil {
		return a.fail(c, err)
	}
	det, err := a.Directory.Details(c.UserContext(), id)
	if err != nil {
		return a.fail(c, err)
	}
	plans, _, err := a.planNames(c)
	if err != nil {
		return a.fail(c, err)
	}
	d := tenantData{T: a.view(det.Tenant, plans), Domains: det.Domains,
		CanWrite:  a.can(p, Prefix+"/tenants", authz.ActionWrite),
		CanDelete: a.can(p, Prefix+"/tenants", authz.ActionDelete),
		AuditURL:  Prefix + "/audit?chain=" + id.String()}
	if pl, ok := plans[det.PlanID]; ok {
		d.Plan = &planRow{Plan: pl}
	}
	if a.Promotions != nil {
		d.ShowCoupons, d.CouponForm = true, couponForm
		if d.Coupons, err = a.platformCoupons(c, id); err != nil {
			return a.fail(c, err)
		}
	}
	for _, s := range []struct{ status, kind string }{
		{"active", "success"}, {"pending", "warning"}, {"suspended", "danger"}, {"rejected", "neutral"},
	} {
		if n := det.Merchants[s.status]; n > 0 {
			d.Merchants = append(d.Merchants, merchantCount{StatusKey: "admin.merchant_status." + s.status, Kind: s.kind, N: n})
		}
	}
	return a.r.Render(c, status, "tenant", d)
}

func (a *portal) tenantSuspend(c *fiber.Ctx, _ identity.Principal) error {
	return a.setStatus(c, a.Directory.Suspend, "admin.tenants.suspended", tenants.ErrAlreadySuspended, "admin.tenants.already_suspended")
}

func (a *portal) tenantReactivate(c *fiber.Ctx, _ identity.Principal) error {
	return a.setStatus(c, a.Directory.Reactivate, "admin.tenants.reactivated", tenants.ErrNotSuspended, "admin.tenants.not_suspended")
}

// setStatus runs a suspension or reactivation and says on the tenant's page how it went; a
// tenant already in the asked-for status is reported, not treated as a failure of the page.
func (a *portal) setStatus(c *fiber.Ctx, change func(context.Context, uuid.UUID) (tenants.Tenant, error),
	done string, already error, alreadyMsg string) error {
	id, err := tenantID(c)
	if err != nil {
		return a.fail(c, err)
	}
	t, err := change(c.UserContext(), id)
	switch {
	case errors.Is(err, already):
		a.r.Flash(c, web.FlashError, alreadyMsg)
	case err != nil:
		return a.fail(c, err)
	default:
		a.r.Flash(c, web.FlashSuccess, done, t.Name)
	}
	return c.Redirect(Prefix+"/tenants/"+id.String(), fiber.StatusSeeOther)
}

// tenantExport sends every row of the tenant as the directory's .tar.gz. It is built in
// memory first, so a failure half-way is an error page rather than a truncated download.
func (a *portal) tenantExport(c *fiber.Ctx, _ identity.Principal) error {
	id, err := tenantID(c)
	if err != nil {
		return a.fail(c, err)
	}
	var buf bytes.Buffer
	man, err := a.Directory.Export(c.UserContext(), id, &buf)
	if err != nil {
		return a.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, "application/gzip")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.tar.gz"`,
		man.Slug, man.ExportedAt.UTC().Format("20060102T150405Z")))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

type deleteData struct {
	T     tenantView
	Form  web.Form
	Rows  []tableCount // what the delete will remove, table by table
	Total int64
}

type tableCount struct {
	Table string
	N     int64
}

func (a *portal) deletePage(c *fiber.Ctx, status int, form web.Form) error {
	id, err := tenantID(c)
	if err != nil {
		return a.fail(c, err)
	}
	t, err := a.Directory.Get(c.UserContext(), id)
	if err != nil {
		return a.fail(c, err)
	}
	rows, err := a.Directory.Footprint(c.UserContext(), id)
	if err != nil {
		return a.fail(c, err)
	}
	plans, _, err := a.planNames(c)
	if err != nil {
		return a.fail(c, err)
	}
	d := deleteData{T: a.view(t, plans), Form: form}
	for table, n := range rows {
		d.Rows = append(d.Rows, tableCount{Table: table, N: n})
		d.Total += n
	}
	slices.SortFunc(d.Rows, func(x, y tableCount) int { return strings.Compare(x.Table, y.Table) })
	return a.r.Render(c, status, "tenant_delete", d)
}

func (a *portal) tenantDeletePage(c *fiber.Ctx, _ identity.Principal) error {
	return a.deletePage(c, fiber.StatusOK, web.FormFrom(nil, nil))
}

// tenantDelete removes the tenant for good once the operator typed its slug, and reports the
// directory's proof: rows removed per table and rows left.
func (a *portal) tenantDelete(c *fiber.Ctx, _ identity.Principal) error {
	id, err := tenantID(c)
	if err != nil {
		return a.fail(c, err)
	}
	v := web.FormValues(c)
	confirm := strings.TrimSpace(v["confirm"])
	rep, err := a.Directory.Delete(c.UserContext(), id, confirm)
	if errors.Is(err, tenants.ErrDeleteUnconfirmed) {
		form := web.FormFrom(nil, v)
		form.Errors["confirm"] = "admin.delete.mismatch"
		return a.deletePage(c, fiber.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return a.fail(c, err)
	}
	var total int64
	tables := make([]string, 0, len(rep.Deleted))
	for table := range rep.Deleted {
		tables = append(tables, table)
	}
	slices.Sort(tables)
	var parts []string
	for _, table := range tables {
		total += rep.Deleted[table]
		parts = append(parts, table+" "+strconv.FormatInt(rep.Deleted[table], 10))
	}
	a.r.Flash(c, web.FlashSuccess, "admin.delete.done", confirm, strconv.FormatInt(total, 10),
		listWithin(parts, 190), strconv.FormatInt(rep.Remaining, 10))
	return c.Redirect(Prefix+"/tenants", fiber.StatusSeeOther)
}

// listWithin joins parts with commas, ending with "…" where the next part would pass n bytes
// (a flash argument is capped).
func listWithin(parts []string, n int) string {
	var b strings.Builder
	for i, p := range parts {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		if b.Len()+len(sep)+len(p) > n {
			b.WriteString(", …")
			break
		}
		b.WriteString(sep + p)
	}
	return b.String()
}
