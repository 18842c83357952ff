package console

import (
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/web"
	"mercato/tenants/merchants"
	"mercato/tenants/staff"
)

// memberView is a member as the staff table shows them, with what the viewer may do to them.
type memberView struct {
	staff.Member
	Roles     []web.Option // roles the member may be given instead; empty: no change offered
	CanRemove bool
	CanResend bool
	Self      bool
}

type staffData struct {
	Members        []memberView
	Roles          []web.Option // roles the viewer may grant
	Merchants      []web.Option // merchants a merchant role may be given in
	FixedMerchant  string       // merchant staff add people to their own merchant only
	MerchantScoped bool
	CanAdd         bool
	Form           web.Form
}

func (h *handlers) staffPage(c *fiber.Ctx, s *session) error {
	d, err := h.staffData(c, s, web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "staff", d)
}

func roleOptions(roles []string) []web.Option {
	out := make([]web.Option, len(roles))
	for i, r := range roles {
		out[i] = web.Option{Value: r, Label: "role." + r}
	}
	return out
}

func (h *handlers) staffData(c *fiber.Ctx, s *session, form web.Form) (staffData, error) {
	ctx := c.UserContext()
	g, err := h.Staff.Grantor(ctx, s.member.TenantID)
	if err != nil {
		return staffData{}, err
	}
	members, err := h.Staff.List(ctx, s.member.TenantID)
	if err != nil {
		return staffData{}, err
	}
	grantable := g.GrantableRoles()
	canWrite := h.allowed(s, "/v1/staff", authz.ActionWrite)
	canDelete := h.allowed(s, "/v1/staff", authz.ActionDelete)
	d := staffData{Roles: roleOptions(grantable), CanAdd: canWrite && len(grantable) > 0, Form: form, MerchantScoped: s.merchantScope()}
	if d.Form.Values["role"] == "" && len(grantable) > 0 {
		d.Form.Values["role"] = grantable[len(grantable)-1] // the least powerful is the safe default
	}
	for _, m := range members {
		merchant := uuid.Nil
		if m.MerchantID != nil {
			merchant = *m.MerchantID
		}
		v := memberView{Member: m, Self: m.UserID == s.p.UserID}
		if canWrite && g.May(m.Role, merchant) {
			var same []string
			for _, r := range grantable {
				if staff.IsMerchantRole(r) == (merchant != uuid.Nil) {
					same = append(same, r)
				}
			}
			if len(same) > 1 {
				v.Roles = roleOptions(same)
			}
			v.CanResend = !m.PasswordSet
		}
		v.CanRemove = canDelete && g.May(m.Role, merchant)
		d.Members = append(d.Members, v)
	}
	if s.merchantScope() {
		d.FixedMerchant = s.member.MerchantID.String()
		return d, nil
	}
	if slices.ContainsFunc(grantable, staff.IsMerchantRole) {
		page, err := h.Merchants.Browse(ctx, s.member.TenantID, merchants.BrowseFilter{Sort: "name", PageParams: httpx.PageParams{Limit: httpx.MaxPageSize}})
		if err != nil {
			return staffData{}, err
		}
		d.Merchants = []web.Option{{Value: "", Label: "staff.no_merchant"}}
		for _, m := range page.Items {
			if m.Status != merchants.StatusRejected {
				d.Merchants = append(d.Merchants, web.Option{Value: m.ID.String(), Label: m.Name})
			}
		}
	}
	return d, nil
}

// addStaff adds a person by e-mail; a new person is mailed a link to choose a password.
func (h *handlers) addStaff(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	merchant := uuid.Nil
	if s.merchantScope() {
		merchant = s.member.MerchantID
	} else if v := values["merchant_id"]; v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return errNotFound
		}
		merchant = id
	}
	m, err := h.Staff.Add(c.UserContext(), s.member.TenantID, values["email"], values["role"], merchant)
	switch {
	case errors.Is(err, staff.ErrInviteNotSent):
		h.r.Flash(c, web.FlashError, "staff.added_unsent", m.Email)
		return c.Redirect(Prefix+"/staff", fiber.StatusSeeOther)
	case web.Fixable(err):
		form := h.form(c, err, values)
		if errors.Is(err, staff.ErrPlanLimit) { // the code is shared with merchants and products
			form.Errors[""] = "staff.error.seats_full"
		}
		d, derr := h.staffData(c, s, form)
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "staff", d)
	case err != nil:
		return err
	}
	if m.PasswordSet {
		h.r.Flash(c, web.FlashSuccess, "staff.added", m.Email)
	} else {
		h.r.Flash(c, web.FlashSuccess, "staff.added_invited", m.Email)
	}
	return c.Redirect(Prefix+"/staff", fiber.StatusSeeOther)
}

func (h *handlers) changeRole(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	m, err := h.Staff.ChangeRole(c.UserContext(), s.member.TenantID, id, c.FormValue("role"))
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "staff.role_changed", m.Email, h.r.T(c, "role."+m.Role))
	return c.Redirect(Prefix+"/staff", fiber.StatusSeeOther)
}

func (h *handlers) resendInvitation(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	m, err := h.Staff.ResendInvitation(c.UserContext(), s.member.TenantID, id)
	if errors.Is(err, staff.ErrInviteNotSent) {
		h.r.Flash(c, web.FlashError, "staff.added_unsent", m.Email)
		return c.Redirect(Prefix+"/staff", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "staff.resent", m.Email)
	return c.Redirect(Prefix+"/staff", fiber.StatusSeeOther)
}

func (h *handlers) removeStaff(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	m, err := h.Staff.Get(c.UserContext(), s.member.TenantID, id)
	if err != nil {
		return err
	}
	if err := h.Staff.Remove(c.UserContext(), s.member.TenantID, id); err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "staff.removed", m.Email)
	return c.Redirect(Prefix+"/staff", fiber.StatusSeeOther)
}
