// Messages of a pgsql store: append (bodies in the database, bodies.ts), listing, flags and
// keywords, copy, move, expunge and \Recent; the rules and mail events are
// sqlite/messages.ts's. Every change locks the mailbox rows it changes first, in id order
// (allocation.ts), then reads their uid_next/highest_modseq under that lock: UIDs and modseqs are
// unique and grow across nodes, and no flag change, append or expunge of one mailbox interleaves.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { applyFlagOperation, flagsToList, keywordsFromColumn, keywordsToColumn, parseFlags, validateUids, type ParsedFlags } from '../flags.js';
import { noteSavedMessage, type MailEvent } from '../mail-events.js';
import {
  isStagedBody,
  StorageError,
  type AppendInput,
  type AppendResult,
  type CopyResult,
  type MessageFlags,
  type MessageMeta,
  type SpooledContent,
  type StoreFlagsInput,
  type StoreFlagsResult,
} from '../types.js';
import { MAX_UID } from './allocation.js';
import { writeBody, type Queryable } from './bodies.js';
import { CHANGE_CHANNEL, changePayload } from './change-feed.js';
import { lockSelectable, selectable, type MailboxRow } from './mailbox-tree.js';
import type { PgsqlClient } from './pool.js';
import { checkQuota, lockQuota } from './quota.js';
import { PgsqlStagedBody } from './staged-body.js';
import type { PgsqlStoreContext, TxnLog } from './store-context.js';

export interface MessageRow {
  uid: number;
  modseq: number;
  flags: number;
  keywords: string | null;
  internal_date: number;
  save_date: number;
  size: number;
  guid: string;
  body_id: number;
}

const MESSAGE_COLUMNS = 'uid, modseq, flags, keywords, internal_date, save_date, size, guid, body_id';

/** An append checked before its transaction: what sqlite's appendMany checks first. */
export interface ParsedAppend {
  input: AppendInput;
  size: number;
  internalDate: Date;
  flags: ParsedFlags;
}

export function parseAppend(u: PgsqlStoreContext, input: AppendInput): ParsedAppend {
  const c = input.content;
  if (isStagedBody(c) && (!(c instanceof PgsqlStagedBody) || c.owner !== u || c.used)) {
    throw new StorageError('PARAMETERS', 'Staged message body belongs to another store or was already saved');
  }
  const physical = Buffer.isBuffer(c) ? c.length : c.size;
  const size = input.virtualSize ?? physical;
  if (!Number.isInteger(size) || size < physical) throw new StorageError('PARAMETERS', `Invalid message size ${String(size)}`);
  if (size > u.settings.maxMessageBytes) throw new StorageError('TOOBIG', `Message too large (${size} bytes, limit ${u.settings.maxMessageBytes})`);
  const internalDate = input.internalDate ?? new Date();
  if (Number.isNaN(internalDate.getTime())) throw new StorageError('PARAMETERS', 'Invalid internal date');
  if (input.uid !== undefined && (!Number.isInteger(input.uid) || input.uid < 1 || input.uid > MAX_UID)) {
    throw new StorageError('PARAMETERS', `Invalid UID ${String(input.uid)}`);
  }
  return { input, size, internalDate, flags: parseFlags(input.flags ?? [], u.settings.maxKeywordBytes) };
}

/**
 * Maps keywords to the spelling already used in the mailbox (keywords are case-insensitive) and,
 * with `register`, registers new ones (LIMIT past maxKeywordsPerMailbox); unknown ones are dropped
 * without. The caller holds the mailbox row's lock, so the registered set cannot change meanwhile.
 */
export class MailboxKeywords {
  private constructor(
    private readonly mailboxId: number,
    private readonly known: Map<string, string>,
  ) {}

  /** For messages without keywords: nothing is looked up. */
  static none(mailboxId: number): MailboxKeywords {
    return new MailboxKeywords(mailboxId, new Map());
  }

