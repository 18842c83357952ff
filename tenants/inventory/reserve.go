package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/scope"
)

// More errors of reservations.
var (
	ErrReservationCommitted = fault.New(fault.Conflict, "reservation_committed", "the reservation was committed to an order; return stock with an adjustment instead")
)

// Reservation statuses. held → committed | released | expired; the last three are final.
const (
	StatusHeld      = "held"
	StatusCommitted = "committed"
	StatusReleased  = "released"
	StatusExpired   = "expired"
)

// Limits of Reserve.
const (
	MaxLines       = 100
	MaxLineQty     = 10_000
	MaxTTL         = 24 * time.Hour
	maxPickRetries = 5 // a line moves on to another location at most this often after losing a race
)

// Line is one variant and how many of it to hold.
type Line struct {
	VariantID uuid.UUID `json:"variant_id"`
	Quantity  int       `json:"quantity"`
}

// Reservation is stock held for one line of a checkout.
type Reservation struct {
	ID         uuid.UUID `json:"id"`
	VariantID  uuid.UUID `json:"variant_id"`
	LocationID uuid.UUID `json:"location_id"`
	MerchantID uuid.UUID `json:"merchant_id"`
	Quantity   int       `json:"quantity"`
	OwnerRef   string    `json:"owner_ref"`
	Status     string    `json:"status" enum:"held,committed,released,expired"`
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedAt  time.Time `json:"created_at"`
}

// ShortageError is ErrInsufficientStock for one variant: errors.Is(err, ErrInsufficientStock)
// holds, and the problem the client sees names the variant.
type ShortageError struct {
	VariantID uuid.UUID
	Requested int
}

func (e *ShortageError) Error() string {
	return fmt.Sprintf("not enough stock for variant %s (requested %d)", e.VariantID, e.Requested)
}

// Is makes errors.Is(err, ErrInsufficientStock) true.
func (e *ShortageError) Is(target error) bool { return target == ErrInsufficientStock }

// As gives platform/httpx a fault.Error (Conflict, insufficient_stock) that names the variant.
func (e *ShortageError) As(target any) bool {
	p, ok := target.(**fault.Error)
	if ok {
		*p = &fault.Error{Kind: fault.Conflict, Code: ErrInsufficientStock.Code, Message: e.Error()}
	}
	return ok
}

// Reserve holds stock for every line, or for none: all lines run in one transaction, each as
// one conditional UPDATE (reserved = reserved + n WHERE on_hand - reserved >= n) that writes
// its reservation row in the same statement, so concurrent checkouts can never hold more than
// is on hand. Lines of the same variant are merged, and lines run in variant order so two
// checkouts lock shared rows in the same order.
//
// Which location serves a line: the whole line comes from one location (lines are never split),
// chosen among the variant's locations that have the quantity available: the merchant's default
// location first, then the one with the most available, then by location id. If another
// checkout takes the chosen location's stock first, the line tries again with a fresh view, so it
// falls through to the next location that still has enough.
//
// The reservations expire ttl from now unless committed or released; ExpireDue returns their
// stock. Errors: invalid fields, a *ShortageError (errors.Is ErrInsufficientStock, fault
// Conflict) naming the first variant that could not be held.
func (s *Service) Reserve(ctx context.Context, tenantID uuid.UUID, lines []Line, ownerRef string, ttl time.Duration) ([]Reservation, error) {
	merged, err := validateReserve(lines, &ownerRef, ttl)
	if err != nil {
		return nil, err
	}
	var out []Reservation
	for attempt := 1; ; attempt++ {
		out, err = s.reserveOnce(ctx, tenantID, merged, ownerRef, ttl)
		// Two checkouts with lines at several locations can still deadlock; PostgreSQL aborts
		// one, which has held nothing, so it is safe to run again.
		if !isDeadlock(err) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reserve stock: %w", err)
	}
	return out, nil
}

