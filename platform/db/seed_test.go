package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"mercato/platform/db"
	"mercato/platform/db/dbtest"
	"mercato/platform/scope"
)

// twoTenants puts rows for tenants A and B into every tenant table, through the audited
// platform entry point, and returns their ids. TestEveryTenantTableSeeded keeps it complete.
func twoTenants(t *testing.T, f *dbtest.Fixture) (a, b uuid.UUID) {
	t.Helper()
	ctx := scope.WithActor(context.Background(), "system:test")
	a, b = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	err := f.Platform.Do(ctx, "test.seed", func(tx bun.IDB) error {
		stmts := []string{
			`INSERT INTO plans (code, name, price_minor, currency) VALUES ('test', 'Test', 0, 'USD') ON CONFLICT DO NOTHING`,
			`INSERT INTO staff_users (email, name) VALUES ('staff-` + a.String() + `@example.com', 'Staff') `,
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		for i, id := range []uuid.UUID{a, b} {
			slug := []string{"tenant-a", "tenant-b"}[i] + "-" + id.String()[:8]
			for _, s := range []string{
				`INSERT INTO tenants (id, slug, name, plan_id) SELECT ?0, ?1, ?1, id FROM plans WHERE code = 'test'`,
				`INSERT INTO tenant_domains (host, tenant_id) VALUES (?1 || '.example.com', ?0)`,
				`INSERT INTO merchants (tenant_id, handle, name, status) VALUES (?0, 'same-handle', 'Shop', 'active'), (?0, 'second', 'Second', 'active')`,
				`INSERT INTO shoppers (tenant_id, email) VALUES (?0, 'same@example.com')`,
				`INSERT INTO merchant_invitations (tenant_id, email, merchant_name, token_hash, invited_by, expires_at)
				   VALUES (?0, 'invitee@example.com', 'Invited', '\x01', 'user:x', now() + interval '1 day')`,
				`INSERT INTO memberships (tenant_id, user_id, merchant_id, role)
				   SELECT ?0, u.id, m.id, 'merchant_owner' FROM staff_users u, merchants m
				   WHERE u.email = 'staff-` + a.String() + `@example.com' AND m.tenant_id = ?0 AND m.handle = 'same-handle'`,
				`INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, expires_at)
				   VALUES (?0, 'p', 'k', '\x00', now() + interval '1 day')`,
				`INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_sealed)
				   VALUES (?0, ?0, 'https://hooks.example.com/' || ?1, '{order.paid}', '\x00')`,
				`INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload, next_attempt_at)
				   VALUES (?0, ?0, ?0, 'order.paid', '{}', now())`,
				`INSERT INTO shopper_sessions (tenant_id, token_hash, shopper_id, created_at, last_seen_at, expires_at)
				   SELECT ?0, sha256(convert_to(?0::text || 'session', 'UTF8')), id, now(), now(), now() + interval '1 day' FROM shoppers WHERE tenant_id = ?0`,
				`INSERT INTO shopper_password_resets (tenant_id, shopper_id, token_hash, created_at, expires_at)
				   SELECT ?0, id, sha256(convert_to(?0::text || 'reset', 'UTF8')), now(), now() + interval '1 hour' FROM shoppers WHERE tenant_id = ?0`,
				`INSERT INTO api_keys (tenant_id, name, secret_hash, scopes, created_by)
				   VALUES (?0, 'seed', sha256(convert_to(?0::text, 'UTF8')), '{products:read}', 'system:test')`,
				`INSERT INTO staff_password_tokens (tenant_id, user_id, token_hash, created_by, expires_at)
				   SELECT ?0, id, sha256(convert_to(?0::text || 'staff', 'UTF8')), 'system:test', now() + interval '1 day'
				   FROM staff_users WHERE email = 'staff-` + a.String() + `@example.com'`,
				`INSERT INTO audit_entries (tenant_id, seq, id, at, actor, action, prev_hash, hash)
				   VALUES (?0, 1, uuidv7(), now(), 'system:test', 'test.seed', sha256(''), sha256(''))`,
				`INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?0, 1, sha256(''))`,
				`INSERT INTO custom_roles (tenant_id, name, permissions) VALUES (?0, 'same_role', '[["/v1/products/*", "read"]]')`,
				`INSERT INTO outbox (tenant_id, kind, payload, max_retry, timeout_seconds) VALUES (?0, 'test.seed', '{}', 0, 60)`,
				`INSERT INTO categories (tenant_id, id, slug, name) VALUES (?0, ?0, 'same-category', '{"en": "Same"}')`,
				`INSERT INTO attribute_definitions (tenant_id, code, type, name) VALUES (?0, 'material', 'text', '{"en": "Material"}')`,
				`INSERT INTO products (tenant_id, id, merchant_id, slug, category_id)
				   SELECT ?0, ?0, id, 'same-product', ?0 FROM merchants WHERE tenant_id = ?0 AND handle = 'same-handle'`,
				`INSERT INTO product_translations (tenant_id, product_id, merchant_id, locale, title) SELECT ?0, id, merchant_id, 'en', 'Same' FROM products WHERE tenant_id = ?0`,
				`INSERT INTO product_options (tenant_id, product_id, merchant_id, code, name, "values") SELECT ?0, id, merchant_id, 'size', '{"en": "Size"}', '{M}' FROM products WHERE tenant_id = ?0`,
				`INSERT INTO product_images (tenant_id, product_id, merchant_id, key) SELECT ?0, id, merchant_id, 'img/same.jpg' FROM products WHERE tenant_id = ?0`,
				`INSERT INTO variants (tenant_id, id, product_id, merchant_id, sku) SELECT ?0, ?0, id, merchant_id, 'SAME-SKU' FROM products WHERE tenant_id = ?0`,
				`INSERT INTO variant_prices (tenant_id, variant_id, merchant_id, currency, amount_minor) SELECT ?0, id, merchant_id, 'USD', 1000 FROM variants WHERE tenant_id = ?0`,
				// Listing the product writes its search document (migration 0012's triggers).
				`UPDATE products SET status = 'active' WHERE tenant_id = ?0`,
				`INSERT INTO stock_locations (tenant_id, id, merchant_id, name, is_default)
				   SELECT ?0, ?0, id, 'Main', true FROM merchants WHERE tenant_id = ?0 AND handle = 'same-handle'`,
				`INSERT INTO inventory_levels (tenant_id, variant_id, location_id, merchant_id, on_hand, reserved)
				   SELECT ?0, ?0, id, merchant_id, 5, 1 FROM stock_locations WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO inventory_adjustments (tenant_id, variant_id, location_id, merchant_id, delta, reason, actor, on_hand_after)
				   SELECT ?0, ?0, id, merchant_id, 5, 'received', 'system:test', 5 FROM stock_locations WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO reservations (tenant_id, variant_id, location_id, merchant_id, quantity, owner_ref, expires_at)
				   SELECT ?0, ?0, id, merchant_id, 1, 'checkout', now() + interval '15 minutes' FROM stock_locations WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO carts (tenant_id, id, shopper_id) SELECT ?0, ?0, id FROM shoppers WHERE tenant_id = ?0`,
				`INSERT INTO cart_lines (tenant_id, cart_id, variant_id, quantity, seen_price_minor) VALUES (?0, ?0, ?0, 1, 1000)`,
				`INSERT INTO coupons (tenant_id, id, code, kind, percent_bp, currency, funded_by, starts_at, ends_at, created_by)
				   VALUES (?0, ?0, 'SAME-CODE', 'percentage', 1000, 'USD', 'tenant', now(), now() + interval '1 day', 'system:test')`,
				`INSERT INTO coupon_redemptions (tenant_id, coupon_id, order_id, shopper_key, discount_minor, currency)
				   VALUES (?0, ?0, ?0, 'email:same@example.com', 100, 'USD')`,
				`INSERT INTO flash_sales (tenant_id, id, merchant_id, variant_id, currency, price_minor, quantity, starts_at, ends_at, created_by)
				   SELECT ?0, ?0, merchant_id, id, 'USD', 500, 10, now(), now() + interval '1 hour', 'system:test' FROM variants WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO flash_claims (tenant_id, sale_id, merchant_id, order_id, shopper_key, quantity)
				   SELECT ?0, id, merchant_id, ?0, 'email:same@example.com', 1 FROM flash_sales WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO shipping_rates (tenant_id, merchant_id, name, currency, kind, flat_minor)
				   SELECT ?0, id, 'Standard', 'USD', 'flat', 500 FROM merchants WHERE tenant_id = ?0 AND handle = 'same-handle'`,
				`INSERT INTO tax_rates (tenant_id, country, name, rate_bp) VALUES (?0, 'US', 'Sales tax', 800)`,
				`INSERT INTO orders (tenant_id, id, number, shopper_key, email, currency, address, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, expires_at)
				   VALUES (?0, ?0, 'SAME-1', 'email:same@example.com', 'same@example.com', 'USD', '{}', 1000, 0, 0, 0, 1000, now() + interval '30 minutes')`,
				`INSERT INTO merchant_orders (tenant_id, id, order_id, merchant_id, currency, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor)
				   SELECT ?0, ?0, ?0, id, 'USD', 1000, 0, 0, 0, 1000 FROM merchants WHERE tenant_id = ?0 AND handle = 'same-handle'`,
				`INSERT INTO order_lines (tenant_id, order_id, merchant_order_id, merchant_id, variant_id, product_id, quantity, unit_price_minor, list_price_minor, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor)
				   SELECT ?0, ?0, id, merchant_id, ?0, ?0, 1, 1000, 1000, 1000, 0, 0, 0, 1000 FROM merchant_orders WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO order_events (tenant_id, order_id, actor, to_status) VALUES (?0, ?0, 'system:test', 'pending_payment')`,
				`INSERT INTO shipments (tenant_id, id, order_id, merchant_order_id, merchant_id, carrier, tracking_number, created_by)
				   SELECT ?0, ?0, order_id, id, merchant_id, 'manual', 'SAME-TRACK', 'system:test' FROM merchant_orders WHERE tenant_id = ?0 AND id = ?0`,
				`INSERT INTO shipment_lines (tenant_id, shipment_id, order_line_id, merchant_id, quantity)
				   SELECT ?0, ?0, id, merchant_id, 1 FROM order_lines WHERE tenant_id = ?0 AND order_id = ?0`,
				`INSERT INTO tracking_events (tenant_id, shipment_id, merchant_id, status, occurred_at, source)
				   SELECT ?0, id, merchant_id, 'label_created', now(), 'manual' FROM shipments WHERE tenant_id = ?0 AND id = ?0`,
			} {
				if _, err := tx.ExecContext(ctx, s, id, slug); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed two tenants: %v", err)
	}
	return a, b
}

// tenantTables lists the tables RLS must guard: every table with a tenant_id column, and
// tenants itself.
func tenantTables(t *testing.T, d *db.DB) []string {
	t.Helper()
	var names []string
	err := d.Bun().NewRaw(`
		SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
		  AND (c.relname = 'tenants' OR EXISTS (
		    SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
		ORDER BY 1`).Scan(context.Background(), &names)
	if err != nil {
		t.Fatalf("list tenant tables: %v", err)
	}
	if len(names) < 5 {
		t.Fatalf("found only %d tenant tables: %v", len(names), names)
	}
	return names
}

// tenantColumn is the column that holds the tenant: tenant_id, or id for tenants itself.
func tenantColumn(table string) string {
	if table == "tenants" {
		return "id"
	}
	return "tenant_id"
}
