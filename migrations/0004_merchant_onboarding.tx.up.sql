-- Merchant onboarding: applications from the storefront's "sell with us" page, invitations from
-- the tenant, decisions by tenant staff, and the tenant settings that steer them.

ALTER TABLE tenants ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN tenants.settings IS 'tenant-editable behaviour, e.g. {"auto_approve_merchants": true}';

ALTER TABLE merchants
  ADD COLUMN contact_email text CHECK (contact_email = lower(contact_email) AND contact_email LIKE '%_@_%'),
  ADD COLUMN description   text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  ADD COLUMN decided_at    timestamptz,
  ADD COLUMN decided_by    text,
  ADD COLUMN decision_note text NOT NULL DEFAULT '' CHECK (length(decision_note) <= 500);

-- An invitation lets someone open a merchant account without applying. The e-mailed link
-- carries a token; only its SHA-256 is stored.
CREATE TABLE merchant_invitations (
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT uuidv7(),
  email         text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
  merchant_name text NOT NULL CHECK (length(merchant_name) BETWEEN 1 AND 200),
  token_hash    bytea NOT NULL,
  invited_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  accepted_at   timestamptz,
  merchant_id   uuid,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE SET NULL (merchant_id)
);
SELECT enable_tenant_rls('merchant_invitations');
GRANT SELECT, INSERT, UPDATE, DELETE ON merchant_invitations TO mercato_app, mercato_platform;
