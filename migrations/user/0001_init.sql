-- Per-user mail store (one SQLite file per user, mail_location = sqlite:~/mail.db).
-- Times are milliseconds since the epoch. See src/storage/sqlite-user-store.ts for the rules.

-- Store-wide facts: the hierarchy separator the names were written with, the last UIDVALIDITY handed out.
CREATE TABLE store_info (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE mailbox (
  id             INTEGER PRIMARY KEY,
  -- Full UTF-8 name with the store's separator; INBOX is always spelled `INBOX`.
  name           TEXT NOT NULL UNIQUE,
  uid_validity   INTEGER NOT NULL,
  uid_next       INTEGER NOT NULL DEFAULT 1,
  -- RFC 7162: strictly increasing; 1 for a fresh mailbox (Dovecot's minimum).
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  -- \Noselect placeholder: a parent created implicitly, or a deleted mailbox that still has children.
  noselect       INTEGER NOT NULL DEFAULT 0,
  -- RFC 6154 attributes, space separated.
  special_use    TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL
);

-- Every keyword ever used in a mailbox (FLAGS / PERMANENTFLAGS / STATUS keywords), first spelling kept.
CREATE TABLE mailbox_keyword (
  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
  keyword_lc TEXT NOT NULL,
  keyword    TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, keyword_lc)
) WITHOUT ROWID;

-- Message bodies, shared by COPY (refcount). Small bodies live in `first_chunk` alone; larger ones
-- continue in body_chunk rows so a partial FETCH reads only the chunks it needs.
CREATE TABLE body (
  id             INTEGER PRIMARY KEY,
  size           INTEGER NOT NULL,
  chunk_size     INTEGER NOT NULL,
  refcount       INTEGER NOT NULL,
  first_chunk    BLOB NOT NULL,
  -- JSON of the parsed MIME structure given at append (src/mime), NULL if none was given.
  mime_structure TEXT
);

CREATE TABLE body_chunk (
  body_id INTEGER NOT NULL,
  seq     INTEGER NOT NULL, -- 1, 2, ...: chunk `seq` covers [seq*chunk_size, (seq+1)*chunk_size)
  data    BLOB NOT NULL,
  PRIMARY KEY (body_id, seq)
);

-- One row per message in a mailbox, clustered by (mailbox, uid) so listing a mailbox is one range scan.
CREATE TABLE message (
  mailbox_id     INTEGER NOT NULL REFERENCES mailbox(id),
  uid            INTEGER NOT NULL,
  modseq         INTEGER NOT NULL,
  -- modseq of the append/copy that created the row (tells "new" from "flags changed" in changesSince).
  created_modseq INTEGER NOT NULL,
  -- System flag bits as Dovecot: \Answered=1 \Flagged=2 \Deleted=4 \Seen=8 \Draft=16.
  flags          INTEGER NOT NULL,
  -- Keywords separated by one space, NULL when none.
  keywords       TEXT,
  internal_date  INTEGER NOT NULL,
  save_date      INTEGER NOT NULL,
  size           INTEGER NOT NULL,
  guid           TEXT NOT NULL,
  body_id        INTEGER NOT NULL REFERENCES body(id),
  -- 1 while no session has claimed \Recent for it (Dovecot semantics).
  recent         INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

CREATE INDEX message_modseq ON message (mailbox_id, modseq);
CREATE INDEX message_recent ON message (mailbox_id, uid) WHERE recent = 1;

-- Expunge log for QRESYNC VANISHED (RFC 7162 §3.2.10).
CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  modseq     INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

-- Subscriptions are names, not mailboxes: they may name mailboxes that do not exist (RFC 3501 §6.3.6).
CREATE TABLE subscription (
  name TEXT PRIMARY KEY
) WITHOUT ROWID;

-- RFC 5464 METADATA. mailbox_id 0 is server metadata (per user, as Dovecot keeps it on INBOX).
-- entry_lc is the lower-cased entry (names are case-insensitive); entry keeps the spelling given.
CREATE TABLE metadata (
  mailbox_id INTEGER NOT NULL,
  entry_lc   TEXT NOT NULL,
  entry      TEXT NOT NULL,
  value      BLOB NOT NULL,
  PRIMARY KEY (mailbox_id, entry_lc)
) WITHOUT ROWID;

-- Quota usage kept incrementally (one row): RFC 9208 STORAGE (bytes) and MESSAGE.
CREATE TABLE quota_usage (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  storage_bytes INTEGER NOT NULL,
  messages      INTEGER NOT NULL
);
INSERT INTO quota_usage (id, storage_bytes, messages) VALUES (1, 0, 0);
