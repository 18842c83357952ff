-- Orders (tenants/orders): merchants' shipping rate tables, the tenant's tax rates, and the
-- orders checkout writes: one order per payment, split into one merchant order per merchant,
-- with lines whose prices, discounts, tax, shipping, commission and fee shares are frozen when
-- the order is placed. order_events is the timeline of every status change.
--
-- variant_id, product_id, shopper_id and coupon/flash ids name rows of other slices but carry
-- no foreign keys: an order must outlive the catalog row it was bought from (a product can be
-- archived or a coupon deleted after the sale), and the order keeps its own frozen copy.

-- A merchant's way of pricing delivery in one currency: flat, or by weight brackets
-- ([{"up_to_grams": n, "price_minor": p}, ...] ascending; a parcel heavier than the last
-- bracket cannot ship with the rate), optionally free when the merchant's goods reach
-- free_over_minor.
CREATE TABLE shipping_rates (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              uuid NOT NULL DEFAULT uuidv7(),
  merchant_id     uuid NOT NULL,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  kind            text NOT NULL CHECK (kind IN ('flat', 'weight')),
  flat_minor      bigint NOT NULL DEFAULT 0 CHECK (flat_minor >= 0),
  brackets        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(brackets) = 'array'),
  free_over_minor bigint CHECK (free_over_minor >= 0),
  active          boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, merchant_id, currency, name),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('shipping_rates');
SELECT enable_merchant_rls('shipping_rates', 'merchant_id');

-- Tax per region of the tenant: a country, optionally narrowed to a region code (a state or
-- province); the region's rate wins over the country's. rate_bp: 100 = 1%.
CREATE TABLE tax_rates (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuidv7(),
  country    char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  region     text NOT NULL DEFAULT '' CHECK (region ~ '^[A-Z0-9-]{0,10}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  rate_bp    integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
  inclusive  boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, country, region)
);
SELECT enable_tenant_rls('tax_rates');

CREATE TABLE orders (
  tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                 uuid NOT NULL DEFAULT uuidv7(),
  number             text NOT NULL CHECK (length(number) BETWEEN 1 AND 40),
  shopper_id         uuid,
  guest_session_id   uuid,
  shopper_key        text NOT NULL CHECK (length(shopper_key) BETWEEN 1 AND 300),
  email              text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
  status             text NOT NULL DEFAULT 'pending_payment' CHECK (status IN
                       ('pending_payment', 'paid', 'partially_fulfilled', 'fulfilled', 'completed', 'cancelled', 'refunded')),
  currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  locale             text NOT NULL DEFAULT 'en',
  address            jsonb NOT NULL CHECK (jsonb_typeof(address) = 'object'),
  tax_name           text NOT NULL DEFAULT '',
  tax_rate_bp        integer NOT NULL DEFAULT 0,
  tax_inclusive      boolean NOT NULL DEFAULT false,
  coupon_id          uuid,
  coupon_code        text NOT NULL DEFAULT '',
  discount_funded_by text NOT NULL DEFAULT '' CHECK (discount_funded_by IN ('', 'platform', 'tenant', 'merchant')),
  subtotal_minor     bigint NOT NULL CHECK (subtotal_minor >= 0),
  discount_minor     bigint NOT NULL CHECK (discount_minor >= 0),
  shipping_minor     bigint NOT NULL CHECK (shipping_minor >= 0),
  tax_minor          bigint NOT NULL CHECK (tax_minor >= 0),
  total_minor        bigint NOT NULL CHECK (total_minor >= 0),
  commission_minor   bigint NOT NULL DEFAULT 0,
  platform_fee_minor bigint NOT NULL DEFAULT 0,
  payment_ref        text NOT NULL DEFAULT '',
  expires_at         timestamptz NOT NULL,
  paid_at            timestamptz,
  cancelled_at       timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, number),
  CHECK (shopper_id IS NULL OR guest_session_id IS NULL)
);
SELECT enable_tenant_rls('orders');
CREATE INDEX orders_shopper ON orders (tenant_id, shopper_id, id DESC) WHERE shopper_id IS NOT NULL;
CREATE INDEX orders_status ON orders (tenant_id, status, id DESC);
-- The expiry sweep reads only unpaid orders, across tenants.
CREATE INDEX orders_unpaid_due ON orders (expires_at) WHERE status = 'pending_payment';

