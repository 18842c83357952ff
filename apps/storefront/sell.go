package storefront

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/tenants/merchants"
)

// sellPage is the "sell with us" application form.
type sellPage struct {
	Form web.Form
}

var sellFields = fieldMessages{
	"store_name":    "storefront.sell.store_name_rule",
	"handle":        "storefront.sell.handle_rule",
	"contact_email": "form.email_invalid",
	"description":   "storefront.sell.description_rule",
}

func (s *storefront) sellForm(c *fiber.Ctx, v *visit) error {
	values := map[string]string{}
	if v.shopper != nil {
		values["contact_email"] = v.shopper.Email
	}
	return s.r.Render(c, fiber.StatusOK, "sell", sellPage{Form: web.FormFrom(nil, values)})
}

func (s *storefront) sell(c *fiber.Ctx, v *visit) error {
	values := web.FormValues(c)
	m, err := s.d.Merchants.Apply(c.UserContext(), v.tenant.ID, merchants.Application{
		StoreName: values["store_name"], Handle: values["handle"],
		ContactEmail: values["contact_email"], Description: values["description"],
	})
	switch {
	case errors.Is(err, merchants.ErrHandleTaken):
		form := web.FormFrom(nil, values)
		form.Errors["handle"] = "storefront.sell.handle_taken"
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "sell", sellPage{Form: form})
	case web.Fixable(err):
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "sell", sellPage{Form: sellFields.form(err, values)})
	case err != nil:
		return err
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.flash.applied", m.Name)
	// Only the status travels in the address, never text a link could make the page say.
	status := "pending"
	if m.Status == merchants.StatusActive {
		status = "approved"
	}
	return c.Redirect("/sell/thanks?status="+status, fiber.StatusSeeOther)
}

// thanksPage says where an application stands.
type thanksPage struct {
	Approved bool
}

func (s *storefront) sellThanks(c *fiber.Ctx, _ *visit) error {
	return s.r.Render(c, fiber.StatusOK, "sell-thanks", thanksPage{Approved: c.Query("status") == "approved"})
}

// invitationPage is the form that turns an invitation into a merchant and its owner's account.
type invitationPage struct {
	Invitation merchants.Invitation
	Form       web.Form
}

var invitationFields = fieldMessages{
	"handle":   "storefront.sell.handle_rule",
	"name":     "storefront.invite.name_rule",
	"password": "storefront.password_rule",
}

// errExistingAccount means the invited e-mail already has a staff account and the password
// typed is not its password.
var errExistingAccount = fault.Fields(map[string]string{"body.password": "storefront.invite.existing_password"})

func (s *storefront) invitationForm(c *fiber.Ctx, v *visit) error {
	inv, err := s.d.Merchants.OpenInvitation(c.UserContext(), v.tenant.ID, c.Params("token"))
	if errors.Is(err, merchants.ErrInvitationInvalid) {
		return s.invitationGone(c)
	}
	if err != nil {
		return err
	}
	form := web.FormFrom(nil, map[string]string{"handle": suggestHandle(inv.MerchantName)})
	return s.r.Render(c, fiber.StatusOK, "invitation", invitationPage{Invitation: inv, Form: form})
}

func (s *storefront) invitationGone(c *fiber.Ctx) error {
	return s.r.RenderError(c, web.ErrorPage{Status: fiber.StatusNotFound,
		Title: "storefront.invite.invalid.title", Message: "storefront.invite.invalid.text"})
}

func (s *storefront) acceptInvitation(c *fiber.Ctx, v *visit) error {
	ctx := c.UserContext()
	token := strings.Clone(c.Params("token"))
	inv, err := s.d.Merchants.OpenInvitation(ctx, v.tenant.ID, token)
	if errors.Is(err, merchants.ErrInvitationInvalid) {
		return s.invitationGone(c)
	}
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	name := strings.TrimSpace(values["name"])
	page := invitationPage{Invitation: inv}
	bad := map[string]string{}
	if name == "" || utf8.RuneCountInString(name) > 200 {
		bad["body.name"] = "storefront.invite.name_rule"
	}
	if identity.CheckPasswordPolicy(values["password"]) != nil {
		bad["body.password"] = "storefront.password_rule"
	}
	if len(bad) > 0 {
		page.Form = invitationFields.form(fault.Fields(bad), values)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "invitation", page)
	}
	owner := ownerAccount{ids: s.d.Identity, name: name, password: values["password"], ip: c.IP(), userAgent: string(c.Request().Header.UserAgent())}
	m, err := s.d.Merchants.AcceptInvitation(ctx, v.tenant.ID, token, values["handle"],
		func(tx bun.IDB, m merchants.Merchant, email string) error {
			return owner.create(ctx, tx, v.tenant.ID, m, email)
		})
	switch {
	case errors.Is(err, merchants.ErrInvitationInvalid):
		return s.invitationGone(c)
	case errors.Is(err, merchants.ErrHandleTaken):
		page.Form = web.FormFrom(nil, values)
		page.Form.Errors["handle"] = "storefront.sell.handle_taken"
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "invitation", page)
	case errors.Is(err, identity.ErrLoginLocked):
		page.Form = web.FormFrom(nil, values)
		page.Form.Errors[""] = "storefront.invite.locked"
		return s.r.Render(c, fiber.StatusTooManyRequests, "invitation", page)
	case web.Fixable(err):
		page.Form = invitationFields.form(err, values)
		if errors.Is(err, errExistingAccount) {
			page.Form.Errors["password"] = "storefront.invite.existing_password"
		}
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "invitation", page)
	case err != nil:
		return err
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.flash.invitation_accepted", m.Name, inv.Email)
	return c.Redirect("/merchant-invitations/accepted", fiber.StatusSeeOther)
}

func (s *storefront) invitationAccepted(c *fiber.Ctx, _ *visit) error {
	return s.r.Render(c, fiber.StatusOK, "invitation-accepted", nil)
}

// suggestHandle proposes a handle from a store name: "Oak & Ash Furniture" → "oak-ash-furniture".
// Names without Latin letters or digits give "", and the person types one.
func suggestHandle(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
		if b.Len() >= 64 {
			break
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 64 {
		h = strings.TrimRight(h[:64], "-")
	}
	if len(h) < 3 {
		return ""
	}
	return h
}
