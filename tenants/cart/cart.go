// Package cart owns shoppers' and guests' carts: lines of variants from any number of
// merchants, re-priced and re-checked against the catalog, stock and flash sales on every view,
// and merged into the shopper's cart when a guest signs in.
package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/tenants/catalog"
	"mercato/tenants/promotions"
)

// Limits on a cart: a line holds 1 to MaxQuantity units, a cart at most MaxLines lines.
const (
	MaxQuantity = 99
	MaxLines    = 100
)

// Problems View reports on a line. Lines that are out of stock or unavailable count in no
// subtotal and cannot be checked out; a reduced line counts with the quantity still in stock.
const (
	ProblemPriceChanged    = "price_changed"
	ProblemQuantityReduced = "quantity_reduced"
	ProblemOutOfStock      = "out_of_stock"
	ProblemUnavailable     = "unavailable"
)

// Errors returned by Service.
var (
	ErrNoOwner         = fault.New(fault.Invalid, "cart_owner_required", "a cart belongs to a shopper or a guest session")
	ErrLineNotFound    = fault.New(fault.NotFound, "cart_line_not_found", "cart line not found")
	ErrVariantNotFound = fault.New(fault.NotFound, "variant_not_found", "variant not found")
	ErrUnavailable     = fault.New(fault.Unprocessable, "variant_unavailable", "this product cannot be bought at the moment")
	ErrOutOfStock      = fault.New(fault.Unprocessable, "out_of_stock", "this product is out of stock")
	ErrNotEnoughStock  = fault.New(fault.Unprocessable, "insufficient_stock", "not that many are in stock")
	ErrCartFull        = fault.New(fault.Unprocessable, "cart_full", "a cart holds at most 100 different items")
)

// Owner is whose cart it is: exactly one of the two is set.
type Owner struct {
	ShopperID      uuid.UUID
	GuestSessionID uuid.UUID
}

func (o Owner) valid() bool { return (o.ShopperID == uuid.Nil) != (o.GuestSessionID == uuid.Nil) }

// Line is one cart line as the shopper sees it now.
type Line struct {
	ID, VariantID, ProductID, MerchantID  uuid.UUID
	MerchantName, ProductSlug, SKU, Title string // Title in the requested locale (fallback en)
	OptionValues                          map[string]string
	ImageKey                              string
	Quantity                              int
	UnitPriceMinor                        int64 // what one costs now: the flash price when a flash sale applies
	ListPriceMinor                        int64 // the regular price
	FlashSaleID                           *uuid.UUID
	WeightGrams                           int
	Available                             int
	Problem                               string // "" | "price_changed" | "quantity_reduced" | "out_of_stock" | "unavailable"
}

// Buyable reports whether the line can be checked out (possibly with a reduced quantity).
func (l Line) Buyable() bool {
	return l.Problem != ProblemOutOfStock && l.Problem != ProblemUnavailable
}

// TotalMinor is the line's price: unit price × quantity.
func (l Line) TotalMinor() int64 { return l.UnitPriceMinor * int64(l.Quantity) }

// MerchantGroup is the lines of one merchant, which become one merchant order at checkout.
type MerchantGroup struct {
	MerchantID    uuid.UUID
	MerchantName  string
	Lines         []Line
	SubtotalMinor int64
	WeightGrams   int
}

// View is a cart priced now. Lines holds every line in the order added; Groups the same lines
// by merchant. Subtotals and WeightGrams count buyable lines only; Count is the number of
// units in the cart (the badge in the storefront's navigation).
type View struct {
	ID            uuid.UUID // uuid.Nil when the owner has no cart yet
	Currency      string
	Groups        []MerchantGroup
	Lines         []Line
	SubtotalMinor int64
	Count         int
}

// Problems reports whether any line has a problem the shopper should see.
func (v View) Problems() bool {
	for _, l := range v.Lines {
		if l.Problem != "" {
			return true
		}
	}
	return false
}

