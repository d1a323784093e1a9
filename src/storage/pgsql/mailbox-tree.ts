// The mailbox tree of a pgsql store: names, hierarchy placeholders, subscriptions, special use,
// UIDVALIDITY/UIDNEXT, STATUS (RFC 3501 §6.3). The rules are sqlite/mailbox-tree.ts's; here every
// mailbox row carries its store, and a change to a mailbox locks its row first (allocation.ts's
// lock order: mailbox rows, in id order, before message rows).
import { INBOX, normalizeMailboxName, normalizeSpecialUse, parentNames, validateMailboxName } from '../mailbox-names.js';
import { StorageError, type MailboxInfo, type MailboxStatus } from '../types.js';
import { insertMailbox as insertMailboxRow, MAX_UID } from './allocation.js';
import type { Queryable } from './bodies.js';
import { expungeRows } from './messages.js';
import type { PgsqlClient } from './pool.js';
import type { PgsqlStoreContext, TxnLog } from './store-context.js';

export interface MailboxRow {
  id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  modseq_tracking: boolean;
  noselect: boolean;
  special_use: string;
  subscribed: boolean;
}

const MAILBOX_SELECT = `SELECT m.id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.modseq_tracking, m.noselect, m.special_use,
  (s.name IS NOT NULL) AS subscribed FROM mailbox m LEFT JOIN subscription s ON s.store_id = m.store_id AND s.name = m.name`;

export function norm(u: PgsqlStoreContext, name: string): string {
  return normalizeMailboxName(name, u.separator);
}

export function validate(u: PgsqlStoreContext, name: string): void {
  validateMailboxName(name, u.separator, u.settings);
}

export async function mailboxRow(db: Queryable, u: PgsqlStoreContext, name: string, lock = ''): Promise<MailboxRow | undefined> {
  const { rows } = await db.query<MailboxRow & Record<string, unknown>>(`${MAILBOX_SELECT} WHERE m.store_id = $1 AND m.name = $2 ${lock}`, [u.storeId, name]);
  return rows[0];
}

export async function mailboxRowById(db: Queryable, u: PgsqlStoreContext, id: number, lock = ''): Promise<MailboxRow | undefined> {
  const { rows } = await db.query<MailboxRow & Record<string, unknown>>(`${MAILBOX_SELECT} WHERE m.store_id = $1 AND m.id = $2 ${lock}`, [u.storeId, id]);
  return rows[0];
}

/** A mailbox that can hold messages, or NONEXISTENT (rendered as TRYCREATE for APPEND/COPY targets). */
export async function selectable(db: Queryable, u: PgsqlStoreContext, name: string, lock = ''): Promise<MailboxRow> {
  const row = await mailboxRow(db, u, norm(u, name), lock);
  if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${name}`);
  return row;
}

export async function selectableById(db: Queryable, u: PgsqlStoreContext, id: number, lock = ''): Promise<MailboxRow> {
  const row = await mailboxRowById(db, u, id, lock);
  if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox ${id} doesn't exist`);
  return row;
}

/**
 * Locks the rows of these mailboxes of the store for the rest of the transaction, in id order
 * (allocation.ts lockMailboxes' rule), and returns them as they are now; NONEXISTENT for a
 * missing or \Noselect one.
 */
export async function lockSelectable(c: PgsqlClient, u: PgsqlStoreContext, ids: number[]): Promise<Map<number, MailboxRow>> {
  const wanted = [...new Set(ids)].sort((a, b) => a - b);
  const { rows } = await c.query<MailboxRow>(`${MAILBOX_SELECT} WHERE m.store_id = $1 AND m.id = ANY($2::bigint[]) ORDER BY m.id FOR UPDATE OF m`, [u.storeId, wanted]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of wanted) {
    const r = byId.get(id);
    if (!r || r.noselect) throw new StorageError('NONEXISTENT', `Mailbox ${id} doesn't exist`);
  }
  return byId;
}

