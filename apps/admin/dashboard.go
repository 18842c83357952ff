package admin

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/identity"
	"mercato/platform/money"
	"mercato/platform/web"
	"mercato/tenants"
)

type dashboardData struct {
	Total, Active, Suspended int64
	Plans                    int
	Created                  web.Chart
	Merchants                web.Chart
	ByPlan                   []planRow
	CanCreate                bool
	Queues                   *queuesCard // nil: the portal has no queues
}

// planRow is a plan as the plans table and the dashboard show it.
type planRow struct {
	tenants.Plan
	Price    money.Amount
	Tenants  int64
	Features []string // display names
}

func (a *portal) dashboard(c *fiber.Ctx, p identity.Principal) error {
	ctx := c.UserContext()
	st, err := a.Directory.Stats(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	plans, err := a.planRows(c, st)
	if err != nil {
		return a.fail(c, err)
	}
	locale := a.r.Locale(c)
	d := dashboardData{
		Total: st.Total, Active: st.ByStatus[tenants.StatusActive], Suspended: st.ByStatus[tenants.StatusSuspended],
		Plans: len(plans), ByPlan: plans, CanCreate: a.can(p, Prefix+"/tenants", authz.ActionWrite),
		Queues: a.queuesCard(ctx),
		Created: web.Chart{Title: "admin.dash.created_chart", XLabel: "admin.dash.month",
			Series: []web.Series{{Name: "nav.tenants"}}},
		Merchants: web.Chart{Title: "admin.dash.merchants_chart", XLabel: "admin.tenant",
			Series: []web.Series{{Name: "nav.merchants"}}},
	}
	for i, m := range st.CreatedPerMonth {
		d.Created.Labels = append(d.Created.Labels, monthLabel(m.Month.Year(), int(m.Month.Month()), i == 0 || m.Month.Month() == 1, locale))
		d.Created.Series[0].Values = append(d.Created.Series[0].Values, m.Tenants)
	}
	for _, t := range st.TopByMerchants {
		d.Merchants.Labels = append(d.Merchants.Labels, shorten(t.Slug, 14))
		d.Merchants.Series[0].Values = append(d.Merchants.Series[0].Values, t.Merchants)
	}
	return a.r.Render(c, fiber.StatusOK, "dashboard", d)
}

// monthLabel names a calendar month for a chart axis. The year is written on the first
// month and on each January only ("Dec 2025", "Jan 2026", "Feb", ...; "2026年1月", "2月"), so
// twelve labels fit under the chart without overlapping.
func monthLabel(year, month int, withYear bool, locale string) string {
	if locale == web.LocaleZH {
		if withYear {
			return fmt.Sprintf("%d年%d月", year, month)
		}
		return fmt.Sprintf("%d月", month)
	}
	name := [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}[month-1]
	if withYear {
		return fmt.Sprintf("%s %d", name, year)
	}
	return name
}

// shorten cuts s to n runes with an ellipsis, for chart labels.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

type plansData struct {
	Plans []planRow
}

func (a *portal) plans(c *fiber.Ctx, _ identity.Principal) error {
	st, err := a.Directory.Stats(c.UserContext())
	if err != nil {
		return a.fail(c, err)
	}
	rows, err := a.planRows(c, st)
	if err != nil {
		return a.fail(c, err)
	}
	return a.r.Render(c, fiber.StatusOK, "plans", plansData{Plans: rows})
}

// planRows lists the plans, cheapest first, with their prices as money, how many tenants
// are on each, and their features named for the page's locale.
func (a *portal) planRows(c *fiber.Ctx, st tenants.Stats) ([]planRow, error) {
	ps, err := a.Tenants.Plans(c.UserContext())
	if err != nil {
		return nil, err
	}
	out := make([]planRow, 0, len(ps))
	for _, p := range ps {
		row := planRow{Plan: p, Tenants: st.ByPlan[p.ID]}
		if amt, err := money.New(p.PriceMinor, money.Currency(p.Currency)); err == nil {
			row.Price = amt
		}
		for _, f := range p.Limits.Features {
			row.Features = append(row.Features, a.featureName(c, f))
		}
		out = append(out, row)
	}
	return out, nil
}

// featureName is a plan feature's name in the page's locale, or its code when the catalogue
// does not know it (a plan may list features added after this portal).
func (a *portal) featureName(c *fiber.Ctx, code string) string {
	key := "admin.feature." + code
	if name := a.r.T(c, key); name != key {
		return name
	}
	return code
}

// planNames maps plan ids to names, for tables of tenants.
func (a *portal) planNames(c *fiber.Ctx) (map[uuid.UUID]tenants.Plan, []tenants.Plan, error) {
	ps, err := a.Tenants.Plans(c.UserContext())
	if err != nil {
		return nil, nil, err
	}
	m := make(map[uuid.UUID]tenants.Plan, len(ps))
	for _, p := range ps {
		m[p.ID] = p
	}
	return m, ps, nil
}