  static async load(db: Queryable, mailboxId: number): Promise<MailboxKeywords> {
    const { rows } = await db.query<{ keyword_lc: string; keyword: string }>('SELECT keyword_lc, keyword FROM mailbox_keyword WHERE mailbox_id = $1', [mailboxId]);
    return new MailboxKeywords(mailboxId, new Map(rows.map((r) => [r.keyword_lc, r.keyword])));
  }

  async canonical(c: PgsqlClient, u: PgsqlStoreContext, keywords: readonly string[], register: boolean): Promise<string[]> {
    const out: string[] = [];
    for (const k of keywords) {
      const lc = k.toLowerCase();
      const known = this.known.get(lc);
      if (known !== undefined) {
        out.push(known);
        continue;
      }
      if (!register) continue;
      if (this.known.size >= u.settings.maxKeywordsPerMailbox) throw new StorageError('LIMIT', `Too many keywords in mailbox (limit ${u.settings.maxKeywordsPerMailbox})`);
      await c.query('INSERT INTO mailbox_keyword (mailbox_id, keyword_lc, keyword) VALUES ($1, $2, $3)', [this.mailboxId, lc, k]);
      this.known.set(lc, k);
      out.push(k);
    }
    return out;
  }
}

async function contentBytes(content: Buffer | SpooledContent): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content;
  const data = await readFile(content.path);
  if (data.length !== content.size) throw new StorageError('PARAMETERS', `Spooled message ${content.path} is ${data.length} bytes, expected ${content.size}`);
  return data;
}

/**
 * The body row for one append: another recipient's (a staged body's share, when its row is
 * there), or a new one. A staged body's own share names the row once the append committed.
 */
async function storeBody(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, input: AppendInput): Promise<number> {
  const content = input.content;
  const staged = content instanceof PgsqlStagedBody ? content : null;
  if (staged) {
    const from = staged.linkFrom;
    if (from && from.bodyId !== null && from.database === u.database && !staged.noShare) {
      const { rows } = await c.query('SELECT 1 FROM body WHERE id = $1', [from.bodyId]);
      if (rows.length > 0) {
        log.sharedBodies.push(staged);
        log.afterCommit.push(() => ((staged.used = true), (staged.share.bodyId = from.bodyId)));
        return from.bodyId;
      }
    }
  }
  const bytes = await contentBytes(staged ? staged.content : (content as Buffer | SpooledContent));
  const bodyId = await writeBody(c, bytes, { mimeStructure: input.mimeStructure, chunkSize: u.chunkSize });
  if (staged) log.afterCommit.push(() => ((staged.used = true), (staged.share.bodyId = bodyId)));
  return bodyId;
}

/** MessageSave's flag list and the row's keyword column. */
interface NewMessage {
  uid: number;
  bits: number;
  keywords: string | null;
  internalDate: number;
  size: number;
  guid: string;
  bodyId: number;
  recent: boolean;
}

/**
 * The new message rows, the mailbox's uid_next and highest_modseq (the caller holds its row's
 * lock), and the change-feed NOTIFY (it leaves at COMMIT) in one statement: one round trip. The
 * counters trigger (message_inserted) runs at the end of the statement, after the mailbox update.
 */
async function insertRows(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, mailboxId: number, modseq: number, uidNext: number, saveDate: number, rows: NewMessage[]): Promise<void> {
  await c.query(
    `WITH inserted AS (
       INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent)
       SELECT $1, uid, $2, $2, flags, keywords, idate, $3, size, guid, body_id, recent
         FROM unnest($4::bigint[], $5::int[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[], $11::boolean[])
           AS r (uid, flags, keywords, idate, size, guid, body_id, recent)),
     counted AS (UPDATE mailbox SET uid_next = $12, highest_modseq = $2 WHERE id = $1)
     SELECT pg_notify($13, $14)`,
    [
      mailboxId,
      modseq,
      saveDate,
      rows.map((r) => r.uid),
      rows.map((r) => r.bits),
      rows.map((r) => r.keywords),
      rows.map((r) => r.internalDate),
      rows.map((r) => r.size),
      rows.map((r) => r.guid),
      rows.map((r) => r.bodyId),
      rows.map((r) => r.recent),
      uidNext,
      CHANGE_CHANNEL,
      changePayload(u.username),
    ],
  );
  log.notify(mailboxId, 'messages', modseq);
  log.notified = true;
}

