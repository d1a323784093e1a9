// `roost migrate`: applies pending schema migrations to the server database and every user's store.
import { existsSync } from 'node:fs';
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
      const path = user.storeOptions().dbPath;
      if (!existsSync(path)) return;
      const done = migrateUserStore(path);
      env.io.out(`${path}: ${done.length ? `applied ${done.join(', ')}` : 'up to date'}\n`);
    });
  }
  return 0;
}
