// The SQLite implementation of UserStore: one database file per user (DESIGN.md decision 2).
// Every mutating call is one IMMEDIATE transaction (take the write lock up front, so two threads
// never deadlock upgrading read locks); notices are published after the commit.
import { storageTimings } from './timings.js';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BodyFiles, StagedBodyFile } from './body-files.js';
import { BodyStore } from './body-store.js';
import { acquireBus, type UserBus } from './change-bus.js';
import type { ChangeFeed } from './change-feed.js';
import { changeFilePath, FileChangeFeed } from './file-change-feed.js';
import { flagsToList, keywordsFromColumn, keywordsToColumn, parseFlags } from './flags.js';
import {
  INBOX,
  normalizeMailboxName,
  normalizeSpecialUse,
  parentNames,
  validateMailboxName,
} from './mailbox-names.js';
import { validateEntry, validatePrefix, type EntryNameRules } from './metadata-entries.js';
import { applyMigrations } from './migrations.js';
import { mailboxIndexCache, type IndexSource, type StoreIndexes } from './mailbox-index.js';
import {
  firstRecentUid,
  firstUnseenUid,
  indexCacheKey,
  mailboxCounters,
  readMailboxView,
  sequenceOf,
  sqliteIndexSource,
  type MailboxViewSnapshot,
} from './sqlite-mailbox-view.js';
import type { MailEvent, MailEventListener, StoreActor } from './mail-events.js';
import { Logger } from '../log/logger.js';
import { openDb, StatementCache, type Db, type Statement } from './sqlite.js';
import { WalSync } from './wal-sync.js';
import {
  DEFAULT_STORAGE_SETTINGS,
  StorageError,
  type AppendInput,
  type AppendResult,
  type BodyLinkSource,
  type BodyReader,
  type ChangeNotice,
  type ChangeRecord,
  type CopyResult,
  type MailboxInfo,
  type MailboxStatus,
  type MessageFlags,
  type MessageMeta,
  type MetadataEntry,
  type QuotaLimits,
  type QuotaUsage,
  type SpooledContent,
  type StagedBody,
  type StorageSettings,
  type StoreFlagsInput,
  type StoreFlagsResult,
  type UserStore,
  type UserStoreOptions,
} from './types.js';

interface MailboxRow {
  id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  modseq_tracking: number;
  noselect: number;
  special_use: string;
  subscribed: number;
}

/** Message columns in the order listMessages reads them with `.raw()` (arrays are cheaper than objects). */
const MESSAGE_COLUMNS = 'uid, modseq, flags, keywords, internal_date, save_date, size, guid, body_id';
type MessageTuple = [number, number, number, string | null, number, number, number, string, number];

const log = new Logger('storage: ');
/** How often a user's orphaned body files are looked for, and how old one must be to go. */
const ORPHAN_SWEEP_INTERVAL_MS = 24 * 3600_000;
const ORPHAN_MIN_AGE_MS = 3600_000;

const MAILBOX_SELECT = `SELECT m.id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.modseq_tracking, m.noselect, m.special_use,
  (s.name IS NOT NULL) AS subscribed FROM mailbox m LEFT JOIN subscription s ON s.name = m.name`;

/** store_info key: INBOX exists but its MailboxCreate event has not been raised yet. */
const INBOX_UNANNOUNCED = 'inbox_create_unannounced';

/** Server metadata (GETMETADATA "") is stored with this mailbox id. */
const SERVER_METADATA_ID = 0;

