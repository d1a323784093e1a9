// What the SQLite backend needs beyond the neutral UserStoreOptions: the database file, how long
// a writer waits for another connection's lock, and how commits reach the disk.
import { checkStorageSettings } from '../settings.js';
import { DEFAULT_STORAGE_SETTINGS, StorageError, type QuotaLimits, type StorageSettings } from '../types.js';

/**
 * How a commit reaches the disk (mapped from Dovecot's `mail_fsync` by the backend, see
 * sqliteBackend.open):
 * `async-fsync` (default): commits use synchronous=NORMAL and the store fdatasyncs the WAL itself
 * after each commit: on the calling thread for the synchronous methods (as durable as FULL), in
 * the libuv threadpool inside `durably()` (the event loop stays free; see wal-sync.ts).
 * `full`: SQLite fsyncs the WAL in every commit. Both: acknowledged = durable, even on power loss.
 * `normal`: WAL fsync at checkpoints only (a power loss can drop recent commits; tests, benches).
 */
export type SqliteDurability = 'full' | 'normal' | 'async-fsync';

export interface SqliteStorageSettings extends StorageSettings {
  /** SQLite busy_timeout: how long a writer waits for another thread's transaction (ms). */
  busyTimeoutMs: number;
  durability: SqliteDurability;
}

export const DEFAULT_SQLITE_SETTINGS: Readonly<SqliteStorageSettings> = Object.freeze({
  ...DEFAULT_STORAGE_SETTINGS,
  busyTimeoutMs: 10_000,
  durability: 'async-fsync',
});

/** Everything needed to open a user's SQLite store; plain data so a worker thread can open its own copy. */
export interface SqliteUserStoreOptions {
  username: string;
  /** The user's home directory (already expanded from mail_home); body files live under it. */
  home: string;
  /** Path of the SQLite file (from `mail_location = sqlite:~/mail.db`, `~` = home). Parent dirs are created. */
  dbPath: string;
  /** Hierarchy separator; see UserStoreOptions.separator. */
  separator: string;
  settings?: Partial<SqliteStorageSettings>;
  quota?: QuotaLimits;
  /** Folder holding `user/` and `server/` migrations; default: <package root>/migrations. */
  migrationsDir?: string;
}

export function resolveSettings(partial: Partial<SqliteStorageSettings> | undefined): SqliteStorageSettings {
  const s: SqliteStorageSettings = { ...DEFAULT_SQLITE_SETTINGS, ...partial };
  checkStorageSettings(s, { skip: ['durability'], zeroAllowed: ['busyTimeoutMs'] });
  if (s.durability !== 'full' && s.durability !== 'normal' && s.durability !== 'async-fsync') {
    throw new StorageError('PARAMETERS', `Storage setting durability must be "async-fsync", "full" or "normal", got ${String(s.durability)}`);
  }
  return s;
}
