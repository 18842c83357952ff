package console

import (
	"github.com/gofiber/fiber/v2"

	"mercato/platform/authz"
	"mercato/platform/web"
	"mercato/tenants"
)

type settingsData struct {
	Form    web.Form
	Locales []web.Option
	CanEdit bool
}

func settingsValues(st tenants.Settings) map[string]string {
	v := map[string]string{"default_locale": st.DefaultLocale, "primary": st.Primary, "accent": st.Accent}
	if st.AutoApproveMerchants {
		v["auto_approve"] = "on"
	}
	if st.RequireListingReview {
		v["listing_review"] = "on"
	}
	return v
}

func (h *handlers) settingsData(s *session, form web.Form) settingsData {
	return settingsData{Form: form, CanEdit: h.allowed(s, "/v1/tenants", authz.ActionWrite),
		Locales: []web.Option{{Value: web.LocaleEN, Label: "English"}, {Value: web.LocaleZH, Label: "简体中文"}}}
}

// settingsPage shows what a tenant owner may change; others with access see it read-only.
func (h *handlers) settingsPage(c *fiber.Ctx, s *session) error {
	st, err := h.Tenants.Settings(c.UserContext(), s.member.TenantID)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "settings", h.settingsData(s, web.FormFrom(nil, settingsValues(st))))
}

func (h *handlers) saveSettings(c *fiber.Ctx, s *session) error {
	values := web.FormValues(c)
	in := tenants.Settings{AutoApproveMerchants: values["auto_approve"] == "on", RequireListingReview: values["listing_review"] == "on", DefaultLocale: values["default_locale"],
		Primary: values["primary"], Accent: values["accent"]}
	if _, err := h.Tenants.UpdateSettings(c.UserContext(), s.member.TenantID, in); err != nil {
		if web.Fixable(err) {
			return h.r.Render(c, fiber.StatusUnprocessableEntity, "settings", h.settingsData(s, h.form(c, err, values)))
		}
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "settings.saved")
	return c.Redirect(Prefix+"/settings", fiber.StatusSeeOther)
}
