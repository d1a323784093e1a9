// What a storage backend provides (one folder under src/storage/ each; backends.ts lists them).
// Everything above src/storage reaches a backend only through storage/index.ts, chosen by the
// scheme of `mail_location`.
import type { ServerDb, ServerDbOptions, SyncUserStore, UserStore, UserStoreOptions } from './types.js';

export interface BackupResult {
  messages: number;
  bodyFiles: number;
}

/** What a migration run reports: where it looked, and the versions it applied (none: up to date). */
export interface MigrationReport {
  where: string;
  applied: number[];
}

/** Where the server database of a backend lives: the global `mail_location`'s rest, and data_dir. */
export interface ServerDbSite {
  rest: string;
  dataDir: string;
}

export interface StorageBackend {
  /** The `mail_location` scheme, e.g. `sqlite` for `sqlite:~/mail.db`. */
  readonly scheme: string;
  /** A working location, for messages (`sqlite:~/mail.db`). */
  readonly example: string;
  /** Why the part after `scheme:` is not a location of this backend, or undefined when it is. */
  checkLocation(rest: string): string | undefined;
  /** Opens (creating and migrating if needed) a user's store for the main thread. */
  openUserStore(opts: UserStoreOptions): UserStore;
  /** The same store for a Lua worker thread: every call synchronous. */
  openSyncUserStore(opts: UserStoreOptions): SyncUserStore;
  /** Two option sets name the same store exactly when their identities are equal (per-thread caches). */
  storeIdentity(opts: UserStoreOptions): string;
  /**
   * `roost migrate`: brings an existing store up to date. Returns where it lives (for the report)
   * and the versions applied, or null when the user has no store yet. Stores that share one
   * schema report the same `where` (the command prints each once).
   */
  migrateUserStore(opts: UserStoreOptions): Promise<MigrationReport | null>;
  /**
   * The built-in user database when the global `mail_location` names this backend: opened (and
   * migrated, if need be) for the `roost` passdb/userdb and `roost user ...`. A backend whose
   * mail lives in a shared database keeps the users there too (every node sees them at once);
   * SQLite's is `<data_dir>/roost.db`.
   */
  openServerDb(site: ServerDbSite, opts?: ServerDbOptions): ServerDb;
  /** `roost migrate`: brings the server database up to date. */
  migrateServerDb(site: ServerDbSite): Promise<MigrationReport>;
  /** `roost backup`: a consistent copy of the store into the folder `dest`. */
  backupUserStore(opts: UserStoreOptions, dest: string): BackupResult;
  /** `roost restore`: replaces the store with the backup in folder `src`. */
  restoreUserStore(src: string, opts: UserStoreOptions): Promise<BackupResult>;
}
