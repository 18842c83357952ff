package console

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/audit"
	"mercato/platform/authz"
	"mercato/platform/identity"
	"mercato/platform/web"
)

// scopeFamilies are the families an API key can be given read or write access to, as
// identity.ValidateScopes knows them (a test checks it accepts each; identity keeps its list
// unexported).
var scopeFamilies = []string{"products", "orders", "shipments", "inventory", "customers", "payouts", "webhooks", "merchants", "staff", "audit"}

type keyView struct {
	identity.APIKey
	Merchant string // the merchant's name for a merchant key
}

type keysData struct {
	Keys      []keyView
	Families  []string
	Checked   map[string]bool // scopes ticked before a failed submit
	CanCreate bool
	CanRevoke bool
	Form      web.Form
}

type keyCreatedData struct {
	Secret string
	Key    identity.APIKey
}

func (h *handlers) keysPage(c *fiber.Ctx, s *session) error {
	d, err := h.keysData(c, s, web.FormFrom(nil, nil), nil)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "api-keys", d)
}

// keysData lists the tenant's keys, or only the merchant's own in a merchant scope.
func (h *handlers) keysData(c *fiber.Ctx, s *session, form web.Form, checked map[string]bool) (keysData, error) {
	ctx := c.UserContext()
	keys, err := h.Identity.ListAPIKeys(ctx, s.member.TenantID, s.member.MerchantID)
	if err != nil {
		return keysData{}, err
	}
	d := keysData{Families: scopeFamilies, Checked: checked, Form: form,
		CanCreate: h.allowed(s, "/v1/api-keys", authz.ActionWrite),
		CanRevoke: h.allowed(s, "/v1/api-keys", authz.ActionDelete)}
	names := map[uuid.UUID]string{}
	for _, k := range keys {
		v := keyView{APIKey: k}
		if k.MerchantID != uuid.Nil {
			if _, ok := names[k.MerchantID]; !ok {
				m, err := h.Merchants.Get(ctx, s.member.TenantID, k.MerchantID)
				if err != nil {
					return keysData{}, err
				}
				names[k.MerchantID] = m.Name
			}
			v.Merchant = names[k.MerchantID]
		}
		d.Keys = append(d.Keys, v)
	}
	return d, nil
}

// createKey mints a key and shows its secret once, on a page no cache keeps.
func (h *handlers) createKey(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	name := strings.Clone(c.FormValue("name"))
	var scopes []string
	checked := map[string]bool{}
	for _, v := range c.Request().PostArgs().PeekMulti("scopes") {
		scopes = append(scopes, string(v))
		checked[string(v)] = true
	}
	secret, key, err := h.Identity.CreateAPIKey(ctx, s.member.TenantID, s.member.MerchantID, name, scopes, actor(ctx))
	if web.Fixable(err) {
		d, derr := h.keysData(c, s, h.form(c, err, map[string]string{"name": name}), checked)
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "api-keys", d)
	}
	if err != nil {
		return err
	}
	if err := h.recordKey(ctx, s.member.TenantID, "api_key.create", key, nil, keySummary(key)); err != nil {
		return err
	}
	if err := h.r.Render(c, fiber.StatusOK, "api-key-created", keyCreatedData{Secret: secret, Key: key}); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return nil
}

func (h *handlers) revokeKey(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	var key *identity.APIKey
	keys, err := h.Identity.ListAPIKeys(ctx, s.member.TenantID, s.member.MerchantID)
	if err != nil {
		return err
	}
	for i := range keys {
		if keys[i].ID == id {
			key = &keys[i]
		}
	}
	if key == nil {
		return errNotFound
	}
	if err := h.Identity.RevokeAPIKey(ctx, s.member.TenantID, s.member.MerchantID, id); err != nil {
		return err
	}
	if key.RevokedAt == nil {
		if err := h.recordKey(ctx, s.member.TenantID, "api_key.revoke", *key, keySummary(*key), nil); err != nil {
			return err
		}
	}
	h.r.Flash(c, web.FlashSuccess, "apikeys.revoked", key.Name)
	return c.Redirect(Prefix+"/api-keys", fiber.StatusSeeOther)
}

// keySummary is what the audit log keeps of a key: never its secret.
func keySummary(k identity.APIKey) map[string]any {
	out := map[string]any{"name": k.Name, "scopes": k.Scopes, "client_id": k.ClientID}
	if k.MerchantID != uuid.Nil {
		out["merchant_id"] = k.MerchantID
	}
	return out
}

// recordKey writes a key change to the tenant's audit log. identity's key functions do not
// audit, so the console does, right after the change (a separate transaction: see the note
// for the lead).
func (h *handlers) recordKey(ctx context.Context, tenantID uuid.UUID, action string, k identity.APIKey, before, after any) error {
	return h.DB.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "api_key", ResourceID: k.ID.String(), Before: before, After: after})
	})
}
