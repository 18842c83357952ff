package console

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/web"
	"mercato/platform/webhooksout"
)

// webhookPages are the outbound webhook pages: the endpoints with the form that adds one,
// an endpoint with its delivery log, and the actions on them. The capability is the API's
// /v1/webhooks, so tenant staff and merchant staff (whom roles.csv gives no webhooks) are
// refused, and merchant owners manage their own store's endpoints (the service narrows to
// the merchant scope).
func (h *handlers) webhookPages() []page {
	const object, capability = Prefix + "/webhooks", "/v1/webhooks"
	const read, write, del = authz.ActionRead, authz.ActionWrite, authz.ActionDelete
	return []page{
		{fiber.MethodGet, "/webhooks", object, capability, read, false, h.webhooksPage},
		{fiber.MethodPost, "/webhooks", object, capability, write, false, h.createWebhook},
		{fiber.MethodGet, "/webhooks/:id", object, capability, read, false, h.webhookPage},
		{fiber.MethodPost, "/webhooks/:id/rotate", object, capability, write, false, h.rotateWebhookSecret},
		{fiber.MethodPost, "/webhooks/:id/enable", object, capability, write, false, h.enableWebhook},
		{fiber.MethodPost, "/webhooks/:id/disable", object, capability, write, false, h.enableWebhook},
		{fiber.MethodPost, "/webhooks/:id/delete", object, capability, del, false, h.deleteWebhook},
		{fiber.MethodPost, "/webhooks/:id/deliveries/:delivery/replay", object, capability, write, false, h.replayWebhook},
	}
}

// eventTypeView is one event type as the form offers it.
type eventTypeView struct {
	Name    string
	ID      string // element id of its checkbox
	Checked bool
}

type endpointView struct {
	webhooksout.Endpoint
	Merchant string // the store's name for a merchant's endpoint
}

type webhooksData struct {
	Endpoints      []endpointView
	Table          web.TableState
	Next           string
	EventTypes     []eventTypeView
	MerchantScoped bool
	CanWrite       bool
	Form           web.Form
}

func (h *handlers) webhooksPage(c *fiber.Ctx, s *session) error {
	d, err := h.webhooksData(c, s, web.FormFrom(nil, nil), nil)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "webhooks", d)
}

// webhooksData lists the endpoints (a merchant's own in a merchant scope) and the event types
// the form offers: those a merchant's endpoint may hear in a merchant scope.
func (h *handlers) webhooksData(c *fiber.Ctx, s *session, form web.Form, checked map[string]bool) (webhooksData, error) {
	ctx := c.UserContext()
	table := web.TableFrom(c, "-created")
	d := webhooksData{Table: table, Form: form, MerchantScoped: s.merchantScope(),
		CanWrite: h.allowed(s, "/v1/webhooks", authz.ActionWrite)}
	page, err := h.Webhooks.Endpoints(ctx, s.member.TenantID, httpx.PageParams{Cursor: table.Cursor, Limit: httpx.MaxPageSize})
	if errors.Is(err, httpx.ErrBadCursor) { // a stale or edited link: start again
		page, err = h.Webhooks.Endpoints(ctx, s.member.TenantID, httpx.PageParams{Limit: httpx.MaxPageSize})
	}
	if err != nil {
		return d, err
	}
	d.Next = page.NextCursor
	names := map[uuid.UUID]string{}
	for _, e := range page.Items {
		v := endpointView{Endpoint: e}
		if e.MerchantID != nil {
			if v.Merchant, err = h.merchantName(c, s, *e.MerchantID, names); err != nil {
				return d, err
			}
		}
		d.Endpoints = append(d.Endpoints, v)
	}
	for _, et := range webhooksout.EventTypesFor(ctx) {
		d.EventTypes = append(d.EventTypes, eventTypeView{Name: et.Name, ID: "event-" + strings.NewReplacer(".", "-", "_", "-").Replace(et.Name),
			Checked: checked[et.Name]})
	}
	return d, nil
}

func (h *handlers) merchantName(c *fiber.Ctx, s *session, id uuid.UUID, cache map[uuid.UUID]string) (string, error) {
	if n, ok := cache[id]; ok {
		return n, nil
	}
	m, err := h.Merchants.Get(c.UserContext(), s.member.TenantID, id)
	if err != nil {
		return "", err
	}
	cache[id] = m.Name
	return m.Name, nil
}

type webhookSecretData struct {
	Endpoint webhooksout.Endpoint
	Secret   string
	Rotated  bool
}

