package console

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"mercato/platform/authz"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/web"
	"mercato/tenants/catalog"
	"mercato/tenants/inventory"
)

// inventoryPages are a product's stock: its levels at the store's locations, the adjustment
// form with a reason, and the history. The capability is /v1/inventory, so tenant staff (who
// may only read stock) see it without the forms.
func (h *handlers) inventoryPages() []page {
	const object, capability = Prefix + "/products", "/v1/inventory"
	return []page{
		{fiber.MethodGet, "/products/:id/inventory", object, capability, authz.ActionRead, false, h.inventoryPage},
		{fiber.MethodPost, "/products/:id/inventory/adjust", object, capability, authz.ActionWrite, false, h.adjustStock},
		{fiber.MethodPost, "/products/:id/inventory/locations", object, capability, authz.ActionWrite, false, h.createStockLocation},
	}
}

// stockCell is one variant's level at one location (zero when it has none there).
type stockCell struct {
	OnHand, Reserved, Available int
}

type stockRow struct {
	Variant catalog.Variant
	Options string
	Cells   []stockCell // per location, in Locations order
	Total   int         // available everywhere
}

type historyRow struct {
	inventory.Adjustment
	SKU      string
	Location string
}

type inventoryData struct {
	Product   catalog.Product
	Title     string
	Locations []inventory.Location
	Rows      []stockRow
	History   []historyRow
	CanWrite  bool
	Adjust    web.Form
	Location  web.Form
	Variants  []web.Option
	Places    []web.Option
	Reasons   []web.Option
}

// adjustReasons are the reasons a person may give; "sold" is written by checkout only.
var adjustReasons = []string{inventory.ReasonReceived, inventory.ReasonCorrection, inventory.ReasonDamaged, inventory.ReasonReturned, inventory.ReasonOther}

func (h *handlers) inventoryPage(c *fiber.Ctx, s *session) error {
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	d, err := h.inventoryData(c, s, p, web.FormFrom(nil, map[string]string{"reason": inventory.ReasonReceived}), web.FormFrom(nil, nil))
	if err != nil {
		return err
	}
	return h.r.Render(c, fiber.StatusOK, "inventory", d)
}

// inventoryData reads the product's stock at its merchant's locations and the newest 25
// changes of any of its variants.
func (h *handlers) inventoryData(c *fiber.Ctx, s *session, p catalog.Product, adjust, location web.Form) (inventoryData, error) {
	ctx := c.UserContext()
	tenant := s.member.TenantID
	d := inventoryData{Product: p, Title: titleOf(p, h.r.Locale(c)), Adjust: adjust, Location: location,
		CanWrite: h.allowed(s, "/v1/inventory", authz.ActionWrite)}
	locs, err := h.Inventory.ListLocations(ctx, tenant, p.MerchantID, httpx.PageParams{Limit: httpx.MaxPageSize})
	if err != nil {
		return d, err
	}
	d.Locations = locs.Items
	sort.SliceStable(d.Locations, func(i, j int) bool { return d.Locations[i].IsDefault && !d.Locations[j].IsDefault })
	at := map[uuid.UUID]int{}
	names := map[uuid.UUID]string{}
	for i, l := range d.Locations {
		at[l.ID], names[l.ID] = i, l.Name
		d.Places = append(d.Places, web.Option{Value: l.ID.String(), Label: l.Name})
	}
	skus := map[uuid.UUID]string{}
	for _, v := range p.Variants {
		skus[v.ID] = v.SKU
		d.Variants = append(d.Variants, web.Option{Value: v.ID.String(), Label: v.SKU})
		levels, err := h.Inventory.Levels(ctx, tenant, v.ID)
		if err != nil {
			return d, err
		}
		row := stockRow{Variant: v, Options: optionValues(p.Options, v.OptionValues), Cells: make([]stockCell, len(d.Locations))}
		for _, l := range levels {
			if i, ok := at[l.LocationID]; ok {
				row.Cells[i] = stockCell{OnHand: l.OnHand, Reserved: l.Reserved, Available: l.Available}
				row.Total += l.Available
			}
		}
		d.Rows = append(d.Rows, row)
		hist, err := h.Inventory.ListAdjustments(ctx, tenant, inventory.AdjustmentFilter{VariantID: v.ID, PageParams: httpx.PageParams{Limit: 25}})
		if err != nil {
			return d, err
		}
		for _, a := range hist.Items {
			d.History = append(d.History, historyRow{Adjustment: a, SKU: skus[a.VariantID], Location: names[a.LocationID]})
		}
	}
	sort.Slice(d.History, func(i, j int) bool { return d.History[i].ID.String() > d.History[j].ID.String() }) // UUIDv7: newest first
	if len(d.History) > 25 {
		d.History = d.History[:25]
	}
	for _, r := range adjustReasons {
		d.Reasons = append(d.Reasons, web.Option{Value: r, Label: "inventory.reason." + r})
	}
	return d, nil
}

