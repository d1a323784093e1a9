-- The pgsql mail storage backend: every user's mail in one database (mail_location = pgsql:...),
-- so that any node can serve any user. The same tables as one SQLite file per user
-- (migrations/user/), plus the built-in user database (migrations/server/), each row carrying
-- its store. Times are milliseconds since the epoch, as in the SQLite schema.
--
-- Rules the database itself enforces (so that no code path can break them by accident):
--  * UIDVALIDITY of a mailbox never changes, unless the transaction says it means it
--    (SET LOCAL roost.change_uidvalidity = 'on': import of UIDs from another server);
--  * uid_next and highest_modseq never go down;
--  * the per-mailbox counters (and so the quota usage, their sum) and the body reference counts
--    follow the message rows (statement-level triggers below).
--
-- Lock order, for the code: a transaction locks the mailbox rows it will change (allocation.ts:
-- allocateUids/allocateModseq, or lockMailboxes for several, in id order) before message rows.

-- The built-in user database (the `roost` passdb/userdb). Password hashes are Dovecot
-- `{SCHEME}...` strings produced by src/auth; this database never sees a plaintext password.
CREATE TABLE users (
  id         bigserial PRIMARY KEY,
  -- Unique exactly as given (auth_username_format decides case folding before lookup).
  username   text NOT NULL UNIQUE,
  password   text,
  uid        bigint,
  gid        bigint,
  home       text,
  quota_rule text,
  created_at bigint NOT NULL
);

-- Extra userdb fields (Dovecot userdb extra fields, e.g. `mail_plugins`).
CREATE TABLE user_fields (
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key     text NOT NULL,
  value   text NOT NULL,
  PRIMARY KEY (user_id, key)
);

-- One mail store per user name, whichever passdb/userdb the user came from (SQLite: one file).
-- Holds what SQLite's store_info holds. Quota usage (SQLite's quota_usage) is the sum of the
-- store's mailbox counters: no per-user row that every delivery to any of the user's mailboxes
-- would have to lock (a hot spot, and a lock-order trap for MOVE between two mailboxes).
CREATE TABLE mail_store (
  id                bigserial PRIMARY KEY,
  username          text NOT NULL UNIQUE,
  -- The hierarchy separator the mailbox names were written with.
  separator         text NOT NULL,
  -- The last UIDVALIDITY handed out in this store (each new mailbox gets a higher one).
  last_uid_validity bigint NOT NULL DEFAULT 0,
  -- INBOX exists but its MailboxCreate event has not been raised yet.
  inbox_unannounced boolean NOT NULL DEFAULT false,
  created_at        bigint NOT NULL
);

