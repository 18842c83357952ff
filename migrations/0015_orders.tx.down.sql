DROP TABLE order_events;
DROP TABLE order_lines;
DROP TABLE merchant_orders;
DROP TABLE orders;
DROP TABLE tax_rates;
DROP TABLE shipping_rates;
