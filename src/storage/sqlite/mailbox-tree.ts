// The mailbox tree of a SQLite store: names, hierarchy placeholders, subscriptions, special use,
// UIDVALIDITY/UIDNEXT, STATUS (RFC 3501 §6.3).
import { INBOX, normalizeMailboxName, normalizeSpecialUse, parentNames, validateMailboxName } from '../mailbox-names.js';
import { StorageError, type MailboxInfo, type MailboxStatus } from '../types.js';
import { expungeRows } from './messages.js';
import type { UnitOfWork } from './unit-of-work.js';
import { firstRecentUid, firstUnseenUid, mailboxCounters, sequenceOf } from './mailbox-view.js';

export interface MailboxRow {
  id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  modseq_tracking: number;
  noselect: number;
  special_use: string;
  subscribed: number;
}

const MAILBOX_SELECT = `SELECT m.id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.modseq_tracking, m.noselect, m.special_use,
  (s.name IS NOT NULL) AS subscribed FROM mailbox m LEFT JOIN subscription s ON s.name = m.name`;

/** store_info key: INBOX exists but its MailboxCreate event has not been raised yet. */
export const INBOX_UNANNOUNCED = 'inbox_create_unannounced';

/**
 * Dovecot creates INBOX when it is first opened (a delivery, SELECT, STATUS), in a transaction of
 * its own that push notifications see as MailboxCreate before the opening one. Roost makes the
 * row with the store (and again after RENAME INBOX) and raises that event at the first opening.
 */
export function announceInbox(u: UnitOfWork, name: string): void {
  if (u.depth > 0 || name.toUpperCase() !== INBOX) return;
  if (!inboxUnannounced(u)) return;
  u.transaction(() => {
    const pending = u.stmts.get(`DELETE FROM store_info WHERE key = '${INBOX_UNANNOUNCED}'`).run().changes > 0;
    if (pending) u.event({ type: 'MailboxCreate', mailbox: INBOX });
  });
}

function inboxUnannounced(u: UnitOfWork): boolean {
  return u.stmts.get(`SELECT 1 FROM store_info WHERE key = '${INBOX_UNANNOUNCED}'`).get() !== undefined;
}

/** Thrown out of a transaction that found INBOX's MailboxCreate still due (rolled back, nothing written). */
const ANNOUNCE_FIRST = Symbol('announce INBOX first');

/**
 * u.transaction(fn) for a call that opens `name`, with announceInbox before it. The check runs
 * inside fn's transaction (a read transaction of its own would cost a delivery or a SELECT a
 * second round of WAL locks); in the rare case that the announcement is due, that transaction is
 * rolled back before fn runs, the announcement commits in one of its own and fn runs after it.
 */
export function openingTransaction<T>(u: UnitOfWork, name: string, fn: () => T): T {
  if (u.depth > 0 || name.toUpperCase() !== INBOX) return u.transaction(fn);
  try {
    return u.transaction(() => {
      if (inboxUnannounced(u)) throw ANNOUNCE_FIRST;
      return fn();
    });
  } catch (e) {
    if (e !== ANNOUNCE_FIRST) throw e;
  }
  announceInbox(u, name);
  return u.transaction(fn);
}

export function norm(u: UnitOfWork, name: string): string {
  return normalizeMailboxName(name, u.separator);
}

export function validate(u: UnitOfWork, name: string): void {
  validateMailboxName(name, u.separator, u.settings);
}

export function mailboxRow(u: UnitOfWork, name: string): MailboxRow | undefined {
  return u.stmts.get(`${MAILBOX_SELECT} WHERE m.name = ?`).get(name) as MailboxRow | undefined;
}

export function mailboxRowById(u: UnitOfWork, id: number): MailboxRow | undefined {
  return u.stmts.get(`${MAILBOX_SELECT} WHERE m.id = ?`).get(id) as MailboxRow | undefined;
}

/** A mailbox that can hold messages, or NONEXISTENT (rendered as TRYCREATE for APPEND/COPY targets). */
export function selectable(u: UnitOfWork, name: string): MailboxRow {
  const row = mailboxRow(u, norm(u, name));
  if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${name}`);
  return row;
}

export function selectableById(u: UnitOfWork, id: number): MailboxRow {
  const row = mailboxRowById(u, id);
  if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox ${id} doesn't exist`);
  return row;
}

export function toInfo(u: UnitOfWork, r: MailboxRow): MailboxInfo {
  return {
    id: r.id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    modseqTracking: r.modseq_tracking === 1,
    specialUse: r.special_use ? r.special_use.split(' ') : [],
    subscribed: r.subscribed === 1,
    noselect: r.noselect === 1,
  };
}

