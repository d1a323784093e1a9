// STORE / UID STORE (RFC 3501 §6.4.6; RFC 7162 §3.1.3 UNCHANGEDSINCE → [MODIFIED]).
import { formatNumberSet } from '../protocol/index.js';
import { resolveMessageSet } from './message-set.js';
import { badSyntax, no, ok, SELECTED, type CommandHandler } from './types.js';

export const STORE: CommandHandler<'STORE'> = {
  states: SELECTED,
  mayAnnounceExpunge: (cmd) => cmd.uid,
  async run(session, _tag, cmd) {
    const view = session.selected!;
    const resolved = resolveMessageSet(session, cmd.set, cmd.uid);
    if (!resolved.ok) return badSyntax(resolved.error);
    if (view.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
    if (cmd.unchangedSince !== null) await session.enableExtension('CONDSTORE');
    // \Recent is the server's to set (RFC 3501 §2.3.2); Dovecot ignores it in STORE.
    const flags = cmd.flags.filter((f) => f.toLowerCase() !== '\\recent');
    const refs = resolved.messages.filter((m) => !view.isExpungePending(m.uid));
    const seqByUid = new Map(refs.map((m) => [m.uid, m.seq]));
    const result = refs.length === 0
      ? { changed: [], modified: [] as number[] }
      : await session.store.storeFlags(view.id, {
          uids: refs.map((m) => m.uid),
          operation: cmd.action,
          flags,
          unchangedSince: cmd.unchangedSince ?? undefined,
          // Push notifications show \Recent in FlagsClear's flags_old (spec §16.5).
          recentUids: refs.filter((m) => view.ownsRecent(m.uid)).map((m) => m.uid),
        });
    for (const c of result.changed) {
      view.noteFlags(c.uid, c.flags, c.modseq);
      if (c.flags.includes('\\Deleted') && !c.oldFlags.includes('\\Deleted')) session.stats.deleted++;
    }
    // Announce keywords new to the mailbox (FLAGS / PERMANENTFLAGS) before the FETCH lines.
    for (const line of view.takeKeywordAnnouncements()) session.respond(line);
    const withModseq = session.isEnabled('CONDSTORE');
    for (const c of result.changed) {
      const seq = seqByUid.get(c.uid)!;
      // Dovecot's order: UID (UID STORE, or always with QRESYNC), MODSEQ, FLAGS.
      const parts: string[] = [];
      if (cmd.uid || session.isEnabled('QRESYNC')) parts.push(`UID ${c.uid}`);
      if (withModseq) {
        parts.push(`MODSEQ (${c.modseq})`);
        view.noteModseqSent(c.modseq);
      }
      // RFC 7162 §3.1.3: with CONDSTORE on, the FETCH with MODSEQ is sent even for .SILENT (as
      // Dovecot 2.3.19 does, with or without UNCHANGEDSINCE: `* 1 FETCH (MODSEQ (8))`).
      if (!cmd.silent) parts.push(`FLAGS (${view.flagsOf(c.uid).join(' ')})`);
      if (!cmd.silent || withModseq) session.respond(`* ${seq} FETCH (${parts.join(' ')})\r\n`);
    }
    if (result.modified.length > 0) {
      const numbers = cmd.uid ? result.modified : result.modified.map((u) => seqByUid.get(u)!).filter((s) => s !== undefined);
      return ok('Conditional store failed', `MODIFIED ${formatNumberSet(numbers)}`);
    }
    return ok('Store completed.');
  },
};
