package console

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/identity"
	"mercato/platform/web"
	"mercato/tenants/staff"
)

type loginData struct {
	Form      web.Form
	Challenge string // the TOTP step: proof the password was right
}

func (h *handlers) loginPage(c *fiber.Ctx) error {
	if identity.PrincipalFrom(c.UserContext()).Kind == identity.KindStaff {
		return c.Redirect(web.SafePath(c.Query("next"), Prefix), fiber.StatusSeeOther)
	}
	values := map[string]string{"next": c.Query("next"), "email": c.Query("email")}
	return h.r.Render(c, fiber.StatusOK, "login", loginData{Form: web.FormFrom(nil, values)})
}

// login checks the password; a person with a second factor is asked for its code next.
func (h *handlers) login(c *fiber.Ctx) error {
	values := web.FormValues(c)
	res, err := h.Identity.LoginStaff(c.UserContext(), identity.StaffLogin{Email: values["email"], Password: values["password"],
		IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)})
	delete(values, "password")
	if err != nil {
		return h.loginFailed(c, "login", err, loginData{Form: web.FormFrom(nil, values)})
	}
	return h.signedInAs(c, res, values["next"])
}

// loginTOTP finishes a sign-in with the authenticator's code.
func (h *handlers) loginTOTP(c *fiber.Ctx) error {
	values := web.FormValues(c)
	res, err := h.Identity.CompleteStaffLogin(c.UserContext(), values["challenge"], values["code"], c.IP(), c.Get(fiber.HeaderUserAgent))
	if errors.Is(err, identity.ErrChallengeInvalid) {
		h.r.Flash(c, web.FlashError, "console.login.expired")
		return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
	}
	delete(values, "code")
	if err != nil {
		return h.loginFailed(c, "totp", err, loginData{Form: web.FormFrom(nil, values), Challenge: values["challenge"]})
	}
	return h.signedInAs(c, res, values["next"])
}

// loginFailed shows the sign-in step again with what went wrong; a locked account says when
// to come back (Retry-After).
func (h *handlers) loginFailed(c *fiber.Ctx, pageName string, err error, d loginData) error {
	switch {
	case errors.Is(err, identity.ErrLoginLocked):
		if until, ok := identity.LockedUntil(err); ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(time.Until(until).Seconds()+0.5))))
		}
		d.Form.Errors[""] = "console.login.locked"
		return h.r.Render(c, fiber.StatusTooManyRequests, pageName, d)
	case errors.Is(err, identity.ErrInvalidCredentials):
		d.Form.Errors[""] = "auth.invalid_credentials"
		return h.r.Render(c, fiber.StatusUnprocessableEntity, pageName, d)
	case errors.Is(err, identity.ErrTOTPInvalid):
		d.Form.Errors["code"] = "console.login.totp_invalid"
		return h.r.Render(c, fiber.StatusUnprocessableEntity, pageName, d)
	}
	return err
}

// signedInAs completes a sign-in step: operators belong in /admin, whose sign-in enrols and
// checks their mandatory second factor; everyone else gets the session cookie, or the code step.
func (h *handlers) signedInAs(c *fiber.Ctx, res identity.StaffLoginResult, next string) error {
	if res.User.PlatformRole != "" {
		if res.Step == identity.StepDone {
			if err := h.Identity.LogoutStaff(c.UserContext(), res.Session.ID); err != nil {
				return err
			}
		}
		return c.Redirect("/admin", fiber.StatusSeeOther)
	}
	switch res.Step {
	case identity.StepDone:
		h.Identity.SetSessionCookie(c, identity.StaffCookie, res.Token, res.Session)
		h.clearCurrent(c)
		return c.Redirect(web.SafePath(next, Prefix), fiber.StatusSeeOther)
	case identity.StepTOTP:
		return h.r.Render(c, fiber.StatusOK, "totp", loginData{Form: web.FormFrom(nil, map[string]string{"next": next}), Challenge: res.Challenge})
	}
	return errors.New("console: unexpected sign-in step " + string(res.Step))
}

func (h *handlers) logout(c *fiber.Ctx) error {
	p := identity.PrincipalFrom(c.UserContext())
	if p.Kind == identity.KindStaff {
		if err := h.Identity.LogoutStaff(c.UserContext(), p.SessionID); err != nil {
			return err
		}
	}
	h.Identity.ClearSessionCookie(c, identity.StaffCookie)
	h.clearCurrent(c)
	h.r.Flash(c, web.FlashSuccess, "console.signed_out")
	return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
}

