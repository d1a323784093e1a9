// SELECT/EXAMINE and STATUS on SQLite without going through every message: the shared listing
// (mailbox-index.ts) fed from the message table, \Recent taken through its partial index, the
// first unseen message through message_unseen, counts from the counters the triggers keep
// (migrations/user/0004_mailbox_counters.sql). Every function here runs inside the caller's
// transaction, so the listing, the claim and the counters are one consistent state.
import { statSync } from 'node:fs';
import type { IndexRow, IndexSource, StoreIndexes } from '../mailbox-index.js';
import type { MailboxInfo, MailboxViewSnapshot } from '../types.js';
import type { StatementCache } from './sqlite.js';

/** The cache key of a database file: its path and inode (a restored or replaced file is another). */
export function indexCacheKey(dbPath: string): string {
  try {
    const st = statSync(dbPath);
    return `${dbPath}\0${st.dev}:${st.ino}`;
  } catch {
    return dbPath;
  }
}

export function sqliteIndexSource(stmts: StatementCache): IndexSource {
  return {
    listAll(mailboxId) {
      // One row of JSON arrays: far fewer values cross into JS than one row per message.
      const cols = stmts
        .get(
          `SELECT json_group_array(uid), json_group_array(modseq), json_group_array(flags), json_group_array(keywords), json_group_array(size)
           FROM (SELECT uid, modseq, flags, keywords, size FROM message WHERE mailbox_id = ? ORDER BY uid)`,
        )
        .raw(true)
        .get(mailboxId) as [string, string, string, string, string];
      const uids = JSON.parse(cols[0]) as number[];
      let ascending = true;
      for (let i = 1; i < uids.length && ascending; i++) if (uids[i - 1]! >= uids[i]!) ascending = false;
      if (ascending) {
        return { uids, modseqs: JSON.parse(cols[1]) as number[], bits: JSON.parse(cols[2]) as number[], keywords: JSON.parse(cols[3]) as (string | null)[], sizes: JSON.parse(cols[4]) as number[] };
      }
      // SQLite does not promise the aggregate keeps the subquery's order: read it row by row.
      const rows = stmts
        .get('SELECT uid, modseq, flags, keywords, size FROM message WHERE mailbox_id = ? ORDER BY uid')
        .raw(true)
        .all(mailboxId) as [number, number, number, string | null, number][];
      return { uids: rows.map((r) => r[0]), modseqs: rows.map((r) => r[1]), bits: rows.map((r) => r[2]), keywords: rows.map((r) => r[3]), sizes: rows.map((r) => r[4]) };
    },
    changedSince(mailboxId, modseq) {
      const rows = stmts
        .get('SELECT uid, modseq, flags, keywords, size FROM message WHERE mailbox_id = ? AND modseq > ?')
        .raw(true)
        .all(mailboxId, modseq) as IndexRow[];
      const expunged = stmts.get('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ?').pluck().all(mailboxId, modseq) as number[];
      return { rows, expunged };
    },
  };
}

/** UIDs of the mailbox's \Recent messages, ascending (through the partial index of \Recent rows). */
export function recentUids(stmts: StatementCache, mailboxId: number): number[] {
  return stmts.get('SELECT uid FROM message INDEXED BY message_recent WHERE mailbox_id = ? AND recent = 1 ORDER BY uid').pluck().all(mailboxId) as number[];
}

/** The UID of the first message without \Seen, null when there is none (partial index message_unseen). */
export function firstUnseenUid(stmts: StatementCache, mailboxId: number): number | null {
  return stmts.get('SELECT min(uid) FROM message INDEXED BY message_unseen WHERE mailbox_id = ? AND (flags & 8) = 0').pluck().get(mailboxId) as number | null;
}

/** The UID of the first \Recent message, null when there is none. */
export function firstRecentUid(stmts: StatementCache, mailboxId: number): number | null {
  return stmts.get('SELECT min(uid) FROM message INDEXED BY message_recent WHERE mailbox_id = ? AND recent = 1').pluck().get(mailboxId) as number | null;
}

/**
 * The sequence number of `uid` (a message of the mailbox) without a listing: counts the messages on
 * the shorter side of it, judged by UID (the first unseen message is usually near one end).
 */
export function sequenceOf(stmts: StatementCache, mailboxId: number, uid: number, messages: number, uidNext: number): number {
  const lowest = stmts.get('SELECT min(uid) FROM message WHERE mailbox_id = ?').pluck().get(mailboxId) as number | null;
  if (lowest === null) return 0;
  if (uid - lowest <= uidNext - uid) return stmts.get('SELECT count(*) FROM message WHERE mailbox_id = ? AND uid <= ?').pluck().get(mailboxId, uid) as number;
  return messages - (stmts.get('SELECT count(*) FROM message WHERE mailbox_id = ? AND uid > ?').pluck().get(mailboxId, uid) as number);
}

/** The maintained counters of a mailbox (migration 0004). */
export function mailboxCounters(stmts: StatementCache, mailboxId: number): { messages: number; unseen: number; recent: number; size: number } {
  return stmts.get('SELECT messages, unseen, recent, total_size AS size FROM mailbox WHERE id = ?').get(mailboxId) as {
    messages: number;
    unseen: number;
    recent: number;
    size: number;
  };
}

/**
 * What SELECT/EXAMINE needs, inside the caller's (write) transaction: the shared listing brought up
 * to the mailbox's modseq, a holder of it for the view, the first unseen message, the registered
 * keywords, and \Recent: counted, or with `claim` taken as claimRecent() takes it.
 */
export function readMailboxView(stmts: StatementCache, indexes: StoreIndexes, source: IndexSource, info: MailboxInfo, claim: boolean): MailboxViewSnapshot {
  indexes.checkIncarnation((stmts.get("SELECT value FROM store_info WHERE key = 'incarnation'").pluck().get() as string | undefined) ?? null);
  const index = indexes.current(source, info.id, info.uidValidity, info.highestModseq, mailboxCounters(stmts, info.id).messages);
  const columns = index.share();
  const recent = recentUids(stmts, info.id);
  // Every \Recent row is in the list: the UPDATE starts at the first of them (usually the newest few).
  if (claim && recent.length > 0) stmts.get('UPDATE message SET recent = 0 WHERE mailbox_id = ? AND uid >= ? AND recent = 1').run(info.id, recent[0]);
  const unseen = firstUnseenUid(stmts, info.id);
  return {
    info,
    columns,
    keywordsInUse: index.keywordsInUse(),
    recentCount: recent.length,
    claimedRecent: claim ? recent : [],
    firstUnseenSeq: unseen === null ? 0 : columns.indexOf(unseen) + 1,
    keywords: stmts.get('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = ? ORDER BY keyword_lc').pluck().all(info.id) as string[],
  };
}
