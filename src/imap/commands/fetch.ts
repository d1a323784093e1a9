// FETCH / UID FETCH (RFC 3501 §6.4.5, §6.4.8; RFC 7162 CHANGEDSINCE): resolves the set against the
// session's view, sets \Seen for non-PEEK body fetches, then hands the messages to the FETCH
// engine (fetch-items.ts), which streams the responses through the connection with backpressure.
import { planFetch, renderFetchAll, renderFetchFlagsOnly, renderFlagsRows, uidsToMarkSeen, type FetchContext, type FetchMessage } from './fetch-items.js';
import { ResponseBatcher } from './fetch-output.js';
import { resolveMessageSet } from './message-set.js';
import { expungedSince, QRESYNC_NOT_ENABLED, vanishedEarlierLines } from './qresync.js';
import type { MessageRef } from '../selected-mailbox.js';
import { badSyntax, no, ok, SELECTED, type CommandHandler } from './types.js';

export const FETCH: CommandHandler<'FETCH'> = {
  states: SELECTED,
  mayAnnounceExpunge: (cmd) => cmd.uid,
  async run(session, _tag, cmd) {
    const view = session.selected!;
    const resolved = resolveMessageSet(session, cmd.set, cmd.uid);
    if (!resolved.ok) return badSyntax(resolved.error);
    if (cmd.changedSince !== null || cmd.attributes.some((a) => a.type === 'MODSEQ')) await session.enableExtension('CONDSTORE');
    // RFC 7162 §3.2.6: VANISHED only once QRESYNC is enabled (Dovecot's text).
    if (cmd.vanished && !session.isEnabled('QRESYNC')) return badSyntax(QRESYNC_NOT_ENABLED);
    let refs = resolved.messages;
    if (cmd.changedSince !== null) {
      const since = cmd.changedSince;
      refs = refs.filter((m) => view.modseqOf(m.uid) > since);
      // UID FETCH (CHANGEDSINCE n VANISHED): the set's UIDs expunged since n come first.
      if (cmd.vanished) session.respond(...vanishedEarlierLines(await expungedSince(session.store, view, since, cmd.set.kind === 'ranges' ? cmd.set : null)));
    }
    // The client sees these MODSEQs: the QRESYNC HIGHESTMODSEQ rule needs the highest.
    if (cmd.changedSince !== null || cmd.attributes.some((a) => a.type === 'MODSEQ')) for (const m of refs) view.noteModseqSent(view.modseqOf(m.uid));
    const plan = planFetch(cmd.attributes, { includeUid: cmd.uid, includeModseq: cmd.changedSince !== null });
    // Expunged by another session but not yet announced (RFC 3501 §7.4.1): the sequence number
    // still stands. As in Dovecot, whose index view keeps the record, UID, FLAGS and MODSEQ are
    // still answered from what this view holds; anything that needs the message itself is skipped
    // and the tagged reply says so (Dovecot: `OK [EXPUNGEISSUED] Some messages were already
    // expunged.`). "Gone" is either known to the view already or found missing in storage now.
    const fromView = plan.inline.every((i) => i.type === 'UID' || i.type === 'FLAGS' || i.type === 'MODSEQ') && plan.literals.length === 0;
    let skippedExpunged = false;
    const done = (): ReturnType<typeof ok> =>
      // RFC 3516 §4.3 with Dovecot's text: a BINARY item met an encoding it cannot undo.
      fetchCtx.unknownCte ? no('Unknown Content-Transfer-Encoding', 'UNKNOWN-CTE')
      : skippedExpunged ? ok('Some messages were already expunged.', 'EXPUNGEISSUED') : ok('Fetch completed.');
    const out = new ResponseBatcher(session.responseSink());
    const fetchCtx: FetchContext = { store: session.store, out, recentUids: view.recentUids };
    if (refs.length === 0) return done();
    if (plan.flagsOnly && (await view.inSyncWithStore())) {
      // The hot `FETCH 1:* (UID FLAGS RFC822.SIZE)` when storage has nothing the view has not taken
      // in: the view's UIDs, flags, modseqs and sizes are storage's, so no query at all.
      const seqs = ascendingSeqs(refs);
      const needSize = plan.inline.some((i) => i.type === 'RFC822.SIZE');
      if (!needSize || (await view.loadSizes(seqs))) {
        // Pending expunges as below: answered from the view when nothing else is asked, else skipped.
        const shown = fromView ? seqs : seqs.filter((seq) => !view.isExpungePending(view.uidAt(seq)!));
        if (shown.length < seqs.length) skippedExpunged = true;
        await renderFlagsRows(fetchCtx, {
          length: shown.length,
          seq: (i) => shown[i]!,
          uid: (i) => view.uidAt(shown[i]!)!,
          flags: (i) => view.storedFlagsAt(shown[i]!),
          size: (i) => view.sizeAt(shown[i]!),
          modseq: (i) => view.modseqAt(shown[i]!),
        }, plan);
        await out.flush();
        return done();
      }
    }
    const gone: MessageRef[] = [];
    refs = refs.filter((m) => (view.isExpungePending(m.uid) ? (gone.push(m), false) : true));
    if (plan.flagsOnly) {
      // The hot `FETCH 1:* (UID FLAGS RFC822.SIZE)`: the compact listing, no message metadata rows.
      const wanted = refs.length === view.count ? null : new Set(refs.map((m) => m.uid));
      const rows = [];
      const found = new Set<number>();
      for (const meta of await session.store.listMessageFlags(view.id)) {
        if (wanted && !wanted.has(meta.uid)) continue;
        const seq = view.seqOf(meta.uid);
        if (seq > 0 && !view.isExpungePending(meta.uid)) {
          rows.push({ seq, meta });
          found.add(meta.uid);
        }
      }
      for (const m of refs) if (!found.has(m.uid)) gone.push(m);
      if (gone.length > 0) {
        if (fromView) {
          for (const m of gone) rows.push({ seq: m.seq, meta: { uid: m.uid, modseq: view.modseqOf(m.uid), flags: view.storedFlagsOf(m.uid), size: 0 } });
          rows.sort((a, b) => a.seq - b.seq);
        } else {
          skippedExpunged = true;
        }
      }
      await renderFetchFlagsOnly(fetchCtx, rows, plan);
      await out.flush();
      return done();
    }
    const metas = await session.store.getMessages(view.id, refs.map((m) => m.uid));
    const seqByUid = new Map(refs.map((m) => [m.uid, m.seq]));
    const messages: FetchMessage[] = metas.map((meta) => ({ seq: seqByUid.get(meta.uid)!, meta }));
    if (gone.length > 0 || messages.length < refs.length) skippedExpunged = true;

    // RFC 3501 §6.4.5: BODY[...] (not PEEK), RFC822 and RFC822.TEXT set \Seen; not in EXAMINE.
    let implicitFlags: Set<number> | undefined;
    if (!view.readOnly) {
      const toMark = uidsToMarkSeen(messages, cmd.attributes);
      if (toMark.length > 0) {
        const recentUids = toMark.filter((uid) => view.ownsRecent(uid));
        const result = await session.store.storeFlags(view.id, { uids: toMark, operation: 'add', flags: ['\\Seen'], recentUids });
        const byUid = new Map(messages.map((m) => [m.meta.uid, m]));
        for (const c of result.changed) {
          view.noteFlags(c.uid, c.flags, c.modseq);
          const m = byUid.get(c.uid);
          if (m) m.meta = { ...m.meta, flags: c.flags, modseq: c.modseq };
        }
        implicitFlags = new Set(result.changed.map((c) => c.uid));
      }
    }
    await renderFetchAll(fetchCtx, messages, plan, implicitFlags);
    await out.flush();
    countFetch(session.stats, cmd.attributes, messages.length);
    return done();
  },
};

/** The hdr_count / body_count figures of imap_logout_format (approximate: per message and item). */
function countFetch(stats: { fetchHdrCount: number; fetchBodyCount: number }, attributes: readonly { type: string }[], n: number): void {
  for (const a of attributes) {
    if (a.type === 'RFC822.HEADER') stats.fetchHdrCount += n;
    else if (a.type === 'BODY[]' || a.type === 'RFC822' || a.type === 'RFC822.TEXT' || a.type === 'BINARY[]') stats.fetchBodyCount += n;
  }
}

/** The sequence numbers of `refs` ascending and once each (the order the listing path answers in). */
function ascendingSeqs(refs: readonly MessageRef[]): number[] {
  const seqs = new Array<number>(refs.length);
  let sorted = true;
  for (let i = 0; i < refs.length; i++) {
    seqs[i] = refs[i]!.seq;
    if (i > 0 && seqs[i]! <= seqs[i - 1]!) sorted = false;
  }
  if (sorted) return seqs;
  return [...new Set(seqs)].sort((a, b) => a - b);
}
