// QUOTA (RFC 9208 §4.2-4.4, as Dovecot 2.3's imap_quota plugin answers): one quota root for the
// whole user, named as in `plugin { quota = count:User quota }` ("User quota" by default), with the
// STORAGE (KiB) and MESSAGE resources of the `*` quota_rule (userdb field or plugin setting) that
// storage enforces. A resource without a limit is left out. SETQUOTA is refused as Dovecot does
// for a normal user.
import { utf8MailboxNames } from './imap4rev2.js';
import { quotaLimitsFromRule } from '../../mail-user/quota-rule.js';
import { formatAstring } from '../protocol/index.js';
import type { CommandContext } from './context.js';
import { mailboxAstring } from './mailboxes.js';
import { AUTHENTICATED, no, ok, type CommandHandler } from './types.js';

const DEFAULT_ROOT = 'User quota';

function rootName(session: CommandContext): string {
  // `quota = <backend>[:<name>[:<args>]]`; Dovecot names the root by the part after the backend.
  const setting = session.user?.pluginGetenv('quota') ?? '';
  const name = setting.split(':')[1]?.trim();
  return name ? name : DEFAULT_ROOT;
}

async function quotaLine(session: CommandContext, root: string): Promise<string> {
  const limits = quotaLimitsFromRule(session.user?.pluginGetenv('quota_rule') || undefined) ?? {};
  const usage = await session.store.quotaUsage();
  const parts: string[] = [];
  if (limits.storageBytes) parts.push(`STORAGE ${Math.floor(usage.storageBytes / 1024)} ${Math.floor(limits.storageBytes / 1024)}`);
  if (limits.messages) parts.push(`MESSAGE ${usage.messages} ${limits.messages}`);
  return `* QUOTA ${formatAstring(root)} (${parts.join(' ')})\r\n`;
}

export const GETQUOTAROOT: CommandHandler<'GETQUOTAROOT'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const root = rootName(session);
    // Dovecot names the root even for a mailbox that does not exist.
    session.respond(`* QUOTAROOT ${mailboxAstring(cmd.mailbox, utf8MailboxNames(session))} ${formatAstring(root)}\r\n`, await quotaLine(session, root));
    return ok('Getquotaroot completed.');
  },
};

export const GETQUOTA: CommandHandler<'GETQUOTA'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const root = rootName(session);
    if (cmd.root !== root) return no("Quota root doesn't exist");
    session.respond(await quotaLine(session, root));
    return ok('Getquota completed.');
  },
};

export const SETQUOTA: CommandHandler<'SETQUOTA'> = {
  states: AUTHENTICATED,
  async run() {
    return no('Quota can be changed only by admin');
  },
};
