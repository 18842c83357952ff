package console

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/httpx"
	"mercato/platform/web"
	"mercato/tenants/catalog"
)

// moderationPages are the listing queue: products waiting for review, for the marketplace's
// staff only (tenant-wide), with approve and reject.
func (h *handlers) moderationPages() []page {
	const object, capability = Prefix + "/moderation", "/v1/products"
	return []page{
		{fiber.MethodGet, "/moderation", object, capability, authz.ActionRead, true, h.moderationPage},
		{fiber.MethodPost, "/moderation/:id/:action", object, capability, authz.ActionWrite, true, h.moderate},
	}
}

type queueItem struct {
	catalog.Product
	Title       string
	Merchant    string
	SubmittedAt time.Time
	Variants    int
}

type moderationData struct {
	Items    []queueItem
	Table    web.TableState
	Next     string
	CanWrite bool
	Form     web.Form // a refused rejection: its note error, by product
	FormFor  uuid.UUID
}

// moderationPage lists what waits for review, oldest first: first come, first served.
func (h *handlers) moderationPage(c *fiber.Ctx, s *session) error {
	d, err := h.moderationData(c, s, web.FormFrom(nil, nil), uuid.Nil)
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "moderation", d)
}

func (h *handlers) moderationData(c *fiber.Ctx, s *session, form web.Form, formFor uuid.UUID) (moderationData, error) {
	ctx := c.UserContext()
	table := web.TableFrom(c, "created")
	d := moderationData{Table: table, Form: form, FormFor: formFor, CanWrite: h.allowed(s, "/v1/products", authz.ActionWrite)}
	f := catalog.ListFilter{Status: catalog.StatusPendingReview, Sort: "created", Desc: table.Desc, PageParams: httpx.PageParams{Cursor: table.Cursor}}
	page, err := h.Catalog.ListProducts(ctx, s.member.TenantID, f)
	if errors.Is(err, httpx.ErrBadCursor) {
		f.Cursor = ""
		page, err = h.Catalog.ListProducts(ctx, s.member.TenantID, f)
	}
	if err != nil {
		return d, err
	}
	d.Next = page.NextCursor
	names := map[uuid.UUID]string{}
	locale := h.r.Locale(c)
	for _, p := range page.Items {
		name, err := h.merchantName(c, s, p.MerchantID, names)
		if err != nil {
			return d, err
		}
		it := queueItem{Product: p, Title: titleOf(p, locale), Merchant: name, Variants: len(p.Variants)}
		if p.SubmittedAt != nil {
			it.SubmittedAt = *p.SubmittedAt
		}
		d.Items = append(d.Items, it)
	}
	return d, nil
}

// moderate approves (lists) or rejects (back to draft, with a note the merchant sees) a
// product in the queue. A rejection needs a note: the merchant must learn what to change.
func (h *handlers) moderate(c *fiber.Ctx, s *session) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	action := c.Params("action")
	if action != "approve" && action != "reject" {
		return errNotFound
	}
	note := strings.TrimSpace(c.FormValue("note"))
	if action == "reject" && (note == "" || utf8.RuneCountInString(note) > 1000) {
		form := web.FormFrom(nil, map[string]string{"note": note})
		form.Errors["note"] = "moderation.note_required"
		d, err := h.moderationData(c, s, form, id)
		if err != nil {
			return err
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "moderation", d)
	}
	p, err := h.Catalog.Moderate(c.UserContext(), s.member.TenantID, id, action, note)
	if err != nil {
		return err // gone from the queue meanwhile: flash, back
	}
	h.r.Flash(c, web.FlashSuccess, map[string]string{"approve": "moderation.approved", "reject": "moderation.rejected"}[action], p.Slug)
	return c.Redirect(Prefix+"/moderation", fiber.StatusSeeOther)
}
