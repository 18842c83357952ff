package admin

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/identity"
	"mercato/platform/web"
)

// loginData is what the sign-in pages show: the form, where to go afterwards, and on the
// second-factor pages the signed challenge from the password step (and the secret to add to
// an authenticator while enrolling).
type loginData struct {
	Form      web.Form
	Next      string
	Challenge string
	Secret    string // base32, as identity gives it
	Grouped   string // the secret in groups of four, for typing
	URI       string // otpauth:// URI
}

// lockedData is the 429 page.
type lockedData struct {
	Minutes int64
	Until   time.Time
}

func (a *portal) loginPage(c *fiber.Ctx) error {
	next := nextPath(c.Query("next"))
	if p := identity.PrincipalFrom(c.UserContext()); p.Kind == identity.KindStaff && p.PlatformRole != "" {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	return a.r.Render(c, fiber.StatusOK, "login", loginData{Form: web.FormFrom(nil, nil), Next: next})
}

// backToLogin answers a GET of a second-factor page: without the password step before it
// there is no challenge, so the sign-in starts again.
func (a *portal) backToLogin(c *fiber.Ctx) error {
	return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
}

// login is the password step; the code field is optional (an operator with an authenticator
// may type it at once).
func (a *portal) login(c *fiber.Ctx) error {
	v := web.FormValues(c)
	next := nextPath(v["next"])
	res, err := a.Identity.LoginStaff(c.UserContext(), identity.StaffLogin{
		Email: v["email"], Password: v["password"], TOTPCode: strings.TrimSpace(v["code"]),
		IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent),
	})
	if err == nil {
		return a.signedIn(c, res, next)
	}
	form := web.FormFrom(nil, map[string]string{"email": v["email"]})
	switch {
	case errors.Is(err, identity.ErrLoginLocked):
		return a.locked(c, err)
	case errors.Is(err, identity.ErrInvalidCredentials):
		form.Errors[""] = "auth.invalid_credentials"
	case errors.Is(err, identity.ErrTOTPInvalid):
		form.Errors["code"] = "admin.login.code_invalid"
	default:
		return a.fail(c, err)
	}
	return a.r.Render(c, fiber.StatusUnprocessableEntity, "login", loginData{Form: form, Next: next})
}

// loginCode is the second step for an operator with an authenticator.
func (a *portal) loginCode(c *fiber.Ctx) error { return a.secondStep(c, "login_code") }

// loginEnroll is the second step for an operator setting up an authenticator: the first good
// code confirms it.
func (a *portal) loginEnroll(c *fiber.Ctx) error { return a.secondStep(c, "login_enroll") }

func (a *portal) secondStep(c *fiber.Ctx, page string) error {
	v := web.FormValues(c)
	d := loginData{Next: nextPath(v["next"]), Challenge: v["challenge"]}
	if page == "login_enroll" {
		// Only shown again, never trusted: the pending secret is the one identity stored.
		d.Secret, d.URI = v["secret"], v["uri"]
		d.Grouped = groupSecret(d.Secret)
	}
	res, err := a.Identity.CompleteStaffLogin(c.UserContext(), v["challenge"], strings.TrimSpace(v["code"]), c.IP(), c.Get(fiber.HeaderUserAgent))
	if err == nil {
		return a.signedIn(c, res, d.Next)
	}
	switch {
	case errors.Is(err, identity.ErrLoginLocked):
		return a.locked(c, err)
	case errors.Is(err, identity.ErrTOTPInvalid):
		d.Form = web.FormFrom(nil, map[string]string{"uri": d.URI})
		d.Form.Errors["code"] = "admin.login.code_invalid"
		return a.r.Render(c, fiber.StatusUnprocessableEntity, page, d)
	case errors.Is(err, identity.ErrChallengeInvalid):
		form := web.FormFrom(nil, nil)
		form.Errors[""] = "admin.login.expired"
		return a.r.Render(c, fiber.StatusUnprocessableEntity, "login", loginData{Form: form, Next: d.Next})
	}
	return a.fail(c, err)
}

// signedIn finishes a step that went well: the session cookie and the page asked for, or the
// next step's form.
func (a *portal) signedIn(c *fiber.Ctx, res identity.StaffLoginResult, next string) error {
	d := loginData{Form: web.FormFrom(nil, nil), Next: next, Challenge: res.Challenge}
	switch res.Step {
	case identity.StepDone:
		a.Identity.SetSessionCookie(c, identity.StaffCookie, res.Token, res.Session)
		return c.Redirect(next, fiber.StatusSeeOther)
	case identity.StepTOTP:
		return a.r.Render(c, fiber.StatusOK, "login_code", d)
	case identity.StepEnrollTOTP:
		if res.Enrollment == nil {
			break
		}
		d.Secret, d.URI, d.Grouped = res.Enrollment.Secret, res.Enrollment.URI, groupSecret(res.Enrollment.Secret)
		d.Form.Values["uri"] = d.URI // the read-only field shows it and posts it back
		return a.r.Render(c, fiber.StatusOK, "login_enroll", d)
	}
	return a.fail(c, errors.New("admin: unexpected sign-in step "+string(res.Step)))
}

// locked is the 429 page, with Retry-After in seconds.
func (a *portal) locked(c *fiber.Ctx, err error) error {
	until, ok := identity.LockedUntil(err)
	if !ok {
		until = a.Now().Add(time.Minute)
	}
	secs := max(int64((until.Sub(a.Now())+time.Second-1)/time.Second), 1)
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	return a.r.Render(c, fiber.StatusTooManyRequests, "login_locked", lockedData{Minutes: (secs + 59) / 60, Until: until.UTC()})
}

// groupSecret writes a base32 secret in groups of four, the way authenticator apps show it.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// logout ends this session.
func (a *portal) logout(c *fiber.Ctx) error {
	p := identity.PrincipalFrom(c.UserContext())
	if p.Kind == identity.KindStaff {
		if err := a.Identity.LogoutStaff(c.UserContext(), p.SessionID); err != nil {
			return a.fail(c, err)
		}
		a.r.Flash(c, web.FlashSuccess, "admin.login.signed_out")
	}
	a.Identity.ClearSessionCookie(c, identity.StaffCookie)
	return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
}

// logoutEverywhere ends every session of the operator, on every device.
func (a *portal) logoutEverywhere(c *fiber.Ctx) error {
	p := identity.PrincipalFrom(c.UserContext())
	if p.Kind == identity.KindStaff {
		n, err := a.Identity.LogoutStaffEverywhere(c.UserContext(), p.UserID)
		if err != nil {
			return a.fail(c, err)
		}
		a.r.Flash(c, web.FlashSuccess, "admin.login.signed_out_everywhere", strconv.FormatInt(n, 10))
	}
	a.Identity.ClearSessionCookie(c, identity.StaffCookie)
	return c.Redirect(Prefix+"/login", fiber.StatusSeeOther)
}
