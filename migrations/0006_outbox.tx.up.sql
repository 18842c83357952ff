-- The transactional outbox (platform/jobs). A business transaction that wants work done later
-- writes a row here; the relay in the worker turns rows into asynq tasks whose task id is the
-- row's id and marks them sent. The row commits or rolls back with the business change, so a
-- job is never lost when Redis is down at commit, and the task id makes a second enqueue of
-- the same row a no-op.
--
-- Tenant-scoped like every tenant table. Platform-level jobs use the nil tenant
-- (db.WithPlatformScope), so there is no foreign key to tenants; a tenant's hard delete removes
-- its rows with the rest of its tables.
CREATE TABLE outbox (
  tenant_id       uuid NOT NULL,
  id              uuid NOT NULL DEFAULT uuidv7(),
  kind            text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.:-]{0,99}$'),
  queue           text NOT NULL DEFAULT 'default' CHECK (queue ~ '^[a-z][a-z0-9_-]{0,62}$'),
  -- {"tenant_id", "request_id", "actor", "data"}: the task's payload as the worker receives it.
  payload         jsonb NOT NULL,
  run_at          timestamptz NOT NULL DEFAULT now(),
  max_retry       int NOT NULL CHECK (max_retry BETWEEN 0 AND 100),
  timeout_seconds int NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 86400),
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,          -- NULL until the relay has handed the row to Redis
  attempts        int NOT NULL DEFAULT 0, -- failed hand-overs (Redis unreachable)
  last_error      text NOT NULL DEFAULT '',
  PRIMARY KEY (tenant_id, id)
);
SELECT enable_tenant_rls('outbox');
-- The relay's claim: unsent rows, oldest first. Partial, so it stays as small as the backlog.
CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;
-- Housekeeping deletes sent rows after a week.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wakes the relays (LISTEN mercato_outbox) when a transaction that wrote rows commits.
-- Per statement, not per row; PostgreSQL also folds equal notifications of one transaction.
-- Not SECURITY DEFINER: NOTIFY needs no privilege, so it runs as the inserting role.
-- A notifying commit takes a cluster-wide lock that serialises such commits (measured: about
-- half the commit rate of 8 concurrent writers). Where that matters more than the relay's
-- wake-up latency, turn it off without a migration:
--   ALTER ROLE mercato_app IN DATABASE mercato SET mercato.outbox_notify = 'off';
-- and let the relays poll more often (jobs.Relay.Poll).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('mercato.outbox_notify', true), '') <> 'off' THEN
    PERFORM pg_notify('mercato_outbox', '');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- The app only writes rows (and reads its own back through RLS for RETURNING); the relay, as
-- the platform role, claims, marks and deletes them across tenants.
GRANT SELECT, INSERT ON outbox TO mercato_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO mercato_platform;