func validateReserve(lines []Line, ownerRef *string, ttl time.Duration) ([]Line, error) {
	bad := map[string]string{}
	*ownerRef = strings.TrimSpace(*ownerRef)
	if *ownerRef == "" || len(*ownerRef) > 200 {
		bad["owner_ref"] = "1–200 characters"
	}
	if ttl <= 0 || ttl > MaxTTL {
		bad["ttl"] = "more than 0 and at most 24h"
	}
	if len(lines) == 0 || len(lines) > MaxLines {
		bad["lines"] = fmt.Sprintf("1–%d lines", MaxLines)
	}
	qty := map[uuid.UUID]int{}
	for i, l := range lines {
		if l.VariantID == uuid.Nil {
			bad[fmt.Sprintf("lines[%d].variant_id", i)] = "required"
		}
		if l.Quantity <= 0 || l.Quantity > MaxLineQty {
			bad[fmt.Sprintf("lines[%d].quantity", i)] = fmt.Sprintf("1–%d", MaxLineQty)
		}
		qty[l.VariantID] += l.Quantity
	}
	if len(bad) > 0 {
		return nil, fault.Fields(bad)
	}
	merged := make([]Line, 0, len(qty))
	for v, q := range qty {
		merged = append(merged, Line{VariantID: v, Quantity: q})
	}
	slices.SortFunc(merged, func(a, b Line) int { return strings.Compare(a.VariantID.String(), b.VariantID.String()) })
	return merged, nil
}

// holdLine is one line's statement: pick a location, take the stock there if it is still
// available when the row is locked, and write the reservation. picked without location_id
// means the pick lost a race; no row at all means no location had enough.
const holdLine = `
WITH pick AS (
  SELECT l.location_id
  FROM inventory_levels l JOIN stock_locations s ON s.tenant_id = l.tenant_id AND s.id = l.location_id
  WHERE l.tenant_id = ?0 AND l.variant_id = ?1 AND l.available >= ?2
  ORDER BY s.is_default DESC, l.available DESC, l.location_id
  LIMIT 1
), held AS (
  UPDATE inventory_levels l SET reserved = l.reserved + ?2, updated_at = now()
  FROM pick
  WHERE l.tenant_id = ?0 AND l.variant_id = ?1 AND l.location_id = pick.location_id
    AND l.on_hand - l.reserved >= ?2
  RETURNING l.location_id, l.merchant_id
), ins AS (
  INSERT INTO reservations (tenant_id, id, variant_id, location_id, merchant_id, quantity, owner_ref, expires_at, created_at, updated_at)
  SELECT ?0, ?3, ?1, held.location_id, held.merchant_id, ?2, ?4, ?5, ?6, ?6 FROM held
  RETURNING location_id, merchant_id
)
SELECT pick.location_id AS picked, ins.location_id, ins.merchant_id FROM pick LEFT JOIN ins ON true`

