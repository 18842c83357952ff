DROP TABLE merchant_invitations;
ALTER TABLE merchants DROP COLUMN contact_email, DROP COLUMN description, DROP COLUMN decided_at,
  DROP COLUMN decided_by, DROP COLUMN decision_note;
ALTER TABLE tenants DROP COLUMN settings;