/**
 * UIDVALIDITY is time-based like Dovecot's, and unique per mailbox creation: never below the last
 * one handed out in this store (two creations in one second, or a clock step back).
 */
export function nextUidValidity(u: UnitOfWork): number {
  const row = u.stmts.get("SELECT value FROM store_info WHERE key = 'last_uid_validity'").get() as
    | { value: string }
    | undefined;
  const last = row ? Number(row.value) : 0;
  let next = Math.max(Math.floor(Date.now() / 1000), last + 1);
  if (next > 0xffffffff) next = 1; // RFC 3501: nz-number, 32 bits
  u.stmts.get("INSERT OR REPLACE INTO store_info (key, value) VALUES ('last_uid_validity', ?)").run(String(next));
  return next;
}

export function insertMailbox(u: UnitOfWork, name: string, noselect: boolean, specialUse: string[]): number {
  const count = (u.stmts.get('SELECT count(*) AS n FROM mailbox').get() as { n: number }).n;
  if (count >= u.settings.maxMailboxes) {
    throw new StorageError('LIMIT', `Too many mailboxes (limit ${u.settings.maxMailboxes})`);
  }
  const r = u.stmts
    .get('INSERT INTO mailbox (name, uid_validity, noselect, special_use, created_at) VALUES (?, ?, ?, ?, ?)')
    .run(name, nextUidValidity(u), noselect ? 1 : 0, specialUse.join(' '), Date.now());
  return Number(r.lastInsertRowid);
}

export function ensureParents(u: UnitOfWork, name: string): void {
  for (const p of parentNames(name, u.separator)) {
    if (!mailboxRow(u, p)) insertMailbox(u, p, true, []);
  }
}

export function hasChildren(u: UnitOfWork, name: string): boolean {
  const prefix = name + u.separator;
  return !!u.stmts.get('SELECT 1 FROM mailbox WHERE substr(name, 1, ?) = ? LIMIT 1').get(prefix.length, prefix);
}

/** Removes \Noselect ancestors left without children (they only existed to hold the hierarchy). */
export function pruneEmptyParents(u: UnitOfWork, name: string): void {
  for (const p of parentNames(name, u.separator).reverse()) {
    const row = mailboxRow(u, p);
    if (!row || !row.noselect || hasChildren(u, p)) return;
    dropMailboxRow(u, row.id);
  }
}

export function dropMailboxRow(u: UnitOfWork, id: number): void {
  u.stmts.get('DELETE FROM metadata WHERE mailbox_id = ?').run(id);
  u.stmts.get('DELETE FROM expunged WHERE mailbox_id = ?').run(id);
  u.stmts.get('DELETE FROM mailbox WHERE id = ?').run(id);
}

export function listMailboxes(u: UnitOfWork): MailboxInfo[] {
  u.assertOpen();
  return (u.stmts.get(`${MAILBOX_SELECT} ORDER BY m.name`).all() as MailboxRow[]).map((r) => toInfo(u, r));
}

export function getMailbox(u: UnitOfWork, name: string): MailboxInfo | undefined {
  u.assertOpen();
  const r = mailboxRow(u, norm(u, name));
  return r && toInfo(u, r);
}

export function getMailboxById(u: UnitOfWork, id: number): MailboxInfo | undefined {
  u.assertOpen();
  const r = mailboxRowById(u, id);
  return r && toInfo(u, r);
}

export function createMailbox(u: UnitOfWork, name: string, opts?: { specialUse?: string[] }): MailboxInfo {
  const n = norm(u, name);
  validate(u, n);
  const specialUse = normalizeSpecialUse(opts?.specialUse ?? []);
  return u.transaction(() => {
    const existing = mailboxRow(u, n);
    if (existing && !existing.noselect) throw new StorageError('ALREADYEXISTS', `Mailbox already exists: ${n}`);
    if (existing) {
      // A placeholder becomes a real mailbox; new UIDVALIDITY since it never held messages.
      u.stmts
        .get('UPDATE mailbox SET noselect = 0, uid_validity = ?, special_use = ? WHERE id = ?')
        .run(nextUidValidity(u), specialUse.join(' '), existing.id);
    } else {
      ensureParents(u, n);
      insertMailbox(u, n, false, specialUse);
    }
    u.event({ type: 'MailboxCreate', mailbox: n });
    u.notify(null, 'mailboxes', 0);
    return toInfo(u, mailboxRow(u, n)!);
  });
}

