-- Replicas of one installation: each keeps its row alive with a heartbeat; a row whose expiry passed
-- is a replica that died (or was paused) and no longer counts when mailboxes are spread.
CREATE TABLE members (
  id          text PRIMARY KEY,
  config_hash text,
  started_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