// ReserveTx is Reserve inside the caller's transaction, which must run in the tenant's scope
// (db.WithTenant): checkout holds stock in the same transaction that writes its order, so
// either both happen or neither does. It does not retry a deadlock, because PostgreSQL aborts
// the whole transaction: the caller retries its own transaction (errors.Is(err, ErrDeadlock)
// tells it when). Errors: those of Reserve, and ErrDeadlock.
func (s *Service) ReserveTx(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, lines []Line, ownerRef string, ttl time.Duration) ([]Reservation, error) {
	merged, err := validateReserve(lines, &ownerRef, ttl)
	if err != nil {
		return nil, err
	}
	out, err := s.hold(ctx, tx, tenantID, merged, ownerRef, ttl)
	if isDeadlock(err) {
		err = fmt.Errorf("%w: %w", ErrDeadlock, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reserve stock: %w", err)
	}
	return out, nil
}

// ErrDeadlock marks a ReserveTx that PostgreSQL aborted to break a deadlock (or a
// serialization failure): its transaction is lost and should run again from the start.
var ErrDeadlock = fault.New(fault.Conflict, "reservation_deadlock", "stock was contended; try again")

// IsRetryable reports whether err is a deadlock or serialization failure, after which a
// transaction may simply run again.
func IsRetryable(err error) bool { return isDeadlock(err) || errors.Is(err, ErrDeadlock) }

func (s *Service) reserveOnce(ctx context.Context, tenantID uuid.UUID, lines []Line, ownerRef string, ttl time.Duration) ([]Reservation, error) {
	var out []Reservation
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		var err error
		out, err = s.hold(ctx, tx, tenantID, lines, ownerRef, ttl)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hold runs holdLine for every (merged, sorted) line in tx.
func (s *Service) hold(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, lines []Line, ownerRef string, ttl time.Duration) ([]Reservation, error) {
	now := s.now().UTC()
	out := make([]Reservation, 0, len(lines))
	err := func() error {
		for _, l := range lines {
			r := Reservation{ID: uuid.Must(uuid.NewV7()), VariantID: l.VariantID, Quantity: l.Quantity, OwnerRef: ownerRef,
				Status: StatusHeld, ExpiresAt: now.Add(ttl), CreatedAt: now}
			for try := 1; ; try++ {
				var res struct {
					Picked     uuid.UUID
					LocationID uuid.NullUUID
					MerchantID uuid.NullUUID
				}
				err := tx.NewRaw(holdLine, tenantID, l.VariantID, l.Quantity, r.ID, ownerRef, r.ExpiresAt, now).Scan(ctx, &res)
				if errors.Is(err, sql.ErrNoRows) || (err == nil && !res.LocationID.Valid && try == maxPickRetries) {
					return &ShortageError{VariantID: l.VariantID, Requested: l.Quantity}
				}
				if err != nil {
					return fmt.Errorf("hold %s: %w", l.VariantID, err)
				}
				if res.LocationID.Valid {
					r.LocationID, r.MerchantID = res.LocationID.UUID, res.MerchantID.UUID
					break
				}
			}
			out = append(out, r)
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return out, nil
}

func isDeadlock(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// Reservations lists what is held or was held for ownerRef (a checkout or cart), oldest first.
func (s *Service) Reservations(ctx context.Context, tenantID uuid.UUID, ownerRef string) ([]Reservation, error) {
	out := []Reservation{}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error {
		return tx.NewRaw(`SELECT `+reservationColumns+` FROM reservations WHERE tenant_id = ? AND owner_ref = ? ORDER BY id`,
			tenantID, ownerRef).Scan(ctx, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("list reservations: %w", err)
	}
	return out, nil
}

const reservationColumns = "id, variant_id, location_id, merchant_id, quantity, owner_ref, status, expires_at, created_at"

// lockReservations locks ids in id order and checks they all exist in scope.
func lockReservations(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) ([]Reservation, error) {
	var rs []Reservation
	if err := tx.NewRaw(`SELECT `+reservationColumns+` FROM reservations WHERE tenant_id = ? AND id IN (?) ORDER BY id FOR UPDATE`,
		tenantID, bun.In(ids)).Scan(ctx, &rs); err != nil {
		return nil, fmt.Errorf("lock reservations: %w", err)
	}
	found := map[uuid.UUID]bool{}
	for _, r := range rs {
		found[r.ID] = true
	}
	for _, id := range ids {
		if !found[id] {
			return nil, ErrReservationNotFound
		}
	}
	return rs, nil
}

// Commit turns held reservations into sales when their order is paid: on_hand and reserved
// both drop by the quantity and the history records a "sold" adjustment. It is all or
// nothing and idempotent: reservations already committed are left as they are, so a payment
// event applied twice sells once.
// Errors: ErrReservationNotFound (any id unknown in scope), ErrReservationLapsed (any was
// released or expired: its stock may have been sold to someone else; nothing is committed).
func (s *Service) Commit(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error { return commit(ctx, tx, tenantID, ids) })
	if err != nil {
		return fmt.Errorf("commit reservations: %w", err)
	}
	return nil
}

// CommitTx is Commit inside the caller's transaction (in the tenant's scope), so an order
// becomes paid and its stock sold together.
func (s *Service) CommitTx(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	if err := commit(ctx, tx, tenantID, ids); err != nil {
		return fmt.Errorf("commit reservations: %w", err)
	}
	return nil
}

func commit(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) error {
	actor := string(scope.ActorFrom(ctx))
	rs, err := lockReservations(ctx, tx, tenantID, ids)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Status == StatusReleased || r.Status == StatusExpired {
			return ErrReservationLapsed
		}
	}
	for _, r := range rs {
		if r.Status != StatusHeld {
			continue
		}
		if _, err := tx.NewRaw(`WITH lv AS (
			UPDATE inventory_levels SET on_hand = on_hand - ?3, reserved = reserved - ?3, updated_at = now()
			WHERE tenant_id = ?0 AND variant_id = ?1 AND location_id = ?2
			RETURNING merchant_id, on_hand)
			INSERT INTO inventory_adjustments (tenant_id, variant_id, location_id, merchant_id, delta, reason, note, actor, on_hand_after, reservation_id)
			SELECT ?0, ?1, ?2, merchant_id, -?3, 'sold', ?4, ?5, on_hand, ?6 FROM lv`,
			tenantID, r.VariantID, r.LocationID, r.Quantity, "order for "+r.OwnerRef, actor, r.ID).Exec(ctx); err != nil {
			return fmt.Errorf("sell %s: %w", r.ID, err)
		}
		if _, err := tx.NewRaw(`UPDATE reservations SET status = 'committed', updated_at = now() WHERE tenant_id = ? AND id = ?`,
			tenantID, r.ID).Exec(ctx); err != nil {
			return fmt.Errorf("mark committed: %w", err)
		}
	}
	return nil
}

// Release gives held stock back (a checkout abandoned or failed). Idempotent: released or
// expired reservations are left as they are.
// Errors: ErrReservationNotFound, ErrReservationCommitted (nothing is released).
func (s *Service) Release(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inScope(ctx, tenantID, func(tx bun.IDB) error { return release(ctx, tx, tenantID, ids) })
	if err != nil {
		return fmt.Errorf("release reservations: %w", err)
	}
	return nil
}

// ReleaseTx is Release inside the caller's transaction (in the tenant's scope), so a cancelled
// order and its stock going back to sale commit together.
func (s *Service) ReleaseTx(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	if err := release(ctx, tx, tenantID, ids); err != nil {
		return fmt.Errorf("release reservations: %w", err)
	}
	return nil
}

func release(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) error {
	rs, err := lockReservations(ctx, tx, tenantID, ids)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Status == StatusCommitted {
			return ErrReservationCommitted
		}
	}
	for _, r := range rs {
		if r.Status != StatusHeld {
			continue
		}
		if _, err := tx.NewRaw(`WITH r AS (
			UPDATE reservations SET status = 'released', updated_at = now() WHERE tenant_id = ?0 AND id = ?1)
			UPDATE inventory_levels SET reserved = reserved - ?4, updated_at = now()
			WHERE tenant_id = ?0 AND variant_id = ?2 AND location_id = ?3`,
			tenantID, r.ID, r.VariantID, r.LocationID, r.Quantity).Exec(ctx); err != nil {
			return fmt.Errorf("release %s: %w", r.ID, err)
		}
	}
	return nil
}

// expireBatch marks up to ?1 held reservations due at ?0 expired, across tenants, and gives
// their stock back. SKIP LOCKED lets several workers sweep at once and never waits on a
// checkout that is committing or releasing the same row (which then wins). Levels are updated
// from per-level sums because UPDATE ... FROM applies only one source row per target row.
const expireBatch = `
WITH due AS (
  SELECT tenant_id, id FROM reservations
  WHERE status = 'held' AND expires_at <= ?0
  ORDER BY expires_at LIMIT ?1
  FOR UPDATE SKIP LOCKED
), gone AS (
  UPDATE reservations r SET status = 'expired', updated_at = now()
  FROM due WHERE r.tenant_id = due.tenant_id AND r.id = due.id
  RETURNING r.tenant_id, r.variant_id, r.location_id, r.quantity
), per_level AS (
  SELECT tenant_id, variant_id, location_id, sum(quantity)::int AS quantity FROM gone GROUP BY 1, 2, 3
), back AS (
  UPDATE inventory_levels l SET reserved = l.reserved - p.quantity, updated_at = now()
  FROM per_level p
  WHERE l.tenant_id = p.tenant_id AND l.variant_id = p.variant_id AND l.location_id = p.location_id
)
SELECT count(*) FROM gone`

// ExpireDue releases held reservations whose expires_at is not after now, across tenants, in
// batches of limit, each batch one audited platform transaction ("inventory.expire"). It
// returns how many it expired. Running it twice, or on several workers at once, expires each
// reservation once: only held rows are touched.
func ExpireDue(ctx context.Context, platform *db.Platform, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	total := 0
	for {
		var n int
		err := platform.Do(ctx, "inventory.expire", func(tx bun.IDB) error {
			return tx.NewRaw(expireBatch, now.UTC(), limit).Scan(ctx, &n)
		})
		if err != nil {
			return total, fmt.Errorf("expire reservations: %w", err)
		}
		total += n
		if n < limit {
			return total, nil
		}
	}
}
