// `roost migrate`: applies pending schema migrations to the server database and every user's store.
import { migrateServerDb, migrateUserStore } from '../../storage/index.js';
import { serverDbPath } from '../context.js';
import type { CliEnv } from '../cli-context.js';
import { parseArgs } from '../args.js';
import { withMailUser } from './user-session.js';

export async function runMigrate(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  const serverPath = serverDbPath(env.settings);
  const applied = migrateServerDb(serverPath);
  env.io.out(`${serverPath}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}\n`);
  for (const u of env.context().serverDb.listUsers()) {
    await withMailUser(env, u.username, (user) => {
      const done = migrateUserStore(user.storeOptions());
      if (!done) return;
      env.io.out(`${done.where}: ${done.applied.length ? `applied ${done.applied.join(', ')}` : 'up to date'}\n`);
    });
  }
  return 0;
}
