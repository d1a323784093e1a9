// The SQLite backend (DESIGN.md decision 2): one database file per user, `mail_location =
// sqlite:<path>` (`~/` and relative paths are under the home), large bodies as files under the
// home, a watched file as the change feed across processes.
import { isAbsolute, join } from 'node:path';
import type { StorageBackend } from '../backend.js';
import type { MailFsync, SyncUserStore, UserStore, UserStoreOptions } from '../types.js';
import { backupUserStore, restoreUserStore } from './backup.js';
import { existsSync } from 'node:fs';
import { migrateServerDb, migrateUserStore } from './migrations.js';
import { SqliteServerDb } from './server-db.js';
import type { SqliteDurability, SqliteUserStoreOptions } from './options.js';
import { SqliteUserStore } from './user-store.js';

export { SqliteUserStore } from './user-store.js';
export type { SqliteUserStoreOptions, SqliteStorageSettings, SqliteDurability } from './options.js';

/** Opens a user's SQLite store with the backend's own options (tests, benches, the backend itself). */
export function openSqliteUserStore(opts: SqliteUserStoreOptions): SqliteUserStore {
  return new SqliteUserStore(opts);
}

function checkLocation(rest: string): string | undefined {
  if (rest === '') return 'needs a file name, e.g. sqlite:~/mail.db';
  if (rest === '~' || rest.endsWith('/')) return 'needs a file name, e.g. sqlite:~/mail.db';
  return undefined;
}

/** `sqlite:<path>` → the database path: `~/` is the user's home, a relative path is relative to the home too. */
export function sqliteDbPath(location: string, home: string): string {
  const p = location.trim().replace(/^sqlite:/, '');
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? p : join(home, p);
}

/** The server database of a SQLite installation: a file beside the data. */
export function sqliteServerDbPath(dataDir: string): string {
  return join(dataDir, 'roost.db');
}

/**
 * mail_fsync → durability: `optimized` syncs before success is reported (the WAL fsync off the
 * event loop), `always` inside every commit, `never` leaves it to the OS.
 */
function durabilityOf(fsync: MailFsync | undefined): SqliteDurability | undefined {
  return fsync === 'always' ? 'full' : fsync === 'never' ? 'normal' : fsync === 'optimized' ? 'async-fsync' : undefined;
}

export function sqliteOptions(opts: UserStoreOptions): SqliteUserStoreOptions {
  const durability = durabilityOf(opts.fsync);
  return {
    username: opts.username,
    home: opts.home,
    dbPath: sqliteDbPath(opts.location, opts.home),
    separator: opts.separator,
    quota: opts.quota,
    settings: { ...opts.settings, ...(durability ? { durability } : {}) },
  };
}

export const sqliteBackend: StorageBackend = {
  scheme: 'sqlite',
  example: 'sqlite:~/mail.db',
  checkLocation,
  openUserStore: (opts): UserStore => new SqliteUserStore(sqliteOptions(opts)),
  openSyncUserStore: (opts): SyncUserStore => new SqliteUserStore(sqliteOptions(opts)),
  storeIdentity: (opts) => sqliteDbPath(opts.location, opts.home),
  async migrateUserStore(opts) {
    const path = sqliteDbPath(opts.location, opts.home);
    if (!existsSync(path)) return null;
    return { where: path, applied: migrateUserStore(path) };
  },
  openServerDb: (site, opts) => new SqliteServerDb(sqliteServerDbPath(site.dataDir), opts),
  async migrateServerDb(site) {
    const path = sqliteServerDbPath(site.dataDir);
    return { where: path, applied: migrateServerDb(path) };
  },
  backupUserStore: (opts, dest) => backupUserStore({ dbPath: sqliteDbPath(opts.location, opts.home), home: opts.home }, dest),
  restoreUserStore: (src, opts) => restoreUserStore(src, { dbPath: sqliteDbPath(opts.location, opts.home), home: opts.home }),
};
