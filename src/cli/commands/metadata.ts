// `roost metadata get|set|unset|list -u USER MAILBOX KEY [VALUE]` (doveadm metadata). MAILBOX ""
// is the server (RFC 5464 server annotations); keys are `/private/...` or `/shared/...`.
import type { UserStore } from '../../storage/index.js';
import { parseArgs, requireOption, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';
import { withMailUser } from './user-session.js';

const USAGE =
  'metadata get -u USER MAILBOX KEY | metadata set -u USER MAILBOX KEY VALUE | metadata unset -u USER MAILBOX KEY | metadata list -u USER MAILBOX [PREFIX]';

function checkKey(key: string): void {
  if (!/^\/(private|shared)(\/|$)/i.test(key)) throw new UsageError(`Invalid metadata key '${key}': must begin with /private or /shared`);
}

export async function runMetadata(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [{ names: ['u', 'user'], value: true }]);
  const [sub, mailbox, key, value, ...extra] = args.positional;
  if (!sub || mailbox === undefined) throw new UsageError(`usage: roost ${USAGE}`);
  const username = requireOption(args, 'u', 'user');
  return withMailUser(env, username, async (user) => {
    const store: UserStore = user.getStore();
    switch (sub) {
      case 'get': {
        if (!key || value !== undefined) throw new UsageError(`usage: roost metadata get -u USER MAILBOX KEY`);
        checkKey(key);
        const [entry] = await store.getMetadata(mailbox, [key]);
        if (!entry) return 0; // doveadm prints nothing for a missing key
        env.io.out(entry.value.toString('utf8') + '\n');
        return 0;
      }
      case 'set':
        if (!key || value === undefined || extra.length) throw new UsageError(`usage: roost metadata set -u USER MAILBOX KEY VALUE`);
        checkKey(key);
        await store.setMetadata(mailbox, key, Buffer.from(value, 'utf8'));
        return 0;
      case 'unset':
        if (!key || value !== undefined) throw new UsageError(`usage: roost metadata unset -u USER MAILBOX KEY`);
        checkKey(key);
        await store.setMetadata(mailbox, key, null);
        return 0;
      case 'list': {
        const prefixes = key ? [key] : ['/private', '/shared'];
        for (const p of prefixes) {
          checkKey(p);
          for (const e of await store.listMetadata(mailbox, p, 'infinity')) env.io.out(`${e.entry}\n`);
        }
        return 0;
      }
      default:
        throw new UsageError(`Unknown metadata command: ${sub}\nusage: roost ${USAGE}`);
    }
  });
}
