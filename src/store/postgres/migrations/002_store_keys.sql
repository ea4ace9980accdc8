-- 002_store_keys: keys the whole install shares, kept in the store so every replica has the same.
-- 'fingerprint': the HMAC key of the credential fingerprints in suspension records (the embedded
-- store keeps it in <store.path>/fingerprint.key). A replica that compares a suspension's
-- fingerprint must use the key it was made with, or the mailbox resumes; `mailroom store import`
-- moves the embedded store's key here. Written once, never changed (keys.ts).
CREATE TABLE store_keys (
  name text PRIMARY KEY,
  key  bytea NOT NULL
);