CREATE TABLE mailbox (
  id              bigserial PRIMARY KEY,
  store_id        bigint NOT NULL REFERENCES mail_store (id) ON DELETE CASCADE,
  -- Full UTF-8 name with the store's separator; INBOX is always spelled `INBOX`.
  name            text NOT NULL,
  uid_validity    bigint NOT NULL CHECK (uid_validity BETWEEN 1 AND 4294967295),
  uid_next        bigint NOT NULL DEFAULT 1 CHECK (uid_next BETWEEN 1 AND 4294967296),
  -- RFC 7162: strictly increasing; 1 for a fresh mailbox (Dovecot's minimum).
  highest_modseq  bigint NOT NULL DEFAULT 1,
  -- 1 once a CONDSTORE/QRESYNC client opened the mailbox (Dovecot's mail_index_modseq_enable).
  modseq_tracking boolean NOT NULL DEFAULT false,
  -- \Noselect placeholder: a parent created implicitly, or a deleted mailbox that still has children.
  noselect        boolean NOT NULL DEFAULT false,
  -- RFC 6154 attributes, space separated.
  special_use     text NOT NULL DEFAULT '',
  -- STATUS counters, kept by the message triggers: MESSAGES, UNSEEN, RECENT, SIZE.
  messages        bigint NOT NULL DEFAULT 0,
  unseen          bigint NOT NULL DEFAULT 0,
  recent          bigint NOT NULL DEFAULT 0,
  size            bigint NOT NULL DEFAULT 0,
  created_at      bigint NOT NULL,
  UNIQUE (store_id, name)
);

-- Every keyword ever used in a mailbox (FLAGS / PERMANENTFLAGS), first spelling kept.
CREATE TABLE mailbox_keyword (
  mailbox_id bigint NOT NULL REFERENCES mailbox (id) ON DELETE CASCADE,
  keyword_lc text NOT NULL,
  keyword    text NOT NULL,
  PRIMARY KEY (mailbox_id, keyword_lc)
);

-- Message bodies, shared by every message that holds the same delivery (LMTP to several
-- recipients, COPY): SQLite's hard links. refcount is kept by the message triggers; a body whose
-- last message goes is deleted with its chunks. Chunk `seq` covers
-- [seq * chunk_size, (seq + 1) * chunk_size), so a partial FETCH reads only the chunks it needs.
CREATE TABLE body (
  id             bigserial PRIMARY KEY,
  size           bigint NOT NULL,
  chunk_size     integer NOT NULL CHECK (chunk_size > 0),
  refcount       bigint NOT NULL DEFAULT 0,
  -- JSON of the parsed MIME structure given at append (src/mime), NULL if none was given.
  mime_structure text,
  created_at     bigint NOT NULL
);

CREATE TABLE body_chunk (
  body_id bigint NOT NULL REFERENCES body (id) ON DELETE CASCADE,
  seq     integer NOT NULL,
  data    bytea NOT NULL,
  PRIMARY KEY (body_id, seq)
);

-- One row per message in a mailbox; (mailbox, uid) is the primary key, so a mailbox listing is one range scan.
CREATE TABLE message (
  -- No cascade: a mailbox's messages are deleted (expunged: bodies released, events raised)
  -- before the mailbox, never behind the code's back.
  mailbox_id     bigint NOT NULL REFERENCES mailbox (id),
  uid            bigint NOT NULL,
  modseq         bigint NOT NULL,
  -- modseq of the append/copy that created the row (tells "new" from "flags changed" in changesSince).
  created_modseq bigint NOT NULL,
  -- System flag bits as Dovecot: \Answered=1 \Flagged=2 \Deleted=4 \Seen=8 \Draft=16.
  flags          integer NOT NULL,
  -- Keywords separated by one space, NULL when none (as in SQLite).
  keywords       text,
  internal_date  bigint NOT NULL,
  save_date      bigint NOT NULL,
  size           bigint NOT NULL,
  guid           text NOT NULL,
  body_id        bigint NOT NULL REFERENCES body (id),
  -- true while no session has claimed \Recent for it (Dovecot semantics).
  recent         boolean NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);

CREATE INDEX message_modseq ON message (mailbox_id, modseq);
CREATE INDEX message_recent ON message (mailbox_id, uid) WHERE recent;
CREATE INDEX message_body ON message (body_id);

-- Expunge log for QRESYNC VANISHED (RFC 7162 §3.2.10) and changesSince.
CREATE TABLE expunged (
  mailbox_id bigint NOT NULL REFERENCES mailbox (id) ON DELETE CASCADE,
  uid        bigint NOT NULL,
  modseq     bigint NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);

CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

-- Subscriptions are names, not mailboxes: they may name mailboxes that do not exist (RFC 3501 §6.3.6).
CREATE TABLE subscription (
  store_id bigint NOT NULL REFERENCES mail_store (id) ON DELETE CASCADE,
  name     text NOT NULL,
  PRIMARY KEY (store_id, name)
);

-- RFC 5464 METADATA. mailbox_id 0 is server metadata (per user, as Dovecot keeps it on INBOX);
-- the store deletes a mailbox's entries with the mailbox. entry_lc is the lower-cased entry
-- (names are case-insensitive); entry keeps the spelling given.
CREATE TABLE metadata (
  store_id   bigint NOT NULL REFERENCES mail_store (id) ON DELETE CASCADE,
  mailbox_id bigint NOT NULL,
  entry_lc   text NOT NULL,
  entry      text NOT NULL,
  value      bytea NOT NULL,
  PRIMARY KEY (store_id, mailbox_id, entry_lc)
);

-- The mailbox row's promises.
CREATE FUNCTION mailbox_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.uid_validity <> OLD.uid_validity AND coalesce(current_setting('roost.change_uidvalidity', true), '') <> 'on' THEN
    RAISE EXCEPTION 'UIDVALIDITY of mailbox % may not change (% -> %)', OLD.id, OLD.uid_validity, NEW.uid_validity
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.uid_next < OLD.uid_next THEN
    RAISE EXCEPTION 'uid_next of mailbox % may not go down (% -> %)', OLD.id, OLD.uid_next, NEW.uid_next
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.highest_modseq < OLD.highest_modseq THEN
    RAISE EXCEPTION 'highest_modseq of mailbox % may not go down (% -> %)', OLD.id, OLD.highest_modseq, NEW.highest_modseq
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER mailbox_guard BEFORE UPDATE ON mailbox FOR EACH ROW EXECUTE FUNCTION mailbox_guard();

-- Counters follow the message rows, once per statement (a 10,000-message EXPUNGE is one update
-- per mailbox, not 10,000). `rows_sign` is +1 for rows that came, -1 for rows that went.
CREATE FUNCTION message_counts_apply(rows_sign integer, mailbox_ids bigint[], counts bigint[], unseens bigint[], recents bigint[], sizes bigint[]) RETURNS void
LANGUAGE sql AS $$
  UPDATE mailbox m SET
    messages = m.messages + rows_sign * d.n,
    unseen = m.unseen + rows_sign * d.unseen,
    recent = m.recent + rows_sign * d.recent,
    size = m.size + rows_sign * d.size
  FROM unnest(mailbox_ids, counts, unseens, recents, sizes) AS d (mailbox_id, n, unseen, recent, size)
  WHERE m.id = d.mailbox_id;
$$;

CREATE FUNCTION message_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM message_counts_apply(1, array_agg(mailbox_id), array_agg(n), array_agg(unseen), array_agg(recent), array_agg(size))
     FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE flags & 8 = 0) AS unseen,
                  count(*) FILTER (WHERE recent) AS recent, sum(size)::bigint AS size
             FROM new_rows GROUP BY mailbox_id) d;
  -- Body rows in id order: two users' transactions sharing bodies (one delivery to both) wait
  -- for each other instead of deadlocking.
  PERFORM 1 FROM body WHERE id IN (SELECT body_id FROM new_rows) ORDER BY id FOR UPDATE;
  UPDATE body b SET refcount = b.refcount + d.n
    FROM (SELECT body_id, count(*) AS n FROM new_rows GROUP BY body_id) d WHERE b.id = d.body_id;
  RETURN NULL;
