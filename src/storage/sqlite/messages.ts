// Messages of a SQLite store: append (bodies in SQLite or as files), listing, flags and keywords,
// copy, move, expunge, the modseq change log and \Recent.
import { randomUUID } from 'node:crypto';
import { applyFlagOperation, flagsToList, keywordsFromColumn, keywordsToColumn, parseFlags, validateUids } from '../flags.js';
import { noteSavedMessage, type MailEvent } from '../mail-events.js';
import {
  isStagedBody,
  StorageError,
  type AppendInput,
  type AppendResult,
  type SyncBodyReader as BodyReader,
  type ChangeRecord,
  type CopyResult,
  type MessageFlags,
  type MessageMeta,
  type SpooledContent,
  type StoreFlagsInput,
  type StoreFlagsResult,
} from '../types.js';
import { StagedBodyFile } from './body-files.js';
import { BodyStore } from './body-store.js';
import { announceInbox, mailboxRowById, openingTransaction, selectable, selectableById, type MailboxRow } from './mailbox-tree.js';
import { addUsage } from './quota.js';
import type { UnitOfWork } from './unit-of-work.js';

/** Message columns in the order listMessages reads them with `.raw()` (arrays are cheaper than objects). */
const MESSAGE_COLUMNS = 'uid, modseq, flags, keywords, internal_date, save_date, size, guid, body_id';
type MessageTuple = [number, number, number, string | null, number, number, number, string, number];

export function checkUids(uids: readonly number[]): string {
  validateUids(uids);
  return JSON.stringify(uids);
}

/**
 * Maps keywords to the spelling already used in the mailbox (keywords are case-insensitive) and
 * registers new ones. `register` false: unknown keywords are dropped (nothing can carry them).
 */
export function canonicalKeywords(u: UnitOfWork, mailboxId: number, keywords: readonly string[], register: boolean): string[] {
  const out: string[] = [];
  for (const k of keywords) {
    const lc = k.toLowerCase();
    const known = u.stmts
      .get('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = ? AND keyword_lc = ?')
      .pluck()
      .get(mailboxId, lc) as string | undefined;
    if (known !== undefined) {
      out.push(known);
      continue;
    }
    if (!register) continue;
    const count = u.stmts.get('SELECT count(*) FROM mailbox_keyword WHERE mailbox_id = ?').pluck().get(mailboxId) as number;
    if (count >= u.settings.maxKeywordsPerMailbox) {
      throw new StorageError('LIMIT', `Too many keywords in mailbox (limit ${u.settings.maxKeywordsPerMailbox})`);
    }
    u.stmts.get('INSERT INTO mailbox_keyword (mailbox_id, keyword_lc, keyword) VALUES (?, ?, ?)').run(mailboxId, lc, k);
    out.push(k);
  }
  return out;
}

export function append(u: UnitOfWork, mailbox: string, input: AppendInput): AppendResult {
  return appendMany(u, mailbox, [input])[0]!;
}

/** One APPEND input checked against the store's limits (throws what the caller answers with). */
function checkedInput(u: UnitOfWork, input: AppendInput) {
  const physical = isStagedBody(input.content) ? input.content.size : BodyStore.sizeOf(input.content);
  const size = input.virtualSize ?? physical;
  if (!Number.isInteger(size) || size < physical) throw new StorageError('PARAMETERS', `Invalid message size ${String(size)}`);
  if (size > u.settings.maxMessageBytes) {
    throw new StorageError('TOOBIG', `Message too large (${size} bytes, limit ${u.settings.maxMessageBytes})`);
  }
  const internalDate = input.internalDate ?? new Date();
  if (Number.isNaN(internalDate.getTime())) throw new StorageError('PARAMETERS', 'Invalid internal date');
  const c = input.content;
  if (isStagedBody(c) && (!(c instanceof StagedBodyFile) || c.files !== u.bodies.files || c.committed || c.inUse)) {
    throw new StorageError('PARAMETERS', 'Staged message body belongs to another store or was already saved');
  }
  return { input, size, internalDate, flags: parseFlags(input.flags ?? [], u.settings.maxKeywordBytes), file: null as StagedBodyFile | null };
}

