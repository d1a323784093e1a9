// The pgsql store's unit of work: the process's pool, the user's mail_store row, and how a call
// runs. Opening is synchronous in the contract, so the set-up (migrations once per pool, the
// mail_store row, INBOX) runs behind `ready`, which every call awaits.
//
// Every mutating call is one PostgreSQL transaction (pool.ts: `synchronous_commit` on for every
// session), committed before its promise resolves. A store is shared by the sessions of a user in
// a thread, so several calls may be in flight at once: what a transaction changed (notices, mail
// events) is kept per transaction (TxnLog) and handed to the shared StoreNotices only after its
// COMMIT, in one synchronous step, with the actor current when the call began.
import { INBOX } from '../mailbox-names.js';
import type { MailEvent, StoreActor } from '../mail-events.js';
import type { StoreNotices } from '../store-notices.js';
import { StorageError, type ChangeNotice, type QuotaLimits, type StorageSettings } from '../types.js';
import { ensureMailStore, insertMailbox } from './allocation.js';
import { notifyChange } from './change-feed.js';
import { migratePgsql } from './migrations.js';
import type { PgsqlClient, PgsqlPool } from './pool.js';
import type { PgsqlStagedBody } from './staged-body.js';

/** What one transaction changed, published after its COMMIT (or dropped, if it rolled back). */
export class TxnLog {
  readonly notices: [mailboxId: number | null, kind: ChangeNotice['kind'], highestModseq: number][] = [];
  readonly events: MailEvent[] = [];
  /** Something other nodes should look at: the transaction sends a NOTIFY before COMMIT. */
  changed = false;
  /** The NOTIFY went already (with a statement of the transaction's work): none is needed at the end. */
  notified = false;
  /** Run once the transaction committed (staged bodies now held by committed rows). */
  readonly afterCommit: (() => void)[] = [];
  /** Staged bodies that refer to another recipient's body row (staged-body.ts). */
  readonly sharedBodies: PgsqlStagedBody[] = [];

  notify(mailboxId: number | null, kind: ChangeNotice['kind'], highestModseq: number): void {
    this.notices.push([mailboxId, kind, highestModseq]);
    this.changed = true;
  }

  event(e: MailEvent): void {
    this.events.push(e);
  }
}

/** deadlock_detected, serialization_failure: the transaction rolled back and may run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const TXN_ATTEMPTS = 3;

/** Migrations run once per pool (the process's pool for one connect string). */
const migrated = new WeakMap<PgsqlPool, Promise<unknown>>();

export class PgsqlStoreContext {
  /** The user's mail_store row id, once `ready`. */
  storeId = 0;
  closed = false;
  readonly ready: Promise<void>;
  notices!: StoreNotices;
  /** Mutating calls not finished yet (durably() waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Bodies are written with this chunk size (undefined: bodies.ts's). */
  readonly chunkSize: number | undefined;
  /** The database, as body shares name it (staged-body.ts). */
  readonly database: string;

  constructor(
    readonly username: string,
    readonly separator: string,
    readonly settings: StorageSettings,
    readonly quotaLimits: QuotaLimits,
    readonly pool: PgsqlPool,
    chunkSize: number | undefined,
  ) {
    this.chunkSize = chunkSize;
    const cfg = pool.settings.config;
    this.database = `${cfg.host ?? ''}:${cfg.port ?? ''}/${pool.settings.database}`;
    this.ready = this.init();
    // A failed set-up is reported by every call that awaits it, not as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  private async init(): Promise<void> {
    let migrating = migrated.get(this.pool);
    if (!migrating) {
      migrating = migratePgsql(this.pool);
      migrated.set(this.pool, migrating);
      migrating.catch(() => migrated.delete(this.pool));
    }
    await migrating;
    this.storeId = await this.pool.transaction(async (c) => {
      const id = await ensureMailStore(c, this.username, this.separator);
      // The row lock serialises two nodes opening a new user's store at once.
      const { rows } = await c.query<{ separator: string }>('SELECT separator FROM mail_store WHERE id = $1 FOR UPDATE', [id]);
      const sep = rows[0]!.separator;
      if (sep !== this.separator) {
        throw new StorageError('PARAMETERS', `Mail store of ${this.username} uses hierarchy separator ${JSON.stringify(sep)}, configured ${JSON.stringify(this.separator)}`);
      }
      const inbox = await c.query('SELECT 1 FROM mailbox WHERE store_id = $1 AND name = $2', [id, INBOX]);
      if (inbox.rows.length === 0) {
        await insertMailbox(c, id, INBOX);
        await c.query('UPDATE mail_store SET inbox_unannounced = true WHERE id = $1', [id]);
      }
      return id;
    });
  }

