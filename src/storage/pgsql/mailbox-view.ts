// What SELECT/EXAMINE needs from a pgsql store (UserStore.openMailboxView), read in one
// transaction that holds the mailbox row (FOR SHARE; FOR UPDATE to claim \Recent): every change to
// a mailbox's messages locks that row for update first (messages.ts), so the row, the listing,
// the \Recent claim and the keywords are one consistent state under READ COMMITTED.
//
// The listing is this thread's shared one (mailbox-index.ts, as SQLite's): brought up to the
// mailbox's modseq with the rows changed since the modseq it last saw, read whole only the first
// time or when it cannot be trusted. Its source is synchronous, so what it will ask for is read
// ahead here.
import type { IndexRow, IndexSource, MailboxIndex, StoreIndexes } from '../mailbox-index.js';
import type { MailboxViewSnapshot } from '../types.js';
import { selectable, toInfo } from './mailbox-tree.js';
import type { PgsqlClient } from './pool.js';
import type { PgsqlStoreContext } from './store-context.js';

type Listing = ReturnType<IndexSource['listAll']>;

/** current() asked for the whole listing, which was not read ahead: read it, then ask again. */
class NeedsWholeListing extends Error {}

async function listAll(c: PgsqlClient, mailboxId: number): Promise<Listing> {
  // One row of arrays: far fewer values to decode than one row per message.
  const { rows } = await c.query<{ uids: string[] | null; modseqs: string[] | null; bits: number[] | null; keywords: (string | null)[] | null; sizes: string[] | null }>(
    `SELECT array_agg(uid ORDER BY uid) AS uids, array_agg(modseq ORDER BY uid) AS modseqs, array_agg(flags ORDER BY uid) AS bits,
            array_agg(keywords ORDER BY uid) AS keywords, array_agg(size ORDER BY uid) AS sizes
       FROM message WHERE mailbox_id = $1`,
    [mailboxId],
  );
  const r = rows[0]!;
  // bigint[] comes back as text (pool.ts parses single bigints only).
  return { uids: (r.uids ?? []).map(Number), modseqs: (r.modseqs ?? []).map(Number), bits: r.bits ?? [], keywords: r.keywords ?? [], sizes: (r.sizes ?? []).map(Number) };
}

async function changedSince(c: PgsqlClient, mailboxId: number, modseq: number): Promise<ReturnType<IndexSource['changedSince']>> {
  const changed = await c.query<{ uid: number; modseq: number; flags: number; keywords: string | null; size: number }>(
    'SELECT uid, modseq, flags, keywords, size FROM message WHERE mailbox_id = $1 AND modseq > $2',
    [mailboxId, modseq],
  );
  const gone = await c.query<{ uid: number }>('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2', [mailboxId, modseq]);
  return { rows: changed.rows.map((r): IndexRow => [r.uid, r.modseq, r.flags, r.keywords, r.size]), expunged: gone.rows.map((r) => r.uid) };
}

export async function readMailboxView(c: PgsqlClient, u: PgsqlStoreContext, indexes: StoreIndexes, name: string, claim: boolean): Promise<MailboxViewSnapshot> {
  // A claim changes message rows: it takes the row for update, as every such change does.
  const row = await selectable(c, u, name, claim ? 'FOR UPDATE OF m' : 'FOR SHARE OF m');
  const info = toInfo(row);
  const counted = await c.query<{ messages: number }>('SELECT messages FROM mailbox WHERE id = $1', [info.id]);
  const messages = counted.rows[0]!.messages;
  // A store deleted and made again under the same user name is another incarnation.
  indexes.checkIncarnation(String(u.storeId));
  // What current() will ask for is read ahead. Other calls of this thread may move the shared
  // index on while this one waits for the database: then read ahead again for where it is now.
  let whole: Listing | undefined;
  let index: MailboxIndex | undefined;
  for (let attempt = 0; !index; attempt++) {
    const known = indexes.peek(info.id);
    const usable = known && known.uidValidity === info.uidValidity && known.modseq <= info.highestModseq;
    const ahead = usable && known.modseq < info.highestModseq ? await changedSince(c, info.id, known.modseq) : undefined;
    const now = indexes.peek(info.id);
    if (attempt < 5 && (now?.modseq !== known?.modseq || now?.uidValidity !== known?.uidValidity)) continue;
    const source: IndexSource = {
      listAll: () => {
        if (!whole) throw new NeedsWholeListing();
        return whole;
      },
      changedSince: (_id, modseq) => {
        if (!ahead || modseq !== known!.modseq) throw new NeedsWholeListing();
        return ahead;
      },
    };
    try {
      index = indexes.current(source, info.id, info.uidValidity, info.highestModseq, messages);
    } catch (e) {
      if (!(e instanceof NeedsWholeListing) || attempt >= 5) throw e;
      whole ??= await listAll(c, info.id);
    }
  }
  const columns = index.share();
  let recent: number[];
  if (claim) {
    const taken = await c.query<{ uid: number }>('UPDATE message SET recent = false WHERE mailbox_id = $1 AND recent RETURNING uid', [info.id]);
    recent = taken.rows.map((r) => r.uid).sort((a, b) => a - b);
  } else {
    const found = await c.query<{ uid: number }>('SELECT uid FROM message WHERE mailbox_id = $1 AND recent ORDER BY uid', [info.id]);
    recent = found.rows.map((r) => r.uid);
  }
  const unseen = await c.query<{ uid: number | null }>('SELECT min(uid) AS uid FROM message WHERE mailbox_id = $1 AND flags & 8 = 0', [info.id]);
  const firstUnseen = unseen.rows[0]!.uid;
  const kw = await c.query<{ keyword: string }>('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = $1 ORDER BY keyword_lc COLLATE "C"', [info.id]);
  return {
    info,
    columns,
    keywordsInUse: index.keywordsInUse(),
    recentCount: recent.length,
    claimedRecent: claim ? recent : [],
    firstUnseenSeq: firstUnseen === null ? 0 : columns.indexOf(firstUnseen) + 1,
    keywords: kw.rows.map((r) => r.keyword),
  };
}
