-- Carts (tenants/cart): one open cart per signed-in shopper or per guest session, and its
-- lines. A line keeps only what the shopper chose (variant, quantity) and the unit price they
-- last saw, so the cart can say when the price has changed; everything else is re-read from
-- the catalog, inventory and flash sales on every view. Lines are the shopper's, not a
-- merchant's, so they carry no merchant_id and no merchant fence: the merchant comes from the
-- variant when the cart is priced.

CREATE TABLE carts (
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id               uuid NOT NULL DEFAULT uuidv7(),
  shopper_id       uuid,
  guest_session_id uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  -- exactly one owner
  CHECK ((shopper_id IS NULL) <> (guest_session_id IS NULL)),
  UNIQUE (tenant_id, shopper_id),
  UNIQUE (tenant_id, guest_session_id),
  FOREIGN KEY (tenant_id, shopper_id) REFERENCES shoppers (tenant_id, id) ON DELETE CASCADE,
  -- a guest cart goes when its session is swept
  FOREIGN KEY (tenant_id, guest_session_id) REFERENCES shopper_sessions (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('carts');

CREATE TABLE cart_lines (
  tenant_id        uuid NOT NULL,
  id               uuid NOT NULL DEFAULT uuidv7(),
  cart_id          uuid NOT NULL,
  variant_id       uuid NOT NULL,
  quantity         int NOT NULL CHECK (quantity BETWEEN 1 AND 99),
  seen_price_minor bigint NOT NULL CHECK (seen_price_minor >= 0), -- unit price when last added or changed
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, cart_id, variant_id),
  FOREIGN KEY (tenant_id, cart_id) REFERENCES carts (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('cart_lines');
CREATE INDEX cart_lines_variant ON cart_lines (tenant_id, variant_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON carts, cart_lines TO mercato_app, mercato_platform;
