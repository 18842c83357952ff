-- The tenancy core: plans, tenants and their domains, merchants, shoppers, staff and
-- memberships, request idempotency, and the platform role's audit trail.
--
-- Rules every later migration keeps (checked by platform/db's catalog test):
--  * a tenant table has tenant_id uuid NOT NULL, its primary key starts with tenant_id, and
--    every unique constraint and every foreign key to another tenant table includes it;
--  * ENABLE and FORCE ROW LEVEL SECURITY with enable_tenant_rls(); the policy fails closed;
--  * mercato_app gets only the privileges it needs; it owns nothing.
-- Directory tables (COMMENT starting 'directory:') map global names to tenants; they keep RLS
-- but are allowed a global key, because a host name belongs to exactly one tenant.

-- UUIDv7: 48-bit Unix milliseconds then random bits, so ids sort by creation time.
CREATE FUNCTION uuidv7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

-- enable_tenant_rls turns on the tenant policy for a table with a tenant_id column. Run by
-- migrations only; it is not SECURITY DEFINER and mercato_app cannot execute it.
CREATE FUNCTION enable_tenant_rls(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format($p$CREATE POLICY tenant_isolation ON %s
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))$p$, tbl);
END $$;

-- enable_merchant_rls adds the merchant fence for merchant-owned tables: when a request runs in
-- a merchant scope (app.merchant_id set) it sees only that merchant's rows. Restrictive, so it
-- narrows the tenant policy and never widens it. With the setting unset the column is compared
-- with itself, which keeps the policy to one cheap InitPlan (it is planned on every query).
CREATE FUNCTION enable_merchant_rls(tbl regclass, col text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  cmp text := '=';
BEGIN
  IF NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = tbl AND attname = col) THEN
    cmp := 'IS NOT DISTINCT FROM'; -- rows without a merchant stay visible outside merchant scope
  END IF;
  EXECUTE format($p$CREATE POLICY merchant_fence ON %1$s AS RESTRICTIVE
    USING (%2$I %3$s COALESCE((SELECT NULLIF(current_setting('app.merchant_id', true), '')::uuid), %2$I))
    WITH CHECK (%2$I %3$s COALESCE((SELECT NULLIF(current_setting('app.merchant_id', true), '')::uuid), %2$I))$p$,
    tbl, col, cmp);
END $$;

REVOKE ALL ON FUNCTION enable_tenant_rls(regclass), enable_merchant_rls(regclass, text) FROM PUBLIC;

-- Plans are the platform's price list: readable by everyone, written by operators.
CREATE TABLE plans (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  billing_interval text NOT NULL DEFAULT 'month' CHECK (billing_interval IN ('month', 'year')),
  -- limits: {"merchants": n, "products": n, "staff": n, "features": ["..."]}; read by OPA.
  limits      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A tenant row is its own tenant: id plays the part of tenant_id.
CREATE TABLE tenants (
  id               uuid PRIMARY KEY DEFAULT uuidv7(),
  slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  plan_id          uuid NOT NULL REFERENCES plans (id),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  default_locale   text NOT NULL DEFAULT 'en' CHECK (default_locale IN ('en', 'zh-CN')),
  default_currency char(3) NOT NULL DEFAULT 'USD' CHECK (default_currency ~ '^[A-Z]{3}$'),
  theme            jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenants IS 'directory: one row per tenant; id is the tenant id; found by id or, while resolving a request, by slug';
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid)
         OR slug = (SELECT NULLIF(current_setting('app.tenant_slug', true), '')))
  WITH CHECK (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));

-- Custom domains. A host name belongs to one tenant, so host is globally unique; while a
-- request is being resolved the app may see exactly the row of the host it asked for.
CREATE TABLE tenant_domains (
  host       text PRIMARY KEY CHECK (host = lower(host) AND host ~ '^[a-z0-9.-]{1,253}$'),
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  is_primary boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, host)
);
COMMENT ON TABLE tenant_domains IS 'directory: host name to tenant; host is global because DNS is';
ALTER TABLE tenant_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_domains
  USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid)
         OR host = (SELECT NULLIF(current_setting('app.host', true), '')))
  WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));

CREATE TABLE merchants (
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                uuid NOT NULL DEFAULT uuidv7(),
  handle            text NOT NULL CHECK (handle ~ '^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$'),
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'suspended', 'rejected')),
  stripe_account_id text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, handle)
);
SELECT enable_tenant_rls('merchants');
SELECT enable_merchant_rls('merchants', 'id');

-- Shoppers belong to one tenant; the same e-mail may exist in two tenants.
CREATE TABLE shoppers (
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT uuidv7(),
  email         text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
  name          text NOT NULL DEFAULT '',
  password_hash text,
  locale        text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'zh-CN')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, email)
);
SELECT enable_tenant_rls('shoppers');

-- Staff users are people who sign in to /admin or /console. One person may work for several
-- tenants, so the identity is global and the role lives in a tenant's memberships.
CREATE TABLE staff_users (
  id            uuid PRIMARY KEY DEFAULT uuidv7(),
  email         text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
  name          text NOT NULL DEFAULT '',
  password_hash text,
  totp_secret   text,
  platform_role text CHECK (platform_role IN ('platform_admin', 'platform_support', 'platform_finance')),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- A membership gives a staff user a role in one tenant, or in one merchant of it.
CREATE TABLE memberships (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT uuidv7(),
  user_id     uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
  merchant_id uuid,
  role        text NOT NULL CHECK (role ~ '^[a-z][a-z0-9_]{1,62}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE,
  UNIQUE NULLS NOT DISTINCT (tenant_id, user_id, merchant_id)
);
SELECT enable_tenant_rls('memberships');
SELECT enable_merchant_rls('memberships', 'merchant_id');

-- Idempotency-Key records for POST requests. Requests outside any tenant use the nil UUID
-- as their tenant, so the same RLS policy guards them.
CREATE TABLE idempotency_keys (
  tenant_id     uuid NOT NULL,
  principal     text NOT NULL,
  key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash  bytea NOT NULL,
  status_code   int,            -- NULL while the first request is still running
  content_type  text,
  response_body bytea,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, principal, key)
);
SELECT enable_tenant_rls('idempotency_keys');
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Every use of the cross-tenant role leaves a row here, in the same transaction.
CREATE TABLE platform_audit (
  id         uuid PRIMARY KEY DEFAULT uuidv7(),
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  action     text NOT NULL,
  request_id text NOT NULL DEFAULT ''
);

GRANT USAGE ON SCHEMA public TO mercato_app, mercato_platform;
GRANT SELECT ON plans TO mercato_app;
GRANT SELECT, UPDATE ON tenants TO mercato_app;
GRANT SELECT ON tenant_domains TO mercato_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON merchants, shoppers, memberships, idempotency_keys TO mercato_app;
GRANT SELECT, INSERT, UPDATE ON staff_users TO mercato_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON plans, tenants, tenant_domains, merchants, shoppers,
  staff_users, memberships, idempotency_keys TO mercato_platform;
GRANT SELECT, INSERT ON platform_audit TO mercato_platform;
GRANT EXECUTE ON FUNCTION uuidv7() TO mercato_app, mercato_platform;
