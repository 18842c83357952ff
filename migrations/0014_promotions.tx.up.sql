-- Promotions (tenants/promotions): coupons with their redemptions, and flash sales with the
-- units each order claimed. Usage counters (coupons.used, flash_sales.sold) are bounded by
-- CHECK constraints as well as by the conditional UPDATEs that move them, so no race can push
-- them past their limit. order_id names the order that redeemed or claimed (tenants/orders);
-- it carries no foreign key because orders are created later in the same transaction.

CREATE TABLE coupons (
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                uuid NOT NULL DEFAULT uuidv7(),
  code              text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{2,31}$'), -- stored upper case; shoppers type any case
  merchant_id       uuid, -- NULL: the whole cart; otherwise only that merchant's lines
  kind              text NOT NULL CHECK (kind IN ('percentage', 'fixed')),
  percent_bp        int CHECK (percent_bp BETWEEN 1 AND 10000), -- basis points: 1000 = 10%
  amount_minor      bigint CHECK (amount_minor > 0),
  currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  min_spend_minor   bigint NOT NULL DEFAULT 0 CHECK (min_spend_minor >= 0),
  funded_by         text NOT NULL CHECK (funded_by IN ('platform', 'tenant', 'merchant')),
  starts_at         timestamptz NOT NULL,
  ends_at           timestamptz NOT NULL,
  usage_limit       int CHECK (usage_limit > 0),       -- NULL: unlimited
  per_shopper_limit int CHECK (per_shopper_limit > 0), -- NULL: unlimited
  used              int NOT NULL DEFAULT 0,
  active            boolean NOT NULL DEFAULT true,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, code),
  CHECK (ends_at > starts_at),
  CHECK ((kind = 'percentage') = (percent_bp IS NOT NULL) AND (kind = 'fixed') = (amount_minor IS NOT NULL)),
  CHECK (funded_by <> 'merchant' OR merchant_id IS NOT NULL),
  CHECK (used >= 0 AND (usage_limit IS NULL OR used <= usage_limit)),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('coupons');
SELECT enable_merchant_rls('coupons', 'merchant_id');

CREATE TABLE coupon_redemptions (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id             uuid NOT NULL DEFAULT uuidv7(),
  coupon_id      uuid NOT NULL,
  merchant_id    uuid, -- the coupon's
  order_id       uuid NOT NULL,
  shopper_key    text NOT NULL CHECK (shopper_key ~ '^(shopper|email):.+$'),
  discount_minor bigint NOT NULL CHECK (discount_minor >= 0),
  currency       char(3) NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, coupon_id, order_id),
  FOREIGN KEY (tenant_id, coupon_id) REFERENCES coupons (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('coupon_redemptions');
SELECT enable_merchant_rls('coupon_redemptions', 'merchant_id');
CREATE INDEX coupon_redemptions_shopper ON coupon_redemptions (tenant_id, coupon_id, shopper_key);

CREATE TABLE flash_sales (
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                uuid NOT NULL DEFAULT uuidv7(),
  merchant_id       uuid NOT NULL,
  variant_id        uuid NOT NULL,
  currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  price_minor       bigint NOT NULL CHECK (price_minor >= 0),
  quantity          int NOT NULL CHECK (quantity > 0),
  sold              int NOT NULL DEFAULT 0,
  per_shopper_limit int NOT NULL DEFAULT 0 CHECK (per_shopper_limit >= 0), -- 0: no limit
  starts_at         timestamptz NOT NULL,
  ends_at           timestamptz NOT NULL,
  active            boolean NOT NULL DEFAULT true,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, id, merchant_id),
  CHECK (ends_at > starts_at),
  CHECK (sold BETWEEN 0 AND quantity), -- oversell is impossible, whatever the code does
  FOREIGN KEY (tenant_id, variant_id, merchant_id) REFERENCES variants (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('flash_sales');
SELECT enable_merchant_rls('flash_sales', 'merchant_id');
CREATE INDEX flash_sales_variant ON flash_sales (tenant_id, variant_id, ends_at);

CREATE TABLE flash_claims (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT uuidv7(),
  sale_id     uuid NOT NULL,
  merchant_id uuid NOT NULL,
  order_id    uuid NOT NULL,
  shopper_key text NOT NULL CHECK (shopper_key ~ '^(shopper|email):.+$'),
  quantity    int NOT NULL CHECK (quantity > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, sale_id, order_id),
  FOREIGN KEY (tenant_id, sale_id, merchant_id) REFERENCES flash_sales (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('flash_claims');
SELECT enable_merchant_rls('flash_claims', 'merchant_id');
CREATE INDEX flash_claims_shopper ON flash_claims (tenant_id, sale_id, shopper_key);

GRANT SELECT, INSERT, UPDATE ON coupons, flash_sales TO mercato_app;
GRANT SELECT, INSERT, DELETE ON coupon_redemptions, flash_claims TO mercato_app; -- DELETE: a cancelled order gives its use back
GRANT SELECT, INSERT, UPDATE, DELETE ON coupons, coupon_redemptions, flash_sales, flash_claims TO mercato_platform;
