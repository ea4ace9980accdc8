-- The install's secrets the store keeps for every replica (e.g. the key credential fingerprints are
-- made with): created once, by whichever replica asks first.
CREATE TABLE install_keys (
  name  text PRIMARY KEY,
  value bytea NOT NULL
);
