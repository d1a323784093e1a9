// Stores kept open after their last session or delivery ended (`mail_store_idle_time`,
// `mail_store_idle_max`). Opening a user's SQLite store (connection, PRAGMAs, schema check,
// statement preparation, change feed) costs more than a whole LOGIN + SELECT + LOGOUT otherwise
// does, and a client that logs in every few seconds, or an MTA delivering a burst, would pay it
// each time. An idle store is an ordinary open connection: a session that takes it over reads the
// database as any open connection does (WAL snapshots per transaction), so changes made meanwhile
// by another process (`roost deliver`, another server) are seen.
// Dovecot has no exact equivalent: its imap process per login keeps nothing, and the index files
// it maps are cached by the kernel instead.
import { Logger } from '../log/logger.js';
import type { UserStore } from '../storage/types.js';

const log = new Logger('mail-user: ');

/** Closes a store; an asynchronous close that fails is logged (nobody waits for it). */
export function closeStore(store: UserStore): void {
  const closing = store.close();
  if (closing instanceof Promise) closing.catch((err: unknown) => log.error(`Closing the store of ${store.username} failed: ${err instanceof Error ? err.message : String(err)}`));
}

export interface IdleStoreLimits {
  /** Milliseconds an unused store stays open; 0 closes it when its last user ends. */
  idleMs: number;
  /** Stores kept open unused at once; the least recently used beyond that are closed. */
  maxIdle: number;
}

export const DEFAULT_IDLE_STORE_LIMITS: IdleStoreLimits = { idleMs: 60_000, maxIdle: 256 };

/** Timers for the idle time: tests pass one they advance themselves. */
export interface IdleClock {
  /** Calls `fn` after `ms` unless cancelled; must not keep the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

export const realIdleClock: IdleClock = {
  schedule(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref(); // an idle store never keeps the process alive
    return () => clearTimeout(t);
  },
};

interface Idle {
  store: UserStore;
  username: string;
  cancel: () => void;
}

export class IdleStores {
  /** By store key; Map order is least recently parked first. */
  private readonly idle = new Map<string, Idle>();
  private opened = 0;
  private reused = 0;

  constructor(
    private readonly limits: IdleStoreLimits = DEFAULT_IDLE_STORE_LIMITS,
    private readonly clock: IdleClock = realIdleClock,
    /** False while the user's store must not stay open (a restore holds the user). */
    private readonly retainable: (username: string) => boolean = () => true,
  ) {}

  /** Takes the idle store of `key` back into use (undefined: none is open). */
  take(key: string): UserStore | undefined {
    const e = this.idle.get(key);
    if (!e) return undefined;
    e.cancel();
    this.idle.delete(key);
    this.reused++;
    return e.store;
  }

  /** Counts a store opened because none was idle. */
  noteOpened(): void {
    this.opened++;
  }

  /** The store's last user ended: keeps it open for a while, or closes it. */
  park(key: string, store: UserStore, username: string): void {
    if (this.limits.idleMs <= 0 || this.limits.maxIdle <= 0 || !this.retainable(username)) {
      closeStore(store);
      return;
    }
    const cancel = this.clock.schedule(() => this.closeKey(key), this.limits.idleMs);
    this.idle.set(key, { store, username, cancel });
    while (this.idle.size > this.limits.maxIdle) this.closeKey(this.idle.keys().next().value!);
  }

  /** Closes the user's idle stores (a restore replaces the store: the next user opens it afresh). */
  closeUser(username: string): void {
    for (const [key, e] of [...this.idle]) if (e.username === username) this.closeKey(key);
  }

  /** Closes every idle store (shutdown). */
  closeAll(): void {
    for (const key of [...this.idle.keys()]) this.closeKey(key);
  }

  get size(): number {
    return this.idle.size;
  }

  /** Stores opened, and idle stores taken back into use, since this registry was made. */
  get counts(): { opened: number; reused: number } {
    return { opened: this.opened, reused: this.reused };
  }

  private closeKey(key: string): void {
    const e = this.idle.get(key);
    if (!e) return;
    e.cancel();
    this.idle.delete(key);
    closeStore(e.store);
  }
}
