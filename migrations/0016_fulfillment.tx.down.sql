DROP TABLE tracking_events;
DROP TABLE shipment_lines;
DROP TABLE shipments;
