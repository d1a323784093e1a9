// What SELECT/EXAMINE needs from a pgsql store (UserStore.openMailboxView), read in one
// transaction that holds the mailbox row (FOR SHARE; FOR UPDATE to claim \Recent): every change to
// a mailbox's messages locks that row for update first (messages.ts), so the row, the listing,
// the \Recent claim and the keywords are one consistent state under READ COMMITTED. The listing is built into a
// MailboxIndex (mailbox-index.ts) for the view's copy-on-write columns; it is read whole each
// time (no per-thread index cache for this backend yet).
import { MailboxIndex, type IndexSource } from '../mailbox-index.js';
import type { MailboxViewSnapshot } from '../types.js';
import { selectable, toInfo } from './mailbox-tree.js';
import type { PgsqlClient } from './pool.js';
import type { PgsqlStoreContext } from './store-context.js';

export async function readMailboxView(c: PgsqlClient, u: PgsqlStoreContext, name: string, claim: boolean): Promise<MailboxViewSnapshot> {
  // A claim changes message rows: it takes the row for update, as every such change does.
  const row = await selectable(c, u, name, claim ? 'FOR UPDATE OF m' : 'FOR SHARE OF m');
  const info = toInfo(row);
  // One row of arrays: far fewer values to decode than one row per message.
  const { rows } = await c.query<{ uids: number[] | null; modseqs: number[] | null; bits: number[] | null; keywords: (string | null)[] | null; sizes: number[] | null }>(
    `SELECT array_agg(uid ORDER BY uid) AS uids, array_agg(modseq ORDER BY uid) AS modseqs, array_agg(flags ORDER BY uid) AS bits,
            array_agg(keywords ORDER BY uid) AS keywords, array_agg(size ORDER BY uid) AS sizes
       FROM message WHERE mailbox_id = $1`,
    [info.id],
  );
  const cols = rows[0]!;
  const all = {
    uids: (cols.uids ?? []).map(Number),
    modseqs: (cols.modseqs ?? []).map(Number),
    bits: cols.bits ?? [],
    keywords: cols.keywords ?? [],
    sizes: (cols.sizes ?? []).map(Number),
  };
  const source: IndexSource = { listAll: () => all, changedSince: () => ({ rows: [], expunged: [] }) };
  const index = new MailboxIndex(info.id, info.uidValidity);
  index.load(source, info.highestModseq);
  const columns = index.share();
  let recent: number[];
  if (claim) {
    const taken = await c.query<{ uid: number }>('UPDATE message SET recent = false WHERE mailbox_id = $1 AND recent RETURNING uid', [info.id]);
    recent = taken.rows.map((r) => r.uid).sort((a, b) => a - b);
  } else {
    const counted = await c.query<{ uid: number }>('SELECT uid FROM message WHERE mailbox_id = $1 AND recent ORDER BY uid', [info.id]);
    recent = counted.rows.map((r) => r.uid);
  }
  let firstUnseenSeq = 0;
  for (let i = 0; i < all.bits.length; i++) {
    if ((all.bits[i]! & 8) === 0) {
      firstUnseenSeq = i + 1;
      break;
    }
  }
  const kw = await c.query<{ keyword: string }>('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = $1 ORDER BY keyword_lc COLLATE "C"', [info.id]);
  return {
    info,
    columns,
    keywordsInUse: index.keywordsInUse(),
    recentCount: recent.length,
    claimedRecent: claim ? recent : [],
    firstUnseenSeq,
    keywords: kw.rows.map((r) => r.keyword),
  };
}
