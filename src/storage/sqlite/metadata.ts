// Metadata of a SQLite store (RFC 5464): per mailbox, and server metadata under mailbox id 0.
import { INBOX } from '../mailbox-names.js';
import { isDovecotInternalEntry, validateEntry, validatePrefix, type EntryNameRules } from '../metadata-entries.js';
import { StorageError, type MetadataEntry, type MetadataEntryChange } from '../types.js';
import { announceInbox, mailboxRow, mailboxRowById, selectable } from './mailbox-tree.js';
import type { UnitOfWork } from './unit-of-work.js';

/** Server metadata (GETMETADATA "") is stored with this mailbox id. */
const SERVER_METADATA_ID = 0;

/** '' is the server; otherwise an existing selectable mailbox. */
export function metadataOwner(u: UnitOfWork, mailbox: string): number {
  return mailbox === '' ? SERVER_METADATA_ID : selectable(u, mailbox).id;
}

export function getMetadata(u: UnitOfWork, mailbox: string, entries: string[], rules?: EntryNameRules): MetadataEntry[] {
  u.assertOpen();
  announceInbox(u, mailbox || INBOX); // server metadata lives on INBOX in Dovecot
  const keys = entries.map((e) => validateEntry(e, u.settings.metadataMaxEntryBytes, rules));
  const owner = metadataOwner(u, mailbox);
  const get = u.stmts.get('SELECT entry, value FROM metadata WHERE mailbox_id = ? AND entry_lc = ?');
  const out: MetadataEntry[] = [];
  for (const k of keys) {
    const row = get.get(owner, k) as { entry: string; value: Buffer } | undefined;
    if (row) out.push({ entry: row.entry, value: row.value });
  }
  return out;
}

export function setMetadata(u: UnitOfWork, mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): void {
  announceInbox(u, mailbox || INBOX);
  const key = validateEntry(entry, u.settings.metadataMaxEntryBytes, rules);
  if (value !== null && value.length > u.settings.metadataMaxValueBytes) {
    throw new StorageError('TOOBIG', `Metadata value too large (limit ${u.settings.metadataMaxValueBytes} bytes)`);
  }
  u.transaction(() => {
    const owner = metadataOwner(u, mailbox);
    if (value === null) {
      u.stmts.get('DELETE FROM metadata WHERE mailbox_id = ? AND entry_lc = ?').run(owner, key);
    } else {
      const exists = u.stmts.get('SELECT 1 FROM metadata WHERE mailbox_id = ? AND entry_lc = ?').get(owner, key);
      if (!exists) {
        const n = u.stmts.get('SELECT count(*) FROM metadata WHERE mailbox_id = ?').pluck().get(owner) as number;
        if (n >= u.settings.metadataMaxEntries) {
          throw new StorageError('LIMIT', `Too many metadata entries (limit ${u.settings.metadataMaxEntries})`);
        }
      }
      u.stmts
        .get('INSERT OR REPLACE INTO metadata (mailbox_id, entry_lc, entry, value) VALUES (?, ?, ?, ?)')
        .run(owner, key, entry, value);
    }
    // Dovecot logs every attribute change in the mailbox's index (MAIL_TRANSACTION_ATTRIBUTE_UPDATE,
    // counted by lib-index/mail-index-modseq.c), so each set or unset, even of a missing entry,
    // takes a modseq; server metadata lives on INBOX there and counts on INBOX.
    const box = owner === SERVER_METADATA_ID ? mailboxRow(u, 'INBOX') : mailboxRowById(u, owner);
    const modseq = box ? box.highest_modseq + 1 : 0;
    if (box) u.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, box.id);
    u.notify(box ? box.id : null, 'metadata', modseq);
  });
}

export function listMetadata(u: UnitOfWork, mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): MetadataEntry[] {
  u.assertOpen();
  announceInbox(u, mailbox || INBOX);
  const p = validatePrefix(prefix, u.settings.metadataMaxEntryBytes);
  const owner = metadataOwner(u, mailbox);
  // Descendants of p are the keys in [p + '/', p + '0'): '0' is the character after '/'.
  const rows = u.stmts
    .get('SELECT entry_lc, entry, value FROM metadata WHERE mailbox_id = ? AND (entry_lc = ? OR (entry_lc >= ? AND entry_lc < ?)) ORDER BY entry_lc')
    .all(owner, p, p + '/', p + '0') as { entry_lc: string; entry: string; value: Buffer }[];
  return rows
    .filter((r) => {
      if (r.entry_lc === p) return true;
      if (depth === 0) return false;
      return depth === 'infinity' || !r.entry_lc.includes('/', p.length + 1);
    })
    .map((r) => ({ entry: r.entry, value: r.value }));
}

/** SETMETADATA: every entry in one transaction; `maxEntries` counts /private and /shared entries of the mailbox. */
export function setMetadataMany(
  u: UnitOfWork,
  mailbox: string,
  entries: readonly MetadataEntryChange[],
  opts: { maxEntries?: number; rules?: EntryNameRules } = {},
): void {
  u.transaction(() => {
    const maxEntries = opts.maxEntries ?? 0;
    for (const { entry, value } of entries) {
      if (value !== null && maxEntries > 0 && getMetadata(u, mailbox, [entry], opts.rules).length === 0) {
        // Dovecot's internal attributes (the URLAUTH key, metadata-entries.ts) do not count.
        const visible = (prefix: string) => listMetadata(u, mailbox, prefix, 'infinity').filter((e) => !isDovecotInternalEntry(e.entry)).length;
        const count = visible('/private') + visible('/shared');
        if (count >= maxEntries) throw new StorageError('LIMIT', 'Too many metadata entries');
      }
      setMetadata(u, mailbox, entry, value, opts.rules);
    }
  });
}
