-- Per-mailbox counters kept current by triggers as messages are added, removed, flagged, claimed
-- (\Recent) or moved (RENAME INBOX), so STATUS and SELECT read one row instead of aggregating over
-- every message: Dovecot keeps the same figures in its index header (mail-index.h's
-- mail_index_header: messages_count, seen_messages_count, first_unseen_uid_lowwater).
-- `unseen` counts messages without \Seen (bit 8); `total_size` is the sum of RFC822.SIZE.
ALTER TABLE mailbox ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN unseen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN recent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0;

UPDATE mailbox SET (messages, unseen, recent, total_size) = (
  SELECT count(*), coalesce(sum((flags & 8) = 0), 0), coalesce(sum(recent), 0), coalesce(sum(size), 0)
  FROM message WHERE message.mailbox_id = mailbox.id
);

-- The first unseen message (SELECT's UNSEEN, STATUS) without a scan: only unseen rows are indexed.
CREATE INDEX message_unseen ON message (mailbox_id, uid) WHERE (flags & 8) = 0;

CREATE TRIGGER message_counters_insert AFTER INSERT ON message BEGIN
  UPDATE mailbox SET messages = messages + 1, unseen = unseen + ((NEW.flags & 8) = 0),
    recent = recent + NEW.recent, total_size = total_size + NEW.size
  WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER message_counters_delete AFTER DELETE ON message BEGIN
  UPDATE mailbox SET messages = messages - 1, unseen = unseen - ((OLD.flags & 8) = 0),
    recent = recent - OLD.recent, total_size = total_size - OLD.size
  WHERE id = OLD.mailbox_id;
END;

-- Only when a counted fact changes (a \Flagged or keyword change leaves the row alone).
CREATE TRIGGER message_counters_update AFTER UPDATE OF flags, recent, size ON message
WHEN OLD.mailbox_id = NEW.mailbox_id
  AND (((OLD.flags & 8) = 0) <> ((NEW.flags & 8) = 0) OR OLD.recent <> NEW.recent OR OLD.size <> NEW.size)
BEGIN
  UPDATE mailbox SET unseen = unseen + ((NEW.flags & 8) = 0) - ((OLD.flags & 8) = 0),
    recent = recent + NEW.recent - OLD.recent, total_size = total_size + NEW.size - OLD.size
  WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER message_counters_move AFTER UPDATE OF mailbox_id ON message
WHEN OLD.mailbox_id <> NEW.mailbox_id
BEGIN
  UPDATE mailbox SET messages = messages - 1, unseen = unseen - ((OLD.flags & 8) = 0),
    recent = recent - OLD.recent, total_size = total_size - OLD.size
  WHERE id = OLD.mailbox_id;
  UPDATE mailbox SET messages = messages + 1, unseen = unseen + ((NEW.flags & 8) = 0),
    recent = recent + NEW.recent, total_size = total_size + NEW.size
  WHERE id = NEW.mailbox_id;
END;