export function resolveSettings(partial: Partial<StorageSettings> | undefined): StorageSettings {
  const s: StorageSettings = { ...DEFAULT_STORAGE_SETTINGS, ...partial };
  for (const [key, value] of Object.entries(s)) {
    if (key === 'durability') continue;
    const min = key === 'busyTimeoutMs' || key === 'bodyFileThresholdBytes' || key === 'indexRetainMessages' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new StorageError('PARAMETERS', `Storage setting ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (s.durability !== 'full' && s.durability !== 'normal' && s.durability !== 'async-fsync') {
    throw new StorageError('PARAMETERS', `Storage setting durability must be "async-fsync", "full" or "normal", got ${String(s.durability)}`);
  }
  if (s.bodyChunkBytes < 1024 || s.bodyChunkBytes > 64 * 1024 * 1024) {
    throw new StorageError('PARAMETERS', 'Storage setting bodyChunkBytes must be between 1 KiB and 64 MiB');
  }
  return s;
}

function checkUids(uids: readonly number[]): string {
  for (const u of uids) {
    if (!Number.isInteger(u) || u < 1 || u > 0xffffffff) throw new StorageError('PARAMETERS', `Invalid UID ${String(u)}`);
  }
  return JSON.stringify(uids);
}

export type { MailboxViewSnapshot } from './sqlite-mailbox-view.js';

export class SqliteUserStore implements UserStore {
  readonly username: string;
  readonly separator: string;
  readonly settings: StorageSettings;
  private readonly quota: QuotaLimits;
  private readonly db: Db;
  private readonly stmts: StatementCache;
  private readonly bodies: BodyStore;
  private readonly tx: ReturnType<Db['transaction']>;
  private readonly bus: UserBus;
  private readonly releaseBus: () => void;
  private readonly listeners = new Set<(n: ChangeNotice) => void>();
  private pending: ChangeNotice[] = [];
  /** Other processes' changes (file-change-feed.ts), watched while this store has listeners. */
  private readonly feed: ChangeFeed;
  private unwatchFeed: (() => void) | null = null;
  /** PRAGMA data_version: changes when another connection commits (https://www.sqlite.org/pragma.html#pragma_data_version). */
  private readonly dataVersion: Statement;
  private lastDataVersion = 0;
  private depth = 0;
  private readonly mailEventListeners = new Set<MailEventListener>();
  /** Detailed events of the open transaction (only recorded while someone listens). */
  private pendingEvents: MailEvent[] = [];
  private actor: StoreActor | undefined;
  private txnActor: StoreActor | undefined;
  private closed = false;
  /** durability 'async-fsync': syncs the WAL after commits (null otherwise: SQLite does or does not). */
  private readonly walSync: WalSync | null = null;
  private totalChanges: Statement | null = null;
  /** >0 inside durably(): commits leave their WAL sync to the threadpool. */
  private deferSync = 0;
  /** Body files freed by the open transaction: unlinked once its commit is durable. */
  private txnUnlinks: string[] = [];
  /** Staged bodies the open transaction refers to: committed with it. */
  private txnStaged: StagedBodyFile[] = [];
  /** The shared mailbox listings of this database on this thread (mailbox-index.ts). */
  private readonly indexKey: string;
  private readonly indexes: StoreIndexes;
  private readonly indexSource: IndexSource;

  constructor(opts: UserStoreOptions) {
    this.username = opts.username;
    this.separator = opts.separator || '/';
    if ([...this.separator].length !== 1 || /[*%\s]/.test(this.separator)) {
      throw new StorageError('PARAMETERS', `Invalid hierarchy separator ${JSON.stringify(this.separator)}`);
    }
    this.settings = resolveSettings(opts.settings);
    this.quota = opts.quota ?? {};
    this.db = openDb(opts.dbPath, this.settings);
    try {
      applyMigrations(this.db, 'user', opts.migrationsDir);
      this.stmts = new StatementCache(this.db);
      this.indexSource = sqliteIndexSource(this.stmts);
      this.bodies = new BodyStore(this.stmts, this.settings.bodyChunkBytes, new BodyFiles(join(opts.home, 'bodies')));
      this.tx = this.db.transaction((fn: () => unknown) => fn());
      this.tx.immediate(() => this.initStore());
      if (this.settings.durability === 'async-fsync') {
        this.walSync = new WalSync(`${opts.dbPath}-wal`);
        this.totalChanges = this.db.prepare('SELECT total_changes()').pluck();
        // Migrations and initStore committed with NORMAL: make them durable like everything else.
        this.walSync.noteCommit();
        this.walSync.syncNow();
      }
    } catch (e) {
      this.db.close();
      throw e;
    }
    const h = acquireBus(this.username);
    this.bus = h.bus;
    this.releaseBus = h.release;
    this.feed = new FileChangeFeed(changeFilePath(opts.dbPath), this.settings.changePollIntervalMs, opts.dbPath);
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.lastDataVersion = this.dataVersion.get() as number;
    this.indexKey = indexCacheKey(opts.dbPath);
    this.indexes = mailboxIndexCache.acquire(this.indexKey);
    this.scheduleOrphanSweep(opts.home);
  }

  /**
   * At most once a day per user (a marker file's mtime records the last run), shortly after the
   * store opens and off the hot path: removes body files no message refers to (a crash between
   * staging a body and committing its message leaves one; see BodyFiles.sweepOrphans).
   */
  private scheduleOrphanSweep(home: string): void {
    const marker = join(home, 'bodies.swept');
    try {
      if (Date.now() - statSync(marker).mtimeMs < ORPHAN_SWEEP_INTERVAL_MS) return;
    } catch {
      if (!existsSync(join(home, 'bodies'))) return; // no body files at all
    }
    setTimeout(() => {
      if (this.closed) return;
      try {
        const used = this.stmts.get('SELECT 1 FROM body WHERE file = ?').pluck();
        const removed = this.bodies.files.sweepOrphans((name) => used.get(name) !== undefined, ORPHAN_MIN_AGE_MS);
        writeFileSync(marker, '');
        if (removed > 0) log.info(`${this.username}: removed ${removed} orphaned body file(s)`);
      } catch (e) {
        log.warning(`${this.username}: orphaned body file sweep failed: ${(e as Error).message}`);
      }
    }, 1000).unref();
  }

  /** Records the separator on first open and refuses another later; makes sure INBOX exists. */
  private initStore(): void {
    const row = this.stmts.get("SELECT value FROM store_info WHERE key = 'separator'").get() as { value: string } | undefined;
    if (!row) {
      this.stmts.get("INSERT INTO store_info (key, value) VALUES ('separator', ?)").run(this.separator);
    } else if (row.value !== this.separator) {
      throw new StorageError(
        'PARAMETERS',
        `Mail store of ${this.username} uses hierarchy separator ${JSON.stringify(row.value)}, configured ${JSON.stringify(this.separator)}`,
      );
    }
    if (!this.mailboxRow(INBOX)) {
      this.insertMailbox(INBOX, false, []);
      this.stmts.get(`INSERT OR REPLACE INTO store_info (key, value) VALUES ('${INBOX_UNANNOUNCED}', '1')`).run();
    }
  }

  /**
   * Dovecot creates INBOX when it is first opened (a delivery, SELECT, STATUS), in a transaction of
   * its own that push notifications see as MailboxCreate before the opening one. Roost makes the
   * row with the store (and again after RENAME INBOX) and raises that event at the first opening.
   */
  private announceInbox(name: string): void {
    if (this.depth > 0 || name.toUpperCase() !== INBOX) return;
    if (!this.stmts.get(`SELECT 1 FROM store_info WHERE key = '${INBOX_UNANNOUNCED}'`).get()) return;
    this.transaction(() => {
      const pending = this.stmts.get(`DELETE FROM store_info WHERE key = '${INBOX_UNANNOUNCED}'`).run().changes > 0;
      if (pending) this.event({ type: 'MailboxCreate', mailbox: INBOX });
    });
  }

  // ---------------------------------------------------------------- transactions and notices

  transaction<T>(fn: () => T): T {
    this.assertOpen();
    const mark = this.pending.length;
    const eventMark = this.pendingEvents.length;
    const unlinkMark = this.txnUnlinks.length;
    const stagedMark = this.txnStaged.length;
    if (this.depth === 0) this.txnActor = this.actor;
    const outerStarted = this.depth === 0 && storageTimings.commit ? performance.now() : null;
    this.depth++;
    let result: T;
    const sync = this.depth === 1 ? this.walSync : null;
    const changesBefore = sync ? (this.totalChanges!.get() as number) : 0;
    try {
      // Nested calls become savepoints (better-sqlite3), so a failed inner step undoes only itself.
      result = this.tx.immediate(fn) as T;
    } catch (e) {
      this.pending.length = mark;
      this.txnUnlinks.length = unlinkMark;
      for (const b of this.txnStaged.splice(stagedMark)) b.inUse = false;
      const hadEvents = this.pendingEvents.length > eventMark;
      this.pendingEvents.length = eventMark;
      if (hadEvents && this.depth === 1) this.publishMailEvents(false);
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
    if (this.depth === 0) this.afterCommit(sync, syncError === null);
    if (this.depth === 0 && this.pending.length > 0) {
      const notices = this.pending;
      this.pending = [];
      this.feed.announce();
      for (const n of notices) this.bus.publish(n);
    }
    if (this.depth === 0 && this.pendingEvents.length > 0) this.publishMailEvents(true);
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

  async stageBody(
    content: Buffer | SpooledContent,
    opts?: { linkFrom?: BodyLinkSource; onWritten?: (file: BodyLinkSource) => void },
  ): Promise<Buffer | SpooledContent | StagedBody> {
    this.assertOpen();
    const size = BodyStore.sizeOf(content);
    if (!this.usesFile(size) || size > this.settings.maxMessageBytes) return content; // append() decides
    return this.bodies.files.stage(content, size, opts ?? {});
  }

  private usesFile(size: number): boolean {
    const t = this.settings.bodyFileThresholdBytes;
    return t > 0 && size >= t;
  }

  async durably<T>(fn: () => T): Promise<T> {
    this.assertOpen();
    const sync = this.walSync;
    if (!sync) return fn(); // full: durable at commit; normal: durable at checkpoints only
    this.deferSync++;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      // What fn committed before failing still gets its sync, without holding up the error.
      sync.whenDurable().catch((err: unknown) => log.error(`${this.username}: ${(err as Error).message}`));
      throw e;
    } finally {
      this.deferSync--;
    }
    await sync.whenDurable();
    return result;
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
    this.assertOpen();
    this.mailEventListeners.add(listener);
    return () => this.mailEventListeners.delete(listener);
  }

  /** Records a detailed event of the open transaction (dropped again if it rolls back). */
  private event(e: MailEvent): void {
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

  private notify(mailboxId: number | null, kind: ChangeNotice['kind'], highestModseq: number): void {
    const last = this.pending[this.pending.length - 1];
    // Coalesce a run of the same change (MULTIAPPEND, a batch) into one notice with the last modseq.
    if (last && last.mailboxId === mailboxId && last.kind === kind) {
      last.highestModseq = highestModseq;
      return;
    }
    this.pending.push({ user: this.username, mailboxId, kind, highestModseq });
  }

  onChange(listener: (n: ChangeNotice) => void): () => void {
    this.assertOpen();
    this.listeners.add(listener);
    this.bus.local.on('change', listener);
    this.unwatchFeed ??= this.feed.watch(() => this.refreshChanges());
    return () => {
      this.listeners.delete(listener);
      this.bus.local.off('change', listener);
      if (this.listeners.size === 0) {
        this.unwatchFeed?.();
        this.unwatchFeed = null;
      }
    };
  }

  refreshChanges(): void {
    if (this.closed || this.depth > 0) return;
    const version = this.dataVersion.get() as number;
    if (version === this.lastDataVersion) return;
    this.lastDataVersion = version;
    // This thread's listeners only: every thread and process looks at its own connection.
    this.bus.emitLocal({ user: this.username, mailboxId: null, kind: 'elsewhere', highestModseq: 0 });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.listeners) this.bus.local.off('change', l);
    this.listeners.clear();
    this.unwatchFeed = null;
    this.feed.close();
    this.mailEventListeners.clear();
    this.releaseBus();
    this.walSync?.close(); // syncs what a durably() is still waiting for
    this.db.close();
    mailboxIndexCache.release(this.indexKey, this.settings.indexRetainMessages);
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('SERVERBUG', `Mail store of ${this.username} is closed`);
  }

  // ---------------------------------------------------------------- mailboxes

  private norm(name: string): string {
    return normalizeMailboxName(name, this.separator);
  }

  private validate(name: string): void {
    validateMailboxName(name, this.separator, this.settings);
  }

  private mailboxRow(name: string): MailboxRow | undefined {
    return this.stmts.get(`${MAILBOX_SELECT} WHERE m.name = ?`).get(name) as MailboxRow | undefined;
  }

  private mailboxRowById(id: number): MailboxRow | undefined {
    return this.stmts.get(`${MAILBOX_SELECT} WHERE m.id = ?`).get(id) as MailboxRow | undefined;
  }

  /** A mailbox that can hold messages, or NONEXISTENT (rendered as TRYCREATE for APPEND/COPY targets). */
  private selectable(name: string): MailboxRow {
    const row = this.mailboxRow(this.norm(name));
    if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${name}`);
    return row;
  }

  private selectableById(id: number): MailboxRow {
    const row = this.mailboxRowById(id);
    if (!row || row.noselect) throw new StorageError('NONEXISTENT', `Mailbox ${id} doesn't exist`);
    return row;
  }

  private toInfo(r: MailboxRow): MailboxInfo {
    return {
      id: r.id,
      name: r.name,
      uidValidity: r.uid_validity,
      uidNext: r.uid_next,
      highestModseq: r.highest_modseq,
      modseqTracking: r.modseq_tracking === 1,
      specialUse: r.special_use ? r.special_use.split(' ') : [],
      subscribed: r.subscribed === 1,
      noselect: r.noselect === 1,
    };
  }

  /**
   * UIDVALIDITY is time-based like Dovecot's, and unique per mailbox creation: never below the last
   * one handed out in this store (two creations in one second, or a clock step back).
   */
  private nextUidValidity(): number {
    const row = this.stmts.get("SELECT value FROM store_info WHERE key = 'last_uid_validity'").get() as
      | { value: string }
      | undefined;
    const last = row ? Number(row.value) : 0;
    let next = Math.max(Math.floor(Date.now() / 1000), last + 1);
    if (next > 0xffffffff) next = 1; // RFC 3501: nz-number, 32 bits
    this.stmts.get("INSERT OR REPLACE INTO store_info (key, value) VALUES ('last_uid_validity', ?)").run(String(next));
    return next;
  }

  private insertMailbox(name: string, noselect: boolean, specialUse: string[]): number {
    const count = (this.stmts.get('SELECT count(*) AS n FROM mailbox').get() as { n: number }).n;
    if (count >= this.settings.maxMailboxes) {
      throw new StorageError('LIMIT', `Too many mailboxes (limit ${this.settings.maxMailboxes})`);
    }
    const r = this.stmts
      .get('INSERT INTO mailbox (name, uid_validity, noselect, special_use, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(name, this.nextUidValidity(), noselect ? 1 : 0, specialUse.join(' '), Date.now());
    return Number(r.lastInsertRowid);
  }

  private ensureParents(name: string): void {
    for (const p of parentNames(name, this.separator)) {
      if (!this.mailboxRow(p)) this.insertMailbox(p, true, []);
    }
  }

  private hasChildren(name: string): boolean {
    const prefix = name + this.separator;
    return !!this.stmts.get('SELECT 1 FROM mailbox WHERE substr(name, 1, ?) = ? LIMIT 1').get(prefix.length, prefix);
  }

  /** Removes \Noselect ancestors left without children (they only existed to hold the hierarchy). */
  private pruneEmptyParents(name: string): void {
    for (const p of parentNames(name, this.separator).reverse()) {
      const row = this.mailboxRow(p);
      if (!row || !row.noselect || this.hasChildren(p)) return;
      this.dropMailboxRow(row.id);
    }
  }

  private dropMailboxRow(id: number): void {
    this.stmts.get('DELETE FROM metadata WHERE mailbox_id = ?').run(id);
    this.stmts.get('DELETE FROM expunged WHERE mailbox_id = ?').run(id);
    this.stmts.get('DELETE FROM mailbox WHERE id = ?').run(id);
  }

  listMailboxes(): MailboxInfo[] {
    this.assertOpen();
    return (this.stmts.get(`${MAILBOX_SELECT} ORDER BY m.name`).all() as MailboxRow[]).map((r) => this.toInfo(r));
  }

  getMailbox(name: string): MailboxInfo | undefined {
    this.assertOpen();
    const r = this.mailboxRow(this.norm(name));
    return r && this.toInfo(r);
  }

  getMailboxById(id: number): MailboxInfo | undefined {
    this.assertOpen();
    const r = this.mailboxRowById(id);
    return r && this.toInfo(r);
  }

  createMailbox(name: string, opts?: { specialUse?: string[] }): MailboxInfo {
    const n = this.norm(name);
    this.validate(n);
    const specialUse = normalizeSpecialUse(opts?.specialUse ?? []);
    return this.transaction(() => {
      const existing = this.mailboxRow(n);
      if (existing && !existing.noselect) throw new StorageError('ALREADYEXISTS', `Mailbox already exists: ${n}`);
      if (existing) {
        // A placeholder becomes a real mailbox; new UIDVALIDITY since it never held messages.
        this.stmts
          .get('UPDATE mailbox SET noselect = 0, uid_validity = ?, special_use = ? WHERE id = ?')
          .run(this.nextUidValidity(), specialUse.join(' '), existing.id);
      } else {
        this.ensureParents(n);
        this.insertMailbox(n, false, specialUse);
      }
      this.event({ type: 'MailboxCreate', mailbox: n });
      this.notify(null, 'mailboxes', 0);
      return this.toInfo(this.mailboxRow(n)!);
    });
  }

  deleteMailbox(name: string): void {
    const n = this.norm(name);
    if (n === INBOX) throw new StorageError('NOPERM', "INBOX can't be deleted.");
    this.transaction(() => {
      const row = this.mailboxRow(n);
      if (!row) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${n}`);
      const children = this.hasChildren(n);
      if (row.noselect && children) {
        throw new StorageError('NOPERM', `Mailbox has children, delete them first: ${n}`);
      }
      const uids = (this.stmts.get('SELECT uid FROM message WHERE mailbox_id = ?').pluck().all(row.id) as number[]);
      if (uids.length > 0) this.expungeRows(row, uids, false);
      this.stmts.get('DELETE FROM mailbox_keyword WHERE mailbox_id = ?').run(row.id);
      if (children) {
        // RFC 3501 §6.3.4: the name stays, as \Noselect, because it has inferiors.
        this.stmts.get('DELETE FROM metadata WHERE mailbox_id = ?').run(row.id);
        this.stmts.get("UPDATE mailbox SET noselect = 1, special_use = '' WHERE id = ?").run(row.id);
      } else {
        this.dropMailboxRow(row.id);
        this.pruneEmptyParents(n);
      }
      // Dovecot: each message of the deleted mailbox is expunged first (spec §16.5).
      this.event({ type: 'MailboxDelete', mailbox: n });
      this.notify(null, 'mailboxes', 0);
    });
  }

  renameMailbox(oldName: string, newName: string): void {
    const from = this.norm(oldName);
    const to = this.norm(newName);
    this.validate(to);
    this.transaction(() => {
      const row = this.mailboxRow(from);
      if (!row) throw new StorageError('NONEXISTENT', `Mailbox doesn't exist: ${from}`);
      if (this.mailboxRow(to)) throw new StorageError('ALREADYEXISTS', `Mailbox already exists: ${to}`);
      if (to.startsWith(from + this.separator)) {
        throw new StorageError('PARAMETERS', `Can't rename mailbox under itself: ${from} -> ${to}`);
      }
      this.ensureParents(to);
      if (from === INBOX) this.renameInbox(row, to);
      else this.renameTree(from, to);
      this.pruneEmptyParents(from);
      this.event({ type: 'MailboxRename', mailbox: to, oldMailbox: from });
      this.notify(null, 'mailboxes', 0);
    });
  }

  /**
   * RFC 3501 §6.3.5: renaming INBOX moves all its messages to a new mailbox and leaves INBOX empty;
   * INBOX's inferiors are not renamed. UIDs move with the messages (the new mailbox is new, so its
   * UIDVALIDITY is fresh); INBOX sees them expunged at one new modseq.
   */
  private renameInbox(inbox: MailboxRow, to: string): void {
    const id = this.insertMailbox(to, false, []);
    this.stmts.get(`INSERT OR REPLACE INTO store_info (key, value) VALUES ('${INBOX_UNANNOUNCED}', '1')`).run();
    const modseq = inbox.highest_modseq + 1;
    this.stmts
      .get('INSERT INTO expunged (mailbox_id, uid, modseq) SELECT ?, uid, ? FROM message WHERE mailbox_id = ? ON CONFLICT DO UPDATE SET modseq = excluded.modseq')
      .run(inbox.id, modseq, inbox.id);
    this.stmts.get('UPDATE message SET mailbox_id = ? WHERE mailbox_id = ?').run(id, inbox.id);
    this.stmts
      .get('INSERT INTO mailbox_keyword (mailbox_id, keyword_lc, keyword) SELECT ?, keyword_lc, keyword FROM mailbox_keyword WHERE mailbox_id = ?')
      .run(id, inbox.id);
    const moved = this.stmts.get('SELECT max(modseq) AS m FROM message WHERE mailbox_id = ?').get(id) as { m: number | null };
    this.stmts
      .get('UPDATE mailbox SET uid_next = ?, highest_modseq = ? WHERE id = ?')
      .run(inbox.uid_next, Math.max(moved.m ?? 1, inbox.highest_modseq), id);
    this.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, inbox.id);
    this.notify(inbox.id, 'expunge', modseq);
  }

  /** Renames a mailbox and every inferior name; subscriptions follow. */
  private renameTree(from: string, to: string): void {
    const prefix = from + this.separator;
    const match = 'name = ? OR substr(name, 1, ?) = ?';
    try {
      this.stmts
        .get(`UPDATE mailbox SET name = ? || substr(name, ?) WHERE ${match}`)
        .run(to, from.length + 1, from, prefix.length, prefix);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StorageError('ALREADYEXISTS', `A mailbox under ${to} already exists`);
      }
      throw e;
    }
    for (const name of this.stmts.get(`SELECT name FROM mailbox WHERE ${match}`).pluck().all(to, to.length + 1, to + this.separator) as string[]) {
      this.validate(name); // children may now break the depth or length limits
    }
    this.stmts
      .get(`UPDATE OR REPLACE subscription SET name = ? || substr(name, ?) WHERE ${match}`)
      .run(to, from.length + 1, from, prefix.length, prefix);
  }

  setSubscribed(name: string, subscribed: boolean): void {
    const n = this.norm(name);
    this.validate(n);
    this.transaction(() => {
      if (subscribed) this.stmts.get('INSERT OR IGNORE INTO subscription (name) VALUES (?)').run(n);
      else this.stmts.get('DELETE FROM subscription WHERE name = ?').run(n);
      this.event({ type: subscribed ? 'MailboxSubscribe' : 'MailboxUnsubscribe', mailbox: n });
      this.notify(null, 'mailboxes', 0);
    });
  }

  listSubscriptions(): string[] {
    this.assertOpen();
    return this.stmts.get('SELECT name FROM subscription ORDER BY name').pluck().all() as string[];
  }

  setSpecialUse(name: string, specialUse: string[]): void {
    const attrs = normalizeSpecialUse(specialUse);
    this.transaction(() => {
      const row = this.selectable(name);
      this.stmts.get('UPDATE mailbox SET special_use = ? WHERE id = ?').run(attrs.join(' '), row.id);
      this.notify(null, 'mailboxes', 0);
    });
  }

  setMailboxUids(name: string, ids: { uidValidity?: number; uidNext?: number }): MailboxInfo {
    this.transaction(() => {
      const row = this.selectable(name);
      const valid = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 1 && n <= 0xffffffff);
      if (!valid(ids.uidValidity) || !valid(ids.uidNext)) throw new StorageError('PARAMETERS', 'UIDVALIDITY and UIDNEXT are 32-bit non-zero numbers');
      if (ids.uidValidity !== undefined && ids.uidValidity !== row.uid_validity) {
        const used = this.stmts.get('SELECT 1 FROM message WHERE mailbox_id = ? LIMIT 1').get(row.id);
        if (used || row.uid_next > 1) throw new StorageError('INUSE', `Cannot change UIDVALIDITY of ${row.name}: UIDs were already handed out`);
        this.stmts.get('UPDATE mailbox SET uid_validity = ? WHERE id = ?').run(ids.uidValidity, row.id);
        // A mailbox created later under this name must still get a different UIDVALIDITY.
        this.stmts
          .get(
            `INSERT INTO store_info (key, value) VALUES ('last_uid_validity', CAST(@v AS TEXT))
             ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), @v) AS TEXT)`,
          )
          .run({ v: ids.uidValidity });
      }
      if (ids.uidNext !== undefined && ids.uidNext > row.uid_next) {
        this.stmts.get('UPDATE mailbox SET uid_next = ? WHERE id = ?').run(ids.uidNext, row.id);
      }
      this.notify(null, 'mailboxes', 0);
    });
    return this.getMailbox(name)!;
  }

  status(name: string): MailboxStatus {
    this.assertOpen();
    this.announceInbox(name);
    const row = this.selectable(name);
    // Counters kept by triggers (migration 0004) and two partial-index lookups: no pass over the messages.
    const agg = mailboxCounters(this.stmts, row.id);
    const unseenUid = agg.unseen > 0 ? firstUnseenUid(this.stmts, row.id) : null;
    const firstUnseenSeq = unseenUid === null ? 0 : sequenceOf(this.stmts, row.id, unseenUid, agg.messages, row.uid_next);
    const firstRecent = agg.recent > 0 ? firstRecentUid(this.stmts, row.id) : null;
    return {
      name: row.name,
      messages: agg.messages,
      recent: agg.recent,
      unseen: agg.unseen,
      uidNext: row.uid_next,
      uidValidity: row.uid_validity,
      highestModseq: row.highest_modseq,
      modseqTracking: row.modseq_tracking === 1,
      size: agg.size,
      firstUnseenSeq,
      firstRecentUid: firstRecent ?? row.uid_next,
      keywords: this.stmts.get('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = ? ORDER BY keyword_lc').pluck().all(row.id) as string[],
    };
  }

  enableModseqTracking(mailboxId: number): void {
    this.assertOpen();
    this.stmts.get('UPDATE mailbox SET modseq_tracking = 1 WHERE id = ? AND modseq_tracking = 0').run(mailboxId);
  }

  // ---------------------------------------------------------------- keywords and quota

  /**
   * Maps keywords to the spelling already used in the mailbox (keywords are case-insensitive) and
   * registers new ones. `register` false: unknown keywords are dropped (nothing can carry them).
   */
  private canonicalKeywords(mailboxId: number, keywords: readonly string[], register: boolean): string[] {
    const out: string[] = [];
    for (const k of keywords) {
      const lc = k.toLowerCase();
      const known = this.stmts
        .get('SELECT keyword FROM mailbox_keyword WHERE mailbox_id = ? AND keyword_lc = ?')
        .pluck()
        .get(mailboxId, lc) as string | undefined;
      if (known !== undefined) {
        out.push(known);
        continue;
      }
      if (!register) continue;
      const count = this.stmts.get('SELECT count(*) FROM mailbox_keyword WHERE mailbox_id = ?').pluck().get(mailboxId) as number;
      if (count >= this.settings.maxKeywordsPerMailbox) {
        throw new StorageError('LIMIT', `Too many keywords in mailbox (limit ${this.settings.maxKeywordsPerMailbox})`);
      }
      this.stmts.get('INSERT INTO mailbox_keyword (mailbox_id, keyword_lc, keyword) VALUES (?, ?, ?)').run(mailboxId, lc, k);
      out.push(k);
    }
    return out;
  }

  private addUsage(bytes: number, messages: number): void {
    if (bytes > 0 || messages > 0) {
      const { storageBytes, messages: maxMessages } = this.quota;
      if (storageBytes || maxMessages) {
        const u = this.quotaUsage();
        if ((storageBytes && u.storageBytes + bytes > storageBytes) || (maxMessages && u.messages + messages > maxMessages)) {
          throw new StorageError('OVERQUOTA', 'Quota exceeded (mailbox for user is full)');
        }
      }
    }
    this.stmts
      .get('UPDATE quota_usage SET storage_bytes = storage_bytes + ?, messages = messages + ? WHERE id = 1')
      .run(bytes, messages);
  }

  quotaUsage(): QuotaUsage {
    this.assertOpen();
    const r = this.stmts.get('SELECT storage_bytes, messages FROM quota_usage WHERE id = 1').get() as {
      storage_bytes: number;
      messages: number;
    };
    return { storageBytes: r.storage_bytes, messages: r.messages };
  }

  // ---------------------------------------------------------------- messages

  append(mailbox: string, input: AppendInput): AppendResult {
    return this.appendMany(mailbox, [input])[0]!;
  }

  appendMany(mailbox: string, inputs: AppendInput[]): AppendResult[] {
    this.announceInbox(mailbox);
    const parsed = inputs.map((input) => {
      const physical = isStaged(input.content) ? input.content.size : BodyStore.sizeOf(input.content);
      const size = input.virtualSize ?? physical;
      if (!Number.isInteger(size) || size < physical) throw new StorageError('PARAMETERS', `Invalid message size ${String(size)}`);
      if (size > this.settings.maxMessageBytes) {
        throw new StorageError('TOOBIG', `Message too large (${size} bytes, limit ${this.settings.maxMessageBytes})`);
      }
      const internalDate = input.internalDate ?? new Date();
      if (Number.isNaN(internalDate.getTime())) throw new StorageError('PARAMETERS', 'Invalid internal date');
      const c = input.content;
      if (isStaged(c) && (!(c instanceof StagedBodyFile) || c.files !== this.bodies.files || c.committed || c.inUse)) {
        throw new StorageError('PARAMETERS', 'Staged message body belongs to another store or was already saved');
      }
      return { input, size, internalDate, flags: parseFlags(input.flags ?? [], this.settings.maxKeywordBytes), file: null as StagedBodyFile | null };
    });
    this.assertOpen();
    // Large bodies not staged ahead: written and synced here, before the transaction refers to them.
    // Not inside durably() (async-fsync): that would put two fsyncs on the event loop; the body
    // goes to SQLite there, whose WAL sync runs in the threadpool (stage it to get a file).
    const written: StagedBodyFile[] = [];
    const syncWriteOk = this.deferSync === 0;
    try {
      for (const p of parsed) {
        const c = p.input.content;
        if (isStaged(c) || !syncWriteOk || !this.usesFile(BodyStore.sizeOf(c))) continue;
        p.file = new StagedBodyFile(this.bodies.files, this.bodies.files.writeSync(c), BodyStore.sizeOf(c));
        written.push(p.file);
      }
      return this.insertMessages(mailbox, parsed);
    } catch (e) {
      // Not when the commit happened and only its sync failed: the rows refer to the files then.
      for (const b of written) if (!b.committed) this.bodies.files.unlinkQuiet(b.name);
      throw e;
    }
  }

  private insertMessages(
    mailbox: string,
    parsed: { input: AppendInput; size: number; internalDate: Date; flags: ReturnType<typeof parseFlags>; file: StagedBodyFile | null }[],
  ): AppendResult[] {
    return this.transaction(() => {
      const box = this.selectable(mailbox);
      this.addUsage(
        parsed.reduce((a, p) => a + p.size, 0),
        parsed.length,
      );
      let uid = box.uid_next;
      // One modseq per commit, shared by every message of a MULTIAPPEND, as Dovecot counts them
      // (lib-index/mail-index-modseq.c: a transaction's changes get the log's next modseq).
      const modseq = box.highest_modseq + 1;
      const now = Date.now();
      const results: AppendResult[] = [];
      for (const p of parsed) {
        const keywords = this.canonicalKeywords(box.id, p.flags.keywords, true);
        const c = p.input.content;
        const staged = p.file ?? (isStaged(c) ? (c as StagedBodyFile) : null);
        let bodyId: number;
        if (staged) {
          if (staged.inUse) throw new StorageError('PARAMETERS', 'The same staged message body was given twice');
          bodyId = this.bodies.insertFileRow(staged.name, staged.size, p.input.mimeStructure);
          staged.inUse = true;
          this.txnStaged.push(staged);
        } else {
          bodyId = this.bodies.insert(c as Buffer | SpooledContent, p.input.mimeStructure);
        }
        if (p.input.uid !== undefined) {
          // Import (roost import): the source's UID, never below UIDNEXT (RFC 3501 §2.3.1.1).
          if (!Number.isInteger(p.input.uid) || p.input.uid < uid || p.input.uid > 0xffffffff) {
            throw new StorageError('PARAMETERS', `UID ${String(p.input.uid)} is below UIDNEXT ${uid} of ${box.name}`);
          }
          uid = p.input.uid;
        }
        const guid = p.input.guid ?? randomUUID().replaceAll('-', '');
        this.stmts
          .get(
            `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(box.id, uid, modseq, modseq, p.flags.bits, keywordsToColumn(keywords), p.internalDate.getTime(), now, p.size, guid, bodyId, p.input.recentForSession ? 0 : 1);
        results.push({ uid, uidValidity: box.uid_validity, modseq, mailboxId: box.id, bodyId, size: p.size, guid });
        this.event({
          type: 'MessageSave',
          origin: p.input.origin ?? 'append',
          mailbox: box.name,
          mailboxId: box.id,
          uid,
          uidValidity: box.uid_validity,
          bodyId,
          flags: flagsToList(p.flags.bits, keywordsToColumn(keywords)),
        });
        uid++;
      }
      this.stmts.get('UPDATE mailbox SET uid_next = ?, highest_modseq = ? WHERE id = ?').run(uid, modseq, box.id);
      this.notify(box.id, 'messages', modseq);
      return results;
    });
  }

  private toMeta(t: MessageTuple): MessageMeta {
    return {
      uid: t[0],
      modseq: t[1],
      flags: flagsToList(t[2], t[3]),
      internalDate: new Date(t[4]),
      saveDate: new Date(t[5]),
      size: t[6],
      guid: t[7],
      bodyId: t[8],
    };
  }

  listMessages(mailboxId: number): MessageMeta[] {
    this.assertOpen();
    const rows = this.stmts
      .get(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE mailbox_id = ? ORDER BY uid`)
      .raw(true)
      .all(mailboxId) as MessageTuple[];
    const out = new Array<MessageMeta>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.toMeta(rows[i]!);
    return out;
  }

  listMessageFlags(mailboxId: number): MessageFlags[] {
    this.assertOpen();
    const rows = this.stmts
      .get('SELECT uid, modseq, flags, keywords, size FROM message WHERE mailbox_id = ? ORDER BY uid')
      .raw(true)
      .all(mailboxId) as [number, number, number, string | null, number][];
    // A mailbox has few distinct flag sets: messages with the same one share one frozen list
    // (fewer allocations; the IMAP layer renders each distinct list once, keyed by identity).
    const noKeywords = new Map<number, string[]>();
    const withKeywords = new Map<string, string[]>();
    const out = new Array<MessageFlags>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const bits = r[2];
      const kw = r[3];
      let flags: string[] | undefined;
      if (kw === null) {
        flags = noKeywords.get(bits);
        if (flags === undefined) noKeywords.set(bits, (flags = Object.freeze(flagsToList(bits, null)) as string[]));
      } else {
        const key = `${bits} ${kw}`;
        flags = withKeywords.get(key);
        if (flags === undefined) withKeywords.set(key, (flags = Object.freeze(flagsToList(bits, kw)) as string[]));
      }
      out[i] = { uid: r[0], modseq: r[1], flags, size: r[4] };
    }
    return out;
  }

  /**
   * What SELECT/EXAMINE needs, read in one transaction (additive; SelectedMailbox uses it when the
   * store has it): the mailbox row, a copy-on-write holder of the shared listing (mailbox-index.ts,
   * brought up to date rather than read again), the first unseen message, the mailbox's keywords,
   * the number of \Recent messages and, with `claim`, their UIDs, taken as claimRecent() does.
   * Throws NONEXISTENT for a missing or \Noselect mailbox.
   */
  openMailboxView(name: string, claim: boolean): MailboxViewSnapshot {
    this.assertOpen();
    this.announceInbox(name);
    return this.transaction(() => readMailboxView(this.stmts, this.indexes, this.indexSource, this.toInfo(this.selectable(name)), claim));
  }

  getMessages(mailboxId: number, uids: number[]): MessageMeta[] {
    this.assertOpen();
    return this.selectByUids(mailboxId, uids).map((t) => this.toMeta(t));
  }

  private selectByUids(mailboxId: number, uids: readonly number[]): MessageTuple[] {
    if (uids.length === 0) return [];
    return this.stmts
      .get(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`)
      .raw(true)
      .all(mailboxId, checkUids(uids)) as MessageTuple[];
  }

  openBody(bodyId: number): BodyReader {
    this.assertOpen();
    return this.bodies.open(bodyId);
  }

  openBodyWithStructure(bodyId: number): { body: BodyReader; mimeStructure: unknown } {
    this.assertOpen();
    return this.bodies.openWithStructure(bodyId);
  }

  getMimeStructure(bodyId: number): unknown {
    this.assertOpen();
    return this.bodies.getMimeStructure(bodyId);
  }

  setMimeStructure(bodyId: number, mimeStructure: unknown): void {
    this.transaction(() => this.bodies.setMimeStructure(bodyId, mimeStructure));
  }

  storeFlags(mailboxId: number, input: StoreFlagsInput): StoreFlagsResult {
    const { bits, keywords } = parseFlags(input.flags, this.settings.maxKeywordBytes);
    if (input.unchangedSince !== undefined && (!Number.isInteger(input.unchangedSince) || input.unchangedSince < 0)) {
      throw new StorageError('PARAMETERS', `Invalid UNCHANGEDSINCE ${String(input.unchangedSince)}`);
    }
    return this.transaction(() => {
      const box = this.selectableById(mailboxId);
      const canon = this.canonicalKeywords(box.id, keywords, input.operation !== 'remove');
      const canonLc = new Set(canon.map((k) => k.toLowerCase()));
      const modseq = box.highest_modseq + 1;
      const result: StoreFlagsResult = { changed: [], modified: [] };
      const update = this.stmts.get('UPDATE message SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
      for (const [uid, oldModseq, oldBits, oldKw] of this.selectByUids(box.id, input.uids)) {
        if (input.unchangedSince !== undefined && oldModseq > input.unchangedSince) {
          result.modified.push(uid);
          continue;
        }
        const old = keywordsFromColumn(oldKw);
        let newBits: number;
        let newKw: string[];
        if (input.operation === 'set') {
          newBits = bits;
          newKw = canon;
        } else if (input.operation === 'add') {
          newBits = oldBits | bits;
          const have = new Set(old.map((k) => k.toLowerCase()));
          newKw = [...old, ...canon.filter((k) => !have.has(k.toLowerCase()))];
        } else {
          newBits = oldBits & ~bits;
          newKw = old.filter((k) => !canonLc.has(k.toLowerCase()));
        }
        const newCol = keywordsToColumn(newKw);
        if (newBits === oldBits && sameKeywords(oldKw, newCol)) continue;
        update.run(newBits, newCol, modseq, box.id, uid);
        const change = { uid, flags: flagsToList(newBits, newCol), modseq, oldFlags: flagsToList(oldBits, oldKw) };
        result.changed.push(change);
        this.event({
          type: 'MessageFlags',
          mailbox: box.name,
          mailboxId: box.id,
          uid,
          uidValidity: box.uid_validity,
          oldFlags: change.oldFlags,
          newFlags: change.flags,
          oldRecent: input.recentUids?.includes(uid) ?? false,
        });
      }
      if (result.changed.length > 0) {
        this.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, box.id);
        this.notify(box.id, 'flags', modseq);
      }
      return result;
    });
  }

  copy(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult {
    this.announceInbox(toMailbox);
    return this.transaction(() => this.copyRows(fromMailboxId, uids, toMailbox).result);
  }

  move(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult {
    this.announceInbox(toMailbox);
    return this.transaction(() => {
      const { result, source } = this.copyRows(fromMailboxId, uids, toMailbox);
      if (result.sourceUids.length > 0) this.expungeRows(source, result.sourceUids, true);
      return result;
    });
  }

  /** COPY inside a transaction: same body, GUID, flags and internal date; new UID, save date, \Recent. */
  private copyRows(fromMailboxId: number, uids: number[], toMailbox: string): { result: CopyResult; source: MailboxRow } {
    const source = this.selectableById(fromMailboxId);
    const dest = this.selectable(toMailbox);
    const rows = this.selectByUids(source.id, uids);
    const result: CopyResult = { uidValidity: dest.uid_validity, sourceUids: [], destUids: [] };
    if (rows.length === 0) return { result, source };
    this.addUsage(
      rows.reduce((a, r) => a + r[6], 0),
      rows.length,
    );
    const modseq = dest.highest_modseq + 1;
    const now = Date.now();
    let uid = dest.uid_next;
    const sameBox = source.id === dest.id;
    const insert = this.stmts.get(
      `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, keywords, internal_date, save_date, size, guid, body_id, recent)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
    );
    for (const [srcUid, , bits, kw, internalDate, , size, guid, bodyId] of rows) {
      const keywords = sameBox ? kw : keywordsToColumn(this.canonicalKeywords(dest.id, keywordsFromColumn(kw), true));
      insert.run(dest.id, uid, modseq, modseq, bits, keywords, internalDate, now, size, guid, bodyId);
      this.bodies.addRef(bodyId);
      this.event({
        type: 'MessageSave',
        origin: 'copy',
        mailbox: dest.name,
        mailboxId: dest.id,
        uid,
        uidValidity: dest.uid_validity,
        bodyId,
        flags: flagsToList(bits, keywords),
      });
      result.sourceUids.push(srcUid);
      result.destUids.push(uid);
      uid++;
    }
    this.stmts.get('UPDATE mailbox SET uid_next = ?, highest_modseq = ? WHERE id = ?').run(uid, modseq, dest.id);
    this.notify(dest.id, 'messages', modseq);
    return { result, source: sameBox ? this.mailboxRowById(source.id)! : source };
  }

  expunge(mailboxId: number, uids: number[]): number[] {
    return this.transaction(() => this.expungeRows(this.selectableById(mailboxId), uids, true));
  }

  /** Deletes messages, logs them for VANISHED (when the mailbox lives on), frees bodies and quota. */
  private expungeRows(box: MailboxRow, uids: readonly number[], logExpunges: boolean): number[] {
    if (uids.length === 0) return [];
    const removed = this.stmts
      .get('DELETE FROM message WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) RETURNING uid, body_id, size')
      .raw(true)
      .all(box.id, checkUids(uids)) as [number, number, number][];
    if (removed.length === 0) return [];
    const modseq = box.highest_modseq + 1;
    let bytes = 0;
    const log = this.stmts.get('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
    for (const [uid, bodyId, size] of removed) {
      if (logExpunges) log.run(box.id, uid, modseq);
      const file = this.bodies.release(bodyId);
      if (file !== null) this.txnUnlinks.push(file);
      bytes += size;
    }
    this.addUsage(-bytes, -removed.length);
    this.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, box.id);
    this.notify(box.id, 'expunge', modseq);
    const expunged = removed.map((r) => r[0]).sort((a, b) => a - b);
    for (const uid of expunged) {
      this.event({ type: 'MessageExpunge', mailbox: box.name, mailboxId: box.id, uid, uidValidity: box.uid_validity });
    }
    return expunged;
  }

  changesSince(mailboxId: number, sinceModseq: number): ChangeRecord[] {
    this.assertOpen();
    const msgs = this.stmts
      .get('SELECT uid, modseq, created_modseq, flags, keywords FROM message WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid')
      .raw(true)
      .all(mailboxId, sinceModseq) as [number, number, number, number, string | null][];
    const gone = this.stmts
      .get('SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid')
      .raw(true)
      .all(mailboxId, sinceModseq) as [number, number][];
    const out: ChangeRecord[] = [];
    for (const [uid, modseq, created, bits, kw] of msgs) {
      out.push({ kind: created > sinceModseq ? 'append' : 'flags', mailboxId, uid, modseq, flags: flagsToList(bits, kw) });
    }
    for (const [uid, modseq] of gone) out.push({ kind: 'expunge', mailboxId, uid, modseq });
    return out.sort((a, b) => a.modseq - b.modseq || a.uid - b.uid);
  }

  claimRecent(mailboxId: number): number[] {
    return this.transaction(() => {
      // Found through the partial index (only \Recent rows), already in UID order; the UPDATE then
      // starts at the first of them instead of going through the whole mailbox.
      const uids = this.stmts
        .get('SELECT uid FROM message INDEXED BY message_recent WHERE mailbox_id = ? AND recent = 1 ORDER BY uid')
        .pluck()
        .all(mailboxId) as number[];
      if (uids.length > 0) this.stmts.get('UPDATE message SET recent = 0 WHERE mailbox_id = ? AND uid >= ? AND recent = 1').run(mailboxId, uids[0]);
      return uids;
    });
  }

  // ---------------------------------------------------------------- metadata (RFC 5464)

  /** '' is the server; otherwise an existing selectable mailbox. */
  private metadataOwner(mailbox: string): number {
    return mailbox === '' ? SERVER_METADATA_ID : this.selectable(mailbox).id;
  }

  getMetadata(mailbox: string, entries: string[], rules?: EntryNameRules): MetadataEntry[] {
    this.assertOpen();
    this.announceInbox(mailbox || INBOX); // server metadata lives on INBOX in Dovecot
    const keys = entries.map((e) => validateEntry(e, this.settings.metadataMaxEntryBytes, rules));
    const owner = this.metadataOwner(mailbox);
    const get = this.stmts.get('SELECT entry, value FROM metadata WHERE mailbox_id = ? AND entry_lc = ?');
    const out: MetadataEntry[] = [];
    for (const k of keys) {
      const row = get.get(owner, k) as { entry: string; value: Buffer } | undefined;
      if (row) out.push({ entry: row.entry, value: row.value });
    }
    return out;
  }

  setMetadata(mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): void {
    this.announceInbox(mailbox || INBOX);
    const key = validateEntry(entry, this.settings.metadataMaxEntryBytes, rules);
    if (value !== null && value.length > this.settings.metadataMaxValueBytes) {
      throw new StorageError('TOOBIG', `Metadata value too large (limit ${this.settings.metadataMaxValueBytes} bytes)`);
    }
    this.transaction(() => {
      const owner = this.metadataOwner(mailbox);
      if (value === null) {
        this.stmts.get('DELETE FROM metadata WHERE mailbox_id = ? AND entry_lc = ?').run(owner, key);
      } else {
        const exists = this.stmts.get('SELECT 1 FROM metadata WHERE mailbox_id = ? AND entry_lc = ?').get(owner, key);
        if (!exists) {
          const n = this.stmts.get('SELECT count(*) FROM metadata WHERE mailbox_id = ?').pluck().get(owner) as number;
          if (n >= this.settings.metadataMaxEntries) {
            throw new StorageError('LIMIT', `Too many metadata entries (limit ${this.settings.metadataMaxEntries})`);
          }
        }
        this.stmts
          .get('INSERT OR REPLACE INTO metadata (mailbox_id, entry_lc, entry, value) VALUES (?, ?, ?, ?)')
          .run(owner, key, entry, value);
      }
      // Dovecot logs every attribute change in the mailbox's index (MAIL_TRANSACTION_ATTRIBUTE_UPDATE,
      // counted by lib-index/mail-index-modseq.c), so each set or unset, even of a missing entry,
      // takes a modseq; server metadata lives on INBOX there and counts on INBOX.
      const box = owner === SERVER_METADATA_ID ? this.mailboxRow('INBOX') : this.mailboxRowById(owner);
      const modseq = box ? box.highest_modseq + 1 : 0;
      if (box) this.stmts.get('UPDATE mailbox SET highest_modseq = ? WHERE id = ?').run(modseq, box.id);
      this.notify(box ? box.id : null, 'metadata', modseq);
    });
  }

  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): MetadataEntry[] {
    this.assertOpen();
    this.announceInbox(mailbox || INBOX);
    const p = validatePrefix(prefix, this.settings.metadataMaxEntryBytes);
    const owner = this.metadataOwner(mailbox);
    // Descendants of p are the keys in [p + '/', p + '0'): '0' is the character after '/'.
    const rows = this.stmts
      .get('SELECT entry_lc, entry, value FROM metadata WHERE mailbox_id = ? AND (entry_lc = ? OR (entry_lc >= ? AND entry_lc < ?)) ORDER BY entry_lc')
      .all(owner, p, p + '/', p + '0') as { entry_lc: string; entry: string; value: Buffer }[];
    return rows
      .filter((r) => {
        if (r.entry_lc === p) return true;
        if (depth === 0) return false;
        return depth === 'infinity' || !r.entry_lc.includes('/', p.length + 1);
      })
      .map((r) => ({ entry: r.entry, value: r.value }));
  }
}

function isStaged(c: AppendInput['content']): c is StagedBody {
  return !Buffer.isBuffer(c) && (c as Partial<StagedBody>).kind === 'staged';
}

function sameKeywords(a: string | null, b: string | null): boolean {
  if (a === b) return true;
  const x = keywordsFromColumn(a);
  const y = keywordsFromColumn(b);
  return x.length === y.length && x.every((k) => y.includes(k));
}
