// Change notices and mail events of one store (every backend): what a transaction changed,
// collected while it runs and published after its outermost commit (dropped if it rolls back).
// Notices go to every session of the user (this thread at once, other threads through the change
// bus, other processes through the backend's change feed); mail events go to this store's
// listeners (push notifications, Lua).
import { Logger } from '../log/logger.js';
import { acquireBus, type UserBus } from './change-bus.js';
import type { ChangeFeed } from './change-feed.js';
import type { MailEvent, MailEventListener, StoreActor } from './mail-events.js';
import type { ChangeNotice } from './types.js';

const log = new Logger('storage: ');

/** Where the open transaction's records stood when a (nested) transaction began. */
export interface NoticeMark {
  notices: number;
  events: number;
}

export class StoreNotices {
  private readonly bus: UserBus;
  private readonly releaseBus: () => void;
  private readonly listeners = new Set<(n: ChangeNotice) => void>();
  private pending: ChangeNotice[] = [];
  private unwatchFeed: (() => void) | null = null;
  private lastDataVersion: number;
  private readonly mailEventListeners = new Set<MailEventListener>();
  /** Detailed events of the open transaction (only recorded while someone listens). */
  private pendingEvents: MailEvent[] = [];
  private actor: StoreActor | undefined;
  private txnActor: StoreActor | undefined;

  constructor(
    private readonly username: string,
    /** Other processes' changes (the backend's change feed), watched while this store has listeners. */
    private readonly feed: ChangeFeed,
    /**
     * A number that changes when another connection or process committed (SQLite: PRAGMA
     * data_version, https://www.sqlite.org/pragma.html#pragma_data_version; pgsql: the change
     * feed's signals).
     */
    private readonly dataVersion: () => number,
  ) {
    const h = acquireBus(username);
    this.bus = h.bus;
    this.releaseBus = h.release;
    this.lastDataVersion = dataVersion();
  }

  /** The actor set by the innermost withActor() now (an asynchronous backend takes it at a call's start). */
  get currentActor(): StoreActor | undefined {
    return this.actor;
  }

  /** An outermost transaction begins: its changes are authored by `actor` (default: the current one). */
  beginOutermost(actor: StoreActor | undefined = this.actor): void {
    this.txnActor = actor;
  }

  mark(): NoticeMark {
    return { notices: this.pending.length, events: this.pendingEvents.length };
  }

  /** A (nested) transaction rolled back: forget what it recorded; the outermost one tells the listeners. */
  rollback(mark: NoticeMark, outermost: boolean): void {
    this.pending.length = mark.notices;
    const hadEvents = this.pendingEvents.length > mark.events;
    this.pendingEvents.length = mark.events;
    if (hadEvents && outermost) this.publishMailEvents(false);
  }

  /** The outermost transaction committed: notices and events go out. */
  publish(): void {
    if (this.pending.length > 0) {
      const notices = this.pending;
      this.pending = [];
      this.feed.announce();
      for (const n of notices) this.bus.publish(n);
    }
    if (this.pendingEvents.length > 0) this.publishMailEvents(true);
  }

  notify(mailboxId: number | null, kind: ChangeNotice['kind'], highestModseq: number): void {
    const last = this.pending[this.pending.length - 1];
    // Coalesce a run of the same change (MULTIAPPEND, a batch) into one notice with the last modseq.
    if (last && last.mailboxId === mailboxId && last.kind === kind) {
      last.highestModseq = highestModseq;
      return;
    }
    this.pending.push({ user: this.username, mailboxId, kind, highestModseq });
  }

  /** Records a detailed event of the open transaction (dropped again if it rolls back). */
  event(e: MailEvent): void {
    if (this.mailEventListeners.size > 0) this.pendingEvents.push(e);
  }

  private publishMailEvents(committed: boolean): void {
    const txn = { user: this.username, actor: this.txnActor, committed, events: committed ? this.pendingEvents : [] };
    this.pendingEvents = [];
    for (const l of [...this.mailEventListeners]) {
      try {
        l(txn);
      } catch (e) {
        // A plugin's bug must not turn a committed change into a failed command.
        log.error(`mail event listener for ${this.username} failed: ${(e as Error).stack ?? String(e)}`);
      }
    }
  }

  withActor<T>(actor: StoreActor, fn: () => T): T {
    const outer = this.actor;
    this.actor = actor;
    try {
      return fn();
    } finally {
      this.actor = outer;
    }
  }

  onMailEvents(listener: MailEventListener): () => void {
    this.mailEventListeners.add(listener);
    return () => this.mailEventListeners.delete(listener);
  }

  onChange(listener: (n: ChangeNotice) => void, refresh: () => void): () => void {
    this.listeners.add(listener);
    this.bus.local.on('change', listener);
    this.unwatchFeed ??= this.feed.watch(refresh);
    return () => {
      this.listeners.delete(listener);
      this.bus.local.off('change', listener);
      if (this.listeners.size === 0) {
        this.unwatchFeed?.();
        this.unwatchFeed = null;
      }
    };
  }

  /** Another connection committed since the last look: tell this thread's listeners (`elsewhere`). */
  refresh(): void {
    const version = this.dataVersion();
    if (version === this.lastDataVersion) return;
    this.lastDataVersion = version;
    // This thread's listeners only: every thread and process looks at its own connection.
    this.bus.emitLocal({ user: this.username, mailboxId: null, kind: 'elsewhere', highestModseq: 0 });
  }

  close(): void {
    for (const l of this.listeners) this.bus.local.off('change', l);
    this.listeners.clear();
    this.unwatchFeed = null;
    this.feed.close();
    this.mailEventListeners.clear();
    this.releaseBus();
  }
}
