// Worker side: one open store per user in this worker thread, shared by every Lua state of that
// user here and closed when the last of them closes (DESIGN.md decision 3: storage calls from Lua
// are synchronous, on the worker's own connection: the contract's sync mode, SyncUserStore).
import { openSyncUserStore, userStoreKey } from '../../storage/index.js';
import type { SyncUserStore, UserStoreOptions } from '../../storage/types.js';

interface Entry {
  store: SyncUserStore;
  refs: number;
}

const open = new Map<string, Entry>();

export function acquireStore(opts: UserStoreOptions): SyncUserStore {
  const key = userStoreKey(opts);
  let e = open.get(key);
  if (!e) {
    e = { store: openSyncUserStore(opts), refs: 0 };
    open.set(key, e);
  }
  e.refs++;
  return e.store;
}

export function releaseStore(opts: UserStoreOptions): void {
  const key = userStoreKey(opts);
  const e = open.get(key);
  if (!e) return;
  if (--e.refs <= 0) {
    open.delete(key);
    e.store.close();
  }
}

/** Number of stores open in this thread (tests). */
export function openStoreCount(): number {
  return open.size;
}
