// The pgsql StorageBackend (backends.ts): `mail_location = pgsql:<Dovecot SQL connect string>`.
// One database holds every user's store, so the store's identity is the connect string and the
// user. The Lua workers' synchronous store is this async store on a helper thread behind the
// storage sync bridge (../sync-bridge/); `roost migrate` and the built-in user database are
// operations.ts's; backups are PostgreSQL's (pg_dump covers all mail).
import type { StorageBackend } from '../backend.js';
import { StorageError, type UserStore, type UserStoreOptions } from '../types.js';
import { parsePgsqlConnect } from './connect.js';
import { migratePgsqlServerDb, migratePgsqlUserStore, openPgsqlServerDb, pgsqlConnectOf } from './operations.js';
import { PgsqlUserStore } from './user-store.js';
import { openBridgedSyncStore } from '../sync-bridge/client.js';

/** Why `rest` (the part after `pgsql:`) is not a usable connect string, or undefined when it is. */
export function checkPgsqlLocation(rest: string): string | undefined {
  if (rest.trim() === '') return 'expected a connect string after pgsql:, e.g. pgsql:host=127.0.0.1 dbname=roost user=roost password=...';
  try {
    parsePgsqlConnect(rest);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Opens a user's store on PostgreSQL from the contract's options; set-up runs behind the first call. */
export function openPgsqlUserStore(opts: UserStoreOptions): PgsqlUserStore {
  return new PgsqlUserStore({
    username: opts.username,
    connect: pgsqlConnectOf(opts.location),
    separator: opts.separator,
    settings: opts.settings,
    quota: opts.quota,
  });
}

export const pgsqlBackend: StorageBackend = {
  scheme: 'pgsql',
  example: 'pgsql:host=127.0.0.1 dbname=roost user=roost password=secret',
  checkLocation: checkPgsqlLocation,
  openUserStore: (opts): UserStore => openPgsqlUserStore(opts),
  // (from the bridge's module itself, not storage/index.ts: that one imports this file)
  openSyncUserStore: (opts) => openBridgedSyncStore(opts),
  storeIdentity: (opts) => `${pgsqlConnectOf(opts.location)}\0${opts.username}`,
  migrateUserStore: migratePgsqlUserStore,
  openServerDb: openPgsqlServerDb,
  migrateServerDb: migratePgsqlServerDb,
  backupUserStore() {
    throw new StorageError('PARAMETERS', 'roost backup does not cover pgsql stores: back up the PostgreSQL database with pg_dump (it holds every user\'s mail)');
  },
  restoreUserStore() {
    return Promise.reject(new StorageError('PARAMETERS', 'roost restore does not cover pgsql stores: restore the PostgreSQL database with pg_restore'));
  },
};