// adjustStock changes on-hand stock of a variant at a location by a signed amount, with a
// reason. Stock that would fall below zero or below what checkouts hold is refused beside the
// amount.
func (h *handlers) adjustStock(c *fiber.Ctx, s *session) error {
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	in := inventory.NewAdjustment{Reason: values["reason"], Note: values["note"]}
	bad := map[string]string{}
	if in.VariantID, err = uuid.Parse(values["variant_id"]); err != nil || !hasVariant(p, in.VariantID) {
		bad["body.variant_id"] = "console.field.variant_id"
	}
	if in.LocationID, err = uuid.Parse(values["location_id"]); err != nil {
		bad["body.location_id"] = "console.field.location_id"
	}
	if in.Delta, err = strconv.Atoi(strings.TrimSpace(values["delta"])); err != nil || in.Delta == 0 {
		bad["body.delta"] = "console.field.delta"
	}
	if len(bad) > 0 {
		err = fault.Fields(bad)
	} else {
		_, _, err = h.Inventory.Adjust(c.UserContext(), s.member.TenantID, in)
	}
	switch {
	case errors.Is(err, inventory.ErrNegativeStock):
		err = faultFields("body.delta", "inventory.error.negative")
	case errors.Is(err, inventory.ErrBelowReserved):
		err = faultFields("body.delta", "inventory.error.below_reserved")
	case errors.Is(err, inventory.ErrLocationNotFound):
		err = faultFields("body.location_id", "console.field.location_id")
	case errors.Is(err, inventory.ErrVariantNotFound):
		err = faultFields("body.variant_id", "console.field.variant_id")
	}
	if web.Fixable(err) {
		d, derr := h.inventoryData(c, s, p, h.form(c, err, values), web.FormFrom(nil, nil))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "inventory", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "inventory.adjusted")
	return c.Redirect(Prefix+"/products/"+p.ID.String()+"/inventory", fiber.StatusSeeOther)
}

func hasVariant(p catalog.Product, id uuid.UUID) bool {
	for _, v := range p.Variants {
		if v.ID == id {
			return true
		}
	}
	return false
}

// createStockLocation adds a location for the product's merchant, so that stock has somewhere
// to be; a merchant's first location is its default.
func (h *handlers) createStockLocation(c *fiber.Ctx, s *session) error {
	p, err := h.product(c, s)
	if err != nil {
		return err
	}
	values := web.FormValues(c)
	_, err = h.Inventory.CreateLocation(c.UserContext(), s.member.TenantID, inventory.NewLocation{MerchantID: p.MerchantID, Name: values["name"]})
	if errors.Is(err, inventory.ErrLocationNameTaken) {
		err = faultFields("body.name", "inventory.error.location_taken")
	}
	if web.Fixable(err) {
		d, derr := h.inventoryData(c, s, p, web.FormFrom(nil, map[string]string{"reason": inventory.ReasonReceived}), h.form(c, err, values))
		if derr != nil {
			return derr
		}
		return h.r.Render(c, fiber.StatusUnprocessableEntity, "inventory", d)
	}
	if err != nil {
		return err
	}
	h.r.Flash(c, web.FlashSuccess, "inventory.location_added", strings.TrimSpace(values["name"]))
	return c.Redirect(Prefix+"/products/"+p.ID.String()+"/inventory", fiber.StatusSeeOther)
}