END $$;

CREATE FUNCTION message_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM message_counts_apply(-1, array_agg(mailbox_id), array_agg(n), array_agg(unseen), array_agg(recent), array_agg(size))
     FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE flags & 8 = 0) AS unseen,
                  count(*) FILTER (WHERE recent) AS recent, sum(size)::bigint AS size
             FROM old_rows GROUP BY mailbox_id) d;
  PERFORM 1 FROM body WHERE id IN (SELECT body_id FROM old_rows) ORDER BY id FOR UPDATE;
  UPDATE body b SET refcount = b.refcount - d.n
    FROM (SELECT body_id, count(*) AS n FROM old_rows GROUP BY body_id) d WHERE b.id = d.body_id;
  DELETE FROM body WHERE id IN (SELECT body_id FROM old_rows) AND refcount <= 0;
  RETURN NULL;
END $$;

-- UPDATE: only \Seen and \Recent change the counters (a message does not move between mailboxes).
CREATE FUNCTION message_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailbox m SET unseen = m.unseen + d.unseen, recent = m.recent + d.recent
    FROM (SELECT n.mailbox_id,
                 sum((CASE WHEN n.flags & 8 = 0 THEN 1 ELSE 0 END) - (CASE WHEN o.flags & 8 = 0 THEN 1 ELSE 0 END)) AS unseen,
                 sum((CASE WHEN n.recent THEN 1 ELSE 0 END) - (CASE WHEN o.recent THEN 1 ELSE 0 END)) AS recent
            FROM new_rows n JOIN old_rows o ON o.mailbox_id = n.mailbox_id AND o.uid = n.uid
           WHERE n.flags & 8 <> o.flags & 8 OR n.recent <> o.recent
           GROUP BY n.mailbox_id) d
   WHERE m.id = d.mailbox_id AND (d.unseen <> 0 OR d.recent <> 0);
  RETURN NULL;
END $$;

CREATE TRIGGER message_inserted AFTER INSERT ON message REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION message_inserted();
CREATE TRIGGER message_deleted AFTER DELETE ON message REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION message_deleted();
CREATE TRIGGER message_updated AFTER UPDATE ON message REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION message_updated();

-- A body no message took up by COMMIT (the delivery failed after writing it) goes at COMMIT.
CREATE FUNCTION body_unused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM body WHERE id = NEW.id AND refcount <= 0;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER body_unused AFTER INSERT ON body DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION body_unused();