/**
 * Appends in the caller's transaction: bodies first (no lock held while they upload), then the
 * mailbox row's lock, UIDs from its uid_next (an import's own UIDs when they are free), one
 * modseq for all (as Dovecot counts a transaction).
 */
export async function insertMessages(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, mailbox: string, parsed: ParsedAppend[], keepFreeUids = false): Promise<AppendResult[]> {
  // The bodies first: no lock is held while they upload. A mailbox that turns out not to exist
  // rolls them back with the rest. Then the store row (quota), then the mailbox row: looked up
  // and locked in one statement.
  const bodyIds: number[] = [];
  for (const p of parsed) bodyIds.push(await storeBody(c, u, log, p.input));
  await checkQuota(c, u, parsed.reduce((a, p) => a + p.size, 0), parsed.length);
  const box = await selectable(c, u, mailbox, 'FOR UPDATE OF m');
  // The mailbox's keywords only matter to a message that has some.
  const keywords = parsed.some((p) => p.flags.keywords.length > 0) ? await MailboxKeywords.load(c, box.id) : MailboxKeywords.none(box.id);
  const modseq = box.highest_modseq + 1;
  const now = Date.now();
  let uid = box.uid_next;
  const rows: NewMessage[] = [];
  const results: AppendResult[] = [];
  for (const [i, p] of parsed.entries()) {
    const kw = keywordsToColumn(await keywords.canonical(c, u, p.flags.keywords, true));
    const wanted = p.input.uid;
    if (wanted !== undefined && (!keepFreeUids || wanted >= uid)) {
      // Import (roost import): the source's UID, never below UIDNEXT (RFC 3501 §2.3.1.1).
      if (wanted < uid) throw new StorageError('PARAMETERS', `UID ${String(wanted)} is below UIDNEXT ${uid} of ${box.name}`);
      uid = wanted;
    }
    if (uid > MAX_UID) throw new StorageError('LIMIT', 'Mailbox has run out of UIDs');
    const guid = p.input.guid ?? randomUUID().replaceAll('-', '');
    const bodyId = bodyIds[i]!;
    rows.push({ uid, bits: p.flags.bits, keywords: kw, internalDate: p.internalDate.getTime(), size: p.size, guid, bodyId, recent: !p.input.recentForSession });
    results.push({ uid, uidValidity: box.uid_validity, modseq, mailboxId: box.id, bodyId, size: p.size, guid });
    const saved: MailEvent = { type: 'MessageSave', origin: p.input.origin ?? 'append', mailbox: box.name, mailboxId: box.id, uid, uidValidity: box.uid_validity, bodyId, flags: flagsToList(p.flags.bits, kw) };
    const content = p.input.content;
    if (Buffer.isBuffer(content) && p.input.mimeStructure !== undefined) noteSavedMessage(saved, { content, mimeStructure: p.input.mimeStructure });
    log.event(saved);
    uid++;
  }
  await insertRows(c, u, log, box.id, modseq, uid, now, rows);
  return results;
}

export function toMeta(r: MessageRow): MessageMeta {
  return {
    uid: r.uid,
    modseq: r.modseq,
    flags: flagsToList(r.flags, r.keywords),
    internalDate: new Date(r.internal_date),
    saveDate: new Date(r.save_date),
    size: r.size,
    guid: r.guid,
    bodyId: r.body_id,
  };
}

/** The store's own mailbox only: a mailbox id of another user's store lists nothing. */
const OWN_MAILBOX = 'mailbox_id = $1 AND EXISTS (SELECT 1 FROM mailbox b WHERE b.id = $1 AND b.store_id = $2)';

