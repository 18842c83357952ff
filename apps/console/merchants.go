package console

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/tenants/merchants"
)

type merchantsData struct {
	Table    web.TableState
	Status   string
	Statuses []web.Option
	Items    []merchants.Merchant
	Next     string
	Pending  int
	CanWrite bool // approve, suspend, invite
	Invite   web.Form
}

// merchantsPage is the merchant table: status filter, search, sort and paging; for tenant
// staff who may, the decisions and the invitation form.
func (h *handlers) merchantsPage(c *fiber.Ctx, s *session) error {
	d, err := h.merchantsData(c, s, web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "merchants", d)
}

func (h *handlers) merchantsData(c *fiber.Ctx, s *session, invite web.Form) (merchantsData, error) {
	ctx := c.UserContext()
	table := web.TableFrom(c, "-created", "name", "status")
	d := merchantsData{Table: table, Status: c.Query("status"), Invite: invite,
		CanWrite: h.may(s, Prefix+"/merchants", "/v1/merchants", authz.ActionWrite, true)}
	d.Statuses = []web.Option{{Value: "", Label: "merchants.all_statuses"}}
	for _, st := range merchants.Statuses() {
		d.Statuses = append(d.Statuses, web.Option{Value: st, Label: "status." + st})
	}
	status := d.Status
	if !validStatus(status) {
		status, d.Status = "", ""
	}
	page, err := h.Merchants.Browse(ctx, s.member.TenantID, merchants.BrowseFilter{Status: status, Query: table.Q,
		Sort: table.Sort, Desc: table.Desc, PageParams: httpx.PageParams{Cursor: table.Cursor}})
	if errors.Is(err, httpx.ErrBadCursor) { // a stale or edited link: start again
		page, err = h.Merchants.Browse(ctx, s.member.TenantID, merchants.BrowseFilter{Status: status, Query: table.Q,
			Sort: table.Sort, Desc: table.Desc})
	}
	if err != nil {
		return d, err
	}
	d.Items, d.Next = page.Items, page.NextCursor
	counts, err := h.Merchants.CountByStatus(ctx, s.member.TenantID)
	if err != nil {
		return d, err
	}
	d.Pending = counts[merchants.StatusPending]
	return d, nil
}

func validStatus(st string) bool {
	for _, s := range merchants.Statuses() {
		if s == st {
			return true
		}
	}
	return false
}

type merchantData struct {
	Merchant merchants.Merchant
	CanWrite bool
	Form     web.Form
}

// merchantPage shows one merchant and, for pending ones, the decision with a note.
func (h *handlers) merchantPage(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	m, err := h.Merchants.Get(c.UserContext(), s.member.TenantID, id)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "merchant", merchantData{Merchant: m, Form: web.FormFrom(nil, nil),
		CanWrite: h.may(s, Prefix+"/merchants", "/v1/merchants", authz.ActionWrite, true)})
}

// decideMerchant approves, rejects, suspends or reactivates, with the note the form carries.
func (h *handlers) decideMerchant(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	action := c.Params("action")
	switch action {
	case "approve", "reject", "suspend", "reactivate":
	default:
		return errNotFound
	}
	m, err := h.Merchants.Decide(c.UserContext(), s.member.TenantID, id, action, c.FormValue("note"))
	if err != nil {
		return err // not found → 404; a refused transition or the plan limit → flash, back
	}
	h.r.Flash(c, web.FlashSuccess, "merchants.decided."+action, m.Name)
	return c.Redirect(h.back(c, Prefix+"/merchants"), fiber.StatusSeeOther)
}

// inviteMerchant sends an invitation and shows its link at once (the invitee may be right
// there), through the mailer too.
func (h *handlers) inviteMerchant(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	values := web.FormValues(c)
	token, inv, err := h.Merchants.Invite(ctx, s.member.TenantID, values["email"], values["merchant_name"])
	if web.Fixable(err) {
		d, derr := h.merchantsData(c, s, h.form(c, err, values))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "merchants", d)
	}
	if err != nil {
		return err
	}
	link := h.storefront(s.tenant) + "/merchant-invitations/" + token
	msg := identity.Message{TenantID: s.member.TenantID, To: inv.Email,
		Subject: fmt.Sprintf("%s invites you to sell on its marketplace", s.tenant.Name),
		Text: fmt.Sprintf("%s would like %s to sell on %s.\n\nOpen this link to set up your store (it works for 7 days):\n%s\n",
			s.tenant.Name, inv.MerchantName, s.tenant.Name, link)}
	if err := h.Mailer.Send(ctx, msg); err != nil {
		h.Log.WarnContext(ctx, "console: invitation mail not sent", "error", err.Error())
		h.r.Flash(c, web.FlashError, "merchants.invited_unsent", inv.Email, link)
	} else {
		h.r.Flash(c, web.FlashSuccess, "merchants.invited", inv.Email, link)
	}
	return c.Redirect(Prefix+"/merchants", fiber.StatusSeeOther)
}
