// Entry points of the storage layer. Protocol layers and Lua bindings code against the contract in
// types.ts and obtain stores here; the backend is chosen by the scheme of `mail_location`
// (location.ts, backends.ts) and never named above this folder.
import { parseMailLocation } from './location.js';
import { openBridgedSyncStore } from './sync-bridge/client.js';
import type { BackupResult, MigrationReport } from './backend.js';
import type { ServerDb, ServerDbOptions, ServerDbPlace, SyncUserStore, UserStore, UserStoreOptions } from './types.js';

export * from './types.js';
export type { BackupResult, MigrationReport } from './backend.js';
export { parseMailLocation } from './location.js';
export { isDovecotInternalEntry } from './metadata-entries.js';
export { normalizeMailboxName, validateMailboxName, SPECIAL_USE_ATTRIBUTES, INBOX } from './mailbox-names.js';
export { channelName as changeChannelName } from './change-bus.js';
export type { ChangeFeed } from './change-feed.js';
export { actorView } from './actor-view.js';
export { copyUserStore, type CopyProgress, type CopyStoreResult } from './copy-store.js';
export { openBridgedSyncStore, DEFAULT_BRIDGE_WAIT_LIMIT_MS, type BridgeOptions } from './sync-bridge/client.js';

/**
 * Opens (creating and migrating if needed) one user's store for the main thread. Options are plain
 * data, so a worker thread can open its own connection to the same store (openSyncUserStore).
 */
export function openUserStore(opts: UserStoreOptions): UserStore {
  return parseMailLocation(opts.location).backend.openUserStore(opts);
}

/**
 * The same store for a Lua worker thread, where every storage call is synchronous (as in Dovecot).
 * A backend that only answers asynchronously serves it through the blocking bridge
 * (sync-bridge/client.ts). `ROOST_SYNC_BRIDGE=<scheme>[,<scheme>]` sends those schemes' sync stores
 * through the bridge even when the backend serves them natively: to test and measure the bridge
 * over SQLite.
 */
export function openSyncUserStore(opts: UserStoreOptions): SyncUserStore {
  const { backend } = parseMailLocation(opts.location);
  if (bridgeForced(backend.scheme)) return openBridgedSyncStore(opts);
  return backend.openSyncUserStore(opts);
}

function bridgeForced(scheme: string): boolean {
  const forced = process.env.ROOST_SYNC_BRIDGE;
  return forced !== undefined && forced.split(',').some((s) => s.trim() === scheme);
}

/** Equal exactly when two option sets open the same store: the key of a per-thread store cache. */
export function userStoreKey(opts: UserStoreOptions): string {
  const { backend } = parseMailLocation(opts.location);
  return `${backend.scheme}:${backend.storeIdentity(opts)}`;
}

/** `roost migrate`: brings a user's existing store up to date; null when the user has none yet. */
export function migrateUserStore(opts: UserStoreOptions): Promise<MigrationReport | null> {
  return parseMailLocation(opts.location).backend.migrateUserStore(opts);
}

/** `roost backup`: a consistent copy of the user's store into the folder `dest`. */
export function backupUserStore(opts: UserStoreOptions, dest: string): BackupResult {
  return parseMailLocation(opts.location).backend.backupUserStore(opts, dest);
}

/** `roost restore`: replaces the user's store with the backup in folder `src`. */
export function restoreUserStore(src: string, opts: UserStoreOptions): Promise<BackupResult> {
  return parseMailLocation(opts.location).backend.restoreUserStore(src, opts);
}

/**
 * Opens (creating and migrating if needed) the built-in user database of the backend that the
 * global `mail_location` names: `<data_dir>/roost.db` for SQLite, the mail's own database for a
 * backend whose mail is shared by every node (so a `roost user add` is seen everywhere at once).
 */
export function openServerDb(place: ServerDbPlace, opts?: ServerDbOptions): ServerDb {
  const { backend, rest } = parseMailLocation(place.mailLocation);
  return backend.openServerDb({ rest, dataDir: place.dataDir }, opts);
}

/** `roost migrate`: brings the server database (where openServerDb finds it) up to date. */
export function migrateServerDb(place: ServerDbPlace): Promise<MigrationReport> {
  const { backend, rest } = parseMailLocation(place.mailLocation);
  return backend.migrateServerDb({ rest, dataDir: place.dataDir });
}