// OfferSource prices variants; *catalog.Service.
type OfferSource interface {
	Offers(ctx context.Context, tenantID uuid.UUID, variantIDs []uuid.UUID, currency string) (map[uuid.UUID]catalog.Offer, error)
}

// FlashSource finds running flash sales; *promotions.Service.
type FlashSource interface {
	FlashPrices(ctx context.Context, tenantID uuid.UUID, variantIDs []uuid.UUID, currency string) (map[uuid.UUID]promotions.FlashPrice, error)
}

// Service manages carts. A cart is the shopper's own working state, not a business record, so
// its changes are not written to the tenant's audit chain (whose head every entry locks): the
// order made from it is. The checkout-side Clear and MergeGuest run in the caller's
// transaction.
type Service struct {
	db     *db.DB
	offers OfferSource
	flash  FlashSource
	now    func() time.Time
}

// NewService builds the service.
func NewService(d *db.DB, offers OfferSource, flash FlashSource) *Service {
	return &Service{db: d, offers: offers, flash: flash, now: time.Now}
}

type cartRow struct {
	bun.BaseModel `bun:"table:carts"`

	TenantID       uuid.UUID `bun:"tenant_id,pk"`
	ID             uuid.UUID `bun:"id,pk"`
	ShopperID      uuid.UUID `bun:"shopper_id,nullzero"`
	GuestSessionID uuid.UUID `bun:"guest_session_id,nullzero"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

type lineRow struct {
	bun.BaseModel `bun:"table:cart_lines"`

	TenantID       uuid.UUID `bun:"tenant_id,pk"`
	ID             uuid.UUID `bun:"id,pk"`
	CartID         uuid.UUID `bun:"cart_id"`
	VariantID      uuid.UUID `bun:"variant_id"`
	Quantity       int       `bun:"quantity"`
	SeenPriceMinor int64     `bun:"seen_price_minor"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

// findCart returns the owner's cart, creating it when create is set; lock takes its row lock,
// which serialises changes to one cart (the line count, merged quantities).
func findCart(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, owner Owner, create, lock bool) (cartRow, bool, error) {
	var r cartRow
	q := tx.NewSelect().Model(&r).Where("tenant_id = ?", tenantID)
	if owner.ShopperID != uuid.Nil {
		q = q.Where("shopper_id = ?", owner.ShopperID)
	} else {
		q = q.Where("guest_session_id = ?", owner.GuestSessionID)
	}
	if lock {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return r, false, err
	}
	if !create {
		return r, false, nil
	}
	r = cartRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), ShopperID: owner.ShopperID, GuestSessionID: owner.GuestSessionID}
	res, err := tx.NewInsert().Model(&r).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return r, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Created by a concurrent request: read theirs.
		return findCart(ctx, tx, tenantID, owner, false, lock)
	}
	return r, true, nil
}

