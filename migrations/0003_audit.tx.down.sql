DROP TABLE audit_heads, audit_entries;

-- Back to the table 0001 made (empty: the chain's entries are not copied back).
CREATE TABLE platform_audit (
  id         uuid PRIMARY KEY DEFAULT uuidv7(),
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  action     text NOT NULL,
  request_id text NOT NULL DEFAULT ''
);
GRANT SELECT, INSERT ON platform_audit TO mercato_platform;
