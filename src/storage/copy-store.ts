// Copies one user's mail from one store to another through the storage contract only (types.ts),
// so it works between any two backends or two locations of one backend: `roost migrate-store`,
// like Dovecot's `doveadm sync -1` onto an empty destination. What clients cache survives the
// move: each mailbox keeps its UIDVALIDITY, every message its UID, GUID, flags and keywords and
// internal date, each mailbox its UIDNEXT, special-use, modseq tracking and metadata; the server
// metadata and the subscriptions come along.
//
// Modseqs: messages are imported in UID order, so their modseqs are the destination's own and
// ascend with the UIDs (the source's relative order of flag changes is not kept); then each
// mailbox's HIGHESTMODSEQ is raised to at least the source's, so that a CONDSTORE/QRESYNC client
// that cached it sees every later change (RFC 7162 §3.1.2.1) and no change is announced for what
// it already has.
//
// Resumable: the copy marks the destination first (a server metadata entry naming the source),
// mailbox by mailbox, in batches that each commit with the UIDs ascending, and removes the mark
// last. Run again after a failure, it finds its own mark and carries on where the last commit
// left off: messages whose UID the destination has are skipped. A destination with anything in
// it and no such mark is refused, so nothing is ever merged into a store in use.
import type { AppendInput, MailboxInfo, MessageMeta, UserStore } from './types.js';
import { StorageError } from './types.js';

/** The destination's mark while a copy is in progress; its value names the source. */
export const COPY_MARK_ENTRY = '/private/vendor/vendor.roost/migrate-store';

/** Messages per import (one commit each). */
const BATCH_MESSAGES = 500;
/** Body bytes per import: large bodies are read whole, so batches are bounded by size too. */
const BATCH_BYTES = 32 * 1024 * 1024;

const METADATA_ROOTS = ['/private', '/shared'] as const;

export interface CopyProgress {
  mailbox: string;
  /** Messages copied into it by this run. */
  copied: number;
  /** Messages it had already (an earlier run that was interrupted). */
  present: number;
}

export interface CopyStoreResult {
  mailboxes: number;
  messages: number;
  /** This run continued an interrupted one. */
  resumed: boolean;
}

export interface CopyStoreOptions {
  /** Names the source in the destination's mark (a resumed copy must come from the same source). */
  source: string;
  onMailbox?: (p: CopyProgress) => void;
  /** Messages per import (one commit each); default 500. */
  batchMessages?: number;
}

/**
 * Copies everything of `from` into `to`, which must be empty or hold an interrupted copy of the
 * same source. ALREADYEXISTS for a destination in use; SERVERBUG if the destination could not
 * keep a UIDVALIDITY or a UID (the copy stops: nothing would be lost, but clients would have to
 * download the mailbox again).
 */
export async function copyUserStore(from: UserStore, to: UserStore, opts: CopyStoreOptions): Promise<CopyStoreResult> {
  if (from.separator !== to.separator) {
    throw new StorageError('PARAMETERS', `The stores use different hierarchy separators (${from.separator} and ${to.separator})`);
  }
  const resumed = await checkDestination(to, opts.source);
  await to.setMetadata('', COPY_MARK_ENTRY, Buffer.from(opts.source));

  let mailboxes = 0;
  let messages = 0;
  for (const box of await from.listMailboxes()) {
    // Placeholders come back by themselves when their children are created.
    if (box.noselect) continue;
    const progress = await copyMailbox(from, to, box, opts.batchMessages ?? BATCH_MESSAGES);
    mailboxes++;
    messages += progress.copied + progress.present;
    opts.onMailbox?.(progress);
  }
  await copyMetadata(from, to, '');
  for (const name of await from.listSubscriptions()) await to.setSubscribed(name, true);
  await verify(from, to);
  await to.setMetadata('', COPY_MARK_ENTRY, null);
  return { mailboxes, messages, resumed };
}

/** Whether `to` holds an interrupted copy of `source` (true) or is empty (false); throws otherwise. */
async function checkDestination(to: UserStore, source: string): Promise<boolean> {
  const mark = (await to.getMetadata('', [COPY_MARK_ENTRY]))[0];
  if (mark) {
    const was = mark.value.toString();
    if (was !== source) throw new StorageError('ALREADYEXISTS', `The destination holds an unfinished copy of another store (${was})`);
    return true;
  }
  const boxes = await to.listMailboxes();
  const used =
    boxes.some((b) => b.name !== 'INBOX' || b.uidNext !== 1) ||
    (await to.listSubscriptions()).length > 0 ||
    (await Promise.all(METADATA_ROOTS.map((root) => to.listMetadata('', root, 'infinity')))).some((l) => l.length > 0);
  if (used) throw new StorageError('ALREADYEXISTS', 'The destination is not empty');
  return false;
}

