// QRESYNC (RFC 7162 §3.2): what a reconnecting client learns without a full listing. SELECT/EXAMINE
// (QRESYNC (uidvalidity modseq [known-uids ...])) reports `* VANISHED (EARLIER)` for the UIDs
// expunged since `modseq` and a FETCH (UID FLAGS MODSEQ) for each message changed since; UID FETCH
// (CHANGEDSINCE n VANISHED) does the same for a UID set. Once QRESYNC is enabled the view announces
// expunges as `* VANISHED` (selected-mailbox.ts) and the tagged replies carry HIGHESTMODSEQ when
// the client's view moved (the hooks below). The store keeps every expunge of a mailbox for as
// long as the mailbox lives, so VANISHED (EARLIER) is exact; the seq-match-data hint (§3.2.5.2,
// for servers that forget old expunges) is accepted and not needed.
import { formatNumberSet, sequenceSetHas, type QresyncParams, type SequenceSet } from '../protocol/index.js';
import type { SelectedMailbox } from '../selected-mailbox.js';
import type { UserStore } from '../../storage/types.js';
import type { CommandContext, SessionHooks } from './context.js';

/** Dovecot's reply when QRESYNC syntax arrives before ENABLE QRESYNC (imap/cmd-select.c, cmd-fetch.c). */
export const QRESYNC_NOT_ENABLED = 'QRESYNC not enabled';

/** UIDs of `view`'s mailbox expunged after `sinceModseq` (ascending), limited to `within` when given. */
export async function expungedSince(store: UserStore, view: SelectedMailbox, sinceModseq: number, within: SequenceSet | null): Promise<number[]> {
  const maxUid = Math.max(view.uidNext - 1, 1);
  const out: number[] = [];
  for (const c of await store.changesSince(view.id, sinceModseq)) {
    if (c.kind !== 'expunge' || view.seqOf(c.uid) > 0) continue;
    if (within && !sequenceSetHas(within, c.uid, maxUid)) continue;
    out.push(c.uid);
  }
  return out.sort((a, b) => a - b);
}

/** `* VANISHED (EARLIER) set`, or nothing when no UID vanished. */
export function vanishedEarlierLines(uids: number[]): string[] {
  return uids.length === 0 ? [] : [`* VANISHED (EARLIER) ${formatNumberSet(uids)}\r\n`];
}

/**
 * RFC 7162 §3.2.5.1: the responses after SELECT's own when the client's UIDVALIDITY still holds:
 * VANISHED (EARLIER), then `* n FETCH (UID u FLAGS (...) MODSEQ (m))` for every known message
 * changed since (Dovecot 2.3.19's order, checked on a running Dovecot).
 */
export async function qresyncSelectLines(store: UserStore, view: SelectedMailbox, params: QresyncParams): Promise<string[]> {
  if (params.uidValidity !== view.uidValidity) return [];
  const lines = vanishedEarlierLines(await expungedSince(store, view, params.modseq, params.knownUids));
  const maxUid = Math.max(view.uidNext - 1, 1);
  const uids = view.allUids;
  for (let i = 0; i < uids.length; i++) {
    const uid = uids[i]!;
    const modseq = view.modseqOf(uid);
    if (modseq <= params.modseq) continue;
    if (params.knownUids && !sequenceSetHas(params.knownUids, uid, maxUid)) continue;
    lines.push(`* ${i + 1} FETCH (UID ${uid} FLAGS (${view.flagsOf(uid).join(' ')}) MODSEQ (${modseq}))\r\n`);
  }
  return lines;
}

/**
 * The HIGHESTMODSEQ a QRESYNC client is told at the end of a command (Dovecot's
 * imap_sync_send_highestmodseq in imap-sync.c): the mailbox's own when the view has announced
 * everything and the client has not already seen a higher MODSEQ in a FETCH; the last fully
 * announced one while expunges are still held back but FETCH showed later MODSEQs (a client that
 * took those would otherwise skip the expunges). Attached to every session by the registry.
 */
export function qresyncHooks(session: CommandContext): SessionHooks {
  let lastFullModseq = 0;
  return {
    selected(view) {
      lastFullModseq = view.highestModseq;
      view.takeHighestModseqSent();
    },
    tagged(result) {
      const view = session.selected;
      if (!view || !session.isEnabled('QRESYNC') || view.readOnly) return result;
      const delayed = view.hasDelayedExpunges;
      const fetched = view.takeHighestModseqSent();
      const current = view.highestModseq;
      let send = 0;
      if (delayed && fetched > lastFullModseq) send = lastFullModseq;
      else if (!delayed && current > lastFullModseq && current > fetched) send = current;
      if (!delayed) lastFullModseq = current;
      if (send === 0) return result;
      if (result.status === 'OK' && result.code === undefined) return { ...result, code: `HIGHESTMODSEQ ${send}` };
      session.respond(`* OK [HIGHESTMODSEQ ${send}] Highest\r\n`);
      return result;
    },
  };
}