export function appendMany(u: UnitOfWork, mailbox: string, inputs: AppendInput[]): AppendResult[] {
  let parsed: CheckedInput[];
  try {
    parsed = inputs.map((input) => checkedInput(u, input));
  } catch (e) {
    // The target is opened (and INBOX announced) before its input is looked at, as it always was;
    // when the input is fine, openingTransaction announces it inside the insert's transaction.
    announceInbox(u, mailbox);
    throw e;
  }
  u.assertOpen();
  // Large bodies not staged ahead: written and synced here, before the transaction refers to them.
  // Not inside durably() (async-fsync): that would put two fsyncs on the event loop; the body
  // goes to SQLite there, whose WAL sync runs in the threadpool (stage it to get a file).
  const written: StagedBodyFile[] = [];
  const syncWriteOk = u.deferSync === 0;
  try {
    for (const p of parsed) {
      const c = p.input.content;
      if (isStagedBody(c) || !syncWriteOk || !u.usesFile(BodyStore.sizeOf(c))) continue;
      p.file = new StagedBodyFile(u.bodies.files, u.bodies.files.writeSync(c), BodyStore.sizeOf(c));
      written.push(p.file);
    }
    return insertMessages(u, mailbox, parsed);
  } catch (e) {
    // Not when the commit happened and only its sync failed: the rows refer to the files then.
    for (const b of written) if (!b.committed) u.bodies.files.unlinkQuiet(b.name);
    throw e;
  }
}

type CheckedInput = ReturnType<typeof checkedInput>;

