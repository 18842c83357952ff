package storefront

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
	"mercato/platform/identity"
	"mercato/platform/web"
)

// authPage is what the sign-up, sign-in and password pages show.
type authPage struct {
	Form  web.Form
	Next  string // where to go after signing in; "" for the default
	Token string // the password reset token of the link
}

// fieldMessages turns the English field messages of the services into catalogue keys, so each
// error shows in the page's language; fields not listed keep the service's message.
type fieldMessages map[string]string

func (m fieldMessages) form(err error, values map[string]string) web.Form {
	f := web.FormFrom(err, values)
	for name := range f.Errors {
		if key, ok := m[name]; ok && name != "" {
			f.Errors[name] = key
		}
	}
	return f
}

var shopperFields = fieldMessages{
	"email":    "form.email_invalid",
	"password": "storefront.password_rule",
	"name":     "storefront.name_rule",
}

// next is the safe place to return to after signing in, from the query or the form.
func next(c *fiber.Ctx) string {
	n := c.Query("next")
	if n == "" {
		n = c.FormValue("next")
	}
	return strings.Clone(web.SafePath(n, ""))
}

// checkShopperFields checks what the form can check before the service runs, so every
// problem shows at once: identity stops at the first.
func checkShopperFields(values map[string]string, needEmail, needName bool) map[string]string {
	bad := map[string]string{}
	if needEmail {
		if a, err := mail.ParseAddress(strings.TrimSpace(values["email"])); err != nil || a.Name != "" {
			bad["body.email"] = "form.email_invalid"
		}
	}
	if needName && utf8.RuneCountInString(values["name"]) > 200 {
		bad["body.name"] = "storefront.name_rule"
	}
	if identity.CheckPasswordPolicy(values["password"]) != nil {
		bad["body.password"] = "storefront.password_rule"
	}
	return bad
}

func (s *storefront) signUpForm(c *fiber.Ctx, v *visit) error {
	if v.shopper != nil {
		return c.Redirect("/account", fiber.StatusSeeOther)
	}
	return s.r.Render(c, fiber.StatusOK, "sign-up", authPage{Form: web.FormFrom(nil, nil), Next: next(c)})
}

func (s *storefront) signUp(c *fiber.Ctx, v *visit) error {
	values := web.FormValues(c)
	page := authPage{Next: next(c)}
	if bad := checkShopperFields(values, true, true); len(bad) > 0 {
		page.Form = shopperFields.form(fault.Fields(bad), values)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "sign-up", page)
	}
	auth, err := s.d.Identity.SignUpShopper(c.UserContext(), v.tenant.ID, identity.ShopperSignUp{
		Email: values["email"], Password: values["password"], Name: strings.TrimSpace(values["name"]),
		Locale: s.r.Locale(c), GuestToken: v.guestToken,
	})
	switch {
	case errors.Is(err, identity.ErrEmailTaken):
		page.Form = web.FormFrom(nil, values)
		page.Form.Errors["email"] = "storefront.email_taken"
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "sign-up", page)
	case web.Fixable(err):
		page.Form = shopperFields.form(err, values)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "sign-up", page)
	case err != nil:
		return err
	}
	if err := s.endShopperSession(c, v); err != nil {
		return err
	}
	s.d.Identity.SetSessionCookie(c, identity.ShopperCookie, auth.Token, auth.Session)
	s.r.Flash(c, web.FlashSuccess, "storefront.flash.signed_up", v.tenant.Name)
	return c.Redirect(web.SafePath(page.Next, "/account"), fiber.StatusSeeOther)
}

func (s *storefront) signInForm(c *fiber.Ctx, v *visit) error {
	if v.shopper != nil {
		return c.Redirect(web.SafePath(next(c), "/account"), fiber.StatusSeeOther)
	}
	return s.r.Render(c, fiber.StatusOK, "sign-in", authPage{Form: web.FormFrom(nil, nil), Next: next(c)})
}

func (s *storefront) signIn(c *fiber.Ctx, v *visit) error {
	values := web.FormValues(c)
	page := authPage{Next: next(c), Form: web.FormFrom(nil, map[string]string{"email": values["email"]})}
	auth, err := s.d.Identity.SignInShopper(c.UserContext(), v.tenant.ID, identity.ShopperLogin{
		Email: values["email"], Password: values["password"], GuestToken: v.guestToken, IP: c.IP(),
	})
	if errors.Is(err, identity.ErrLoginLocked) {
		wait := time.Minute
		if until, ok := identity.LockedUntil(err); ok {
			wait = max(time.Until(until), time.Second)
		}
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		minutes := int((wait + time.Minute - 1) / time.Minute)
		page.Form.Errors[""] = s.r.T(c, "storefront.sign_in.locked", strconv.Itoa(minutes))
		return s.r.Render(c, fiber.StatusTooManyRequests, "sign-in", page)
	}
	if errors.Is(err, identity.ErrInvalidCredentials) {
		page.Form.Errors[""] = "auth.invalid_credentials"
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "sign-in", page)
	}
	if err != nil {
		return err
	}
	if err := s.endShopperSession(c, v); err != nil {
		return err
	}
	s.d.Identity.SetSessionCookie(c, identity.ShopperCookie, auth.Token, auth.Session)
	name := auth.Shopper.Name
	if name == "" {
		name = auth.Shopper.Email
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.flash.signed_in", name)
	return c.Redirect(web.SafePath(page.Next, "/"), fiber.StatusSeeOther)
}

