-- Graph and Gmail mailboxes (issue 23): an opaque sync cursor per mailbox and folder (Graph delta
-- link, Gmail history id), replaced by the commit that carries it; server actions name the API's
-- message id.
CREATE TABLE sync_cursors (
  mailbox text NOT NULL,
  folder  text NOT NULL,
  value   text NOT NULL,
  PRIMARY KEY (mailbox, folder)
);

ALTER TABLE pending_actions ADD COLUMN remote_id text;
