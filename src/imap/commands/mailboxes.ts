// Mailbox management in the authenticated state: CREATE (RFC 3501 §6.3.3, RFC 6154 USE), DELETE
// (§6.3.4), RENAME (§6.3.5), SUBSCRIBE/UNSUBSCRIBE (§6.3.6-7), NAMESPACE (RFC 2342), STATUS (§6.3.10,
// RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE).
import { utf8MailboxNames } from './imap4rev2.js';
import type { MailboxInfo, MailboxStatus } from '../../storage/types.js';
import { encodeMailboxName, formatAstring, formatMailbox, type StatusItem } from '../protocol/index.js';
import type { CommandContext } from './context.js';
import { AUTHENTICATED, no, ok, type CommandHandler, type CommandResult } from './types.js';

export const CREATE: CommandHandler<'CREATE'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const sep = session.store.separator;
    // RFC 3501 §6.3.3: a trailing separator only says the client means to create children.
    const name = cmd.mailbox.endsWith(sep) ? cmd.mailbox.slice(0, -sep.length) : cmd.mailbox;
    if (name === 'INBOX') return no('Mailbox already exists', 'ALREADYEXISTS');
    const created = await session.store.createMailbox(name, cmd.specialUse.length > 0 ? { specialUse: cmd.specialUse } : undefined);
    // RFC 8474 §4.1: the new mailbox's id in the tagged OK.
    return ok('Create completed.', `MAILBOXID (${mailboxObjectId(created)})`);
  },
};

export const DELETE: CommandHandler<'DELETE'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    // Dovecot (cmd-delete.c): deleting the selected mailbox closes it first, deletes it, replies
    // OK and then disconnects, since the client's view of the mailbox is gone.
    const deletingSelected = session.selected !== null && (await session.selected.currentName()) === cmd.mailbox;
    if (deletingSelected) session.unselect();
    let result: CommandResult;
    try {
      await session.store.deleteMailbox(cmd.mailbox);
      result = ok('Delete completed.');
    } catch (err) {
      if (!deletingSelected) throw err;
      result = session.errorResult(err, cmd);
    }
    return deletingSelected ? { ...result, byeAfterReply: 'Selected mailbox was deleted, have to disconnect.' } : result;
  },
};

export const RENAME: CommandHandler<'RENAME'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    await session.store.renameMailbox(cmd.from, cmd.to);
    return ok('Rename completed.');
  },
};

export const SUBSCRIBE: CommandHandler<'SUBSCRIBE'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    await session.store.setSubscribed(cmd.mailbox, true);
    return ok('Subscribe completed.');
  },
};

export const UNSUBSCRIBE: CommandHandler<'UNSUBSCRIBE'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    await session.store.setSubscribed(cmd.mailbox, false);
    return ok('Unsubscribe completed.');
  },
};

export const NAMESPACE: CommandHandler<'NAMESPACE'> = {
  states: AUTHENTICATED,
  async run(session) {
    // One private namespace with an empty prefix (the inbox namespace), as Roost's store has.
    session.respond(`* NAMESPACE (("" ${formatMailbox(session.store.separator)})) NIL NIL\r\n`);
    return ok('Namespace completed.');
  },
};

export const STATUS: CommandHandler<'STATUS'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const status = await session.store.status(cmd.mailbox);
    if (cmd.items.includes('HIGHESTMODSEQ')) await session.enableExtension('CONDSTORE'); // RFC 7162 §3.1
    session.respond(await statusLine(session, cmd.mailbox, status, cmd.items));
    // RFC 3501 §6.3.10 discourages STATUS on the selected mailbox; Dovecot says so in a code.
    if (session.selected && (await session.selected.currentName()) === status.name) return ok('Status on selected mailbox completed.', 'CLIENTBUG');
    return ok('Status completed.');
  },
};

/**
 * RFC 8474 MAILBOXID: stable across RENAME, never given to another mailbox of the user (the row id
 * alone could be reused after a DELETE; with its UIDVALIDITY it is not).
 */
export function mailboxObjectId(info: Pick<MailboxInfo, 'id' | 'uidValidity'>): string {
  return `F${info.uidValidity.toString(16)}-${info.id}`;
}

/** `* STATUS name (ITEM n ...)` in the order asked. */
export async function statusLine(session: CommandContext, name: string, s: MailboxStatus, items: readonly StatusItem[]): Promise<string> {
  // The selected mailbox's counts are this session's view (its \Recent, its pending changes).
  const view = session.selected && (await session.selected.currentName()) === s.name ? session.selected : null;
  // Dovecot writes the items in one fixed order, whatever order they were asked in.
  const ordered = STATUS_ORDER.filter((i) => items.includes(i));
  // RFC 8474 MAILBOXID needs the mailbox row.
  const info = ordered.includes('MAILBOXID') ? await session.store.getMailbox(s.name) : undefined;
  const values = ordered.map((item) => {
    switch (item) {
      case 'MESSAGES':
        return `MESSAGES ${s.messages}`;
      case 'RECENT':
        return `RECENT ${view ? view.recentCount : s.recent}`;
      case 'UIDNEXT':
        return `UIDNEXT ${s.uidNext}`;
      case 'UIDVALIDITY':
        return `UIDVALIDITY ${s.uidValidity}`;
      case 'UNSEEN':
        return `UNSEEN ${s.unseen}`;
      case 'HIGHESTMODSEQ':
        return `HIGHESTMODSEQ ${s.highestModseq}`;
      case 'SIZE':
        return `SIZE ${s.size}`;
      // RFC 7889 §3.2: the same limit for every mailbox, mail_max_message_size (0: none, NIL).
      case 'MAILBOXID':
        return `MAILBOXID (${info ? mailboxObjectId(info) : 'NIL'})`;
      case 'APPENDLIMIT':
        return `APPENDLIMIT ${session.settings.mail_max_message_size > 0 ? session.settings.mail_max_message_size : 'NIL'}`;
    }
  });
  return `* STATUS ${mailboxAstring(name, utf8MailboxNames(session))} (${values.join(' ')})\r\n`;
}

const STATUS_ORDER: readonly StatusItem[] = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'APPENDLIMIT', 'MAILBOXID'];

/**
 * A mailbox name in a response: mUTF-7, an atom when possible, else quoted (Dovecot's
 * imap_append_astring). After ENABLE UTF8=ACCEPT (RFC 6855 §3) the name goes as UTF-8 instead, in
 * a quoted string (as a binary string: one char per byte, as responses are written).
 */
export function mailboxAstring(name: string, utf8 = false): string {
  if (!utf8) return formatAstring(encodeMailboxName(name));
  if (/^[\x00-\x7f]*$/.test(name)) return formatAstring(name);
  return `"${Buffer.from(name, 'utf8').toString('latin1').replace(/[\\"]/g, (c) => '\\' + c)}"`;
}
