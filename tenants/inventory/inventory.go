// Package inventory owns stock: merchants' locations, levels per variant and location,
// adjustments with their history, and reservations that hold stock for a checkout until it is
// paid or expires.
package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/httpx"
	"mercato/platform/scope"
)

// Errors returned by Service.
var (
	ErrLocationNotFound    = fault.New(fault.NotFound, "location_not_found", "stock location not found")
	ErrMerchantNotFound    = fault.New(fault.NotFound, "merchant_not_found", "merchant not found")
	ErrVariantNotFound     = fault.New(fault.NotFound, "variant_not_found", "no such variant of the location's merchant")
	ErrLocationNameTaken   = fault.New(fault.Conflict, "location_name_taken", "this merchant already has a location with this name")
	ErrNegativeStock       = fault.New(fault.Conflict, "negative_stock", "the adjustment would leave less than zero on hand")
	ErrBelowReserved       = fault.New(fault.Conflict, "stock_below_reserved", "the adjustment would leave less on hand than is reserved for checkouts")
	ErrInsufficientStock   = fault.New(fault.Conflict, "insufficient_stock", "not enough stock for a line")
	ErrReservationNotFound = fault.New(fault.NotFound, "reservation_not_found", "reservation not found")
	ErrReservationLapsed   = fault.New(fault.Conflict, "reservation_lapsed", "a reservation was released or has expired; its stock is no longer held")
)

// Reasons for an adjustment. ReasonSold is written by Commit; people use the others.
const (
	ReasonReceived   = "received"
	ReasonCorrection = "correction"
	ReasonDamaged    = "damaged"
	ReasonReturned   = "returned"
	ReasonSold       = "sold"
	ReasonOther      = "other"
)

// Location is a place where a merchant keeps stock.
type Location struct {
	ID         uuid.UUID       `json:"id"`
	MerchantID uuid.UUID       `json:"merchant_id"`
	Name       string          `json:"name"`
	Address    json.RawMessage `json:"address" doc:"free-form postal address, a JSON object"`
	IsDefault  bool            `json:"is_default" doc:"reservations take stock from here first"`
	CreatedAt  time.Time       `json:"created_at"`
}

// NewLocation is what CreateLocation takes.
type NewLocation struct {
	// MerchantID may be left zero in a merchant scope: the scope's merchant.
	MerchantID uuid.UUID       `json:"merchant_id,omitempty" doc:"required for tenant staff; merchant staff may omit it"`
	Name       string          `json:"name" minLength:"1" maxLength:"200"`
	Address    json.RawMessage `json:"address,omitempty" doc:"a JSON object"`
	IsDefault  bool            `json:"is_default,omitempty" doc:"make this the default location; a merchant's first location is always the default"`
}