// tenantCurrency is the currency the tenant's storefront sells in: every cart's currency.
func tenantCurrency(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (string, error) {
	var cur string
	if err := tx.NewRaw("SELECT default_currency FROM tenants WHERE id = ?", tenantID).Scan(ctx, &cur); err != nil {
		return "", fmt.Errorf("read tenant currency: %w", err)
	}
	return cur, nil
}

// unitPrice is what one unit costs at quantity qty: the flash price when the whole line fits
// in the sale (units left and the per-shopper limit), else the regular price.
func unitPrice(o catalog.Offer, fp promotions.FlashPrice, hasFlash bool, qty int) (int64, *uuid.UUID) {
	if hasFlash && qty <= fp.Remaining && (fp.PerShopperLimit == 0 || qty <= fp.PerShopperLimit) && fp.PriceMinor < o.PriceMinor {
		id := fp.SaleID
		return fp.PriceMinor, &id
	}
	return o.PriceMinor, nil
}

// price reads the offer and flash sale of one variant.
func (s *Service) price(ctx context.Context, tenantID, variantID uuid.UUID, currency string) (catalog.Offer, promotions.FlashPrice, bool, error) {
	ids := []uuid.UUID{variantID}
	offers, err := s.offers.Offers(ctx, tenantID, ids, currency)
	if err != nil {
		return catalog.Offer{}, promotions.FlashPrice{}, false, err
	}
	o, ok := offers[variantID]
	if !ok {
		return o, promotions.FlashPrice{}, false, ErrVariantNotFound
	}
	if !o.Buyable {
		return o, promotions.FlashPrice{}, false, ErrUnavailable
	}
	flash, err := s.flash.FlashPrices(ctx, tenantID, ids, currency)
	if err != nil {
		return o, promotions.FlashPrice{}, false, err
	}
	fp, has := flash[variantID]
	return o, fp, has, nil
}

func checkQuantity(qty int, field string) error {
	if qty < 1 || qty > MaxQuantity {
		return fault.Fields(map[string]string{field: fmt.Sprintf("1 to %d", MaxQuantity)})
	}
	return nil
}

func stockError(available int) error {
	if available <= 0 {
		return ErrOutOfStock
	}
	e := *ErrNotEnoughStock
	e.Message = fmt.Sprintf("only %d in stock", available)
	return fmt.Errorf("%w%w", &e, ErrNotEnoughStock)
}

func (s *Service) currency(ctx context.Context, tenantID uuid.UUID) (string, error) {
	var cur string
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		cur, err = tenantCurrency(ctx, tx, tenantID)
		return err
	})
	return cur, err
}

// Add puts qty units of a variant into the owner's cart, creating the cart on first use; a
// variant already in it gets the units added to its line. The line may hold 1 to 99 units and
// no more than are in stock; a cart holds at most 100 lines.
// Errors: ErrNoOwner, invalid quantity, ErrVariantNotFound, ErrUnavailable, ErrOutOfStock,
// ErrNotEnoughStock, ErrCartFull.
func (s *Service) Add(ctx context.Context, tenantID uuid.UUID, owner Owner, variantID uuid.UUID, qty int) error {
	if !owner.valid() {
		return ErrNoOwner
	}
	if err := checkQuantity(qty, "body.quantity"); err != nil {
		return err
	}
	cur, err := s.currency(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("add to cart: %w", err)
	}
	o, fp, hasFlash, err := s.price(ctx, tenantID, variantID, cur)
	if err != nil {
		return fmt.Errorf("add to cart: %w", err)
	}
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		c, _, err := findCart(ctx, tx, tenantID, owner, true, true)
		if err != nil {
			return err
		}
		var existing lineRow
		err = tx.NewSelect().Model(&existing).Where("tenant_id = ? AND cart_id = ? AND variant_id = ?", tenantID, c.ID, variantID).Scan(ctx)
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		total := qty + existing.Quantity
		if total > MaxQuantity {
			return fault.Fields(map[string]string{"body.quantity": fmt.Sprintf("a line holds at most %d; %d are in the cart already", MaxQuantity, existing.Quantity)})
		}
		if total > o.Available {
			return stockError(o.Available)
		}
		price, _ := unitPrice(o, fp, hasFlash, total)
		now := s.now().UTC()
		if found {
			_, err = tx.NewUpdate().Model(&existing).Set("quantity = ?, seen_price_minor = ?, updated_at = ?", total, price, now).WherePK().Exec(ctx)
			return err
		}
		var n int
		if err := tx.NewSelect().Model((*lineRow)(nil)).ColumnExpr("count(*)").Where("tenant_id = ? AND cart_id = ?", tenantID, c.ID).Scan(ctx, &n); err != nil {
			return err
		}
		if n >= MaxLines {
			return ErrCartFull
		}
		l := lineRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), CartID: c.ID, VariantID: variantID, Quantity: total,
			SeenPriceMinor: price, CreatedAt: now, UpdatedAt: now}
		_, err = tx.NewInsert().Model(&l).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("add to cart: %w", err)
	}
	return nil
}

