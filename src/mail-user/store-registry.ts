// One open store per user in this thread, shared by that user's sessions and deliveries, and kept
// open for a while after the last one ends (idle-stores.ts): cheaper and simpler than one per
// session (a store holds its backend's connection). Keyed by storage's userStoreKey (the same
// store, whatever spelling its options use).
import { userStoreKey } from '../storage/index.js';
import type { SyncUserStore, UserStore, UserStoreOptions } from '../storage/types.js';
import { closeStore, IdleStores } from './idle-stores.js';

/** Opens a user's store; `S` is what it hands out (UserStore, or SyncUserStore for a synchronous opener). */
export type UserStoreOpener<S extends UserStore = SyncUserStore> = (opts: UserStoreOptions) => S;

interface Entry<S> {
  key: string;
  store: S;
  refs: number;
  username: string;
}

export class UserStoreRegistry<S extends UserStore = SyncUserStore> {
  private open = new Map<string, Entry<S>>();
  /** The same entries by store: release() must not walk every open store (thousands of users). */
  private byStore = new Map<S, Entry<S>>();

  constructor(
    private readonly opener: UserStoreOpener<S>,
    readonly idle: IdleStores = new IdleStores(),
  ) {}

  acquire(opts: UserStoreOptions): S {
    const key = userStoreKey(opts);
    let e = this.open.get(key);
    if (!e) {
      // Parked by a registry with the same opener (the service's, kept across reloads).
      let store = this.idle.take(key) as S | undefined;
      if (!store) {
        store = this.opener(opts);
        this.idle.noteOpened();
      }
      e = { key, store, refs: 0, username: opts.username };
      this.open.set(key, e);
      this.byStore.set(store, e);
    }
    e.refs++;
    return e.store;
  }

  release(store: S): void {
    const e = this.byStore.get(store);
    if (!e || --e.refs > 0) return;
    this.open.delete(e.key);
    this.byStore.delete(store);
    this.idle.park(e.key, e.store, e.username);
  }

  /** Closes every store (server shutdown). */
  closeAll(): void {
    for (const e of this.open.values()) closeStore(e.store);
    this.open.clear();
    this.byStore.clear();
    this.idle.closeAll();
  }

  /** Closes the user's stores no one uses (`roost restore` replaces the store underneath). */
  closeIdle(username: string): void {
    this.idle.closeUser(username);
  }

  get openCount(): number {
    return this.open.size;
  }
}