export function deleteMailbox(u: UnitOfWork, name: string): void {
  const n = norm(u, name);
  if (n === INBOX) throw new StorageError('NOPERM', "INBOX can't be deleted.");
  u.transaction(() => {
    const row = mailboxRow(u, n);
    if (!row) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${n}`);
    const children = hasChildren(u, n);
    if (row.noselect && children) {
      throw new StorageError('NOPERM', `Mailbox has children, delete them first: ${n}`);
    }
    const uids = (u.stmts.get('SELECT uid FROM message WHERE mailbox_id = ?').pluck().all(row.id) as number[]);
    if (uids.length > 0) expungeRows(u, row, uids, false);
    u.stmts.get('DELETE FROM mailbox_keyword WHERE mailbox_id = ?').run(row.id);
    if (children) {
      // RFC 3501 §6.3.4: the name stays, as \Noselect, because it has inferiors.
      u.stmts.get('DELETE FROM metadata WHERE mailbox_id = ?').run(row.id);
      u.stmts.get("UPDATE mailbox SET noselect = 1, special_use = '' WHERE id = ?").run(row.id);
    } else {
      dropMailboxRow(u, row.id);
      pruneEmptyParents(u, n);
    }
    // Dovecot: each message of the deleted mailbox is expunged first (spec §16.5).
    u.event({ type: 'MailboxDelete', mailbox: n });
    u.notify(null, 'mailboxes', 0);
  });
}

export function renameMailbox(u: UnitOfWork, oldName: string, newName: string): void {
  const from = norm(u, oldName);
  const to = norm(u, newName);
  validate(u, to);
  u.transaction(() => {
    const row = mailboxRow(u, from);
    if (!row) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${from}`);
    if (mailboxRow(u, to)) throw new StorageError('ALREADYEXISTS', `Mailbox already exists: ${to}`);
    if (to.startsWith(from + u.separator)) {
      throw new StorageError('PARAMETERS', `Can't rename mailbox under itself: ${from} -> ${to}`);
    }
    ensureParents(u, to);
    if (from === INBOX) renameInbox(u, row, to);
    else renameTree(u, from, to);
    pruneEmptyParents(u, from);
    u.event({ type: 'MailboxRename', mailbox: to, oldMailbox: from });
    u.notify(null, 'mailboxes', 0);
  });
}

/**
 * RFC 3501 §6.3.5: renaming INBOX moves all its messages to a new mailbox and leaves INBOX empty;
 * INBOX's inferiors are not renamed. UIDs move with the messages (the new mailbox is new, so its
 * UIDVALIDITY is fresh); INBOX sees them expunged at one new modseq.
 */
export function renameInbox(u: UnitOfWork, inbox: MailboxRow, to: string): void {
  const id = insertMailbox(u, to, false, []);
  u.stmts.get(`INSERT OR REPLACE INTO store_info (key, value) VALUES ('${INBOX_UNANNOUNCED}', '1')`).run();
  const modseq = inbox.highest_modseq + 1;
  u.stmts
    .get('INSERT INTO expunged (mailbox_id, uid, modseq) SELECT ?, uid, ? FROM message WHERE mailbox_id = ? ON CONFLICT DO UPDATE SET modseq = excluded.modseq')
    .run(inbox.id, modseq, inbox.id);
  u.stmts.get('UPDATE message SET mailbox_id = ? WHERE mailbox_id = ?').run(id, inbox.id);
  u.stmts
    .get('INSERT INTO mailbox_keyword (mailbox_id, keyword_lc, keyword) SELECT ?, keyword_lc, keyword FROM mailbox_keyword WHERE mailbox_id = ?')
    .run(id, inbox.id);
  const moved = u.stmts.get('SELECT max(modseq) AS m FROM message WHERE mailbox_id = ?').get(id) as { m: number | null };
  u.stmts
    .get('UPDATE mailbox SET uid_next = ?, highest_modseq = ? WHERE id = ?')
    .run(inbox.uid_next, Math.max(moved.m ?? 1, inbox.highest_modseq), id);
  u.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, inbox.id);
  u.notify(inbox.id, 'expunge', modseq);
}

/** Renames a mailbox and every inferior name; subscriptions follow. */
export function renameTree(u: UnitOfWork, from: string, to: string): void {
  const prefix = from + u.separator;
  const match = 'name = ? OR substr(name, 1, ?) = ?';
  try {
    u.stmts
      .get(`UPDATE mailbox SET name = ? || substr(name, ?) WHERE ${match}`)
      .run(to, from.length + 1, from, prefix.length, prefix);
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new StorageError('ALREADYEXISTS', `A mailbox under ${to} already exists`);
    }
    throw e;
  }
  for (const name of u.stmts.get(`SELECT name FROM mailbox WHERE ${match}`).pluck().all(to, to.length + 1, to + u.separator) as string[]) {
    validate(u, name); // children may now break the depth or length limits
  }
  u.stmts
    .get(`UPDATE OR REPLACE subscription SET name = ? || substr(name, ?) WHERE ${match}`)
    .run(to, from.length + 1, from, prefix.length, prefix);
}

