// One open store per user in this thread, shared by that user's sessions and released when the
// last one ends: cheaper and simpler than one per session (a store holds its backend's connection).
// Keyed by storage's userStoreKey (the same store, whatever spelling its options use).
import { userStoreKey } from '../storage/index.js';
import type { SyncUserStore, UserStoreOptions } from '../storage/types.js';

export type UserStoreOpener = (opts: UserStoreOptions) => SyncUserStore;

interface Entry {
  store: SyncUserStore;
  refs: number;
}

export class UserStoreRegistry {
  private open = new Map<string, Entry>();

  constructor(private readonly opener: UserStoreOpener) {}

  acquire(opts: UserStoreOptions): SyncUserStore {
    const key = userStoreKey(opts);
    let e = this.open.get(key);
    if (!e) {
      e = { store: this.opener(opts), refs: 0 };
      this.open.set(key, e);
    }
    e.refs++;
    return e.store;
  }

  release(store: SyncUserStore): void {
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