  assertOpen(): void {
    if (this.closed) throw new StorageError('SERVERBUG', `Mail store of ${this.username} is closed`);
  }

  /** A read: `fn` once the store is ready (its queries go through the pool, autocommit). */
  async read<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    await this.ready;
    return fn();
  }

  /**
   * A mutating call: `fn` in one transaction; its notices and mail events go out after COMMIT.
   * Call it synchronously at the start of the store method: it takes the actor current then.
   * `opening`: the mailbox the call opens (announceInbox first).
   */
  mutate<T>(fn: (c: PgsqlClient, log: TxnLog) => Promise<T>, opening?: string): Promise<T> {
    const actor = this.notices.currentActor;
    const run = (async () => {
      this.assertOpen();
      await this.ready;
      if (opening !== undefined) await this.announceInbox(opening, actor);
      return this.transaction(actor, fn);
    })();
    this.inFlight.add(run);
    const done = () => this.inFlight.delete(run);
    run.then(done, done);
    return run;
  }

  private async transaction<T>(actor: StoreActor | undefined, fn: (c: PgsqlClient, log: TxnLog) => Promise<T>): Promise<T> {
    let log = new TxnLog();
    let result: T;
    for (let attempt = 1; ; attempt++) {
      try {
        result = await this.pool.transaction(async (c) => {
          log = new TxnLog(); // a retry starts over
          const r = await fn(c, log);
          // Other nodes hear of it at COMMIT (and only if it commits).
          if (log.changed && !log.notified) await notifyChange(c, this.username);
          return r;
        });
        break;
      } catch (e) {
        // The server chose this transaction as a deadlock victim (or found it could not be
        // serialised): it rolled back whole, so running it again is safe.
        const code = (e as { code?: string }).code ?? '';
        if (attempt < TXN_ATTEMPTS && RETRYABLE.has(code)) continue;
        // A shared body row went before this transaction referred to it (foreign_key_violation):
        // again, with the bodies' own copies.
        if (attempt < TXN_ATTEMPTS && code === '23503' && log.sharedBodies.length > 0) {
          for (const b of log.sharedBodies) b.noShare = true;
          continue;
        }
        this.publish(actor, log, false);
        throw e;
      }
    }
    for (const f of log.afterCommit) f();
    this.publish(actor, log, true);
    return result;
  }

  /** Hands a finished transaction's records to the store's notices in one synchronous step. */
  private publish(actor: StoreActor | undefined, log: TxnLog, committed: boolean): void {
    if (this.closed) return;
    const n = this.notices;
    const mark = n.mark();
    n.beginOutermost(actor);
    for (const e of log.events) n.event(e);
    if (!committed) {
      // As SQLite: a rolled-back transaction that had recorded events tells the listeners so.
      n.rollback(mark, true);
      return;
    }
    for (const [mailboxId, kind, modseq] of log.notices) n.notify(mailboxId, kind, modseq);
    n.publish();
  }

  /**
   * Dovecot creates INBOX when it is first opened and push notifications see that as
   * MailboxCreate (sqlite/mailbox-tree.ts announceInbox): the store made the row at set-up (and
   * again after RENAME INBOX); the first opening raises the event, once across all nodes.
   */
  async announceInbox(name: string, actor = this.notices.currentActor): Promise<void> {
    if (name.toUpperCase() !== INBOX) return;
    await this.ready;
    const { rows } = await this.pool.query('UPDATE mail_store SET inbox_unannounced = false WHERE id = $1 AND inbox_unannounced RETURNING id', [this.storeId]);
    if (rows.length === 0 || this.closed) return;
    const log = new TxnLog();
    log.event({ type: 'MailboxCreate', mailbox: INBOX });
    this.publish(actor, log, true);
  }

  /** Resolves once every mutating call begun so far has finished (committed or failed). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
