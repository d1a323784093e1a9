// SELECT/EXAMINE (RFC 3501 §6.3.1-2, RFC 7162 §3.1.8 CONDSTORE), CHECK (§6.4.1), CLOSE (§6.4.2),
// UNSELECT (RFC 3691), EXPUNGE (§6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
import { SelectedMailbox } from '../selected-mailbox.js';
import type { CommandContext } from './context.js';
import { mailboxObjectId } from './mailboxes.js';
import { qresyncSelectLines, QRESYNC_NOT_ENABLED } from './qresync.js';
import { AUTHENTICATED, badSyntax, no, ok, SELECTED, type CommandHandler, type CommandOf, type CommandResult } from './types.js';

async function select(session: CommandContext, cmd: CommandOf<'SELECT' | 'EXAMINE'>): Promise<CommandResult> {
  const hadSelected = session.selected !== null;
  // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected.
  session.unselect();
  // RFC 7162 §3.2.11: tells a CONDSTORE/QRESYNC client the old mailbox's updates end here.
  if (hadSelected) session.respond('* OK [CLOSED] Previous mailbox closed.\r\n');
  if (cmd.condstore) await session.enableExtension('CONDSTORE');
  if (cmd.qresync && !session.isEnabled('QRESYNC')) return badSyntax(QRESYNC_NOT_ENABLED);
  session.savedSearch = null; // RFC 5182 §2.1: the saved result belongs to the mailbox
  const readOnly = cmd.name === 'EXAMINE';
  // Changes committed while the view is opened and its responses written reach no selected view:
  // they are kept here and handed to it when it is selected (its next sync looks again).
  const noticed = session.collectNotices();
  try {
    const view = await SelectedMailbox.open(session.store, cmd.mailbox, readOnly);
    await writeSelectResponses(session, cmd, view, readOnly);
    // Changes of this mailbox the snapshot already holds need no second look.
    session.select(view, noticed.notices.filter((n) => n.mailboxId !== view.id || n.highestModseq > view.highestModseq));
  } finally {
    noticed.stop();
  }
  return ok(`${cmd.name === 'SELECT' ? 'Select' : 'Examine'} completed.`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

async function writeSelectResponses(session: CommandContext, cmd: CommandOf<'SELECT' | 'EXAMINE'>, view: SelectedMailbox, readOnly: boolean): Promise<void> {
  const w = (line: string) => session.respond(line + '\r\n');
  // RFC 9051 §6.3.2 and appendix E: no RECENT response and no UNSEEN response code in IMAP4rev2.
  const rev2 = session.isEnabled('IMAP4rev2');
  if (rev2) view.hideRecent();
  w(`* FLAGS (${view.flagList()})`);
  w(`* OK [PERMANENTFLAGS (${view.permanentFlagList()})] ${readOnly ? 'Read-only mailbox.' : 'Flags permitted.'}`);
  w(`* ${view.count} EXISTS`);
  if (!rev2) w(`* ${view.recentCount} RECENT`);
  const firstUnseen = view.firstUnseenAtOpen;
  if (firstUnseen > 0 && !rev2) w(`* OK [UNSEEN ${firstUnseen}] First unseen.`);
  w(`* OK [UIDVALIDITY ${view.uidValidity}] UIDs valid`);
  // UIDNEXT and the modseq tracking are the mailbox row's, read with the view in one transaction:
  // the responses describe one state of the mailbox.
  w(`* OK [UIDNEXT ${view.uidNext}] Predicted next UID`);
  // A CONDSTORE session turns the mailbox's modseq tracking on; until some session has, Dovecot
  // leaves HIGHESTMODSEQ out (checked on Dovecot 2.3.19; index-storage's mailbox_enable).
  const condstore = session.isEnabled('CONDSTORE');
  if (condstore) await session.store.enableModseqTracking(view.id);
  if (condstore || view.modseqTrackingAtOpen) w(`* OK [HIGHESTMODSEQ ${view.highestModseq}] Highest`);
  // RFC 8474 §4.2.
  w(`* OK [MAILBOXID (${mailboxObjectId(view)})] Ok`);
  // RFC 7162 §3.2.5.1: what changed since the client's last visit, after the usual responses.
  if (cmd.qresync) session.respond(...(await qresyncSelectLines(session.store, view, cmd.qresync)));
}

export const SELECT: CommandHandler<'SELECT'> = { states: AUTHENTICATED, run: (session, _tag, cmd) => select(session, cmd) };
export const EXAMINE: CommandHandler<'EXAMINE'> = { states: AUTHENTICATED, run: (session, _tag, cmd) => select(session, cmd) };

export const CHECK: CommandHandler<'CHECK'> = {
  states: SELECTED,
  async run() {
    // Every change is committed durably when it is made; CHECK only announces pending updates.
    return ok('Check completed.');
  },
};

export const CLOSE: CommandHandler<'CLOSE'> = {
  states: SELECTED,
  async run(session) {
    const view = session.selected!;
    if (!view.readOnly) {
      // RFC 3501 §6.4.2: expunge silently (no EXPUNGE responses); take in others' flags first.
      await view.sync({ allowExpunge: true, condstore: false });
      const uids = view.deletedUids();
      if (uids.length > 0) session.stats.expunged += (await session.store.expunge(view.id, uids)).length;
    }
    session.unselect();
    return ok('Close completed.');
  },
};

export const UNSELECT: CommandHandler<'UNSELECT'> = {
  states: SELECTED,
  async run(session) {
    session.unselect();
    return ok('Unselect completed.');
  },
};

export const EXPUNGE: CommandHandler<'EXPUNGE'> = {
  states: SELECTED,
  async run(session, _tag, cmd) {
    const view = session.selected!;
    if (view.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
    // Announce what others did first, so the sequence numbers below are the client's.
    await session.flushUpdates(true, cmd);
    const candidates = cmd.uid ? new Set(view.resolve(cmd.set, true).map((m) => m.uid)) : undefined;
    const uids = view.deletedUids(candidates);
    if (uids.length > 0) {
      const expunged = await session.store.expunge(view.id, uids);
      session.stats.expunged += expunged.length;
      session.respond(...view.expungeOwn(expunged, session.isEnabled('QRESYNC')));
    }
    return ok('Expunge completed.');
  },
};
