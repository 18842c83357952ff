DROP TABLE reservations;
DROP TABLE inventory_adjustments;
DROP TABLE inventory_levels;
DROP TABLE stock_locations;
