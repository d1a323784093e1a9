// What a storage backend provides (one folder under src/storage/ each; backends.ts lists them).
// Everything above src/storage reaches a backend only through storage/index.ts, chosen by the
// scheme of `mail_location`.
import type { SyncUserStore, UserStore, UserStoreOptions } from './types.js';

export interface BackupResult {
  messages: number;
  bodyFiles: number;
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
   * and the versions applied, or null when the user has no store yet.
   */
  migrateUserStore(opts: UserStoreOptions): { where: string; applied: number[] } | null;
  /** `roost backup`: a consistent copy of the store into the folder `dest`. */
  backupUserStore(opts: UserStoreOptions, dest: string): BackupResult;
  /** `roost restore`: replaces the store with the backup in folder `src`. */
  restoreUserStore(src: string, opts: UserStoreOptions): Promise<BackupResult>;
}