// SetQuantity changes a line's quantity (0 removes it) and takes the current price as seen,
// which clears a price_changed problem.
// Errors: ErrNoOwner, invalid quantity, ErrLineNotFound (also another owner's line),
// ErrUnavailable, ErrOutOfStock, ErrNotEnoughStock.
func (s *Service) SetQuantity(ctx context.Context, tenantID uuid.UUID, owner Owner, lineID uuid.UUID, qty int) error {
	if !owner.valid() {
		return ErrNoOwner
	}
	if qty == 0 {
		return s.Remove(ctx, tenantID, owner, lineID)
	}
	if err := checkQuantity(qty, "body.quantity"); err != nil {
		return err
	}
	cur, err := s.currency(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("set quantity: %w", err)
	}
	l, err := s.ownedLine(ctx, tenantID, owner, lineID)
	if err != nil {
		return fmt.Errorf("set quantity: %w", err)
	}
	o, fp, hasFlash, err := s.price(ctx, tenantID, l.VariantID, cur)
	if errors.Is(err, ErrVariantNotFound) {
		err = ErrUnavailable
	}
	if err != nil {
		return fmt.Errorf("set quantity: %w", err)
	}
	if qty > o.Available {
		return fmt.Errorf("set quantity: %w", stockError(o.Available))
	}
	price, _ := unitPrice(o, fp, hasFlash, qty)
	err = s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		res, err := tx.NewUpdate().Model((*lineRow)(nil)).Set("quantity = ?, seen_price_minor = ?, updated_at = ?", qty, price, s.now().UTC()).
			Where("tenant_id = ? AND id = ? AND cart_id = ?", tenantID, lineID, l.CartID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLineNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set quantity: %w", err)
	}
	return nil
}

// ownedLine reads a line of the owner's cart.
func (s *Service) ownedLine(ctx context.Context, tenantID uuid.UUID, owner Owner, lineID uuid.UUID) (lineRow, error) {
	var l lineRow
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		c, ok, err := findCart(ctx, tx, tenantID, owner, false, false)
		if err != nil {
			return err
		}
		if !ok {
			return ErrLineNotFound
		}
		if err := tx.NewSelect().Model(&l).Where("tenant_id = ? AND id = ? AND cart_id = ?", tenantID, lineID, c.ID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrLineNotFound
			}
			return err
		}
		return nil
	})
	return l, err
}

// Remove takes a line out of the owner's cart. Errors: ErrNoOwner, ErrLineNotFound.
func (s *Service) Remove(ctx context.Context, tenantID uuid.UUID, owner Owner, lineID uuid.UUID) error {
	if !owner.valid() {
		return ErrNoOwner
	}
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		c, ok, err := findCart(ctx, tx, tenantID, owner, false, false)
		if err != nil {
			return err
		}
		if !ok {
			return ErrLineNotFound
		}
		res, err := tx.NewDelete().Model((*lineRow)(nil)).Where("tenant_id = ? AND id = ? AND cart_id = ?", tenantID, lineID, c.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLineNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cart line: %w", err)
	}
	return nil
}

