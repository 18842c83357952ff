-- Custom roles: a tenant's own staff roles, each a set of (object, action) pairs cut from the
-- built-in tenant roles (platform/authz.ValidatePermissions checks that on write and
-- AllowedBy again on every request). Read per request by the access step, like memberships,
-- so a change takes effect at once on every replica. The name can never shadow a built-in
-- role: the request path tries built-in roles first.
CREATE TABLE custom_roles (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              uuid NOT NULL DEFAULT uuidv7(),
  name            text NOT NULL CHECK (
    name ~ '^[a-z][a-z0-9_]{1,62}$'
    AND name NOT IN ('tenant_owner', 'tenant_admin', 'tenant_staff', 'merchant_owner', 'merchant_staff', 'shopper')
    AND name !~ '^platform_'),
  merchant_scoped boolean NOT NULL DEFAULT false,
  permissions     jsonb NOT NULL CHECK (jsonb_typeof(permissions) = 'array' AND jsonb_array_length(permissions) > 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, name)
);
SELECT enable_tenant_rls('custom_roles');

GRANT SELECT, INSERT, UPDATE, DELETE ON custom_roles TO mercato_app, mercato_platform;