async function copyMailbox(from: UserStore, to: UserStore, box: MailboxInfo, batchMessages: number): Promise<CopyProgress> {
  let dest = await to.getMailbox(box.name);
  if (!dest || dest.noselect) dest = await to.createMailbox(box.name);
  if (dest.uidValidity !== box.uidValidity) {
    // Only a mailbox that never handed out a UID takes another UIDVALIDITY (setMailboxUids: INUSE).
    if (dest.uidNext !== 1) throw new StorageError('SERVERBUG', `${box.name}: the destination has UIDVALIDITY ${dest.uidValidity}, not the source's ${box.uidValidity}`);
    dest = await to.setMailboxUids(box.name, { uidValidity: box.uidValidity });
  }
  await to.setSpecialUse(box.name, box.specialUse);
  if (box.modseqTracking && !dest.modseqTracking) await to.enableModseqTracking(dest.id);

  const have = new Set((await to.listMessageFlags(dest.id)).map((m) => m.uid));
  const todo = (await from.listMessages(box.id)).filter((m) => !have.has(m.uid));
  let copied = 0;
  for (let i = 0; i < todo.length; ) {
    const batch: MessageMeta[] = [];
    const inputs: AppendInput[] = [];
    let bytes = 0;
    while (i < todo.length && batch.length < batchMessages && (batch.length === 0 || bytes < BATCH_BYTES)) {
      const m = todo[i++]!;
      const input = await importInput(from, m);
      bytes += (input.content as Buffer).length;
      batch.push(m);
      inputs.push(input);
    }
    const results = await to.importMessages(box.name, inputs);
    results.forEach((r, k) => {
      if (r.uid !== batch[k]!.uid) throw new StorageError('SERVERBUG', `${box.name}: UID ${batch[k]!.uid} became ${r.uid} in the destination`);
    });
    copied += results.length;
  }
  // UIDNEXT past the last message (expunged UIDs at the end are not handed out again), and
  // HIGHESTMODSEQ not below what clients may have cached.
  await to.setMailboxUids(box.name, { uidNext: box.uidNext, highestModseq: box.highestModseq });
  await copyMetadata(from, to, box.name);
  return { mailbox: box.name, copied, present: have.size };
}

async function importInput(from: UserStore, m: MessageMeta): Promise<AppendInput> {
  const body = await from.openBody(m.bodyId);
  const content = await body.read(0, body.size);
  const mimeStructure = await from.getMimeStructure(m.bodyId);
  return {
    content,
    flags: m.flags,
    internalDate: m.internalDate,
    uid: m.uid,
    guid: m.guid,
    virtualSize: m.size,
    ...(mimeStructure !== undefined ? { mimeStructure } : {}),
    // Not new to the user: no session is to see these as \Recent.
    recentForSession: true,
  };
}

/** A mailbox's (or with '' the server's) metadata, every entry under /private and /shared. */
async function copyMetadata(from: UserStore, to: UserStore, mailbox: string): Promise<void> {
  for (const root of METADATA_ROOTS) {
    const entries = (await from.listMetadata(mailbox, root, 'infinity')).filter((e) => e.entry.toLowerCase() !== COPY_MARK_ENTRY);
    // The Lua API's looser names: whatever the source holds, the destination takes.
    if (entries.length > 0) await to.setMetadataMany(mailbox, entries, { rules: { anyName: true } });
  }
}

/** Compares what clients see of each mailbox; SERVERBUG on the first difference. */
async function verify(from: UserStore, to: UserStore): Promise<void> {
  for (const box of await from.listMailboxes()) {
    if (box.noselect) continue;
    const dest = await to.getMailbox(box.name);
    const differ = (what: string) => new StorageError('SERVERBUG', `${box.name}: the copy differs from the source (${what})`);
    if (!dest || dest.noselect) throw differ('missing');
    if (dest.uidValidity !== box.uidValidity || dest.uidNext !== box.uidNext) throw differ('UIDVALIDITY or UIDNEXT');
    if (dest.highestModseq < box.highestModseq) throw differ(`HIGHESTMODSEQ ${dest.highestModseq}, below the source's ${box.highestModseq}`);
    const a = await from.listMessages(box.id);
    const b = await to.listMessages(dest.id);
    if (a.length !== b.length) throw differ(`${b.length} messages instead of ${a.length}`);
    a.forEach((m, k) => {
      const n = b[k]!;
      const flags = (x: MessageMeta) => [...x.flags].sort().join(' ');
      if (m.uid !== n.uid || m.guid !== n.guid || flags(m) !== flags(n) || m.internalDate.getTime() !== n.internalDate.getTime() || m.size !== n.size) {
        throw differ(`UID ${m.uid}`);
      }
    });
  }
}
