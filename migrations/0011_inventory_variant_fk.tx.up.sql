-- Stock rows name real catalog variants (the promise 0009 made). The key includes merchant_id,
-- as the catalog's own child tables do (0008), so a level, an adjustment or a reservation can
-- only hold a variant of the merchant whose location it sits at: one merchant's warehouse can
-- never carry another merchant's SKU. NO ACTION (the default) rather than RESTRICT: when a
-- tenant or merchant is deleted, its variants and its stock go in the same statement.

ALTER TABLE inventory_levels ADD CONSTRAINT inventory_levels_variant_fkey
  FOREIGN KEY (tenant_id, variant_id, merchant_id) REFERENCES variants (tenant_id, id, merchant_id);
ALTER TABLE inventory_adjustments ADD CONSTRAINT inventory_adjustments_variant_fkey
  FOREIGN KEY (tenant_id, variant_id, merchant_id) REFERENCES variants (tenant_id, id, merchant_id);
ALTER TABLE reservations ADD CONSTRAINT reservations_variant_fkey
  FOREIGN KEY (tenant_id, variant_id, merchant_id) REFERENCES variants (tenant_id, id, merchant_id);

-- The referencing side of an FK is scanned when a variant goes; levels (primary key) and
-- adjustments (inventory_adjustments_variant) have an index that leads with the variant already.
CREATE INDEX reservations_variant ON reservations (tenant_id, variant_id);
