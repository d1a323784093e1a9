// What SELECT/EXAMINE needs from a SQLite store, read in one transaction (UserStore.openMailboxView).
import { flagsToList, SEEN_BIT } from '../flags.js';
import type { MailboxViewSnapshot } from '../types.js';
import { announceInbox, selectable, toInfo } from './mailbox-tree.js';
import type { UnitOfWork } from './unit-of-work.js';

/** UserStore.openMailboxView: one transaction, so no change falls between the row and the listing. */
export function openMailboxView(u: UnitOfWork, name: string, claim: boolean): MailboxViewSnapshot {
  u.assertOpen();
  announceInbox(u, name);
  return u.transaction(() => {
    const row = selectable(u, name);
    const cols = u.stmts
      .get(
        `SELECT json_group_array(uid), json_group_array(modseq), json_group_array(flags), json_group_array(keywords),
           json_group_array(size), json_group_array(recent)
         FROM (SELECT uid, modseq, flags, keywords, size, recent FROM message WHERE mailbox_id = ? ORDER BY uid)`,
      )
      .raw(true)
      .get(row.id) as [string, string, string, string, string, string];
    let uids = JSON.parse(cols[0]) as number[];
    let modseqs = JSON.parse(cols[1]) as number[];
    let bits = JSON.parse(cols[2]) as number[];
    let kws = JSON.parse(cols[3]) as (string | null)[];
    let sizes = JSON.parse(cols[4]) as number[];
    let recentCol = JSON.parse(cols[5]) as number[];
    let ascending = true;
    for (let i = 1; i < uids.length && ascending; i++) if (uids[i - 1]! >= uids[i]!) ascending = false;
    if (!ascending) {
      // SQLite does not promise the aggregate keeps the subquery's order: read it row by row.
      const rows = u.stmts
        .get('SELECT uid, modseq, flags, keywords, size, recent FROM message WHERE mailbox_id = ? ORDER BY uid')
        .raw(true)
        .all(row.id) as [number, number, number, string | null, number, number][];
      uids = rows.map((r) => r[0]);
      modseqs = rows.map((r) => r[1]);
      bits = rows.map((r) => r[2]);
      kws = rows.map((r) => r[3]);
      sizes = rows.map((r) => r[4]);
      recentCol = rows.map((r) => r[5]);
    }
    const n = uids.length;
    const noKeywords = new Map<number, string[]>();
    const withKeywords = new Map<string, string[]>();
    const flags = new Array<string[]>(n);
    const recentUids: number[] = [];
    let firstUnseenSeq = 0;
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      const kw = kws[i]!;
      let list: string[] | undefined;
      if (kw === null) {
        list = noKeywords.get(b);
        if (list === undefined) noKeywords.set(b, (list = Object.freeze(flagsToList(b, null)) as string[]));
      } else {
        const key = `${b} ${kw}`;
        list = withKeywords.get(key);
        if (list === undefined) withKeywords.set(key, (list = Object.freeze(flagsToList(b, kw)) as string[]));
      }
      flags[i] = list;
      if (firstUnseenSeq === 0 && (b & SEEN_BIT) === 0) firstUnseenSeq = i + 1;
      if (recentCol[i] === 1) recentUids.push(uids[i]!);
    }
    // Every \Recent row of the mailbox is in the listing: the UPDATE starts at the first of them
    // (usually the newest few) and returns nothing, the listing already named them.
    if (claim && recentUids.length > 0) {
      u.stmts.get('UPDATE message SET recent = 0 WHERE mailbox_id = ? AND uid >= ? AND recent = 1').run(row.id, recentUids[0]);
    }
    return {
      info: toInfo(u, row),
      uids,
      modseqs,
      flags,
      sizes,
      recentCount: recentUids.length,
      claimedRecent: claim ? recentUids : [],
      firstUnseenSeq,
      keywords: u.stmts.get('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = ? ORDER BY keyword_lc').pluck().all(row.id) as string[],
    };
  });
}
