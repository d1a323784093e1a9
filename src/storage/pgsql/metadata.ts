// Metadata of a pgsql store (RFC 5464): per mailbox, and server metadata under mailbox id 0; the
// rules are sqlite/metadata.ts's (names from metadata-entries.ts, the same limits and errors).
import { INBOX } from '../mailbox-names.js';
import { isDovecotInternalEntry, validateEntry, validatePrefix, type EntryNameRules } from '../metadata-entries.js';
import { StorageError, type MetadataEntry, type MetadataEntryChange } from '../types.js';
import type { Queryable } from './bodies.js';
import { mailboxRow, selectable } from './mailbox-tree.js';
import type { PgsqlClient } from './pool.js';
import type { PgsqlStoreContext, TxnLog } from './store-context.js';

/** Server metadata (GETMETADATA "") is stored with this mailbox id. */
const SERVER_METADATA_ID = 0;

/** '' is the server; otherwise an existing selectable mailbox. */
async function metadataOwner(db: Queryable, u: PgsqlStoreContext, mailbox: string): Promise<number> {
  return mailbox === '' ? SERVER_METADATA_ID : (await selectable(db, u, mailbox)).id;
}

export async function getMetadata(db: Queryable, u: PgsqlStoreContext, mailbox: string, entries: string[], rules?: EntryNameRules): Promise<MetadataEntry[]> {
  const keys = entries.map((e) => validateEntry(e, u.settings.metadataMaxEntryBytes, rules));
  const owner = await metadataOwner(db, u, mailbox);
  const { rows } = await db.query<{ entry_lc: string; entry: string; value: Buffer }>(
    'SELECT entry_lc, entry, value FROM metadata WHERE store_id = $1 AND mailbox_id = $2 AND entry_lc = ANY($3::text[])',
    [u.storeId, owner, keys],
  );
  const byKey = new Map(rows.map((r) => [r.entry_lc, r]));
  const out: MetadataEntry[] = [];
  for (const k of keys) {
    const row = byKey.get(k);
    if (row) out.push({ entry: row.entry, value: row.value });
  }
  return out;
}

/** Checks an entry and its value before the transaction (PARAMETERS, TOOBIG); returns the key. */
export function checkMetadataChange(u: PgsqlStoreContext, entry: string, value: Buffer | null, rules?: EntryNameRules): string {
  const key = validateEntry(entry, u.settings.metadataMaxEntryBytes, rules);
  if (value !== null && value.length > u.settings.metadataMaxValueBytes) {
    throw new StorageError('TOOBIG', `Metadata value too large (limit ${u.settings.metadataMaxValueBytes} bytes)`);
  }
  return key;
}

export async function setMetadata(c: PgsqlClient, u: PgsqlStoreContext, log: TxnLog, mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): Promise<void> {
  const key = checkMetadataChange(u, entry, value, rules);
  // The row of the mailbox whose modseq the change takes, locked first (server metadata: INBOX's).
  const ownerRow = mailbox === '' ? undefined : await selectable(c, u, mailbox, 'FOR UPDATE OF m');
  const owner = ownerRow ? ownerRow.id : SERVER_METADATA_ID;
  const box = ownerRow ?? (await mailboxRow(c, u, INBOX, 'FOR UPDATE OF m'));
  if (value === null) {
    await c.query('DELETE FROM metadata WHERE store_id = $1 AND mailbox_id = $2 AND entry_lc = $3', [u.storeId, owner, key]);
  } else {
    const exists = await c.query('SELECT 1 FROM metadata WHERE store_id = $1 AND mailbox_id = $2 AND entry_lc = $3', [u.storeId, owner, key]);
    if (exists.rows.length === 0) {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM metadata WHERE store_id = $1 AND mailbox_id = $2', [u.storeId, owner]);
      if (rows[0]!.n >= u.settings.metadataMaxEntries) throw new StorageError('LIMIT', `Too many metadata entries (limit ${u.settings.metadataMaxEntries})`);
    }
    await c.query(
      `INSERT INTO metadata (store_id, mailbox_id, entry_lc, entry, value) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (store_id, mailbox_id, entry_lc) DO UPDATE SET entry = EXCLUDED.entry, value = EXCLUDED.value`,
      [u.storeId, owner, key, entry, value],
    );
  }
  // Dovecot logs every attribute change in the mailbox's index, so each set or unset takes a
  // modseq (sqlite/metadata.ts); server metadata lives on INBOX there and counts on INBOX.
  const modseq = box ? box.highest_modseq + 1 : 0;
  if (box) await c.query('UPDATE mailbox SET highest_modseq = $2 WHERE id = $1', [box.id, modseq]);
  log.notify(box ? box.id : null, 'metadata', modseq);
}

export async function listMetadata(db: Queryable, u: PgsqlStoreContext, mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): Promise<MetadataEntry[]> {
  const p = validatePrefix(prefix, u.settings.metadataMaxEntryBytes);
  const owner = await metadataOwner(db, u, mailbox);
  const { rows } = await db.query<{ entry_lc: string; entry: string; value: Buffer }>(
    `SELECT entry_lc, entry, value FROM metadata WHERE store_id = $1 AND mailbox_id = $2 AND (entry_lc = $3 OR starts_with(entry_lc, $4))
     ORDER BY entry_lc COLLATE "C"`,
    [u.storeId, owner, p, p + '/'],
  );
  return rows
    .filter((r) => {
      if (r.entry_lc === p) return true;
      if (depth === 0) return false;
      return depth === 'infinity' || !r.entry_lc.includes('/', p.length + 1);
    })
    .map((r) => ({ entry: r.entry, value: r.value }));
}

/** SETMETADATA: every entry in one transaction; `maxEntries` counts /private and /shared entries of the mailbox. */
export async function setMetadataMany(
  c: PgsqlClient,
  u: PgsqlStoreContext,
  log: TxnLog,
  mailbox: string,
  entries: readonly MetadataEntryChange[],
  opts: { maxEntries?: number; rules?: EntryNameRules } = {},
): Promise<void> {
  const maxEntries = opts.maxEntries ?? 0;
  for (const { entry, value } of entries) {
    if (value !== null && maxEntries > 0 && (await getMetadata(c, u, mailbox, [entry], opts.rules)).length === 0) {
      // Dovecot's internal attributes (the URLAUTH key, metadata-entries.ts) do not count.
      const visible = async (prefix: string) => (await listMetadata(c, u, mailbox, prefix, 'infinity')).filter((e) => !isDovecotInternalEntry(e.entry)).length;
      const count = (await visible('/private')) + (await visible('/shared'));
      if (count >= maxEntries) throw new StorageError('LIMIT', 'Too many metadata entries');
    }
    await setMetadata(c, u, log, mailbox, entry, value, opts.rules);
  }
}
