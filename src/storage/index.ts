// Entry points of the storage layer. Protocol layers and Lua bindings code against the types in
// types.ts and obtain stores here.
import { SqliteServerDb, type ServerDbOptions } from './server-db.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { isAbsolute, join } from 'node:path';
import { StorageError, type ServerDb, type UserStore, type UserStoreOptions } from './types.js';

export * from './types.js';
export { migrateServerDb, migrateUserStore, defaultMigrationsDir } from './migrations.js';
export { isDovecotInternalEntry } from './metadata-entries.js';
export { normalizeMailboxName, validateMailboxName, SPECIAL_USE_ATTRIBUTES, INBOX } from './mailbox-names.js';
export { channelName as changeChannelName } from './change-bus.js';
export type { ChangeFeed } from './change-feed.js';
export { actorView } from './actor-view.js';
export type { ServerDbOptions } from './server-db.js';

/**
 * Opens (creating and migrating if needed) one user's store. Options are plain data, so a worker
 * thread can open its own connection to the same file with the same options.
 */
export function openUserStore(opts: UserStoreOptions): UserStore {
  return new SqliteUserStore(opts);
}

/** Opens (creating and migrating if needed) the server database, usually `<data_dir>/roost.db`. */
export function openServerDb(path: string, opts?: ServerDbOptions): ServerDb {
  return new SqliteServerDb(path, opts);
}

/**
 * `mail_location = sqlite:<path>` → the database path: `~/` is the user's home, a relative path is
 * relative to the home too.
 */
export function userDbPath(mailLocation: string, home: string): string {
  const m = /^sqlite:(.+)$/.exec(mailLocation.trim());
  const bad = (why: string) => new StorageError('PARAMETERS', `Invalid mail_location ${JSON.stringify(mailLocation)}: ${why}`);
  if (!m) throw bad('expected sqlite:<path>, e.g. sqlite:~/mail.db');
  const p = m[1]!;
  if (p === '~' || p.endsWith('/')) throw bad('needs a file name, e.g. sqlite:~/mail.db');
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? p : join(home, p);
}
