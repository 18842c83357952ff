-- Fulfillment (tenants/fulfillment): the parcels merchants send for their merchant orders, which
-- lines (and how many of each) travel in each parcel, and the tracking events carriers report
-- for them, by poll, by webhook or, for the manual carrier, by the merchant's own hand.

-- One parcel. status is the latest tracking event's (by occurred_at), kept here so the poll and
-- the pages need not aggregate; label_created until the carrier says more.
CREATE TABLE shipments (
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                uuid NOT NULL DEFAULT uuidv7(),
  order_id          uuid NOT NULL,
  merchant_order_id uuid NOT NULL,
  merchant_id       uuid NOT NULL,
  carrier           text NOT NULL CHECK (carrier ~ '^[a-z][a-z0-9_]{1,39}$'),
  tracking_number   text NOT NULL CHECK (tracking_number ~ '^[A-Za-z0-9-]{4,64}$'),
  label_url         text NOT NULL DEFAULT '' CHECK (length(label_url) <= 2000),
  status            text NOT NULL DEFAULT 'label_created' CHECK (status IN
                      ('label_created', 'in_transit', 'out_for_delivery', 'delivered', 'failed_delivery', 'returned')),
  created_by        text NOT NULL,
  delivered_at      timestamptz,
  -- when the poll last asked the carrier; NULL: never (asked first)
  polled_at         timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  -- a parcel is tracked by one number at one carrier; the same number in two tenants is theirs
  UNIQUE (tenant_id, carrier, tracking_number),
  UNIQUE (tenant_id, id, merchant_id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, merchant_order_id, merchant_id) REFERENCES merchant_orders (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('shipments');
SELECT enable_merchant_rls('shipments', 'merchant_id');
CREATE INDEX shipments_merchant_order ON shipments (tenant_id, merchant_order_id);
CREATE INDEX shipments_order ON shipments (tenant_id, order_id);
CREATE INDEX shipments_merchant ON shipments (tenant_id, merchant_id, id DESC);
-- Inbound carrier webhooks name only the carrier and the number; the platform finds the tenant.
CREATE INDEX shipments_tracking ON shipments (carrier, tracking_number);
-- The poll reads, across tenants, only parcels still on their way, least recently asked first.
CREATE INDEX shipments_active ON shipments (polled_at NULLS FIRST)
  WHERE status NOT IN ('delivered', 'returned') AND carrier <> 'manual';

-- What a parcel holds: quantities of the merchant order's lines.
CREATE TABLE shipment_lines (
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  shipment_id   uuid NOT NULL,
  order_line_id uuid NOT NULL,
  merchant_id   uuid NOT NULL,
  quantity      integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (tenant_id, shipment_id, order_line_id),
  FOREIGN KEY (tenant_id, shipment_id, merchant_id) REFERENCES shipments (tenant_id, id, merchant_id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, order_line_id) REFERENCES order_lines (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('shipment_lines');
SELECT enable_merchant_rls('shipment_lines', 'merchant_id');
CREATE INDEX shipment_lines_order_line ON shipment_lines (tenant_id, order_line_id);

-- The parcel's journey. One row per (shipment, status, occurred_at): a poll and a webhook that
-- report the same scan, or a webhook delivered twice, store it once.
CREATE TABLE tracking_events (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT uuidv7(),
  shipment_id uuid NOT NULL,
  merchant_id uuid NOT NULL,
  status      text NOT NULL CHECK (status IN
                ('label_created', 'in_transit', 'out_for_delivery', 'delivered', 'failed_delivery', 'returned')),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  location    text NOT NULL DEFAULT '' CHECK (length(location) <= 200),
  occurred_at timestamptz NOT NULL,
  source      text NOT NULL CHECK (source IN ('label', 'poll', 'webhook', 'manual')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, shipment_id, status, occurred_at),
  FOREIGN KEY (tenant_id, shipment_id, merchant_id) REFERENCES shipments (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('tracking_events');
SELECT enable_merchant_rls('tracking_events', 'merchant_id');

GRANT SELECT, INSERT, UPDATE ON shipments TO mercato_app;
GRANT SELECT, INSERT ON shipment_lines, tracking_events TO mercato_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON shipments, shipment_lines, tracking_events TO mercato_platform;