export async function listMessages(db: Queryable, u: PgsqlStoreContext, mailboxId: number): Promise<MessageMeta[]> {
  const { rows } = await db.query<MessageRow & Record<string, unknown>>(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE ${OWN_MAILBOX} ORDER BY uid`, [mailboxId, u.storeId]);
  return rows.map(toMeta);
}

export async function listMessageFlags(db: Queryable, u: PgsqlStoreContext, mailboxId: number): Promise<MessageFlags[]> {
  const { rows } = await db.query<{ uid: number; modseq: number; flags: number; keywords: string | null; size: number }>(
    `SELECT uid, modseq, flags, keywords, size FROM message WHERE ${OWN_MAILBOX} ORDER BY uid`,
    [mailboxId, u.storeId],
  );
  // Messages with the same flags share one frozen list, as sqlite/messages.ts listMessageFlags.
  const lists = new Map<string, string[]>();
  return rows.map((r) => {
    const key = r.keywords === null ? String(r.flags) : `${r.flags} ${r.keywords}`;
    let flags = lists.get(key);
    if (flags === undefined) lists.set(key, (flags = Object.freeze(flagsToList(r.flags, r.keywords)) as string[]));
    return { uid: r.uid, modseq: r.modseq, flags, size: r.size };
  });
}

export async function selectByUids(db: Queryable, u: PgsqlStoreContext, mailboxId: number, uids: readonly number[], lock = ''): Promise<MessageRow[]> {
  validateUids(uids);
  if (uids.length === 0) return [];
  const { rows } = await db.query<MessageRow & Record<string, unknown>>(
    `SELECT ${MESSAGE_COLUMNS} FROM message WHERE ${OWN_MAILBOX} AND uid = ANY($3::bigint[]) ORDER BY uid ${lock}`,
    [mailboxId, u.storeId, uids],
  );
  return rows;
}

export async function storeFlags(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, mailboxId: number, input: StoreFlagsInput, parsed: ParsedFlags): Promise<StoreFlagsResult> {
  const box = (await lockSelectable(c, u, [mailboxId])).get(mailboxId)!;
  const keywords = await MailboxKeywords.load(c, box.id);
  const canon = await keywords.canonical(c, u, parsed.keywords, input.operation !== 'remove');
  const modseq = box.highest_modseq + 1;
  const result: StoreFlagsResult = { changed: [], modified: [] };
  const updates: { uid: number; bits: number; keywords: string | null }[] = [];
  for (const row of await selectByUids(c, u, box.id, input.uids)) {
    if (input.unchangedSince !== undefined && row.modseq > input.unchangedSince) {
      result.modified.push(row.uid);
      continue;
    }
    const next = applyFlagOperation(input.operation, row.flags, row.keywords, parsed.bits, canon);
    if (!next) continue;
    updates.push({ uid: row.uid, ...next });
    const change = { uid: row.uid, flags: flagsToList(next.bits, next.keywords), modseq, oldFlags: flagsToList(row.flags, row.keywords) };
    result.changed.push(change);
    log.event({
      type: 'MessageFlags',
      mailbox: box.name,
      mailboxId: box.id,
      uid: row.uid,
      uidValidity: box.uid_validity,
      oldFlags: change.oldFlags,
      newFlags: change.flags,
      oldRecent: input.recentUids?.includes(row.uid) ?? false,
    });
  }
  if (updates.length > 0) {
    await c.query(
      `UPDATE message m SET flags = d.flags, keywords = d.keywords, modseq = $2
         FROM unnest($3::bigint[], $4::int[], $5::text[]) AS d (uid, flags, keywords)
        WHERE m.mailbox_id = $1 AND m.uid = d.uid`,
      [box.id, modseq, updates.map((x) => x.uid), updates.map((x) => x.bits), updates.map((x) => x.keywords)],
    );
    await c.query('UPDATE mailbox SET highest_modseq = $2 WHERE id = $1', [box.id, modseq]);
    log.notify(box.id, 'flags', modseq);
  }
  return result;
}

/**
 * COPY (and MOVE's first half) in the caller's transaction: same body, GUID, flags and internal
 * date; new UID, save date, \Recent. Both mailbox rows locked in id order first.
 */
export async function copyRows(
  c: PgsqlClient,
  u: PgsqlStoreContext,
  log: TxnLog,
  fromMailboxId: number,
  uids: number[],
  toMailbox: string,
): Promise<{ result: CopyResult; source: MailboxRow }> {
  validateUids(uids);
  const destFound = await selectable(c, u, toMailbox);
  await lockQuota(c, u); // the store row before the mailbox rows
  const locked = await lockSelectable(c, u, [fromMailboxId, destFound.id]);
  const source = locked.get(fromMailboxId)!;
  const dest = locked.get(destFound.id)!;
  const rows = await selectByUids(c, u, source.id, uids);
  const result: CopyResult = { uidValidity: dest.uid_validity, sourceUids: [], destUids: [] };
  if (rows.length === 0) return { result, source };
  await checkQuota(c, u, rows.reduce((a, r) => a + r.size, 0), rows.length);
  const modseq = dest.highest_modseq + 1;
  const sameBox = source.id === dest.id;
  const keywords = sameBox ? null : await MailboxKeywords.load(c, dest.id);
  let uid = dest.uid_next;
  if (uid + rows.length - 1 > MAX_UID) throw new StorageError('LIMIT', 'Mailbox has run out of UIDs');
  const out: NewMessage[] = [];
  for (const r of rows) {
    const kw = keywords ? keywordsToColumn(await keywords.canonical(c, u, keywordsFromColumn(r.keywords), true)) : r.keywords;
    out.push({ uid, bits: r.flags, keywords: kw, internalDate: r.internal_date, size: r.size, guid: r.guid, bodyId: r.body_id, recent: true });
    log.event({ type: 'MessageSave', origin: 'copy', mailbox: dest.name, mailboxId: dest.id, uid, uidValidity: dest.uid_validity, bodyId: r.body_id, flags: flagsToList(r.flags, kw) });
    result.sourceUids.push(r.uid);
    result.destUids.push(uid);
    uid++;
  }
  await insertRows(c, u, log, dest.id, modseq, uid, Date.now(), out);
  return { result, source: sameBox ? { ...source, uid_next: uid, highest_modseq: modseq } : source };
}

/**
 * Deletes messages of a mailbox whose row the caller has locked, logs them for VANISHED (when the
 * mailbox lives on); the schema frees bodies and counts. Returns the expunged UIDs ascending.
 */
export async function expungeRows(c: PgsqlClient, log: TxnLog, box: MailboxRow, uids: readonly number[], logExpunges: boolean): Promise<number[]> {
  validateUids(uids);
  if (uids.length === 0) return [];
  const { rows } = await c.query<{ uid: number }>('DELETE FROM message WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid', [box.id, uids]);
  if (rows.length === 0) return [];
  const modseq = box.highest_modseq + 1;
  const expunged = rows.map((r) => r.uid).sort((a, b) => a - b);
  if (logExpunges) {
    await c.query(
      `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, x, $2 FROM unnest($3::bigint[]) AS x
       ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
      [box.id, modseq, expunged],
    );
  }
  await c.query('UPDATE mailbox SET highest_modseq = $2 WHERE id = $1', [box.id, modseq]);
  log.notify(box.id, 'expunge', modseq);
  for (const uid of expunged) log.event({ type: 'MessageExpunge', mailbox: box.name, mailboxId: box.id, uid, uidValidity: box.uid_validity });
  return expunged;
}

/**
 * \Recent (Dovecot semantics): takes every unclaimed message at once; a second taker finds none.
 * The mailbox row is locked first, as by every other change to its messages (lock order).
 */
export async function claimRecent(c: PgsqlClient, u: PgsqlStoreContext, mailboxId: number): Promise<number[]> {
  const box = await c.query('SELECT 1 FROM mailbox WHERE id = $1 AND store_id = $2 FOR UPDATE', [mailboxId, u.storeId]);
  if (box.rows.length === 0) return [];
  const { rows } = await c.query<{ uid: number }>('UPDATE message SET recent = false WHERE mailbox_id = $1 AND recent RETURNING uid', [mailboxId]);
  return rows.map((r) => r.uid).sort((a, b) => a - b);
}
