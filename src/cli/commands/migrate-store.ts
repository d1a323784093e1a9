// `roost migrate-store -u USER --to LOCATION`: moves one user's mail to another `mail_location`
// (another backend, e.g. from sqlite:~/mail.db to pgsql:host=... dbname=..., and back, or another
// place of the same backend), keeping UIDVALIDITY, UIDs, UIDNEXT, flags and keywords, internal
// dates, special-use, subscriptions and metadata (storage/copy-store.ts), like Dovecot's
// `doveadm sync -1 -u USER <location>` followed by a userdb change.
//
// The destination must be empty; an interrupted run is resumed by running it again (the copy
// marks its destination until it is done). While a server runs, the user is held on it for the
// whole move, as for `roost restore`: sessions end, logins and deliveries get a temporary failure,
// so nothing lands in the old store after it was copied.
//
// Afterwards the user's location is switched where Roost reads it: a per-user location is the
// userdb field `mail` (Dovecot's), so for an account of the built-in user database (`roost`
// userdb) the field is set here (removed when LOCATION is the global mail_location). For a user
// from another userdb the command prints what to change. The old store is left as it was.
import { parseMailLocation, openUserStore, userStoreKey, copyUserStore, type UserStore } from '../../storage/index.js';
import { optionValue, parseArgs, requireOption, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';
import { lockOnServer } from './backup.js';
import { withMailUser } from './user-session.js';

const USAGE = 'usage: roost migrate-store -u USER --to LOCATION   (LOCATION: a mail_location, e.g. pgsql:host=... dbname=... or sqlite:~/mail.db)';

/** A location as printed: a connect string's password is not shown. */
export function printableLocation(location: string): string {
  return location.replace(/\bpassword=\S*/g, 'password=***');
}

export async function runMigrateStore(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [
    { names: ['u', 'user'], value: true },
    { names: ['to'], value: true },
  ]);
  if (args.positional.length) throw new UsageError(`Unexpected argument: ${args.positional[0]}\n${USAGE}`);
  const username = requireOption(args, 'u', 'user');
  const to = optionValue(args, 'to')?.trim();
  if (!to) throw new UsageError(`Missing --to LOCATION\n${USAGE}`);
  try {
    parseMailLocation(to);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const held = await lockOnServer(env, username);
  try {
    const kicked = (held?.result as { kicked?: number } | undefined)?.kicked ?? 0;
    if (kicked > 0) env.io.out(`${username}: ended ${kicked} open session(s) for the move\n`);
    const from = await withMailUser(env, username, async (user) => {
      const source = user.storeOptions();
      const dest = { ...source, location: to };
      if (userStoreKey(source) === userStoreKey(dest)) throw new UsageError(`${username}'s mail is already at ${printableLocation(to)}`);
      const src: UserStore = openUserStore(source);
      let dst: UserStore | undefined;
      try {
        dst = openUserStore(dest);
        const r = await copyUserStore(src, dst, {
          source: userStoreKey(source),
          onMailbox: (p) => env.io.out(`${p.mailbox}: ${p.copied} message(s)${p.present ? `, ${p.present} already there` : ''}\n`),
        });
        env.io.out(
          `${r.resumed ? 'Resumed and finished' : 'Copied'} ${username}: ${r.messages} message(s) in ${r.mailboxes} mailbox(es) ` +
            `from ${printableLocation(source.location)} to ${printableLocation(to)}\n`,
        );
      } finally {
        await dst?.close();
        await src.close();
      }
      return source.location;
    });
    await switchLocation(env, username, to);
    env.io.out(`The old store (${printableLocation(from)}) was left as it was: remove it once you no longer need it\n`);
  } finally {
    await held?.release();
  }
  return 0;
}

/** Points the user at the new location: the built-in account's `mail` field, or says what to change. */
async function switchLocation(env: CliEnv, username: string, to: string): Promise<void> {
  const ctx = env.context();
  const builtIn = env.settings.userdb.some((d) => d.driver === 'roost') && (await ctx.serverDb.getUser(username)) !== undefined;
  if (!builtIn) {
    env.io.out(
      `${username} is not an account of the built-in user database: set the userdb field mail=${printableLocation(to)} for ${username} ` +
        `(or mail_location, if every user moves); until then ${username} keeps using the old store\n`,
    );
    return;
  }
  const global = to === env.settings.mail_location.trim();
  await ctx.serverDb.setFields(username, { fields: { mail: global ? null : to } });
  env.io.out(global ? `${username} now uses mail_location (userdb field mail removed)\n` : `${username} now uses ${printableLocation(to)} (userdb field mail)\n`);
}
