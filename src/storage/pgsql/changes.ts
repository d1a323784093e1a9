// Expunges and the catch-up query by modseq. A change made on one node reaches the sessions on
// the others as a signal only (change-feed.ts); each session then asks what changed in its
// mailbox since the highest modseq it has seen: messages created or modified after it, and the
// expunge log's entries after it (RFC 7162 §3.2.10 VANISHED). So a missed or coalesced
// notification costs nothing but latency.
import { flagsToList } from '../flags.js';
import type { ChangeRecord } from '../types.js';
import { allocateModseq } from './allocation.js';
import type { Queryable } from './bodies.js';
import type { PgsqlClient } from './pool.js';

export interface ExpungeResult {
  /** The modseq of the expunge (one for the whole call); 0 when nothing was expunged. */
  modseq: number;
  /** The UIDs that were there and are now gone, ascending. */
  uids: number[];
}

/**
 * Expunges `uids` of the mailbox in the caller's transaction: deletes the message rows (the
 * schema then releases bodies and counts), and logs each UID with one new modseq. UIDs that are
 * not there (already expunged by another node) are left out of the result.
 */
export async function expungeUids(client: PgsqlClient, mailboxId: number, uids: number[]): Promise<ExpungeResult> {
  if (uids.length === 0) return { modseq: 0, uids: [] };
  // The modseq first: it locks the mailbox row, so expunges, flag changes and appends are ordered
  // by it, and always lock the mailbox before message rows (no deadlock with a flag change).
  const modseq = await allocateModseq(client, mailboxId);
  const { rows } = await client.query<{ uid: number }>('DELETE FROM message WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid', [mailboxId, uids]);
  const gone = rows.map((r) => r.uid).sort((a, b) => a - b);
  // When nothing was there the modseq goes unused: modseqs must grow, not be contiguous (RFC 7162 §3.1.1).
  if (gone.length === 0) return { modseq: 0, uids: [] };
  await client.query(
    'INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::bigint[]) AS u ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq',
    [mailboxId, modseq, gone],
  );
  return { modseq, uids: gone };
}

/**
 * What changed in the mailbox after `sinceModseq`, in modseq order: the records the SQLite
 * store's changesSince gives (append: created after it; flags: older, changed after it; expunge).
 */
export async function changesSince(db: Queryable, mailboxId: number, sinceModseq: number, storeId?: number): Promise<ChangeRecord[]> {
  // With `storeId`: only a mailbox of that store (a user's store sees no other user's changes).
  const own = storeId === undefined ? '' : ' AND EXISTS (SELECT 1 FROM mailbox b WHERE b.id = $1 AND b.store_id = $3)';
  const params = storeId === undefined ? [mailboxId, sinceModseq] : [mailboxId, sinceModseq, storeId];
  const msgs = await db.query<{ uid: number; modseq: number; created_modseq: number; flags: number; keywords: string | null }>(
    `SELECT uid, modseq, created_modseq, flags, keywords FROM message WHERE mailbox_id = $1 AND modseq > $2${own} ORDER BY modseq, uid`,
    params,
  );
  const gone = await db.query<{ uid: number; modseq: number }>(`SELECT uid, modseq FROM expunged WHERE mailbox_id = $1 AND modseq > $2${own} ORDER BY modseq, uid`, params);
  const out: ChangeRecord[] = msgs.rows.map((m) => ({
    kind: m.created_modseq > sinceModseq ? 'append' : 'flags',
    mailboxId,
    uid: m.uid,
    modseq: m.modseq,
    flags: flagsToList(m.flags, m.keywords),
  }));
  for (const g of gone.rows) out.push({ kind: 'expunge', mailboxId, uid: g.uid, modseq: g.modseq });
  return out.sort((a, b) => a.modseq - b.modseq || a.uid - b.uid);
}
