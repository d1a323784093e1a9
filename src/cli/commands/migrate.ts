// `roost migrate`: applies pending schema migrations to the server database and every user's store.
// Stores that share one database (a database server's backend) report it once.
import { migrateServerDb, migrateUserStore, type MigrationReport } from '../../storage/index.js';
import { serverDbPlace } from '../context.js';
import type { CliEnv } from '../cli-context.js';
import { parseArgs } from '../args.js';
import { withMailUser } from './user-session.js';

export async function runMigrate(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  const reported = new Set<string>();
  const report = (done: MigrationReport) => {
    if (reported.has(done.where) && done.applied.length === 0) return;
    reported.add(done.where);
    env.io.out(`${done.where}: ${done.applied.length ? `applied ${done.applied.join(', ')}` : 'up to date'}\n`);
  };
  // Before the context opens it (opening migrates too, silently).
  report(await migrateServerDb(serverDbPlace(env.settings)));
  for (const u of await env.context().serverDb.listUsers()) {
    await withMailUser(env, u.username, async (user) => {
      const done = await migrateUserStore(user.storeOptions());
      if (done) report(done);
    });
  }
  return 0;
}
