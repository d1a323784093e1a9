// `roost backup -u USER DEST`, `roost restore -u USER SRC`; `-A` for every user (DEST/<user>).
// A backup is a consistent snapshot taken while the server runs and delivers (the storage backend's backupUserStore).
import { join } from 'node:path';
import { adminHoldRequest, adminSocketPath, answers, type HeldReply } from '../../admin/socket.js';
import { backupUserStore, restoreUserStore, type BackupResult } from '../../storage/index.js';
import { optionValue, parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';
import { withMailUser } from './user-session.js';

type Direction = 'backup' | 'restore';

async function usersOf(env: CliEnv, verb: Direction, argv: string[]): Promise<{ users: string[]; all: boolean; dir: string }> {
  const args = parseArgs(argv, [
    { names: ['u', 'user'], value: true },
    { names: ['A', 'all'], value: false },
  ]);
  const usage = `usage: roost ${verb} -u USER ${verb === 'backup' ? 'DEST' : 'SRC'} | roost ${verb} -A ${verb === 'backup' ? 'DEST' : 'SRC'}`;
  const user = optionValue(args, 'u');
  const all = optionValue(args, 'A') === 'yes';
  if (args.positional.length !== 1 || (!user && !all) || (user && all)) throw new UsageError(usage);
  const dir = args.positional[0]!;
  if (user) return { users: [user], all, dir };
  const users: string[] = [];
  for await (const u of env.context().auth.iterateUsers()) users.push(u);
  return { users, all, dir };
}

function describe(verb: Direction, user: string, r: BackupResult): string {
  const done = verb === 'backup' ? 'Backed up' : 'Restored';
  return `${done} ${user}: ${r.messages} message(s), ${r.bodyFiles} body file(s)\n`;
}

export async function runBackup(env: CliEnv, argv: string[]): Promise<number> {
  const { users, all, dir } = await usersOf(env, 'backup', argv);
  for (const name of users) {
    const dest = all ? join(dir, name) : dir;
    const r = await withMailUser(env, name, (user) => backupUserStore(user.storeOptions(), dest));
    env.io.out(describe('backup', name, r));
  }
  return 0;
}

/**
 * While a server runs, a restore goes through its admin socket first (as dsync locks a user): the
 * server ends the user's sessions, refuses new logins and deliveries for that user with a
 * temporary failure, and keeps it so until this process closes the connection (or dies). No
 * session sees a mix of the old and the restored store, and no acknowledged delivery lands in the
 * old store after it was copied over.
 */
export async function lockOnServer(env: CliEnv, name: string): Promise<HeldReply | null> {
  const path = adminSocketPath(env.settings.base_dir);
  if (!(await answers(path))) return null;
  return adminHoldRequest(path, { cmd: 'restore-lock', args: [name] });
}

export async function runRestore(env: CliEnv, argv: string[]): Promise<number> {
  const { users, all, dir } = await usersOf(env, 'restore', argv);
  for (const name of users) {
    const src = all ? join(dir, name) : dir;
    const held = await lockOnServer(env, name);
    try {
      const kicked = (held?.result as { kicked?: number } | undefined)?.kicked ?? 0;
      if (kicked > 0) env.io.out(`${name}: ended ${kicked} open session(s) for the restore\n`);
      const r = await withMailUser(env, name, (user) => restoreUserStore(src, user.storeOptions()));
      env.io.out(describe('restore', name, r));
    } finally {
      await held?.release();
    }
  }
  return 0;
}