// Level is the stock of one variant at one location.
type Level struct {
	VariantID  uuid.UUID `json:"variant_id"`
	LocationID uuid.UUID `json:"location_id"`
	MerchantID uuid.UUID `json:"merchant_id"`
	OnHand     int       `json:"on_hand" doc:"physically there"`
	Reserved   int       `json:"reserved" doc:"held for checkouts"`
	Available  int       `json:"available" doc:"on_hand - reserved: what can still be sold"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Adjustment is one change of on_hand, as the history keeps it.
type Adjustment struct {
	ID            uuid.UUID  `json:"id"`
	VariantID     uuid.UUID  `json:"variant_id"`
	LocationID    uuid.UUID  `json:"location_id"`
	MerchantID    uuid.UUID  `json:"merchant_id"`
	Delta         int        `json:"delta"`
	Reason        string     `json:"reason" enum:"received,correction,damaged,returned,sold,other"`
	Note          string     `json:"note"`
	Actor         string     `json:"actor"`
	OnHandAfter   int        `json:"on_hand_after"`
	ReservationID *uuid.UUID `json:"reservation_id,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

// NewAdjustment is what Adjust takes.
type NewAdjustment struct {
	VariantID  uuid.UUID `json:"variant_id"`
	LocationID uuid.UUID `json:"location_id"`
	Delta      int       `json:"delta" doc:"added to on_hand; negative to remove" minimum:"-1000000" maximum:"1000000"`
	Reason     string    `json:"reason" enum:"received,correction,damaged,returned,other"`
	Note       string    `json:"note,omitempty" maxLength:"500"`
}

// AdjustmentFilter narrows ListAdjustments; zero fields match everything.
type AdjustmentFilter struct {
	VariantID  uuid.UUID `query:"variant_id"`
	LocationID uuid.UUID `query:"location_id"`
	httpx.PageParams
}

// Recorder writes the audit entry of a change in the change's transaction.
type Recorder interface {
	Record(ctx context.Context, tx bun.IDB, action, resourceType, resourceID string, before, after any) error
}

// Service manages stock. Every method runs inside the tenant's RLS scope, narrowed to the
// merchant when ctx carries one (scope.WithMerchant), so merchant staff see and change only
// their own merchant's locations, levels, history and reservations.
type Service struct {
	db    *db.DB
	audit Recorder
	now   func() time.Time
}

// NewService builds the service.
func NewService(d *db.DB, audit Recorder) *Service {
	return &Service{db: d, audit: audit, now: time.Now}
}

// inScope runs fn in the tenant's scope, or the merchant's when ctx names one.
func (s *Service) inScope(ctx context.Context, tenantID uuid.UUID, fn func(tx bun.IDB) error) error {
	if m, ok := scope.MerchantFrom(ctx); ok {
		return s.db.WithMerchant(ctx, tenantID, m, fn)
	}
	return s.db.WithTenant(ctx, tenantID, fn)
}

type locationRow struct {
	bun.BaseModel `bun:"table:stock_locations"`
	TenantID      uuid.UUID       `bun:"tenant_id,pk"`
	ID            uuid.UUID       `bun:"id,pk"`
	MerchantID    uuid.UUID       `bun:"merchant_id"`
	Name          string          `bun:"name"`
	Address       json.RawMessage `bun:"address,type:jsonb"`
	IsDefault     bool            `bun:"is_default"`
	CreatedAt     time.Time       `bun:"created_at"`
}

func (r locationRow) location() Location {
	return Location{ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, Address: r.Address, IsDefault: r.IsDefault, CreatedAt: r.CreatedAt}
}

// CreateLocation adds a stock location for a merchant. A merchant's first location becomes its
// default, and a location created with IsDefault takes the default over.
// Errors: invalid fields, ErrMerchantNotFound (also for another merchant's id in a merchant
// scope), ErrLocationNameTaken.
func (s *Service) CreateLocation(ctx context.Context, tenantID uuid.UUID, in NewLocation) (Location, error) {
	in.Name = strings.TrimSpace(in.Name)
	bad := map[string]string{}
	if in.Name == "" || len(in.Name) > 200 {
		bad["body.name"] = "1–200 characters"
	}
	if len(in.Address) == 0 || string(in.Address) == "null" {
		in.Address = json.RawMessage(`{}`)
	}
	var obj map[string]any
	if json.Unmarshal(in.Address, &obj) != nil {
		bad["body.address"] = "a JSON object"
	}
	if m, ok := scope.MerchantFrom(ctx); ok {
		if in.MerchantID == uuid.Nil {
			in.MerchantID = m
		} else if in.MerchantID != m {
			return Location{}, ErrMerchantNotFound
		}
	}
	if in.MerchantID == uuid.Nil {
		bad["body.merchant_id"] = "the merchant that owns the location"
	}
	if len(bad) > 0 {
		return Location{}, fault.Fields(bad)
	}
	row := locationRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()), MerchantID: in.MerchantID, Name: in.Name,
		Address: in.Address, IsDefault: in.IsDefault, CreatedAt: s.now().UTC()}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var merchants int
		if err := tx.NewRaw("SELECT count(*) FROM merchants WHERE tenant_id = ? AND id = ?", tenantID, in.MerchantID).
			Scan(ctx, &merchants); err != nil {
			return fmt.Errorf("find merchant: %w", err)
		}
		if merchants == 0 {
			return ErrMerchantNotFound
		}
		var hasDefault bool
		if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM stock_locations WHERE tenant_id = ? AND merchant_id = ? AND is_default)",
			tenantID, in.MerchantID).Scan(ctx, &hasDefault); err != nil {
			return fmt.Errorf("find default location: %w", err)
		}
		if !hasDefault {
			row.IsDefault = true
		} else if row.IsDefault {
			if _, err := tx.NewUpdate().Table("stock_locations").Set("is_default = false").
				Where("tenant_id = ? AND merchant_id = ? AND is_default", tenantID, in.MerchantID).Exec(ctx); err != nil {
				return fmt.Errorf("move default location: %w", err)
			}
		}
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			if c, ok := db.UniqueViolation(err); ok && c == "stock_locations_tenant_id_merchant_id_name_key" {
				return ErrLocationNameTaken
			}
			return err
		}
		return s.audit.Record(ctx, tx, "stock_location.create", "stock_location", row.ID.String(), nil, row.location())
	})
	if err != nil {
		return Location{}, fmt.Errorf("create location: %w", err)
	}
	return row.location(), nil
}

