package httpx

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/fault"
	"mercato/platform/scope"
)

// Idempotency-Key errors.
var (
	ErrIdempotencyKeyTooLong  = fault.New(fault.Invalid, "idempotency_key_invalid", "Idempotency-Key must be 1 to 255 characters")
	ErrIdempotencyInProgress  = fault.New(fault.Conflict, "idempotency_in_progress", "a request with this Idempotency-Key is still being processed; retry later")
	ErrIdempotencyKeyMismatch = fault.New(fault.Unprocessable, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
)

// IdempotencyHeader is the request header that makes a POST safe to retry.
const IdempotencyHeader = "Idempotency-Key"

// Idempotency makes POST requests that carry an Idempotency-Key run once per caller and key:
// a retry gets the first response again (with Idempotent-Replayed: true), a retry while the
// first is still running gets 409, the same key with a different request gets 422. Records
// live in PostgreSQL under RLS, scoped to the tenant and the actor, for ttl. Mount it after
// tenant resolution and authentication, so the scope is known. 5xx answers are not kept, so
// the caller may retry them; nor are 429s.
func Idempotency(d *db.DB, ttl time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodPost || c.Get(IdempotencyHeader) == "" {
			return c.Next()
		}
		key := c.Get(IdempotencyHeader)
		if len(key) > 255 {
			return ErrIdempotencyKeyTooLong
		}
		ctx := c.UserContext()
		rec := idemRecord{key: key, principal: principalOf(ctx, c.IP())}
		h := sha256.New()
		fmt.Fprintf(h, "%s\x00%s\x00", c.Method(), c.OriginalURL())
		h.Write(c.Body())
		rec.hash = h.Sum(nil)

		var stored *storedResponse
		err := inIdemScope(ctx, d, func(tx bun.IDB) error {
			var err error
			stored, err = rec.claim(ctx, tx, ttl)
			return err
		})
		if err != nil {
			return err
		}
		if stored != nil {
			c.Set("Idempotent-Replayed", "true")
			c.Set(fiber.HeaderContentType, stored.contentType)
			return c.Status(stored.status).Send(stored.body)
		}

		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				return herr
			}
		}
		resp := c.Response()
		status := resp.StatusCode()
		// The request is done; keep its answer even if the client went away.
		ctx = context.WithoutCancel(ctx)
		return inIdemScope(ctx, d, func(tx bun.IDB) error {
			if status >= 500 || status == fiber.StatusTooManyRequests {
				return rec.release(ctx, tx) // the caller should retry these, not get them replayed
			}
			return rec.finish(ctx, tx, status, string(resp.Header.ContentType()), resp.Body())
		})
	}
}

type idemRecord struct {
	key, principal string
	hash           []byte
}

type storedResponse struct {
	status      int
	contentType string
	body        []byte
}

// claim inserts the record, or takes over an expired one; otherwise it reports what the
// first request left: its response, or that it is still running, or a different request.
func (r *idemRecord) claim(ctx context.Context, tx bun.IDB, ttl time.Duration) (*storedResponse, error) {
	var claimed bool
	err := tx.NewRaw(`
		INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, expires_at)
		VALUES ((SELECT current_setting('app.tenant_id')::uuid), ?, ?, ?, now() + ?::interval)
		ON CONFLICT (tenant_id, principal, key) DO UPDATE
		  SET request_hash = EXCLUDED.request_hash, status_code = NULL, content_type = NULL,
		      response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
		  WHERE idempotency_keys.expires_at < now()
		RETURNING true`, r.principal, r.key, r.hash, fmt.Sprintf("%d seconds", int(ttl.Seconds()))).Scan(ctx, &claimed)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	var row struct {
		Hash        []byte         `bun:"request_hash"`
		Status      sql.NullInt64  `bun:"status_code"`
		ContentType sql.NullString `bun:"content_type"`
		Body        []byte         `bun:"response_body"`
	}
	if err := tx.NewRaw(`SELECT request_hash, status_code, content_type, response_body FROM idempotency_keys
		WHERE principal = ? AND key = ?`, r.principal, r.key).Scan(ctx, &row); err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	switch {
	case string(row.Hash) != string(r.hash):
		return nil, ErrIdempotencyKeyMismatch
	case !row.Status.Valid:
		return nil, ErrIdempotencyInProgress
	}
	return &storedResponse{status: int(row.Status.Int64), contentType: row.ContentType.String, body: row.Body}, nil
}

func (r *idemRecord) finish(ctx context.Context, tx bun.IDB, status int, contentType string, body []byte) error {
	_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = ?, content_type = ?, response_body = ?
		WHERE principal = ? AND key = ?`, status, contentType, body, r.principal, r.key)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

func (r *idemRecord) release(ctx context.Context, tx bun.IDB) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE principal = ? AND key = ?`, r.principal, r.key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// inIdemScope runs fn in the tenant of the request, or in the platform scope outside tenants.
func inIdemScope(ctx context.Context, d *db.DB, fn func(tx bun.IDB) error) error {
	if t, ok := scope.TenantFrom(ctx); ok {
		return d.WithTenant(ctx, t, fn)
	}
	return d.WithPlatformScope(ctx, fn)
}

// principalOf keys records by the authenticated actor; anonymous callers by their address, so
// one anonymous client cannot replay another's response.
func principalOf(ctx context.Context, ip string) string {
	a := scope.ActorFrom(ctx)
	if a == "anonymous" {
		return "anonymous:" + ip
	}
	return string(a)
}

// PurgeIdempotencyKeys deletes expired records of every tenant; the worker runs it hourly.
func PurgeIdempotencyKeys(ctx context.Context, p *db.Platform) (int64, error) {
	var n int64
	err := p.Do(ctx, "sweep.idempotency_keys", func(tx bun.IDB) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE expires_at < now()")
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}
