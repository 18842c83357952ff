-- The audit log: one hash chain per tenant of who changed what, written by platform/audit in
-- the transaction that makes the change. The platform's own chain (operator work, every
-- db.Platform.Do) is the chain of the nil tenant 00000000-0000-0000-0000-000000000000.
--
-- No foreign key to tenants: the nil tenant has no tenants row, and the log must outlive the
-- rows it describes (a cascade would let one DELETE on tenants erase a chain). A tenant's
-- hard delete (tenants.Directory.Delete) removes its entries and head explicitly.
CREATE TABLE audit_entries (
  tenant_id     uuid NOT NULL,
  seq           bigint NOT NULL CHECK (seq > 0), -- 1, 2, 3, ... per tenant without gaps
  id            uuid NOT NULL,
  at            timestamptz NOT NULL,
  actor         text NOT NULL,
  action        text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND length(action) <= 100),
  resource_type text NOT NULL DEFAULT '',
  resource_id   text NOT NULL DEFAULT '',
  before        jsonb,
  after         jsonb,
  diff          jsonb, -- changed top-level keys only: {"field": {"from": .., "to": ..}}
  ip            text NOT NULL DEFAULT '', -- as Go's netip prints it, so the hash reads it back unchanged
  request_id    text NOT NULL DEFAULT '',
  prev_hash     bytea NOT NULL CHECK (length(prev_hash) = 32), -- 32 zero bytes for seq 1
  hash          bytea NOT NULL CHECK (length(hash) = 32),      -- SHA-256, see platform/audit/chain
  PRIMARY KEY (tenant_id, seq),
  UNIQUE (tenant_id, id)
);
SELECT enable_tenant_rls('audit_entries');
-- The viewers' filters: one resource's history, one actor's doings, newest first.
CREATE INDEX audit_entries_resource ON audit_entries (tenant_id, resource_type, resource_id, seq);
CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor, seq);

-- The last (seq, hash) of each chain, moved in the same transaction as every entry. Without
-- it, deleting the newest entries would leave a shorter chain that still verifies.
CREATE TABLE audit_heads (
  tenant_id uuid NOT NULL PRIMARY KEY,
  seq       bigint NOT NULL CHECK (seq > 0),
  hash      bytea NOT NULL CHECK (length(hash) = 32)
);
SELECT enable_tenant_rls('audit_heads');

-- The app appends and reads; it cannot UPDATE or DELETE an entry, so an app bug or an
-- injected query cannot rewrite history. It moves the head, which Verify cross-checks.
GRANT SELECT, INSERT ON audit_entries TO mercato_app;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO mercato_app;
-- The platform role writes its own chain; DELETE is there for a tenant's hard delete only.
GRANT SELECT, INSERT, DELETE ON audit_entries TO mercato_platform;
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_heads TO mercato_platform;

-- platform_audit is replaced by the nil tenant's chain. Its rows are not copied: they carry no
-- hashes to continue from, and rows written before this migration were never tamper-evident.
DROP TABLE platform_audit;