// Count is the number of units in the owner's cart, without pricing it: the navigation badge
// on every storefront page.
func (s *Service) Count(ctx context.Context, tenantID uuid.UUID, owner Owner) (int, error) {
	if !owner.valid() {
		return 0, nil
	}
	// Every storefront page shows the count: one round trip (db.Read).
	cond, arg := "c.guest_session_id = ?", owner.GuestSessionID
	if owner.ShopperID != uuid.Nil {
		cond, arg = "c.shopper_id = ?", owner.ShopperID
	}
	var n int
	err := s.db.Read(ctx, tenantID, func(read db.RowFunc) error {
		return read(`SELECT coalesce(sum(l.quantity), 0) FROM cart_lines AS l
			JOIN carts AS c ON c.tenant_id = l.tenant_id AND c.id = l.cart_id WHERE l.tenant_id = ? AND `+cond,
			[]any{tenantID, arg}, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("count cart: %w", err)
	}
	return n, nil
}

// View prices the owner's cart now: every line is re-read from the catalog (price, stock,
// whether it can be bought) and flash sales, and flagged when it changed since the shopper
// last saw it. A line with more units than are in stock is shown with what is left
// (quantity_reduced); the stored quantity stays, so it comes back when stock does.
func (s *Service) View(ctx context.Context, tenantID uuid.UUID, owner Owner, locale string) (View, error) {
	if !owner.valid() {
		return View{}, ErrNoOwner
	}
	var (
		v     View
		lines []lineRow
	)
	err := s.db.WithTenant(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		if v.Currency, err = tenantCurrency(ctx, tx, tenantID); err != nil {
			return err
		}
		c, ok, err := findCart(ctx, tx, tenantID, owner, false, false)
		if err != nil || !ok {
			return err
		}
		v.ID = c.ID
		return tx.NewSelect().Model(&lines).Where("tenant_id = ? AND cart_id = ?", tenantID, c.ID).OrderExpr("id").Scan(ctx)
	})
	if err != nil {
		return View{}, fmt.Errorf("view cart: %w", err)
	}
	v.Lines, v.Groups = []Line{}, []MerchantGroup{}
	if len(lines) == 0 {
		return v, nil
	}
	ids := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i] = l.VariantID
	}
	offers, err := s.offers.Offers(ctx, tenantID, ids, v.Currency)
	if err != nil {
		return View{}, fmt.Errorf("view cart: %w", err)
	}
	flash, err := s.flash.FlashPrices(ctx, tenantID, ids, v.Currency)
	if err != nil {
		return View{}, fmt.Errorf("view cart: %w", err)
	}
	groupAt := map[uuid.UUID]int{}
	for _, r := range lines {
		o, found := offers[r.VariantID]
		fp, hasFlash := flash[r.VariantID]
		l := priceLine(r, o, found, fp, hasFlash, locale)
		v.Lines = append(v.Lines, l)
		v.Count += l.Quantity
		gi, ok := groupAt[l.MerchantID]
		if !ok {
			gi = len(v.Groups)
			groupAt[l.MerchantID] = gi
			v.Groups = append(v.Groups, MerchantGroup{MerchantID: l.MerchantID, MerchantName: l.MerchantName})
		}
		g := &v.Groups[gi]
		g.Lines = append(g.Lines, l)
		if l.Buyable() {
			g.SubtotalMinor += l.TotalMinor()
			g.WeightGrams += l.WeightGrams * l.Quantity
			v.SubtotalMinor += l.TotalMinor()
		}
	}
	sort.SliceStable(v.Groups, func(i, j int) bool { return v.Groups[i].MerchantName < v.Groups[j].MerchantName })
	return v, nil
}

// priceLine turns a stored line and what the catalog says now into the line the shopper sees.
func priceLine(r lineRow, o catalog.Offer, found bool, fp promotions.FlashPrice, hasFlash bool, locale string) Line {
	l := Line{ID: r.ID, VariantID: r.VariantID, Quantity: r.Quantity, OptionValues: map[string]string{}}
	if !found {
		// The variant is gone from the catalog (deleted): nothing left to show but the line.
		l.Problem = ProblemUnavailable
		return l
	}
	title := o.Title[locale]
	if title == "" {
		title = o.Title["en"]
	}
	l.ProductID, l.MerchantID, l.MerchantName, l.ProductSlug, l.SKU, l.Title = o.ProductID, o.MerchantID, o.MerchantName, o.ProductSlug, o.SKU, title
	l.OptionValues, l.ImageKey, l.WeightGrams, l.Available, l.ListPriceMinor = o.OptionValues, o.ImageKey, o.WeightGrams, o.Available, o.PriceMinor
	switch {
	case !o.Buyable:
		l.Problem = ProblemUnavailable
	case o.Available <= 0:
		l.Problem = ProblemOutOfStock
	case l.Quantity > o.Available:
		l.Quantity = o.Available
		l.Problem = ProblemQuantityReduced
	}
	l.UnitPriceMinor, l.FlashSaleID = unitPrice(o, fp, hasFlash, l.Quantity)
	if l.Problem == "" && l.UnitPriceMinor != r.SeenPriceMinor {
		l.Problem = ProblemPriceChanged
	}
	return l
}

