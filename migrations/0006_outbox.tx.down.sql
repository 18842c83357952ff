DROP TABLE outbox;
DROP FUNCTION outbox_notify();
