DROP TABLE signing_keys, api_keys, shopper_password_resets, shopper_sessions, login_throttle, staff_sessions;
DROP POLICY staff_self ON memberships;
ALTER TABLE staff_users DROP COLUMN totp_last_step, DROP COLUMN totp_pending;