-- One merchant's part of an order: what it ships, what it is owed.
CREATE TABLE merchant_orders (
  tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                 uuid NOT NULL DEFAULT uuidv7(),
  order_id           uuid NOT NULL,
  merchant_id        uuid NOT NULL,
  merchant_name      text NOT NULL DEFAULT '',
  status             text NOT NULL DEFAULT 'pending_payment' CHECK (status IN
                       ('pending_payment', 'paid', 'partially_fulfilled', 'fulfilled', 'completed', 'cancelled', 'refunded')),
  currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  shipping_rate_id   uuid,
  shipping_name      text NOT NULL DEFAULT '',
  weight_grams       integer NOT NULL DEFAULT 0 CHECK (weight_grams >= 0),
  subtotal_minor     bigint NOT NULL CHECK (subtotal_minor >= 0),
  discount_minor     bigint NOT NULL CHECK (discount_minor >= 0),
  shipping_minor     bigint NOT NULL CHECK (shipping_minor >= 0),
  tax_minor          bigint NOT NULL CHECK (tax_minor >= 0),
  total_minor        bigint NOT NULL CHECK (total_minor >= 0),
  commission_minor   bigint NOT NULL DEFAULT 0,
  platform_fee_minor bigint NOT NULL DEFAULT 0,
  payable_minor      bigint NOT NULL DEFAULT 0,
  -- delivered_at starts the payout hold clock.
  delivered_at       timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, order_id, merchant_id),
  UNIQUE (tenant_id, id, merchant_id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id)
);
SELECT enable_tenant_rls('merchant_orders');
SELECT enable_merchant_rls('merchant_orders', 'merchant_id');
CREATE INDEX merchant_orders_merchant ON merchant_orders (tenant_id, merchant_id, id DESC);

-- A line as it was sold. The money columns hold the line's whole quantity; discount_funded_by
-- says who bears discount_minor (what billing/fees needs to split the charge).
CREATE TABLE order_lines (
  tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                 uuid NOT NULL DEFAULT uuidv7(),
  order_id           uuid NOT NULL,
  merchant_order_id  uuid NOT NULL,
  merchant_id        uuid NOT NULL,
  variant_id         uuid NOT NULL,
  product_id         uuid NOT NULL,
  sku                text NOT NULL DEFAULT '',
  title              text NOT NULL DEFAULT '',
  option_values      jsonb NOT NULL DEFAULT '{}',
  quantity           integer NOT NULL CHECK (quantity > 0),
  fulfilled_quantity integer NOT NULL DEFAULT 0 CHECK (fulfilled_quantity >= 0),
  unit_price_minor   bigint NOT NULL CHECK (unit_price_minor >= 0),
  list_price_minor   bigint NOT NULL CHECK (list_price_minor >= 0),
  flash_sale_id      uuid,
  weight_grams       integer NOT NULL DEFAULT 0 CHECK (weight_grams >= 0),
  subtotal_minor     bigint NOT NULL CHECK (subtotal_minor >= 0),
  discount_minor     bigint NOT NULL CHECK (discount_minor >= 0),
  discount_funded_by text NOT NULL DEFAULT '' CHECK (discount_funded_by IN ('', 'platform', 'tenant', 'merchant')),
  shipping_minor     bigint NOT NULL CHECK (shipping_minor >= 0),
  tax_minor          bigint NOT NULL CHECK (tax_minor >= 0),
  total_minor        bigint NOT NULL CHECK (total_minor >= 0),
  commission_minor   bigint NOT NULL DEFAULT 0,
  platform_fee_minor bigint NOT NULL DEFAULT 0,
  payable_minor      bigint NOT NULL DEFAULT 0,
  reservation_id     uuid,
  position           integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id),
  CHECK (fulfilled_quantity <= quantity),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, merchant_order_id, merchant_id) REFERENCES merchant_orders (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('order_lines');
SELECT enable_merchant_rls('order_lines', 'merchant_id');
CREATE INDEX order_lines_order ON order_lines (tenant_id, order_id, position);
CREATE INDEX order_lines_merchant_order ON order_lines (tenant_id, merchant_order_id);

-- The timeline: one row per status change of the order (merchant_order_id NULL) or of one
-- merchant order. Merchant staff see only their merchant orders' rows.
CREATE TABLE order_events (
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                uuid NOT NULL DEFAULT uuidv7(),
  order_id          uuid NOT NULL,
  merchant_order_id uuid,
  merchant_id       uuid,
  actor             text NOT NULL,
  from_status       text NOT NULL DEFAULT '',
  to_status         text NOT NULL,
  note              text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('order_events');
SELECT enable_merchant_rls('order_events', 'merchant_id');
CREATE INDEX order_events_order ON order_events (tenant_id, order_id, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON shipping_rates, tax_rates TO mercato_app;
GRANT SELECT, INSERT, UPDATE ON orders, merchant_orders, order_lines TO mercato_app;
GRANT SELECT, INSERT ON order_events TO mercato_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON shipping_rates, tax_rates, orders, merchant_orders, order_lines, order_events TO mercato_platform;
