-- Staff invitations: the one-time "set your password" links a tenant sends to a person it adds
-- as staff who has no password yet. The link carries a token; only its SHA-256 is stored. The
-- token names its tenant (like an API key), so it is looked up under that tenant's RLS.
CREATE TABLE staff_password_tokens (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuidv7(),
  user_id    uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
  token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, token_hash)
);
SELECT enable_tenant_rls('staff_password_tokens');
CREATE INDEX staff_password_tokens_user ON staff_password_tokens (tenant_id, user_id);
CREATE INDEX staff_password_tokens_expiry ON staff_password_tokens (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON staff_password_tokens TO mercato_app, mercato_platform;
