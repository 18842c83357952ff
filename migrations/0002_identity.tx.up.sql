-- Identity: second factors of staff users, server-side sessions, login throttling, shopper
-- password resets, API keys and the keys that sign access tokens.
--
-- Staff are global people, so their sessions, the login throttle and the signing keys are
-- platform tables. Everything about shoppers and API keys belongs to a tenant and keeps the
-- 0001 rules (tenant_id first in the primary key, in every unique and foreign key; RLS).

-- TOTP: totp_secret holds the confirmed secret, totp_pending the one being enrolled, both
-- AES-GCM sealed by platform/identity (never plaintext). totp_last_step is the last time step
-- a code was accepted for, so a code cannot be used twice.
ALTER TABLE staff_users
  ADD COLUMN totp_pending   text,
  ADD COLUMN totp_last_step bigint;

-- A staff user may read their own memberships in every tenant while signing in: the lead's
-- tenant middleware checks X-Tenant-ID against them before any tenant is in scope. The
-- setting is set only by platform/identity, transaction-locally; unset, it matches nothing.
CREATE POLICY staff_self ON memberships FOR SELECT
  USING (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid));

-- Staff sessions. The cookie holds a random token; only its SHA-256 is stored, so a copy of
-- this table does not let anyone sign in.
CREATE TABLE staff_sessions (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  user_id      uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL, -- absolute end, whatever the activity
  ip           text NOT NULL DEFAULT '',
  user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);
CREATE INDEX staff_sessions_expiry ON staff_sessions (expires_at);

-- Failed sign-ins per e-mail and per client address. key is an HMAC of the e-mail or the
-- address, so the table holds no personal data in the clear and no tenant data at all.
CREATE TABLE login_throttle (
  key             bytea PRIMARY KEY CHECK (length(key) = 32),
  failures        int NOT NULL CHECK (failures >= 0),
  last_failure_at timestamptz NOT NULL,
  locked_until    timestamptz
);
CREATE INDEX login_throttle_last ON login_throttle (last_failure_at);

-- Shopper sessions, guests included: a guest session has no shopper yet and is what a cart
-- belongs to until its owner signs in (then the row gets the shopper and a new token).
CREATE TABLE shopper_sessions (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT uuidv7(),
  token_hash   bytea NOT NULL CHECK (length(token_hash) = 32),
  shopper_id   uuid,
  created_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, shopper_id) REFERENCES shoppers (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('shopper_sessions');
CREATE INDEX shopper_sessions_shopper ON shopper_sessions (tenant_id, shopper_id);
CREATE INDEX shopper_sessions_expiry ON shopper_sessions (expires_at);

-- Single-use password reset tokens, stored hashed, one hour to live.
CREATE TABLE shopper_password_resets (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuidv7(),
  shopper_id uuid NOT NULL,
  token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, shopper_id) REFERENCES shoppers (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('shopper_password_resets');
CREATE INDEX shopper_password_resets_expiry ON shopper_password_resets (expires_at);

-- API keys of a tenant (merchant_id NULL) or of one of its merchants. The secret is shown
-- once; secret_hash is its SHA-256.
CREATE TABLE api_keys (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT uuidv7(),
  merchant_id  uuid,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  secret_hash  bytea NOT NULL CHECK (length(secret_hash) = 32),
  scopes       text[] NOT NULL,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('api_keys');
SELECT enable_merchant_rls('api_keys', 'merchant_id');

-- Keys that sign access tokens (Ed25519). The private key is AES-GCM sealed. One key signs
-- at a time; a retired key still verifies until the tokens it signed have expired.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  alg         text NOT NULL CHECK (alg = 'EdDSA'),
  public_key  bytea NOT NULL CHECK (length(public_key) = 32),
  private_key bytea NOT NULL,
  created_at  timestamptz NOT NULL,
  retired_at  timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON staff_sessions, login_throttle, shopper_sessions,
  shopper_password_resets, api_keys, signing_keys TO mercato_app, mercato_platform;
