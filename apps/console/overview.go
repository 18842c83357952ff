package console

import (
	"github.com/gofiber/fiber/v2"

	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/web"
	"mercato/tenants"
	"mercato/tenants/merchants"
)

type overviewData struct {
	Tenant     tenants.Tenant
	Plan       string
	Role       string
	Storefront string
	// Tenant staff
	Counts       map[string]int
	Total        int
	Chart        web.Chart
	CanMerchants bool
	Recent       []entryView // nil when the role may not read the audit log
	CanAudit     bool
	// Merchant staff
	Merchant *merchants.Merchant
	CanStaff bool
	CanKeys  bool
}

func (h *handlers) overview(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	d := overviewData{Tenant: s.tenant, Role: s.member.Role, Storefront: h.storefront(s.tenant)}
	plans, err := h.Tenants.Plans(ctx)
	if err != nil {
		return err
	}
	for _, p := range plans {
		if p.ID == s.tenant.PlanID {
			d.Plan = p.Name
		}
	}
	if s.merchantScope() {
		m, err := h.Merchants.Get(ctx, s.member.TenantID, s.member.MerchantID)
		if err != nil {
			return err
		}
		d.Merchant = &m
		d.CanStaff = h.may(s, Prefix+"/staff", "/v1/staff", authz.ActionWrite, false)
		d.CanKeys = h.may(s, Prefix+"/api-keys", "/v1/api-keys", authz.ActionWrite, false)
		return h.r.Render(c, fiber.StatusOK, "overview", d)
	}

	if d.Counts, err = h.Merchants.CountByStatus(ctx, s.member.TenantID); err != nil {
		return err
	}
	series := web.Series{Name: "overview.merchants"}
	d.Chart = web.Chart{Title: "overview.chart_title", XLabel: "overview.status"}
	for _, st := range merchants.Statuses() {
		d.Total += d.Counts[st]
		d.Chart.Labels = append(d.Chart.Labels, h.r.T(c, "status."+st))
		series.Values = append(series.Values, int64(d.Counts[st]))
	}
	d.Chart.Series = []web.Series{series}
	d.CanMerchants = h.may(s, Prefix+"/merchants", "/v1/merchants", authz.ActionRead, true)
	d.CanAudit = h.may(s, Prefix+"/audit", "/v1/audit", authz.ActionRead, true)
	if d.CanAudit {
		page, err := h.auditPageOf(c, s, audit.Filter{PageParams: pageSize(5)})
		if err != nil {
			return err
		}
		d.Recent = page.Entries
	}
	return h.r.Render(c, fiber.StatusOK, "overview", d)
}

// storefront is where the tenant's shoppers go.
func (h *handlers) storefront(t tenants.Tenant) string {
	if h.StorefrontURL != nil {
		return h.StorefrontURL(t)
	}
	scheme := "http://"
	if h.SecureCookies {
		scheme = "https://"
	}
	return scheme + t.Slug + "." + h.BaseHost
}
