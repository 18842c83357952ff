DROP TABLE platform_audit, idempotency_keys, memberships, staff_users, shoppers, merchants,
  tenant_domains, tenants, plans;
DROP FUNCTION enable_merchant_rls(regclass, text), enable_tenant_rls(regclass), uuidv7();
