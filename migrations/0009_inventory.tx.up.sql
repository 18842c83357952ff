-- Inventory (tenants/inventory): merchants' stock locations, stock levels per variant and
-- location, the history of every adjustment, and reservations that hold stock for a checkout
-- until it is paid (committed), given up (released) or lapses (expired).
--
-- variant_id names a row of the catalog's variants (tenant_id, id), but carries NO foreign key
-- yet: the catalog's migration (0008) is being written at the same time. Once both exist the
-- lead adds, in a later migration,
--   FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id)
-- to inventory_levels, inventory_adjustments and reservations.

CREATE TABLE stock_locations (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT uuidv7(),
  merchant_id uuid NOT NULL,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  address     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(address) = 'object'),
  is_default  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, merchant_id, name),
  -- lets levels and reservations prove their merchant_id is the location's
  UNIQUE (tenant_id, id, merchant_id),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('stock_locations');
SELECT enable_merchant_rls('stock_locations', 'merchant_id');
-- Reservations try the default location first, so a merchant has at most one.
CREATE UNIQUE INDEX stock_locations_one_default ON stock_locations (tenant_id, merchant_id) WHERE is_default;

-- One row per variant and location. merchant_id repeats the location's so the merchant fence
-- applies without a join. available is derived, so it can never disagree with its parts.
CREATE TABLE inventory_levels (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  variant_id  uuid NOT NULL, -- catalog variants (tenant_id, id); FK added by the lead, see top
  location_id uuid NOT NULL,
  merchant_id uuid NOT NULL,
  on_hand     int NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
  reserved    int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  available   int GENERATED ALWAYS AS (on_hand - reserved) STORED,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, variant_id, location_id),
  CHECK (reserved <= on_hand),
  FOREIGN KEY (tenant_id, location_id, merchant_id) REFERENCES stock_locations (tenant_id, id, merchant_id)
);
SELECT enable_tenant_rls('inventory_levels');
SELECT enable_merchant_rls('inventory_levels', 'merchant_id');
CREATE INDEX inventory_levels_location ON inventory_levels (tenant_id, location_id);

-- The history: every change of on_hand, by whom and why. Sales are written by Commit.
CREATE TABLE inventory_adjustments (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id             uuid NOT NULL DEFAULT uuidv7(),
  variant_id     uuid NOT NULL, -- catalog variants (tenant_id, id); FK added by the lead, see top
  location_id    uuid NOT NULL,
  merchant_id    uuid NOT NULL,
  delta          int NOT NULL CHECK (delta <> 0),
  reason         text NOT NULL CHECK (reason IN ('received', 'correction', 'damaged', 'returned', 'sold', 'other')),
  note           text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
  actor          text NOT NULL,
  on_hand_after  int NOT NULL CHECK (on_hand_after >= 0),
  reservation_id uuid,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, location_id, merchant_id) REFERENCES stock_locations (tenant_id, id, merchant_id)
);
SELECT enable_tenant_rls('inventory_adjustments');
SELECT enable_merchant_rls('inventory_adjustments', 'merchant_id');
CREATE INDEX inventory_adjustments_variant ON inventory_adjustments (tenant_id, variant_id, id DESC);

-- Stock held for a checkout (owner_ref: the checkout's or cart's id). held → committed |
-- released | expired; only held rows count in inventory_levels.reserved.
CREATE TABLE reservations (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT uuidv7(),
  variant_id  uuid NOT NULL, -- catalog variants (tenant_id, id); FK added by the lead, see top
  location_id uuid NOT NULL,
  merchant_id uuid NOT NULL,
  quantity    int NOT NULL CHECK (quantity > 0),
  owner_ref   text NOT NULL CHECK (length(owner_ref) BETWEEN 1 AND 200),
  status      text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'committed', 'released', 'expired')),
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, location_id, merchant_id) REFERENCES stock_locations (tenant_id, id, merchant_id)
);
SELECT enable_tenant_rls('reservations');
SELECT enable_merchant_rls('reservations', 'merchant_id');
-- The expiry sweep reads only what is still held, across tenants.
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'held';
CREATE INDEX reservations_owner ON reservations (tenant_id, owner_ref);

GRANT SELECT, INSERT, UPDATE ON stock_locations, inventory_levels, reservations TO mercato_app;
GRANT SELECT, INSERT ON inventory_adjustments TO mercato_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON stock_locations, inventory_levels, inventory_adjustments, reservations TO mercato_platform;
