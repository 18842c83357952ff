-- Outbound webhooks: the endpoints tenants and merchants register, and one delivery row per
-- event and endpoint, updated by each attempt (platform/webhooksout).

-- An endpoint belongs to its tenant, or to one merchant of it (merchant_id set): a merchant's
-- endpoint hears only that merchant's events, and the merchant fence keeps other merchants'
-- staff from seeing it. The signing secret is stored sealed (AES-GCM under a key derived from
-- MERCATO_SECRET_KEY, bound to the row); while a rotated secret is still honoured it stays in
-- previous_secret_sealed until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
  tenant_id                  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                         uuid NOT NULL DEFAULT uuidv7(),
  merchant_id                uuid,
  url                        text NOT NULL CHECK (length(url) BETWEEN 10 AND 2048),
  description                text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  event_types                text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
  secret_sealed              bytea NOT NULL,
  previous_secret_sealed     bytea,
  previous_secret_expires_at timestamptz,
  status                     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  disabled_reason            text NOT NULL DEFAULT '' CHECK (length(disabled_reason) <= 500),
  -- deliveries that failed since the last success, and since when: auto-disable reads both
  consecutive_failures       int NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  failing_since              timestamptz,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('webhook_endpoints');
SELECT enable_merchant_rls('webhook_endpoints', 'merchant_id');
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (tenant_id, merchant_id, id);

-- A delivery is one event for one endpoint. Queue writes it pending; each attempt updates it
-- (attempt, response_code, latency_ms, error, next_attempt_at) until it succeeds or fails for
-- good. A replay is a new row pointing at the one it copies. merchant_id repeats the
-- endpoint's so the merchant fence applies to the log too.
CREATE TABLE webhook_deliveries (
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id               uuid NOT NULL DEFAULT uuidv7(),
  endpoint_id      uuid NOT NULL,
  merchant_id      uuid,
  event_id         uuid NOT NULL,
  event_type       text NOT NULL CHECK (event_type ~ '^[a-z_]+(\.[a-z_]+)+$'),
  payload          jsonb NOT NULL,
  attempt          int NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  response_code    int,
  latency_ms       int,
  error            text NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
  next_attempt_at  timestamptz,
  -- set while an attempt is in flight, so a duplicate task does not post the event twice
  leased_until     timestamptz,
  first_attempt_at timestamptz,
  last_attempt_at  timestamptz,
  replay_of        uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
  CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
SELECT enable_tenant_rls('webhook_deliveries');
SELECT enable_merchant_rls('webhook_deliveries', 'merchant_id');
-- Queue is safe to run twice for one event (jobs are at-least-once): one delivery per
-- endpoint and event, replays aside.
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (tenant_id, endpoint_id, event_id) WHERE replay_of IS NULL;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries TO mercato_app, mercato_platform;
