-- Dovecot's index tracks modseqs only once a CONDSTORE/QRESYNC client has opened the mailbox
-- (mail_index_modseq_enable); until then STATUS reports no_modseq_tracking and SELECT leaves out
-- HIGHESTMODSEQ. Modseqs are counted either way (lib-index/mail-index-modseq.c), so enabling the
-- tracking later does not renumber anything. 1 once enabled; never goes back to 0.
ALTER TABLE mailbox ADD COLUMN modseq_tracking INTEGER NOT NULL DEFAULT 0;
