// Worker side: one open UserStore per user database in this worker thread, shared by every Lua
// state of that user here and closed when the last of them closes (DESIGN.md decision 3: storage
// calls from Lua are synchronous, on the worker's own SQLite connection).
import { openUserStore } from '../../storage/index.js';
import type { UserStore, UserStoreOptions } from '../../storage/types.js';

interface Entry {
  store: UserStore;
  refs: number;
}

const open = new Map<string, Entry>();

export function acquireStore(opts: UserStoreOptions): UserStore {
  let e = open.get(opts.dbPath);
  if (!e) {
    e = { store: openUserStore(opts), refs: 0 };
    open.set(opts.dbPath, e);
  }
  e.refs++;
  return e.store;
}

export function releaseStore(dbPath: string): void {
  const e = open.get(dbPath);
  if (!e) return;
  if (--e.refs <= 0) {
    open.delete(dbPath);
    e.store.close();
  }
}

/** Number of stores open in this thread (tests). */
export function openStoreCount(): number {
  return open.size;
}
