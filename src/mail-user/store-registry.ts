// One open UserStore per user in this thread, shared by that user's sessions and released when the
// last one ends. better-sqlite3 connections are synchronous, so sharing one per thread is both
// cheaper and simpler than one per session.
import type { UserStore, UserStoreOptions } from '../storage/types.js';

export type UserStoreOpener = (opts: UserStoreOptions) => UserStore;

interface Entry {
  store: UserStore;
  refs: number;
}

export class UserStoreRegistry {
  private open = new Map<string, Entry>();

  constructor(private readonly opener: UserStoreOpener) {}

  acquire(opts: UserStoreOptions): UserStore {
    const key = opts.dbPath;
    let e = this.open.get(key);
    if (!e) {
      e = { store: this.opener(opts), refs: 0 };
      this.open.set(key, e);
    }
    e.refs++;
    return e.store;
  }

  release(store: UserStore): void {
    for (const [key, e] of this.open) {
      if (e.store !== store) continue;
      if (--e.refs <= 0) {
        this.open.delete(key);
        e.store.close();
      }
      return;
    }
  }

  /** Closes every store (server shutdown). */
  closeAll(): void {
    for (const e of this.open.values()) e.store.close();
    this.open.clear();
  }

  get openCount(): number {
    return this.open.size;
  }
}
