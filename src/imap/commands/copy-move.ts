// COPY / UID COPY (RFC 3501 §6.4.7, RFC 4315 COPYUID) and MOVE / UID MOVE (RFC 6851: COPYUID in an
// untagged OK, then EXPUNGE lines, then the tagged OK).
import { formatNumberSet } from '../protocol/index.js';
import type { CommandContext } from './context.js';
import { resolveMessageSet } from './message-set.js';
import { badSyntax, no, ok, SELECTED, type CommandHandler, type CommandOf, type CommandResult } from './types.js';

async function copyOrMove(session: CommandContext, cmd: CommandOf<'COPY' | 'MOVE'>): Promise<CommandResult> {
  const view = session.selected!;
  const resolved = resolveMessageSet(session, cmd.set, cmd.uid);
  if (!resolved.ok) return badSyntax(resolved.error);
  const isMove = cmd.name === 'MOVE';
  if (isMove && view.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
  const uids = resolved.messages.filter((m) => !view.isExpungePending(m.uid)).map((m) => m.uid);
  const done = isMove ? 'Move completed.' : 'Copy completed.';
  if (uids.length === 0) {
    // Dovecot: an empty set is fine, but the target must exist.
    await session.store.status(cmd.mailbox);
    return ok(isMove ? 'No messages found.' : 'No messages found.');
  }
  const result = isMove ? await session.store.move(view.id, uids, cmd.mailbox) : await session.store.copy(view.id, uids, cmd.mailbox);
  const code = `COPYUID ${result.uidValidity} ${formatNumberSet(result.sourceUids)} ${formatNumberSet(result.destUids)}`;
  if (!isMove) return ok(done, code);
  session.respond(`* OK [${code}] Moved UIDs.\r\n`);
  session.respond(...view.expungeOwn(result.sourceUids, session.isEnabled('QRESYNC')));
  return ok(done);
}

export const COPY: CommandHandler<'COPY'> = { states: SELECTED, run: (session, _tag, cmd) => copyOrMove(session, cmd) };
export const MOVE: CommandHandler<'MOVE'> = { states: SELECTED, run: (session, _tag, cmd) => copyOrMove(session, cmd) };