export function toInfo(r: MailboxRow): MailboxInfo {
  return {
    id: r.id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    modseqTracking: r.modseq_tracking,
    specialUse: r.special_use ? r.special_use.split(' ') : [],
    subscribed: r.subscribed,
    noselect: r.noselect,
  };
}

/**
 * Changes to the tree (create, delete, rename) take the store row's lock first: one at a time per
 * user across nodes, so a placeholder is never pruned under a child being created, and the store
 * row always comes before mailbox rows (allocation.ts's lock order).
 */
async function lockTree(c: PgsqlClient, u: PgsqlStoreContext): Promise<void> {
  await c.query('SELECT 1 FROM mail_store WHERE id = $1 FOR UPDATE', [u.storeId]);
}

async function insertMailbox(c: PgsqlClient, u: PgsqlStoreContext, name: string, noselect: boolean, specialUse: string[]): Promise<number> {
  const { rows } = await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM mailbox WHERE store_id = $1', [u.storeId]);
  if (rows[0]!.n >= u.settings.maxMailboxes) throw new StorageError('LIMIT', `Too many mailboxes (limit ${u.settings.maxMailboxes})`);
  return (await insertMailboxRow(c, u.storeId, name, { noselect, specialUse })).id;
}

async function ensureParents(c: PgsqlClient, u: PgsqlStoreContext, name: string): Promise<void> {
  for (const p of parentNames(name, u.separator)) {
    if (!(await mailboxRow(c, u, p))) await insertMailbox(c, u, p, true, []);
  }
}

async function hasChildren(db: Queryable, u: PgsqlStoreContext, name: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM mailbox WHERE store_id = $1 AND starts_with(name, $2) LIMIT 1', [u.storeId, name + u.separator]);
  return rows.length > 0;
}

/** Removes \Noselect ancestors left without children (they only existed to hold the hierarchy). */
async function pruneEmptyParents(c: PgsqlClient, u: PgsqlStoreContext, name: string): Promise<void> {
  for (const p of parentNames(name, u.separator).reverse()) {
    const row = await mailboxRow(c, u, p);
    if (!row || !row.noselect || (await hasChildren(c, u, p))) return;
    await dropMailboxRow(c, u, row.id);
  }
}

async function dropMailboxRow(c: PgsqlClient, u: PgsqlStoreContext, id: number): Promise<void> {
  await c.query('DELETE FROM metadata WHERE store_id = $1 AND mailbox_id = $2', [u.storeId, id]);
  await c.query('DELETE FROM mailbox WHERE id = $1', [id]); // the expunge log and keywords cascade
}

export async function listMailboxes(db: Queryable, u: PgsqlStoreContext): Promise<MailboxInfo[]> {
  // COLLATE "C": sorted by code point, as SQLite sorts names, whatever the database's collation.
  const { rows } = await db.query<MailboxRow & Record<string, unknown>>(`${MAILBOX_SELECT} WHERE m.store_id = $1 ORDER BY m.name COLLATE "C"`, [u.storeId]);
  return rows.map(toInfo);
}

export async function createMailbox(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, n: string, specialUse: string[]): Promise<MailboxInfo> {
  await lockTree(c, u);
  const existing = await mailboxRow(c, u, n, 'FOR UPDATE OF m');
  if (existing && !existing.noselect) throw new StorageError('ALREADYEXISTS', `Mailbox already exists: ${n}`);
  if (existing) {
    // A placeholder becomes a real mailbox; a new UIDVALIDITY since it never held messages.
    const { rows } = await c.query<{ v: number }>(
      `UPDATE mail_store SET last_uid_validity = CASE WHEN greatest($2::bigint, last_uid_validity + 1) > ${MAX_UID} THEN 1
         ELSE greatest($2::bigint, last_uid_validity + 1) END WHERE id = $1 RETURNING last_uid_validity AS v`,
      [u.storeId, Math.floor(Date.now() / 1000)],
    );
    await c.query("SELECT set_config('roost.change_uidvalidity', 'on', true)");
    await c.query('UPDATE mailbox SET noselect = false, uid_validity = $2, special_use = $3 WHERE id = $1', [existing.id, rows[0]!.v, specialUse.join(' ')]);
    await c.query("SELECT set_config('roost.change_uidvalidity', '', true)");
  } else {
    await ensureParents(c, u, n);
    await insertMailbox(c, u, n, false, specialUse);
  }
  log.event({ type: 'MailboxCreate', mailbox: n });
  log.notify(null, 'mailboxes', 0);
  return toInfo((await mailboxRow(c, u, n))!);
}