// createWebhook registers an endpoint and shows its signing secret once, on a page no cache
// keeps. Merchant staff always create their own store's endpoint (the service sees to it).
func (h *handlers) createWebhook(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	values := web.FormValues(c)
	delete(values, "event_types")
	var types []string
	checked := map[string]bool{}
	for _, v := range c.Request().PostArgs().PeekMulti("event_types") {
		types = append(types, string(v))
		checked[string(v)] = true
	}
	e, secret, err := h.Webhooks.CreateEndpoint(ctx, s.member.TenantID, webhooksout.EndpointInput{
		URL: values["url"], Description: values["description"], EventTypes: types})
	if web.Fixable(err) {
		d, derr := h.webhooksData(c, s, h.form(c, err, values), checked)
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "webhooks", d)
	}
	if err != nil {
		return err
	}
	return h.renderSecret(c, webhookSecretData{Endpoint: e, Secret: secret})
}

func (h *handlers) renderSecret(c *fiber.Ctx, d webhookSecretData) error {
	if err := h.r.Render(c, fiber.StatusOK, "webhook-secret", d); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return nil
}

type webhookData struct {
	Endpoint   endpointView
	Deliveries []webhooksout.Delivery
	Table      web.TableState
	Next       string
	CanWrite   bool
	CanDelete  bool
}

// webhookPage shows one endpoint, its actions and its delivery log, newest first.
func (h *handlers) webhookPage(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	e, err := h.Webhooks.Endpoint(ctx, s.member.TenantID, id)
	if err != nil {
		return err
	}
	table := web.TableFrom(c, "-created")
	log, err := h.Webhooks.Deliveries(ctx, s.member.TenantID, id, httpx.PageParams{Cursor: table.Cursor, Limit: 25})
	if errors.Is(err, httpx.ErrBadCursor) {
		table.Cursor = ""
		log, err = h.Webhooks.Deliveries(ctx, s.member.TenantID, id, httpx.PageParams{Limit: 25})
	}
	if err != nil {
		return err
	}
	d := webhookData{Endpoint: endpointView{Endpoint: e}, Deliveries: log.Items, Table: table, Next: log.NextCursor,
		CanWrite: h.allowed(s, "/v1/webhooks", authz.ActionWrite), CanDelete: h.allowed(s, "/v1/webhooks", authz.ActionDelete)}
	if e.MerchantID != nil {
		if d.Endpoint.Merchant, err = h.merchantName(c, s, *e.MerchantID, map[uuid.UUID]string{}); err != nil {
			return err
		}
	}
	return h.r.Render(c, fiber.StatusOK, "webhook", d)
}

func (h *handlers) rotateWebhookSecret(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	secret, err := h.Webhooks.RotateSecret(ctx, s.member.TenantID, id)
	if err != nil {
		return err
	}
	e, err := h.Webhooks.Endpoint(ctx, s.member.TenantID, id)
	if err != nil {
		return err
	}
	return h.renderSecret(c, webhookSecretData{Endpoint: e, Secret: secret, Rotated: true})
}

// enableWebhook turns an endpoint on (clearing its failure count) or off, by the path's last
// segment.
func (h *handlers) enableWebhook(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	on := strings.HasSuffix(c.Path(), "/enable")
	e, err := h.Webhooks.UpdateEndpoint(c.UserContext(), s.member.TenantID, id, webhooksout.EndpointUpdate{Enabled: &on})
	if err != nil {
		return err
	}
	if on {
		h.r.Flash(c, web.FlashSuccess, "webhooks.enabled", e.URL)
	} else {
		h.r.Flash(c, web.FlashSuccess, "webhooks.disabled", e.URL)
	}
	return c.Redirect(Prefix+"/webhooks/"+id.String(), fiber.StatusSeeOther)
}

func (h *handlers) deleteWebhook(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	e, err := h.Webhooks.Endpoint(ctx, s.member.TenantID, id)
	if err != nil {
		return err
	}
	if err := h.Webhooks.DeleteEndpoint(ctx, s.member.TenantID, id); err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "webhooks.deleted", e.URL)
	return c.Redirect(Prefix+"/webhooks", fiber.StatusSeeOther)
}

// replayWebhook sends a finished delivery again as a new one. A delivery still being tried,
// or an endpoint that is off, is said in a flash on the endpoint's page.
func (h *handlers) replayWebhook(c *fiber.Ctx, s *session) error {
	ctx := c.UserContext()
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	did, err := paramID(c, "delivery")
	if err != nil {
		return err
	}
	d, err := h.Webhooks.Delivery(ctx, s.member.TenantID, did)
	if err != nil {
		return err
	}
	if d.EndpointID != id {
		return errNotFound
	}
	back := Prefix + "/webhooks/" + id.String()
	if _, err := h.Webhooks.Replay(ctx, s.member.TenantID, did); web.Fixable(err) {
		h.r.Flash(c, web.FlashError, h.message(c, err))
		return c.Redirect(back, fiber.StatusSeeOther)
	} else if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "webhooks.replayed", d.EventType)
	return c.Redirect(back, fiber.StatusSeeOther)
}
