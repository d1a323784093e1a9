// Runs a CLI verb as a mail user (like doveadm -u USER): userdb lookup, a mail_user session with
// service `doveadm` (so mail-lua hooks run as in Dovecot), then the verb with the user's store.
import { MailUserInitError } from '../../mail-user/hooks.js';
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';
import { UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

export async function withMailUser<T>(env: CliEnv, username: string, fn: (user: MailUser) => Promise<T> | T): Promise<T> {
  const ctx = await env.mailContext();
  const r = await ctx.auth.lookupUser(username, 'doveadm');
  if (!r.found) {
    if (r.reason === 'tempfail') throw new UsageError(`User lookup failed: ${username}: Internal error`, 75);
    throw new UsageError(`User doesn't exist: ${username}`, 67);
  }
  let user: MailUser;
  try {
    user = await ctx.mailUsers.createUser({ username: r.user, service: 'doveadm', userdbFields: r.fields });
  } catch (err) {
    // doveadm: `Error: <error>`, exit 75 (spec §5.2).
    if (err instanceof MailUserInitError) throw new UsageError(`Error: ${err.message}`, 75);
    throw err;
  }
  try {
    return await fn(user);
  } finally {
    await ctx.mailUsers.destroyUser(user);
  }
}