// logoutEverywhere ends every session of the person, on every device, this one included.
func (h *handlers) logoutEverywhere(c *fiber.Ctx) error {
	p := identity.PrincipalFrom(c.UserContext())
	if p.Kind != identity.KindStaff {
		return h.toLogin(c)
	}
	n, err := h.Identity.LogoutStaffEverywhere(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	h.Identity.ClearSessionCookie(c, identity.StaffCookie)
	h.clearCurrent(c)
	h.r.Flash(c, web.FlashSuccess, "console.signed_out_everywhere", strconv.FormatInt(n, 10))
	return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
}

type setPasswordData struct {
	Form    web.Form
	Token   string
	Invitee staff.Invitee
	Invalid bool
}

// setPasswordPage is where the link mailed to a newly added person leads.
func (h *handlers) setPasswordPage(c *fiber.Ctx) error {
	token := c.Query("token")
	inv, err := h.Staff.CheckToken(c.UserContext(), token)
	if errors.Is(err, staff.ErrTokenInvalid) {
		return h.r.Render(c, fiber.StatusNotFound, "set-password", setPasswordData{Form: web.FormFrom(nil, nil), Invalid: true})
	}
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "set-password", setPasswordData{Form: web.FormFrom(nil, nil), Token: token, Invitee: inv})
}

var errConfirmMismatch = faultFields("body.confirm", "console.field.confirm_mismatch")

func (h *handlers) setPassword(c *fiber.Ctx) error {
	values := web.FormValues(c)
	token := values["token"]
	inv, err := h.Staff.CheckToken(c.UserContext(), token)
	if err == nil && values["password"] != values["confirm"] {
		err = errConfirmMismatch
	}
	if err == nil {
		inv, err = h.Staff.SetPassword(c.UserContext(), token, values["password"])
	}
	delete(values, "password")
	delete(values, "confirm")
	switch {
	case errors.Is(err, staff.ErrTokenInvalid):
		return h.r.Render(c, fiber.StatusNotFound, "set-password", setPasswordData{Form: web.FormFrom(nil, nil), Invalid: true})
	case web.Fixable(err):
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "set-password",
			setPasswordData{Form: h.form(c, err, values), Token: token, Invitee: inv})
	case err != nil:
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "console.password_set")
	return c.Redirect(Prefix+"/login?email="+urlEscape(inv.Email), fiber.StatusSeeOther)
}

// place is one membership as the switcher shows it.
type place struct {
	TenantID, MerchantID uuid.UUID
	Tenant, Merchant     string
	Role                 string
	Current              bool
}

type switchData struct {
	Places []place
	Next   string
}

// places names the person's memberships, for the switcher and the account page.
func (h *handlers) places(c *fiber.Ctx, s *session) ([]place, error) {
	current, _ := h.currentMembership(c, s)
	out := make([]place, 0, len(s.memberships))
	for _, m := range s.memberships {
		t, err := h.Tenants.Get(c.UserContext(), m.TenantID)
		if err != nil {
			return nil, err
		}
		p := place{TenantID: m.TenantID, MerchantID: m.MerchantID, Tenant: t.Name, Role: m.Role, Current: m == current && len(s.memberships) > 1}
		if m.MerchantID != uuid.Nil {
			mc, err := h.Merchants.Get(c.UserContext(), m.TenantID, m.MerchantID)
			if err != nil {
				return nil, err
			}
			p.Merchant = mc.Name
		}
		out = append(out, p)
	}
	return out, nil
}

// switchPage lists the tenants (and merchants) the person works in, to choose one.
func (h *handlers) switchPage(c *fiber.Ctx, s *session) error {
	if len(s.memberships) == 0 {
		return h.r.RenderError(c, web.ErrorPage{Status: fiber.StatusForbidden, Title: "console.no_access.title", Message: "console.no_access.text"})
	}
	ps, err := h.places(c, s)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "switch", switchData{Places: ps, Next: web.SafePath(c.Query("next"), Prefix)})
}

func (h *handlers) switchTenant(c *fiber.Ctx, s *session) error {
	t, err1 := uuid.Parse(c.FormValue("tenant"))
	m, err2 := uuid.Parse(c.FormValue("merchant"))
	if err1 != nil || err2 != nil {
		return errNotFound
	}
	for _, ms := range s.memberships {
		if ms.TenantID == t && ms.MerchantID == m {
			h.setCurrent(c, s.p.UserID, ms)
			return c.Redirect(h.back(c, Prefix), fiber.StatusSeeOther)
		}
	}
	return errNotFound
}

type accountData struct {
	User   identity.StaffUser
	Places []place
}

func (h *handlers) account(c *fiber.Ctx, s *session) error {
	ps, err := h.places(c, s)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "account", accountData{User: s.user, Places: ps})
}
