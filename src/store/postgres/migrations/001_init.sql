-- 001_init: the first schema of the PostgreSQL store (store.driver: postgres).
-- Applied by migrate.ts inside one transaction under an advisory lock, with search_path set to the
-- configured schema (store.schema): table names here are unqualified.
--
-- JSON that holds mail content (articles, outbox entries, suspension records) is kept as text, not
-- jsonb: a message may contain U+0000, which jsonb (and a text column outside JSON) cannot store;
-- nothing queries inside it. Timestamps shown by the API are timestamptz; queue times the callers
-- pass as epoch ms (nextAt, claim expiry, counter hits) stay bigint epoch ms.

-- Mailbox leases: the fence of every write that belongs to a mailbox. No row: the mailbox was never
-- leased, and writes with any epoch are accepted (the single-owner mode, epoch 0). A row is never
-- deleted (its epoch must only grow); a released lease has owner NULL.
CREATE TABLE mailbox_leases (
  mailbox    text PRIMARY KEY,
  owner      text,
  epoch      bigint NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Ticket ids per prefix (ACME-000123) and the global creation order (the list cursor).
CREATE TABLE ticket_counters (
  prefix text PRIMARY KEY,
  last   bigint NOT NULL
);
-- One row. Its row lock is held from a commit's ticket creation to its COMMIT, so creation sequence
-- numbers become visible in order and a list cursor never skips a ticket committed late.
CREATE TABLE ticket_seq (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  last bigint NOT NULL
);
INSERT INTO ticket_seq (one, last) VALUES (true, 0);

CREATE TABLE tickets (
  id              text PRIMARY KEY,
  seq             bigint NOT NULL UNIQUE,
  prefix          text NOT NULL,
  company         text NOT NULL,
  contract        text,
  status          text NOT NULL CHECK (status IN ('open', 'held', 'dropped', 'rejected')),
  type            text,
  "group"         text,
  priority        text,
  tags            jsonb NOT NULL,
  fields          jsonb NOT NULL,
  -- {subject, from} of the first article, as JSON text
  head            text NOT NULL,
  -- lower-cased From/To/Cc addresses of all its articles (the unverified-sender check)
  participants    text[] NOT NULL,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  article_count   integer NOT NULL,
  last_article_at timestamptz NOT NULL
);
CREATE INDEX tickets_company_seq ON tickets (company, seq);

CREATE TABLE articles (
  ticket_id  text NOT NULL REFERENCES tickets (id),
  no         integer NOT NULL,
  created_at timestamptz NOT NULL,
  -- the Article as JSON text
  data       text NOT NULL,
  PRIMARY KEY (ticket_id, no)
);

-- Exactly-once intake: any known key makes a message a duplicate.
CREATE TABLE dedupe_keys (
  key          text PRIMARY KEY,
  ticket_id    text NOT NULL,
  article_no   integer NOT NULL,
  content_hash text
);

-- Message-ID (without <>) → the first (oldest) ticket that named it, per company: reply threading.
CREATE TABLE message_ids (
  company    text NOT NULL,
  message_id text NOT NULL,
  ticket_id  text NOT NULL,
  PRIMARY KEY (company, message_id)
);

-- IMAP checkpoints: never backwards; a different UIDVALIDITY only through a reset.
CREATE TABLE checkpoints (
  mailbox      text NOT NULL,
  folder       text NOT NULL,
  uid_validity bigint NOT NULL,
  uid          bigint NOT NULL,
  PRIMARY KEY (mailbox, folder)
);

-- POP3: the UIDLs committed per mailbox.
CREATE TABLE uidls (
  mailbox text NOT NULL,
  uidl    text NOT NULL,
  PRIMARY KEY (mailbox, uidl)
);

-- Server actions (seen/move/delete) recorded with the commit, done by the poller afterwards.
CREATE SEQUENCE pending_action_ids;
CREATE TABLE pending_actions (
  id           text PRIMARY KEY,
  -- an identical pending action is reused, not recorded twice
  action_key   text NOT NULL UNIQUE,
  mailbox      text NOT NULL,
  kind         text NOT NULL,
  folder       text,
  uid_validity bigint,
  uid          bigint,
  uidl         text,
  action       text NOT NULL,
  move_to      text,
  ticket_id    text NOT NULL,
  article_no   integer NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE INDEX pending_actions_mailbox ON pending_actions (mailbox);

-- Webhook deliveries: a claimed queue (claim owner + expiry), per-ticket order.
CREATE TABLE deliveries (
  id          text PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  webhook     text NOT NULL,
  ticket_id   text NOT NULL,
  article_no  integer NOT NULL,
  event       text NOT NULL,
  mailbox     text NOT NULL,
  key         text NOT NULL,
  gate        text,
  status      text NOT NULL CHECK (status IN ('pending', 'held', 'delivered', 'dead', 'cancelled')),
  attempts    integer NOT NULL,
  next_at     bigint NOT NULL,
  last_error  text,
  last_status integer,
  created_at  timestamptz NOT NULL,
  finished_at timestamptz,
  claim_owner text,
  claim_until bigint
);
CREATE INDEX deliveries_pending ON deliveries (webhook, ticket_id, article_no) WHERE status = 'pending';
CREATE INDEX deliveries_dead ON deliveries (webhook, ticket_id, article_no) WHERE status = 'dead';
CREATE INDEX deliveries_held ON deliveries (ticket_id) WHERE status = 'held';
CREATE INDEX deliveries_gate ON deliveries (gate) WHERE status = 'pending' AND gate IS NOT NULL;

-- Blobs (raw messages, attachments), content-addressed by SHA-256, in chunks so a reader streams
-- them a chunk at a time instead of loading them whole.
CREATE TABLE blobs (
  hash       text PRIMARY KEY,
  length     bigint NOT NULL,
  chunk_size integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE blob_chunks (
  hash text NOT NULL REFERENCES blobs (hash) ON DELETE CASCADE,
  no   integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (hash, no)
);

-- The outbox: whole messages, a claimed queue, idempotency keys scoped by company.
CREATE TABLE outbox (
  id              text PRIMARY KEY,
  seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  company         text,
  idempotency_key text,
  status          text NOT NULL,
  next_attempt_at timestamptz,
  attempts        integer NOT NULL,
  -- highest attempt past its end of data (the commit point)
  committed       integer NOT NULL,
  -- the OutboxEntry as JSON text, without raw and committed (the columns)
  entry           text NOT NULL,
  -- the MIME message, byte-exact; NULL once sent or failed
  raw             bytea,
  finished_at     timestamptz,
  claim_owner     text,
  claim_until     bigint
);
CREATE UNIQUE INDEX outbox_idempotency ON outbox ((coalesce(company, '')), idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_open ON outbox (seq) WHERE status NOT IN ('sent', 'failed');
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status IN ('sent', 'failed');

CREATE TABLE suspensions (
  mailbox text PRIMARY KEY,
  record  text NOT NULL
);

-- OAuth token state per mailbox; version for compare-and-set.
CREATE TABLE oauth_state (
  mailbox text PRIMARY KEY,
  version bigint NOT NULL,
  state   text NOT NULL
);

-- Sliding-window counters: one row per hit, each with its expiry; expired rows are deleted when the
-- key is hit again and, for keys never hit again, by a periodic sweep (bounded growth).
CREATE TABLE counter_hits (
  key        text NOT NULL,
  at         bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX counter_hits_key ON counter_hits (key, at);
CREATE INDEX counter_hits_expiry ON counter_hits (expires_at);