export async function deleteMailbox(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, n: string): Promise<void> {
  await lockTree(c, u);
  const row = await mailboxRow(c, u, n, 'FOR UPDATE OF m');
  if (!row) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${n}`);
  const children = await hasChildren(c, u, n);
  if (row.noselect && children) throw new StorageError('NOPERM', `Mailbox has children, delete them first: ${n}`);
  const { rows } = await c.query<{ uid: number }>('SELECT uid FROM message WHERE mailbox_id = $1', [row.id]);
  // Dovecot: each message of the deleted mailbox is expunged first (spec §16.5).
  if (rows.length > 0) await expungeRows(c, log, row, rows.map((r) => r.uid), false);
  await c.query('DELETE FROM mailbox_keyword WHERE mailbox_id = $1', [row.id]);
  if (children) {
    // RFC 3501 §6.3.4: the name stays, as \Noselect, because it has inferiors.
    await c.query('DELETE FROM metadata WHERE store_id = $1 AND mailbox_id = $2', [u.storeId, row.id]);
    await c.query("UPDATE mailbox SET noselect = true, special_use = '' WHERE id = $1", [row.id]);
  } else {
    await dropMailboxRow(c, u, row.id);
    await pruneEmptyParents(c, u, n);
  }
  log.event({ type: 'MailboxDelete', mailbox: n });
  log.notify(null, 'mailboxes', 0);
}

export async function renameMailbox(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, from: string, to: string): Promise<void> {
  await lockTree(c, u);
  const row = await mailboxRow(c, u, from, 'FOR UPDATE OF m');
  if (!row) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${from}`);
  if (await mailboxRow(c, u, to)) throw new StorageError('ALREADYEXISTS', `Mailbox already exists: ${to}`);
  if (to.startsWith(from + u.separator)) throw new StorageError('PARAMETERS', `Can't rename mailbox under itself: ${from} -> ${to}`);
  await ensureParents(c, u, to);
  if (from === INBOX) await renameInbox(c, u, log, row, to);
  else await renameTree(c, u, from, to);
  await pruneEmptyParents(c, u, from);
  log.event({ type: 'MailboxRename', mailbox: to, oldMailbox: from });
  log.notify(null, 'mailboxes', 0);
}

/**
 * RFC 3501 §6.3.5: renaming INBOX moves all its messages to a new mailbox and leaves INBOX empty;
 * INBOX's inferiors are not renamed. UIDs move with the messages (the new mailbox has a fresh
 * UIDVALIDITY); INBOX sees them expunged at one new modseq. The rows are inserted under the new
 * mailbox and then deleted from INBOX, so the schema's counters and body references follow.
 */