// ListLocations lists the locations visible in scope, default first, then by creation;
// merchantID narrows to one merchant (uuid.Nil: all the scope can see).
func (s *Service) ListLocations(ctx context.Context, tenantID, merchantID uuid.UUID, p httpx.PageParams) (httpx.Page[Location], error) {
	var after struct {
		Merchant uuid.UUID `json:"m"`
		ID       uuid.UUID `json:"i"`
	}
	first, err := httpx.DecodeCursor(p.Cursor, &after)
	if err != nil {
		return httpx.Page[Location]{}, err
	}
	var rows []locationRow
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID).
			OrderExpr("merchant_id, id").Limit(int64(p.Size() + 1))
		if merchantID != uuid.Nil {
			q = q.Where("merchant_id = ?", merchantID)
		}
		if !first {
			q = q.Where("(merchant_id, id) > (?, ?)", after.Merchant, after.ID)
		}
		return q.Scan(ctx)
	})
	if err != nil {
		return httpx.Page[Location]{}, fmt.Errorf("list locations: %w", err)
	}
	out := make([]Location, len(rows))
	for i, r := range rows {
		out[i] = r.location()
	}
	return httpx.PageOf(out, p, func(l Location) any {
		return struct {
			Merchant uuid.UUID `json:"m"`
			ID       uuid.UUID `json:"i"`
		}{l.MerchantID, l.ID}
	}), nil
}

const levelColumns = "variant_id, location_id, merchant_id, on_hand, reserved, available, updated_at"

// Adjust changes on_hand of a variant at a location by in.Delta in one conditional UPDATE, so
// concurrent adjustments and reservations never take it below zero or below what is reserved;
// it writes the history row and the audit entry in the same transaction. A location without a
// level for the variant starts at zero.
// Errors: invalid fields, ErrLocationNotFound (also another merchant's location in a merchant
// scope, or another tenant's), ErrVariantNotFound (also a variant of another merchant than the
// location's), ErrNegativeStock, ErrBelowReserved.
func (s *Service) Adjust(ctx context.Context, tenantID uuid.UUID, in NewAdjustment) (Adjustment, Level, error) {
	bad := map[string]string{}
	if in.VariantID == uuid.Nil {
		bad["body.variant_id"] = "required"
	}
	if in.LocationID == uuid.Nil {
		bad["body.location_id"] = "required"
	}
	if in.Delta == 0 || in.Delta > 1_000_000 || in.Delta < -1_000_000 {
		bad["body.delta"] = "a non-zero whole number between -1000000 and 1000000"
	}
	switch in.Reason {
	case ReasonReceived, ReasonCorrection, ReasonDamaged, ReasonReturned, ReasonOther:
	default:
		bad["body.reason"] = "one of received, correction, damaged, returned, other"
	}
	in.Note = strings.TrimSpace(in.Note)
	if len(in.Note) > 500 {
		bad["body.note"] = "at most 500 characters"
	}
	if len(bad) > 0 {
		return Adjustment{}, Level{}, fault.Fields(bad)
	}
	var (
		adj Adjustment
		lvl Level
	)
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var merchantID uuid.UUID
		err := tx.NewRaw("SELECT merchant_id FROM stock_locations WHERE tenant_id = ? AND id = ?", tenantID, in.LocationID).
			Scan(ctx, &merchantID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLocationNotFound
		}
		if err != nil {
			return fmt.Errorf("find location: %w", err)
		}
		// Levels reference the variant with the location's merchant (migration 0011): asking
		// first turns what would be a foreign-key failure into a clear 404.
		var owner uuid.UUID
		err = tx.NewRaw("SELECT merchant_id FROM variants WHERE tenant_id = ? AND id = ?", tenantID, in.VariantID).Scan(ctx, &owner)
		if errors.Is(err, sql.ErrNoRows) || err == nil && owner != merchantID {
			return ErrVariantNotFound
		}
		if err != nil {
			return fmt.Errorf("find variant: %w", err)
		}
		var before Level
		if err := tx.NewRaw(`INSERT INTO inventory_levels (tenant_id, variant_id, location_id, merchant_id)
			VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, variant_id, location_id) DO UPDATE SET updated_at = inventory_levels.updated_at
			RETURNING `+levelColumns, tenantID, in.VariantID, in.LocationID, merchantID).Scan(ctx, &before); err != nil {
			return fmt.Errorf("ensure level: %w", err)
		}
		// The condition is re-checked on the locked row, so a reservation committed meanwhile
		// is respected: on_hand never drops under reserved (nor under zero, as reserved >= 0).
		err = tx.NewRaw(`UPDATE inventory_levels SET on_hand = on_hand + ?, updated_at = now()
			WHERE tenant_id = ? AND variant_id = ? AND location_id = ? AND on_hand + ? >= reserved
			RETURNING `+levelColumns, in.Delta, tenantID, in.VariantID, in.LocationID, in.Delta).Scan(ctx, &lvl)
		if errors.Is(err, sql.ErrNoRows) {
			if err := tx.NewRaw("SELECT "+levelColumns+" FROM inventory_levels WHERE tenant_id = ? AND variant_id = ? AND location_id = ?",
				tenantID, in.VariantID, in.LocationID).Scan(ctx, &before); err != nil {
				return fmt.Errorf("read level: %w", err)
			}
			if before.OnHand+in.Delta < 0 {
				return ErrNegativeStock
			}
			return ErrBelowReserved
		}
		if err != nil {
			return fmt.Errorf("update level: %w", err)
		}
		adj = Adjustment{ID: uuid.Must(uuid.NewV7()), VariantID: in.VariantID, LocationID: in.LocationID, MerchantID: merchantID,
			Delta: in.Delta, Reason: in.Reason, Note: in.Note, Actor: string(scope.ActorFrom(ctx)), OnHandAfter: lvl.OnHand}
		if err := insertAdjustment(ctx, tx, tenantID, &adj); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, "inventory.adjust", "inventory_level",
			in.VariantID.String()+"@"+in.LocationID.String(), before, lvl)
	})
	if err != nil {
		return Adjustment{}, Level{}, fmt.Errorf("adjust stock: %w", err)
	}
	return adj, lvl, nil
}