export function insertMessages(u: UnitOfWork, mailbox: string, parsed: CheckedInput[]): AppendResult[] {
  return openingTransaction(u, mailbox, () => {
    const box = selectable(u, mailbox);
    addUsage(u, 
      parsed.reduce((a, p) => a + p.size, 0),
      parsed.length,
    );
    let uid = box.uid_next;
    // One modseq per commit, shared by every message of a MULTIAPPEND, as Dovecot counts them
    // (lib-index/mail-index-modseq.c: a transaction's changes get the log's next modseq).
    const modseq = box.highest_modseq + 1;
    const now = Date.now();
    const results: AppendResult[] = [];
    for (const p of parsed) {
      const keywords = canonicalKeywords(u, box.id, p.flags.keywords, true);
      const c = p.input.content;
      const staged = p.file ?? (isStagedBody(c) ? (c as StagedBodyFile) : null);
      let bodyId: number;
      if (staged) {
        if (staged.inUse) throw new StorageError('PARAMETERS', 'The same staged message body was given twice');
        bodyId = u.bodies.insertFileRow(staged.name, staged.size, p.input.mimeStructure);
        staged.inUse = true;
        u.txnStaged.push(staged);
      } else {
        bodyId = u.bodies.insert(c as Buffer | SpooledContent, p.input.mimeStructure);
      }
      if (p.input.uid !== undefined) {
        // Import (roost import): the source's UID, never below UIDNEXT (RFC 3501 §2.3.1.1).
        if (!Number.isInteger(p.input.uid) || p.input.uid < uid || p.input.uid > 0xffffffff) {
          throw new StorageError('PARAMETERS', `UID ${String(p.input.uid)} is below UIDNEXT ${uid} of ${box.name}`);
        }
        uid = p.input.uid;
      }
      const guid = p.input.guid ?? randomUUID().replaceAll('-', '');
      u.stmts
        .get(
          `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(box.id, uid, modseq, modseq, p.flags.bits, keywordsToColumn(keywords), p.internalDate.getTime(), now, p.size, guid, bodyId, p.input.recentForSession ? 0 : 1);
      results.push({ uid, uidValidity: box.uid_validity, modseq, mailboxId: box.id, bodyId, size: p.size, guid });
      const saved: MailEvent = {
        type: 'MessageSave',
        origin: p.input.origin ?? 'append',
        mailbox: box.name,
        mailboxId: box.id,
        uid,
        uidValidity: box.uid_validity,
        bodyId,
        flags: flagsToList(p.flags.bits, keywordsToColumn(keywords)),
      };
      if (Buffer.isBuffer(c) && p.input.mimeStructure !== undefined) noteSavedMessage(saved, { content: c, mimeStructure: p.input.mimeStructure });
      u.event(saved);
      uid++;
    }
    u.stmts.get('UPDATE mailbox SET uid_next = ?, highest_modseq = ? WHERE id = ?').run(uid, modseq, box.id);
    u.notify(box.id, 'messages', modseq);
    return results;
  });
}

export function toMeta(u: UnitOfWork, t: MessageTuple): MessageMeta {
  return {
    uid: t[0],
    modseq: t[1],
    flags: flagsToList(t[2], t[3]),
    internalDate: new Date(t[4]),
    saveDate: new Date(t[5]),
    size: t[6],
    guid: t[7],
    bodyId: t[8],
  };
}

export function listMessages(u: UnitOfWork, mailboxId: number): MessageMeta[] {
  u.assertOpen();
  const rows = u.stmts
    .get(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE mailbox_id = ? ORDER BY uid`)
    .raw(true)
    .all(mailboxId) as MessageTuple[];
  const out = new Array<MessageMeta>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = toMeta(u, rows[i]!);
  return out;
}

export function listMessageFlags(u: UnitOfWork, mailboxId: number): MessageFlags[] {
  u.assertOpen();
  const rows = u.stmts
    .get('SELECT uid, modseq, flags, keywords, size FROM message WHERE mailbox_id = ? ORDER BY uid')
    .raw(true)
    .all(mailboxId) as [number, number, number, string | null, number][];
  // A mailbox has few distinct flag sets: messages with the same one share one frozen list
  // (fewer allocations; the IMAP layer renders each distinct list once, keyed by identity).
  const noKeywords = new Map<number, string[]>();
  const withKeywords = new Map<string, string[]>();
  const out = new Array<MessageFlags>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const bits = r[2];
    const kw = r[3];
    let flags: string[] | undefined;
    if (kw === null) {
      flags = noKeywords.get(bits);
      if (flags === undefined) noKeywords.set(bits, (flags = Object.freeze(flagsToList(bits, null)) as string[]));
    } else {
      const key = `${bits} ${kw}`;
      flags = withKeywords.get(key);
      if (flags === undefined) withKeywords.set(key, (flags = Object.freeze(flagsToList(bits, kw)) as string[]));
    }
    out[i] = { uid: r[0], modseq: r[1], flags, size: r[4] };
  }
  return out;
}

export function getMessages(u: UnitOfWork, mailboxId: number, uids: number[]): MessageMeta[] {
  u.assertOpen();
  return selectByUids(u, mailboxId, uids).map((t) => toMeta(u, t));
}

export function selectByUids(u: UnitOfWork, mailboxId: number, uids: readonly number[]): MessageTuple[] {
  if (uids.length === 0) return [];
  return u.stmts
    .get(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`)
    .raw(true)
    .all(mailboxId, checkUids(uids)) as MessageTuple[];
}

export function openBody(u: UnitOfWork, bodyId: number): BodyReader {
  u.assertOpen();
  return u.bodies.open(bodyId);
}

export function openBodyWithStructure(u: UnitOfWork, bodyId: number): { body: BodyReader; mimeStructure: unknown } {
  u.assertOpen();
  return u.bodies.openWithStructure(bodyId);
}

export function getMimeStructure(u: UnitOfWork, bodyId: number): unknown {
  u.assertOpen();
  return u.bodies.getMimeStructure(bodyId);
}

export function setMimeStructure(u: UnitOfWork, bodyId: number, mimeStructure: unknown): void {
  u.transaction(() => u.bodies.setMimeStructure(bodyId, mimeStructure));
}

export function storeFlags(u: UnitOfWork, mailboxId: number, input: StoreFlagsInput): StoreFlagsResult {
  const { bits, keywords } = parseFlags(input.flags, u.settings.maxKeywordBytes);
  if (input.unchangedSince !== undefined && (!Number.isInteger(input.unchangedSince) || input.unchangedSince < 0)) {
    throw new StorageError('PARAMETERS', `Invalid UNCHANGEDSINCE ${String(input.unchangedSince)}`);
  }
  return u.transaction(() => {
    const box = selectableById(u, mailboxId);
    const canon = canonicalKeywords(u, box.id, keywords, input.operation !== 'remove');
    const modseq = box.highest_modseq + 1;
    const result: StoreFlagsResult = { changed: [], modified: [] };
    const update = u.stmts.get('UPDATE message SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
    for (const [uid, oldModseq, oldBits, oldKw] of selectByUids(u, box.id, input.uids)) {
      if (input.unchangedSince !== undefined && oldModseq > input.unchangedSince) {
        result.modified.push(uid);
        continue;
      }
      const next = applyFlagOperation(input.operation, oldBits, oldKw, bits, canon);
      if (!next) continue;
      const { bits: newBits, keywords: newCol } = next;
      update.run(newBits, newCol, modseq, box.id, uid);
      const change = { uid, flags: flagsToList(newBits, newCol), modseq, oldFlags: flagsToList(oldBits, oldKw) };
      result.changed.push(change);
      u.event({
        type: 'MessageFlags',
        mailbox: box.name,
        mailboxId: box.id,
        uid,
        uidValidity: box.uid_validity,
        oldFlags: change.oldFlags,
        newFlags: change.flags,
        oldRecent: input.recentUids?.includes(uid) ?? false,
      });
    }
    if (result.changed.length > 0) {
      u.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, box.id);
      u.notify(box.id, 'flags', modseq);
    }
    return result;
  });
}

export function copy(u: UnitOfWork, fromMailboxId: number, uids: number[], toMailbox: string): CopyResult {
  return openingTransaction(u, toMailbox, () => copyRows(u, fromMailboxId, uids, toMailbox).result);
}

export function move(u: UnitOfWork, fromMailboxId: number, uids: number[], toMailbox: string): CopyResult {
  return openingTransaction(u, toMailbox, () => {
    const { result, source } = copyRows(u, fromMailboxId, uids, toMailbox);
    if (result.sourceUids.length > 0) expungeRows(u, source, result.sourceUids, true);
    return result;
  });
}

/** COPY inside a transaction: same body, GUID, flags and internal date; new UID, save date, \Recent. */
export function copyRows(u: UnitOfWork, fromMailboxId: number, uids: number[], toMailbox: string): { result: CopyResult; source: MailboxRow } {
  const source = selectableById(u, fromMailboxId);
  const dest = selectable(u, toMailbox);
  const rows = selectByUids(u, source.id, uids);
  const result: CopyResult = { uidValidity: dest.uid_validity, sourceUids: [], destUids: [] };
  if (rows.length === 0) return { result, source };
  addUsage(u, 
    rows.reduce((a, r) => a + r[6], 0),
    rows.length,
  );
  const modseq = dest.highest_modseq + 1;
  const now = Date.now();
  let uid = dest.uid_next;
  const sameBox = source.id === dest.id;
  const insert = u.stmts.get(
    `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
  );
  for (const [srcUid, , bits, kw, internalDate, , size, guid, bodyId] of rows) {
    const keywords = sameBox ? kw : keywordsToColumn(canonicalKeywords(u, dest.id, keywordsFromColumn(kw), true));
    insert.run(dest.id, uid, modseq, modseq, bits, keywords, internalDate, now, size, guid, bodyId);
    u.bodies.addRef(bodyId);
    u.event({
      type: 'MessageSave',
      origin: 'copy',
      mailbox: dest.name,
      mailboxId: dest.id,
      uid,
      uidValidity: dest.uid_validity,
      bodyId,
      flags: flagsToList(bits, keywords),
    });
    result.sourceUids.push(srcUid);
    result.destUids.push(uid);
    uid++;
  }
  u.stmts.get('UPDATE mailbox SET uid_next = ?, highest_modseq = ? WHERE id = ?').run(uid, modseq, dest.id);
  u.notify(dest.id, 'messages', modseq);
  return { result, source: sameBox ? mailboxRowById(u, source.id)! : source };
}

export function expunge(u: UnitOfWork, mailboxId: number, uids: number[]): number[] {
  return u.transaction(() => expungeRows(u, selectableById(u, mailboxId), uids, true));
}

/** Deletes messages, logs them for VANISHED (when the mailbox lives on), frees bodies and quota. */
export function expungeRows(u: UnitOfWork, box: MailboxRow, uids: readonly number[], logExpunges: boolean): number[] {
  if (uids.length === 0) return [];
  const removed = u.stmts
    .get('DELETE FROM message WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) RETURNING uid, body_id, size')
    .raw(true)
    .all(box.id, checkUids(uids)) as [number, number, number][];
  if (removed.length === 0) return [];
  const modseq = box.highest_modseq + 1;
  let bytes = 0;
  const log = u.stmts.get('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
  for (const [uid, bodyId, size] of removed) {
    if (logExpunges) log.run(box.id, uid, modseq);
    const file = u.bodies.release(bodyId);
    if (file !== null) u.txnUnlinks.push(file);
    bytes += size;
  }
  addUsage(u, -bytes, -removed.length);
  u.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, box.id);
  u.notify(box.id, 'expunge', modseq);
  const expunged = removed.map((r) => r[0]).sort((a, b) => a - b);
  for (const uid of expunged) {
    u.event({ type: 'MessageExpunge', mailbox: box.name, mailboxId: box.id, uid, uidValidity: box.uid_validity });
  }
  return expunged;
}

export function changesSince(u: UnitOfWork, mailboxId: number, sinceModseq: number): ChangeRecord[] {
  u.assertOpen();
  const msgs = u.stmts
    .get('SELECT uid, modseq, created_modseq, flags, keywords FROM message WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid')
    .raw(true)
    .all(mailboxId, sinceModseq) as [number, number, number, number, string | null][];
  const gone = u.stmts
    .get('SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid')
    .raw(true)
    .all(mailboxId, sinceModseq) as [number, number][];
  const out: ChangeRecord[] = [];
  for (const [uid, modseq, created, bits, kw] of msgs) {
    out.push({ kind: created > sinceModseq ? 'append' : 'flags', mailboxId, uid, modseq, flags: flagsToList(bits, kw) });
  }
  for (const [uid, modseq] of gone) out.push({ kind: 'expunge', mailboxId, uid, modseq });
  return out.sort((a, b) => a.modseq - b.modseq || a.uid - b.uid);
}

export function claimRecent(u: UnitOfWork, mailboxId: number): number[] {
  return u.transaction(() => {
    // Found through the partial index (only \Recent rows), already in UID order; the UPDATE then
    // starts at the first of them instead of going through the whole mailbox.
    const uids = u.stmts
      .get('SELECT uid FROM message INDEXED BY message_recent WHERE mailbox_id = ? AND recent = 1 ORDER BY uid')
      .pluck()
      .all(mailboxId) as number[];
    if (uids.length > 0) u.stmts.get('UPDATE message SET recent = 0 WHERE mailbox_id = ? AND uid >= ? AND recent = 1').run(mailboxId, uids[0]);
    return uids;
  });
}
/** `roost import`: one transaction; a source UID is kept while it is free (at least UIDNEXT). */
export function importMessages(u: UnitOfWork, mailbox: string, inputs: readonly AppendInput[]): AppendResult[] {
  return u.transaction(() => {
    let next = selectable(u, mailbox).uid_next;
    const out: AppendResult[] = [];
    for (const input of inputs) {
      const uid = input.uid !== undefined && input.uid >= next ? input.uid : undefined;
      const r = append(u, mailbox, { ...input, uid });
      next = r.uid + 1;
      out.push(r);
    }
    return out;
  });
}
