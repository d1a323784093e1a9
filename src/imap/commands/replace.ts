// REPLACE / UID REPLACE (RFC 8508): the new message is appended (to the selected mailbox or
// another one) and the old one expunged, in one durable step: if the append fails nothing is
// expunged. The client gets `* OK [APPENDUID ...]` (RFC 4315), then the EXPUNGE (or VANISHED with
// QRESYNC) of the old message, then the tagged OK.
import type { AppendInput } from '../../storage/types.js';
import { appendInput, isStaged } from './append.js';
import { resolveMessageSet } from './message-set.js';
import { badSyntax, no, ok, SELECTED, type CommandHandler } from './types.js';

export const REPLACE: CommandHandler<'REPLACE'> = {
  states: SELECTED,
  async run(session, _tag, cmd) {
    try {
      const view = session.selected!;
      const resolved = resolveMessageSet(session, cmd.set, cmd.uid);
      if (!resolved.ok) return badSyntax(resolved.error);
      if (resolved.messages.length !== 1 && !cmd.uid) return badSyntax('REPLACE needs exactly one message');
      const target = resolved.messages[0];
      if (!target || view.isExpungePending(target.uid)) return no('Message to replace does not exist', 'EXPUNGEISSUED');
      // RFC 8508 §3.3: the old message must be removable, or nothing happens.
      if (view.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
      if (cmd.message.body.size === 0) return no("Can't save a zero byte message.");
      const intoSelected = (await view.currentName()) === cmd.mailbox;
      const store = session.store;
      let input: AppendInput | null = null;
      let saved = false;
      try {
        input = await appendInput(cmd.message, intoSelected);
        input.content = await store.stageBody(input.content as Buffer | { path: string; size: number });
        const staged = input;
        const { appended, expunged } = await store.durably((s) => s.replace(view.id, target.uid, cmd.mailbox, staged));
        saved = true;
        if (intoSelected) view.markRecent(appended.uid);
        session.stats.expunged += expunged.length;
        session.respond(`* OK [APPENDUID ${appended.uidValidity} ${appended.uid}] Replacement Message ID\r\n`);
        session.respond(...view.expungeOwn(expunged, session.isEnabled('QRESYNC')));
        return ok('Replace completed.');
      } finally {
        if (!saved && input && isStaged(input.content)) await input.content.discard();
      }
    } finally {
      await cmd.message.body.dispose();
    }
  },
};