// Clear empties a cart; checkout calls it in the transaction that places the order.
func (s *Service) Clear(ctx context.Context, tx bun.IDB, tenantID, cartID uuid.UUID) error {
	if _, err := tx.NewDelete().Model((*lineRow)(nil)).Where("tenant_id = ? AND cart_id = ?", tenantID, cartID).Exec(ctx); err != nil {
		return fmt.Errorf("clear cart: %w", err)
	}
	return nil
}

// MergeGuest moves a guest's cart into the shopper's when the guest signs in, in the sign-in
// transaction (identity.MergeGuestFunc). A variant in both carts gets the quantities added,
// capped at 99; new lines are taken while the shopper's cart has room for them (100 lines);
// the guest cart is deleted. Stock is not checked here: the next View shows what is left.
func (s *Service) MergeGuest(ctx context.Context, tx bun.IDB, tenantID, guestSessionID, shopperID uuid.UUID) error {
	guest, ok, err := findCart(ctx, tx, tenantID, Owner{GuestSessionID: guestSessionID}, false, true)
	if err != nil || !ok {
		return err
	}
	var guestLines []lineRow
	if err := tx.NewSelect().Model(&guestLines).Where("tenant_id = ? AND cart_id = ?", tenantID, guest.ID).OrderExpr("id").Scan(ctx); err != nil {
		return fmt.Errorf("merge guest cart: %w", err)
	}
	if len(guestLines) > 0 {
		mine, _, err := findCart(ctx, tx, tenantID, Owner{ShopperID: shopperID}, true, true)
		if err != nil {
			return fmt.Errorf("merge guest cart: %w", err)
		}
		var have []lineRow
		if err := tx.NewSelect().Model(&have).Where("tenant_id = ? AND cart_id = ?", tenantID, mine.ID).Scan(ctx); err != nil {
			return fmt.Errorf("merge guest cart: %w", err)
		}
		byVariant := make(map[uuid.UUID]lineRow, len(have))
		for _, h := range have {
			byVariant[h.VariantID] = h
		}
		count, now := len(have), s.now().UTC()
		for _, g := range guestLines {
			if h, ok := byVariant[g.VariantID]; ok {
				if _, err := tx.NewUpdate().Model(&h).Set("quantity = ?, updated_at = ?", min(h.Quantity+g.Quantity, MaxQuantity), now).
					WherePK().Exec(ctx); err != nil {
					return fmt.Errorf("merge guest cart: %w", err)
				}
				continue
			}
			if count >= MaxLines {
				continue
			}
			count++
			l := lineRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), CartID: mine.ID, VariantID: g.VariantID, Quantity: g.Quantity,
				SeenPriceMinor: g.SeenPriceMinor, CreatedAt: g.CreatedAt, UpdatedAt: now}
			if _, err := tx.NewInsert().Model(&l).Exec(ctx); err != nil {
				return fmt.Errorf("merge guest cart: %w", err)
			}
		}
	}
	if _, err := tx.NewDelete().Model((*cartRow)(nil)).Where("tenant_id = ? AND id = ?", tenantID, guest.ID).Exec(ctx); err != nil {
		return fmt.Errorf("merge guest cart: %w", err)
	}
	return nil
}