// endShopperSession ends the session of a shopper who has just signed in (or up) again,
// perhaps as someone else, so the old one does not linger; it runs after success, so a
// failed attempt leaves them signed in. A guest's session is not ended: sign-in took it over.
func (s *storefront) endShopperSession(c *fiber.Ctx, v *visit) error {
	if v.principal.Kind != identity.KindShopper {
		return nil
	}
	if err := s.d.Identity.LogoutShopper(c.UserContext(), v.tenant.ID, v.principal.SessionID); err != nil {
		return err
	}
	return nil
}

func (s *storefront) signOut(c *fiber.Ctx, v *visit) error {
	if v.principal.Kind == identity.KindShopper {
		if err := s.d.Identity.LogoutShopper(c.UserContext(), v.tenant.ID, v.principal.SessionID); err != nil {
			return err
		}
		s.d.Identity.ClearSessionCookie(c, identity.ShopperCookie)
		s.r.Flash(c, web.FlashSuccess, "storefront.flash.signed_out")
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

// accountPage is the signed-in shopper's profile.
type accountPage struct {
	Shopper   identity.Shopper
	HasOrders bool // the "your orders" card shows once there is something to follow
}

func (s *storefront) account(c *fiber.Ctx, v *visit) error {
	if v.shopper == nil {
		return c.Redirect("/account/sign-in?next="+url.QueryEscape("/account"), fiber.StatusSeeOther)
	}
	page := accountPage{Shopper: *v.shopper}
	if s.d.Orders != nil {
		has, err := s.hasOrders(c, v)
		if err != nil {
			return err
		}
		page.HasOrders = has
	}
	return s.r.Render(c, fiber.StatusOK, "account", page)
}

func (s *storefront) resetRequestForm(c *fiber.Ctx, v *visit) error {
	values := map[string]string{}
	if v.shopper != nil {
		values["email"] = v.shopper.Email
	}
	return s.r.Render(c, fiber.StatusOK, "password-reset", authPage{Form: web.FormFrom(nil, values)})
}

// resetRequest always answers the same way whether or not the address has an account, and
// whether or not the mail could be sent, so the form tells nobody who shops here.
func (s *storefront) resetRequest(c *fiber.Ctx, v *visit) error {
	values := web.FormValues(c)
	email := strings.TrimSpace(values["email"])
	if a, err := mail.ParseAddress(email); err != nil || a.Name != "" {
		form := web.FormFrom(fault.Fields(map[string]string{"body.email": "form.email_invalid"}), values)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "password-reset", authPage{Form: form})
	}
	scheme := "http"
	if s.d.HTTPS {
		scheme = "https"
	}
	// The host is one the tenant was just resolved from, so a forged Host header cannot send
	// the link anywhere but to this store.
	link := func(token string) string {
		return scheme + "://" + v.host + "/account/password-reset/" + url.PathEscape(token)
	}
	err := s.d.Identity.RequestPasswordReset(c.UserContext(), v.tenant.ID, email, link)
	if errors.Is(err, identity.ErrInvalidEmail) {
		form := web.FormFrom(fault.Fields(map[string]string{"body.email": "form.email_invalid"}), values)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "password-reset", authPage{Form: form})
	}
	if err != nil {
		s.d.Log.ErrorContext(c.UserContext(), "storefront: password reset mail", "error", err.Error(),
			"tenant_id", v.tenant.ID.String())
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.flash.reset_sent")
	return c.Redirect("/account/password-reset", fiber.StatusSeeOther)
}

func (s *storefront) resetForm(c *fiber.Ctx, _ *visit) error {
	return s.r.Render(c, fiber.StatusOK, "password-reset-token",
		authPage{Form: web.FormFrom(nil, nil), Token: strings.Clone(c.Params("token"))})
}

func (s *storefront) reset(c *fiber.Ctx, v *visit) error {
	token := strings.Clone(c.Params("token"))
	values := web.FormValues(c)
	page := authPage{Token: token}
	if identity.CheckPasswordPolicy(values["password"]) != nil {
		page.Form = web.FormFrom(fault.Fields(map[string]string{"body.password": "storefront.password_rule"}), nil)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "password-reset-token", page)
	}
	err := s.d.Identity.ResetPassword(c.UserContext(), v.tenant.ID, token, values["password"])
	switch {
	case errors.Is(err, identity.ErrResetTokenInvalid):
		page.Form = web.FormFrom(nil, nil)
		page.Form.Errors[""] = "storefront.reset.invalid"
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "password-reset-token", page)
	case web.Fixable(err):
		page.Form = shopperFields.form(err, nil)
		return s.r.Render(c, fiber.StatusUnprocessableEntity, "password-reset-token", page)
	case err != nil:
		return fmt.Errorf("reset password: %w", err)
	}
	// Every session of the shopper has ended, this browser's too if it was theirs.
	if v.principal.Kind == identity.KindShopper {
		s.d.Identity.ClearSessionCookie(c, identity.ShopperCookie)
	}
	s.r.Flash(c, web.FlashSuccess, "storefront.flash.reset_done")
	return c.Redirect("/account/sign-in", fiber.StatusSeeOther)
}