func insertAdjustment(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, a *Adjustment) error {
	if err := tx.NewRaw(`INSERT INTO inventory_adjustments
		(tenant_id, id, variant_id, location_id, merchant_id, delta, reason, note, actor, on_hand_after, reservation_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING created_at`,
		tenantID, a.ID, a.VariantID, a.LocationID, a.MerchantID, a.Delta, a.Reason, a.Note, a.Actor, a.OnHandAfter, a.ReservationID).
		Scan(ctx, &a.CreatedAt); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// Levels returns a variant's stock at every location visible in scope, default location
// first. A variant with no stock anywhere has no levels.
// Errors: ErrVariantNotFound (also another tenant's or, for merchant staff, another merchant's).
func (s *Service) Levels(ctx context.Context, tenantID, variantID uuid.UUID) ([]Level, error) {
	levels := []Level{}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		// A variant the caller cannot see (another tenant's or merchant's) is not found, as
		// everywhere else, rather than a variant without stock.
		var seen bool
		if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM variants WHERE tenant_id = ? AND id = ?)", tenantID, variantID).
			Scan(ctx, &seen); err != nil {
			return err
		}
		if !seen {
			return ErrVariantNotFound
		}
		return tx.NewRaw(`SELECT l.variant_id, l.location_id, l.merchant_id, l.on_hand, l.reserved, l.available, l.updated_at
			FROM inventory_levels l JOIN stock_locations s ON s.tenant_id = l.tenant_id AND s.id = l.location_id
			WHERE l.tenant_id = ? AND l.variant_id = ?
			ORDER BY s.is_default DESC, s.created_at, s.id`, tenantID, variantID).Scan(ctx, &levels)
	})
	if err != nil {
		return nil, fmt.Errorf("read levels: %w", err)
	}
	return levels, nil
}

// ListAdjustments pages through the history, newest first.
// Errors: httpx.ErrBadCursor.
func (s *Service) ListAdjustments(ctx context.Context, tenantID uuid.UUID, f AdjustmentFilter) (httpx.Page[Adjustment], error) {
	var after uuid.UUID
	first, err := httpx.DecodeCursor(f.Cursor, &after)
	if err != nil {
		return httpx.Page[Adjustment]{}, err
	}
	items := []Adjustment{}
	err = s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		q := tx.NewSelect().Table("inventory_adjustments").
			Column("id", "variant_id", "location_id", "merchant_id", "delta", "reason", "note", "actor",
				"on_hand_after", "reservation_id", "created_at").
			Where("tenant_id = ?", tenantID).OrderExpr("id DESC").Limit(int64(f.Size() + 1))
		if f.VariantID != uuid.Nil {
			q = q.Where("variant_id = ?", f.VariantID)
		}
		if f.LocationID != uuid.Nil {
			q = q.Where("location_id = ?", f.LocationID)
		}
		if !first {
			q = q.Where("id < ?", after)
		}
		return q.Scan(ctx, &items)
	})
	if err != nil {
		return httpx.Page[Adjustment]{}, fmt.Errorf("list adjustments: %w", err)
	}
	return httpx.PageOf(items, f.PageParams, func(a Adjustment) any { return a.ID }), nil
}
