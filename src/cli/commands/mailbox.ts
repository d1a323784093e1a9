// `roost mailbox list|create|delete|rename|status -u USER`, with doveadm's output formats.
import type { UserStore } from '../../storage/index.js';
import { matchMailboxPattern } from '../../imap/protocol/mailbox-pattern.js';
import type { MailboxStatus } from '../../storage/types.js';
import { optionValue, parseArgs, requireOption, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';
import { withMailUser } from './user-session.js';

const USAGE =
  'mailbox list -u USER [-s] [MASK...] | mailbox create -u USER [-s] NAME... | mailbox delete -u USER [-s] NAME... | ' +
  'mailbox rename -u USER OLD NEW | mailbox status -u USER FIELDS MASK...';

/** doveadm mailbox status fields (`all` expands to the common ones). */
const STATUS_FIELDS = ['messages', 'recent', 'uidnext', 'uidvalidity', 'unseen', 'highestmodseq', 'vsize'] as const;
type StatusField = (typeof STATUS_FIELDS)[number];

export async function runMailbox(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [
    { names: ['u', 'user'], value: true },
    { names: ['s', 'subscribe'], value: false },
  ]);
  const [sub, ...ops] = args.positional;
  if (!sub) throw new UsageError(`usage: roost ${USAGE}`);
  const username = requireOption(args, 'u', 'user');
  const subscribe = optionValue(args, 's') === 'yes';
  return withMailUser(env, username, async (user) => {
    const store: UserStore = user.getStore();
    switch (sub) {
      case 'list': {
        const masks = ops.length ? ops : ['*'];
        for (const mb of await store.listMailboxes()) {
          // -s: subscribed mailboxes only (doveadm mailbox list -s).
          if (subscribe && !mb.subscribed) continue;
          if (masks.some((m) => matchMailboxPattern(m, mb.name, store.separator))) env.io.out(`${mb.name}\n`);
        }
        return 0;
      }
      case 'create':
        if (!ops.length) throw new UsageError(`Missing mailbox name\nusage: roost ${USAGE}`);
        for (const name of ops) {
          await store.createMailbox(name);
          if (subscribe) await store.setSubscribed(name, true);
        }
        return 0;
      case 'delete':
        if (!ops.length) throw new UsageError(`Missing mailbox name\nusage: roost ${USAGE}`);
        for (const name of ops) {
          await store.deleteMailbox(name);
          if (subscribe) await store.setSubscribed(name, false);
        }
        return 0;
      case 'rename':
        if (ops.length !== 2) throw new UsageError(`usage: roost mailbox rename -u USER OLD NEW`);
        await store.renameMailbox(ops[0], ops[1]);
        return 0;
      case 'status': {
        const [fieldsArg, ...masks] = ops;
        if (!fieldsArg || !masks.length) throw new UsageError(`usage: roost mailbox status -u USER FIELDS MASK...`);
        const fields = parseStatusFields(fieldsArg);
        const mailboxes = await store.listMailboxes();
        for (const mb of mailboxes) {
          if (mb.noselect || !masks.some((m) => matchMailboxPattern(m, mb.name, store.separator))) continue;
          const st = await store.status(mb.name);
          env.io.out(`${mb.name} ${fields.map((f) => `${f}=${statusValue(st, f)}`).join(' ')}\n`);
        }
        // A name without wildcards that matches nothing is an error, as in doveadm (exit 68,
        // DOVEADM_EX_NOTFOUND); a pattern that matches nothing is an empty answer.
        let status = 0;
        for (const name of masks.filter((m) => !/[*%]/.test(m))) {
          if (mailboxes.some((mb) => !mb.noselect && matchMailboxPattern(name, mb.name, store.separator))) continue;
          env.io.err(`roost: Error: Mailbox ${name}: Failed to lookup mailbox status: Mailbox doesn't exist: ${name}\n`);
          status = 68;
        }
        return status;
      }
      default:
        throw new UsageError(`Unknown mailbox command: ${sub}\nusage: roost ${USAGE}`);
    }
  });
}

function parseStatusFields(arg: string): StatusField[] {
  const out: StatusField[] = [];
  for (const f of arg.split(/\s+/).filter(Boolean)) {
    if (f === 'all') out.push(...STATUS_FIELDS);
    else if ((STATUS_FIELDS as readonly string[]).includes(f)) out.push(f as StatusField);
    else throw new UsageError(`Unknown status field: ${f}`);
  }
  return out;
}

function statusValue(st: MailboxStatus, f: StatusField): number {
  switch (f) {
    case 'messages':
      return st.messages;
    case 'recent':
      return st.recent;
    case 'uidnext':
      return st.uidNext;
    case 'uidvalidity':
      return st.uidValidity;
    case 'unseen':
      return st.unseen;
    case 'highestmodseq':
      return st.highestModseq;
    case 'vsize':
      return st.size;
  }
}