export function setSubscribed(u: UnitOfWork, name: string, subscribed: boolean): void {
  const n = norm(u, name);
  validate(u, n);
  u.transaction(() => {
    if (subscribed) u.stmts.get('INSERT OR IGNORE INTO subscription (name) VALUES (?)').run(n);
    else u.stmts.get('DELETE FROM subscription WHERE name = ?').run(n);
    u.event({ type: subscribed ? 'MailboxSubscribe' : 'MailboxUnsubscribe', mailbox: n });
    u.notify(null, 'mailboxes', 0);
  });
}

export function listSubscriptions(u: UnitOfWork): string[] {
  u.assertOpen();
  return u.stmts.get('SELECT name FROM subscription ORDER BY name').pluck().all() as string[];
}

export function setSpecialUse(u: UnitOfWork, name: string, specialUse: string[]): void {
  const attrs = normalizeSpecialUse(specialUse);
  u.transaction(() => {
    const row = selectable(u, name);
    u.stmts.get('UPDATE mailbox SET special_use = ? WHERE id = ?').run(attrs.join(' '), row.id);
    u.notify(null, 'mailboxes', 0);
  });
}

export function setMailboxUids(u: UnitOfWork, name: string, ids: { uidValidity?: number; uidNext?: number; highestModseq?: number }): MailboxInfo {
  u.transaction(() => {
    const row = selectable(u, name);
    const valid = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 1 && n <= 0xffffffff);
    if (!valid(ids.uidValidity) || !valid(ids.uidNext)) throw new StorageError('PARAMETERS', 'UIDVALIDITY and UIDNEXT are 32-bit non-zero numbers');
    if (ids.uidValidity !== undefined && ids.uidValidity !== row.uid_validity) {
      const used = u.stmts.get('SELECT 1 FROM message WHERE mailbox_id = ? LIMIT 1').get(row.id);
      if (used || row.uid_next > 1) throw new StorageError('INUSE', `Cannot change UIDVALIDITY of ${row.name}: UIDs were already handed out`);
      u.stmts.get('UPDATE mailbox SET uid_validity = ? WHERE id = ?').run(ids.uidValidity, row.id);
      // A mailbox created later under this name must still get a different UIDVALIDITY.
      u.stmts
        .get(
          `INSERT INTO store_info (key, value) VALUES ('last_uid_validity', CAST(@v AS TEXT))
           ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), @v) AS TEXT)`,
        )
        .run({ v: ids.uidValidity });
    }
    if (ids.uidNext !== undefined && ids.uidNext > row.uid_next) {
      u.stmts.get('UPDATE mailbox SET uid_next = ? WHERE id = ?').run(ids.uidNext, row.id);
    }
    if (ids.highestModseq !== undefined) {
      if (!Number.isSafeInteger(ids.highestModseq) || ids.highestModseq < 0) throw new StorageError('PARAMETERS', 'HIGHESTMODSEQ is a non-negative number');
      if (ids.highestModseq > row.highest_modseq) u.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(ids.highestModseq, row.id);
    }
    u.notify(null, 'mailboxes', 0);
  });
  return getMailbox(u, name)!;
}

export function status(u: UnitOfWork, name: string): MailboxStatus {
  u.assertOpen();
  announceInbox(u, name);
  const row = selectable(u, name);
  // Counters kept by triggers (migration 0004) and two partial-index lookups: no pass over the messages.
  const agg = mailboxCounters(u.stmts, row.id);
  const unseenUid = agg.unseen > 0 ? firstUnseenUid(u.stmts, row.id) : null;
  const firstUnseenSeq = unseenUid === null ? 0 : sequenceOf(u.stmts, row.id, unseenUid, agg.messages, row.uid_next);
  const firstRecent = agg.recent > 0 ? firstRecentUid(u.stmts, row.id) : null;
  return {
    name: row.name,
    messages: agg.messages,
    recent: agg.recent,
    unseen: agg.unseen,
    uidNext: row.uid_next,
    uidValidity: row.uid_validity,
    highestModseq: row.highest_modseq,
    modseqTracking: row.modseq_tracking === 1,
    size: agg.size,
    firstUnseenSeq,
    firstRecentUid: firstRecent ?? row.uid_next,
    keywords: u.stmts.get('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = ? ORDER BY keyword_lc').pluck().all(row.id) as string[],
  };
}

export function enableModseqTracking(u: UnitOfWork, mailboxId: number): void {
  u.assertOpen();
  u.stmts.get('UPDATE mailbox SET modseq_tracking = 1 WHERE id = ? AND modseq_tracking = 0').run(mailboxId);
}
