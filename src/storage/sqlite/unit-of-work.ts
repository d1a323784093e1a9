// The SQLite store's unit of work: one connection, its transactions and what happens after a
// commit (WAL sync, body files freed or kept, notices out). Every mutating call is one IMMEDIATE
// transaction (take the write lock up front, so two threads never deadlock upgrading read locks);
// nested calls join it as savepoints. The concern modules (mailbox-tree.ts, messages.ts,
// metadata.ts, quota.ts, view-snapshot.ts) run their SQL through one UnitOfWork.
import { Logger } from '../../log/logger.js';
import { storageTimings } from '../timings.js';
import { StorageError, type QuotaLimits } from '../types.js';
import type { StagedBodyFile } from './body-files.js';
import type { BodyStore } from './body-store.js';
import type { IndexSource, StoreIndexes } from '../mailbox-index.js';
import type { StoreNotices } from '../store-notices.js';
import type { SqliteStorageSettings } from './options.js';
import type { Db, Statement, StatementCache } from './sqlite.js';
import type { WalSync } from './wal-sync.js';

const log = new Logger('storage: ');

export class UnitOfWork {
  /** Transaction nesting depth (0: none open). */
  depth = 0;
  closed = false;
  /** >0 inside durably(): commits leave their WAL sync to the threadpool. */
  deferSync = 0;
  /** Body files freed by the open transaction: unlinked once its commit is durable. */
  txnUnlinks: string[] = [];
  /** Staged bodies the open transaction refers to: committed with it. */
  txnStaged: StagedBodyFile[] = [];
  private readonly tx: ReturnType<Db['transaction']>;
  /** durability 'async-fsync': syncs the WAL after commits (null otherwise: SQLite does or does not). */
  walSync: WalSync | null = null;
  totalChanges: Statement | null = null;
  notices!: StoreNotices;
  bodies!: BodyStore;
  /** The shared mailbox listings of this database on this thread (mailbox-index.ts), and where they are read from. */
  indexes!: StoreIndexes;
  indexSource!: IndexSource;
  /** Releases `indexes` when the store closes (the cache may keep them, see indexRetainMessages). */
  releaseIndexes: () => void = () => undefined;

  constructor(
    readonly username: string,
    readonly separator: string,
    readonly settings: SqliteStorageSettings,
    readonly quotaLimits: QuotaLimits,
    readonly db: Db,
    readonly stmts: StatementCache,
  ) {
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  /** A transaction before notices exist (opening the store): no notices, no sync bookkeeping. */
  initial(fn: () => void): void {
    this.tx.immediate(fn);
  }

  transaction<T>(fn: () => T): T {
    this.assertOpen();
    const mark = this.notices.mark();
    const unlinkMark = this.txnUnlinks.length;
    const stagedMark = this.txnStaged.length;
    if (this.depth === 0) this.notices.beginOutermost();
    const outerStarted = this.depth === 0 && storageTimings.commit ? performance.now() : null;
    this.depth++;
    let result: T;
    const sync = this.depth === 1 ? this.walSync : null;
    const changesBefore = sync ? (this.totalChanges!.get() as number) : 0;
    try {
      // Nested calls become savepoints (better-sqlite3), so a failed inner step undoes only itself.
      result = this.tx.immediate(fn) as T;
    } catch (e) {
      this.txnUnlinks.length = unlinkMark;
      for (const b of this.txnStaged.splice(stagedMark)) b.inUse = false;
      this.notices.rollback(mark, this.depth === 1);
      throw e;
    } finally {
      this.depth--;
    }
    let syncError: unknown = null;
    // Committed with synchronous=NORMAL (async-fsync): the WAL frames are written, not yet synced.
    // Outside durably() sync now, before notices go out and before the caller can reply: what
    // synchronous=FULL does inside the commit. (A read-only transaction wrote no frames.)
    if (sync && (this.totalChanges!.get() as number) !== changesBefore) {
      sync.noteCommit();
      if (this.deferSync === 0) {
        try {
          sync.syncNow();
        } catch (e) {
          syncError = e; // committed and visible, maybe not durable: tell the caller, notify anyway
          log.error(`${this.username}: ${(e as Error).message}`);
        }
      }
    }
    if (outerStarted !== null) storageTimings.commit?.((performance.now() - outerStarted) / 1000);
    if (this.depth === 0) {
      this.afterCommit(sync, syncError === null);
      this.notices.publish();
    }
    if (syncError) throw syncError;
    return result;
  }

  /**
   * After the outermost commit: staged bodies now belong to committed rows; freed body files are
   * unlinked once the commit is durable (at once when it already is; after the threadpool sync
   * inside durably(); never when the sync failed: an orphan file is harmless, a row without its
   * file is not).
   */
  private afterCommit(sync: WalSync | null, synced: boolean): void {
    for (const b of this.txnStaged.splice(0)) {
      b.committed = true;
      b.inUse = false;
    }
    if (this.txnUnlinks.length === 0) return;
    const names = this.txnUnlinks;
    this.txnUnlinks = [];
    const files = this.bodies.files;
    if (!synced) return;
    if (sync && this.deferSync > 0) {
      sync.whenDurable().then(
        () => names.forEach((n) => files.unlinkQuiet(n)),
        () => {},
      );
    } else {
      for (const n of names) files.unlinkQuiet(n);
    }
  }

  /**
   * `fn` runs with commits deferring their WAL sync while it runs synchronously; `deferred` is the
   * store whose every call does the same (for calls made after an await). Resolves once fn's
   * result is in and every commit so far is durable.
   */
  async durably<T, S>(fn: (store: S) => T | Promise<T>, deferred: S): Promise<T> {
    this.assertOpen();
    const sync = this.walSync;
    if (!sync) return fn(deferred); // full: durable at commit; normal: durable at checkpoints only
    this.deferSync++;
    let pending: T | Promise<T>;
    try {
      pending = fn(deferred);
    } catch (e) {
      this.deferSync--;
      this.syncAfterFailure(sync);
      throw e;
    }
    this.deferSync--;
    // A plain value: fn is done, wait for a sync now (as before any await: group commit as it comes).
    if (!(pending instanceof Promise)) {
      await sync.whenDurable();
      return pending;
    }
    let result: T;
    try {
      result = await pending;
    } catch (e) {
      this.syncAfterFailure(sync);
      throw e;
    }
    await sync.whenDurable();
    return result;
  }

  /** What a failed durably() committed before failing still gets its sync, without holding up the error. */
  private syncAfterFailure(sync: WalSync): void {
    sync.whenDurable().catch((err: unknown) => log.error(`${this.username}: ${(err as Error).message}`));
  }

  /** Runs one call with its commit's WAL sync left to the threadpool (durably's store). */
  deferred<T>(fn: () => T): T {
    this.deferSync++;
    try {
      return fn();
    } finally {
      this.deferSync--;
    }
  }

  /** Bodies of this size are stored as files under the home (StorageSettings.bodyFileThresholdBytes). */
  usesFile(size: number): boolean {
    const t = this.settings.bodyFileThresholdBytes;
    return t > 0 && size >= t;
  }

  event: StoreNotices['event'] = (e) => this.notices.event(e);
  notify: StoreNotices['notify'] = (mailboxId, kind, highestModseq) => this.notices.notify(mailboxId, kind, highestModseq);

  assertOpen(): void {
    if (this.closed) throw new StorageError('SERVERBUG', `Mail store of ${this.username} is closed`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.notices.close();
    this.walSync?.close(); // syncs what a durably() is still waiting for
    this.db.close();
    this.releaseIndexes();
  }
}