async function renameInbox(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, inbox: MailboxRow, to: string): Promise<void> {
  const id = await insertMailbox(c, u, to, false, []);
  await c.query('UPDATE mail_store SET inbox_unannounced = true WHERE id = $1', [u.storeId]);
  const modseq = inbox.highest_modseq + 1;
  await c.query(
    `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $2 FROM message WHERE mailbox_id = $1
     ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
    [inbox.id, modseq],
  );
  await c.query(
    `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent)
     SELECT $1, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent FROM message WHERE mailbox_id = $2`,
    [id, inbox.id],
  );
  await c.query('DELETE FROM message WHERE mailbox_id = $1', [inbox.id]);
  await c.query('INSERT INTO mailbox_keyword (mailbox_id, keyword_lc, keyword) SELECT $1, keyword_lc, keyword FROM mailbox_keyword WHERE mailbox_id = $2', [id, inbox.id]);
  const moved = await c.query<{ m: number | null }>('SELECT max(modseq) AS m FROM message WHERE mailbox_id = $1', [id]);
  await c.query('UPDATE mailbox SET uid_next = $2, highest_modseq = $3 WHERE id = $1', [id, inbox.uid_next, Math.max(moved.rows[0]!.m ?? 1, inbox.highest_modseq)]);
  await c.query('UPDATE mailbox SET highest_modseq = $2 WHERE id = $1', [inbox.id, modseq]);
  log.notify(inbox.id, 'expunge', modseq);
}

/** Renames a mailbox and every inferior name; subscriptions follow. */
async function renameTree(c: PgsqlClient, u: PgsqlStoreContext, from: string, to: string): Promise<void> {
  const match = '(name = $2 OR starts_with(name, $3))';
  try {
    await c.query(`UPDATE mailbox SET name = $4 || substr(name, $5) WHERE store_id = $1 AND ${match}`, [u.storeId, from, from + u.separator, to, from.length + 1]);
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new StorageError('ALREADYEXISTS', `A mailbox under ${to} already exists`);
    throw e;
  }
  const { rows } = await c.query<{ name: string }>(`SELECT name FROM mailbox WHERE store_id = $1 AND ${match}`, [u.storeId, to, to + u.separator]);
  for (const r of rows) validate(u, r.name); // children may now break the depth or length limits
  const subs = await c.query<{ name: string }>(`DELETE FROM subscription WHERE store_id = $1 AND ${match} RETURNING name`, [u.storeId, from, from + u.separator]);
  if (subs.rows.length > 0) {
    const renamed = subs.rows.map((r) => to + r.name.slice(from.length));
    await c.query('INSERT INTO subscription (store_id, name) SELECT $1, n FROM unnest($2::text[]) AS n ON CONFLICT DO NOTHING', [u.storeId, renamed]);
  }
}

export async function setSubscribed(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, n: string, subscribed: boolean): Promise<void> {
  if (subscribed) await c.query('INSERT INTO subscription (store_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [u.storeId, n]);
  else await c.query('DELETE FROM subscription WHERE store_id = $1 AND name = $2', [u.storeId, n]);
  log.event({ type: subscribed ? 'MailboxSubscribe' : 'MailboxUnsubscribe', mailbox: n });
  log.notify(null, 'mailboxes', 0);
}

export async function listSubscriptions(db: Queryable, u: PgsqlStoreContext): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM subscription WHERE store_id = $1 ORDER BY name COLLATE "C"', [u.storeId]);
  return rows.map((r) => r.name);
}

export async function setSpecialUse(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, name: string, specialUse: string[]): Promise<void> {
  const attrs = normalizeSpecialUse(specialUse);
  const row = await selectable(c, u, name, 'FOR UPDATE OF m');
  await c.query('UPDATE mailbox SET special_use = $2 WHERE id = $1', [row.id, attrs.join(' ')]);
  log.notify(null, 'mailboxes', 0);
}

export async function setMailboxUids(
  c: PgsqlClient,
  u: PgsqlStoreContext,
  log: TxnLog,
  name: string,
  ids: { uidValidity?: number; uidNext?: number; highestModseq?: number },
): Promise<MailboxInfo> {
  await lockTree(c, u); // it may raise the store's last UIDVALIDITY: the store row before the mailbox's
  const row = await selectable(c, u, name, 'FOR UPDATE OF m');
  const valid = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 1 && n <= MAX_UID);
  if (!valid(ids.uidValidity) || !valid(ids.uidNext)) throw new StorageError('PARAMETERS', 'UIDVALIDITY and UIDNEXT are 32-bit non-zero numbers');
  if (ids.uidValidity !== undefined && ids.uidValidity !== row.uid_validity) {
    const used = await c.query('SELECT 1 FROM message WHERE mailbox_id = $1 LIMIT 1', [row.id]);
    if (used.rows.length > 0 || row.uid_next > 1) throw new StorageError('INUSE', `Cannot change UIDVALIDITY of ${row.name}: UIDs were already handed out`);
    await c.query("SELECT set_config('roost.change_uidvalidity', 'on', true)");
    await c.query('UPDATE mailbox SET uid_validity = $2 WHERE id = $1', [row.id, ids.uidValidity]);
    await c.query("SELECT set_config('roost.change_uidvalidity', '', true)");
    // A mailbox created later under this name must still get a different UIDVALIDITY.
    await c.query('UPDATE mail_store SET last_uid_validity = greatest(last_uid_validity, $2) WHERE id = $1', [u.storeId, ids.uidValidity]);
  }
  if (ids.uidNext !== undefined && ids.uidNext > row.uid_next) await c.query('UPDATE mailbox SET uid_next = $2 WHERE id = $1', [row.id, ids.uidNext]);
  if (ids.highestModseq !== undefined) {
    if (!Number.isSafeInteger(ids.highestModseq) || ids.highestModseq < 0) throw new StorageError('PARAMETERS', 'HIGHESTMODSEQ is a non-negative number');
    if (ids.highestModseq > row.highest_modseq) await c.query('UPDATE mailbox SET highest_modseq = $2 WHERE id = $1', [row.id, ids.highestModseq]);
  }
  log.notify(null, 'mailboxes', 0);
  return toInfo((await mailboxRowById(c, u, row.id))!);
}

interface StatusRow extends MailboxRow {
  messages: number;
  unseen: number;
  recent: number;
  size: number;
  first_unseen_seq: number | null;
  first_recent: number | null;
  keywords: string[];
}

/** STATUS in one query: the counters the schema keeps, the first unseen and \Recent messages, the keywords. */
export async function status(db: Queryable, u: PgsqlStoreContext, name: string): Promise<MailboxStatus> {
  const { rows } = await db.query<StatusRow & Record<string, unknown>>(
    `SELECT b.*,
       CASE WHEN b.unseen = 0 THEN NULL ELSE (SELECT count(*) FROM message x WHERE x.mailbox_id = b.id
         AND x.uid <= (SELECT min(uid) FROM message y WHERE y.mailbox_id = b.id AND y.flags & 8 = 0)) END AS first_unseen_seq,
       CASE WHEN b.recent = 0 THEN NULL ELSE (SELECT min(uid) FROM message r WHERE r.mailbox_id = b.id AND r.recent) END AS first_recent,
       ARRAY(SELECT keyword FROM mailbox_keyword k WHERE k.mailbox_id = b.id ORDER BY keyword_lc COLLATE "C") AS keywords
     FROM (SELECT m.id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.modseq_tracking, m.noselect, m.special_use,
             m.messages, m.unseen, m.recent, m.size, false AS subscribed
           FROM mailbox m WHERE m.store_id = $1 AND m.name = $2) b`,
    [u.storeId, norm(u, name)],
  );
  const row = rows[0];
  if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${name}`);
  return {
    name: row.name,
    messages: row.messages,
    recent: row.recent,
    unseen: row.unseen,
    uidNext: row.uid_next,
    uidValidity: row.uid_validity,
    highestModseq: row.highest_modseq,
    modseqTracking: row.modseq_tracking,
    size: row.size,
    firstUnseenSeq: row.first_unseen_seq ?? 0,
    firstRecentUid: row.first_recent ?? row.uid_next,
    keywords: row.keywords,
  };
}

export async function enableModseqTracking(db: Queryable, u: PgsqlStoreContext, mailboxId: number): Promise<void> {
  await db.query('UPDATE mailbox SET modseq_tracking = true WHERE id = $1 AND store_id = $2 AND NOT modseq_tracking', [mailboxId, u.storeId]);
}
