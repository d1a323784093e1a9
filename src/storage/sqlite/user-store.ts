// The SQLite implementation of UserStore: one database file per user (DESIGN.md decision 2).
// This class opens the store and hands each call to the module of its concern: the unit of work
// (unit-of-work.ts: transactions, durability, body files after commit), notices (notices.ts),
// the mailbox tree, messages, the view snapshot, metadata and quota. It is the synchronous mode
// of the contract (SyncUserStore), which is assignable to the asynchronous one.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '../../log/logger.js';
import { INBOX } from '../mailbox-names.js';
import type { EntryNameRules } from '../metadata-entries.js';
import type { MailEventListener, StoreActor } from '../mail-events.js';
import {
  StorageError,
  type AppendInput,
  type AppendResult,
  type SyncBodyReader as BodyReader,
  type ChangeNotice,
  type ChangeRecord,
  type CopyResult,
  type MailboxInfo,
  type MailboxStatus,
  type MailboxViewSnapshot,
  type MessageFlags,
  type MessageMeta,
  type MetadataEntry,
  type MetadataEntryChange,
  type QuotaUsage,
  type ReplaceResult,
  type SharedBody,
  type SpooledContent,
  type StoreFlagsInput,
  type StoreFlagsResult,
  type SyncUserStore,
} from '../types.js';
import { BodyFiles, isBodyLinkSource, type BodyLinkSource, type StagedBodyFile } from './body-files.js';
import { BodyStore } from './body-store.js';
import { changeFilePath, FileChangeFeed } from './file-change-feed.js';
import * as tree from './mailbox-tree.js';
import * as messages from './messages.js';
import * as metadata from './metadata.js';
import { applyMigrations } from './migrations.js';
import { StoreNotices } from '../store-notices.js';
import { resolveSettings, type SqliteStorageSettings, type SqliteUserStoreOptions } from './options.js';
import { quotaUsage } from './quota.js';
import { openDb, StatementCache, type Db } from './sqlite.js';
import { UnitOfWork } from './unit-of-work.js';
import { openMailboxView } from './view-snapshot.js';
import { indexCacheKey, sqliteIndexSource } from './mailbox-view.js';
import { mailboxIndexCache } from '../mailbox-index.js';
import { WalSync } from './wal-sync.js';

const log = new Logger('storage: ');
/** How often a user's orphaned body files are looked for, and how old one must be to go. */
const ORPHAN_SWEEP_INTERVAL_MS = 24 * 3600_000;
const ORPHAN_MIN_AGE_MS = 3600_000;

export class SqliteUserStore implements SyncUserStore {
  readonly username: string;
  readonly separator: string;
  readonly settings: SqliteStorageSettings;
  private readonly u: UnitOfWork;
  /** The store durably() hands to its function: every call defers its WAL sync. */
  private deferredStore: SyncUserStore | undefined;

  constructor(opts: SqliteUserStoreOptions) {
    this.username = opts.username;
    this.separator = opts.separator || '/';
    if ([...this.separator].length !== 1 || /[*%\s]/.test(this.separator)) {
      throw new StorageError('PARAMETERS', `Invalid hierarchy separator ${JSON.stringify(this.separator)}`);
    }
    this.settings = resolveSettings(opts.settings);
    const db = openDb(opts.dbPath, this.settings);
    let u: UnitOfWork;
    try {
      const migrated = applyMigrations(db, 'user', opts.migrationsDir).length > 0;
      const stmts = new StatementCache(db);
      u = new UnitOfWork(this.username, this.separator, this.settings, opts.quota ?? {}, db, stmts);
      u.bodies = new BodyStore(stmts, this.settings.bodyChunkBytes, new BodyFiles(join(opts.home, 'bodies')));
      u.initial(() => this.initStore(u));
      if (this.settings.durability === 'async-fsync') {
        u.walSync = new WalSync(`${opts.dbPath}-wal`);
        u.totalChanges = db.prepare('SELECT total_changes()').pluck();
        // Migrations and initStore committed with NORMAL: make them durable like everything else.
        // Only when they wrote (the first open, an upgrade): an open that changed nothing has
        // nothing to sync, and an fdatasync per login was the largest cost of opening a store.
        if (migrated || (u.totalChanges.get() as number) > 0) {
          u.walSync.noteCommit();
          u.walSync.syncNow();
        }
      }
    } catch (e) {
      db.close();
      throw e;
    }
    this.u = u;
    const feed = new FileChangeFeed(changeFilePath(opts.dbPath), this.settings.changePollIntervalMs, opts.dbPath);
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    u.notices = new StoreNotices(this.username, feed, () => dataVersion.get() as number);
    u.indexSource = sqliteIndexSource(u.stmts);
    const indexKey = indexCacheKey(opts.dbPath);
    u.indexes = mailboxIndexCache.acquire(indexKey);
    u.releaseIndexes = () => mailboxIndexCache.release(indexKey, this.settings.indexRetainMessages);
    this.scheduleOrphanSweep(opts.home);
  }

  /** The connection (tests look at pragmas and checkpoints). */
  get db(): Db {
    return this.u.db;
  }

  /** durability 'async-fsync': the WAL sync (tests replace it). */
  get walSync(): WalSync | null {
    return this.u.walSync;
  }
  set walSync(w: WalSync | null) {
    this.u.walSync = w;
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
      if (this.u.closed) return;
      try {
        const used = this.u.stmts.get('SELECT 1 FROM body WHERE file = ?').pluck();
        const removed = this.u.bodies.files.sweepOrphans((name) => used.get(name) !== undefined, ORPHAN_MIN_AGE_MS);
        writeFileSync(marker, '');
        if (removed > 0) log.info(`${this.username}: removed ${removed} orphaned body file(s)`);
      } catch (e) {
        log.warning(`${this.username}: orphaned body file sweep failed: ${(e as Error).message}`);
      }
    }, 1000).unref();
  }

  /** Records the separator on first open and refuses another later; makes sure INBOX exists. */
  private initStore(u: UnitOfWork): void {
    const row = u.stmts.get("SELECT value FROM store_info WHERE key = 'separator'").get() as { value: string } | undefined;
    if (!row) {
      u.stmts.get("INSERT INTO store_info (key, value) VALUES ('separator', ?)").run(this.separator);
    } else if (row.value !== this.separator) {
      throw new StorageError(
        'PARAMETERS',
        `Mail store of ${this.username} uses hierarchy separator ${JSON.stringify(row.value)}, configured ${JSON.stringify(this.separator)}`,
      );
    }
    if (!tree.mailboxRow(u, INBOX)) {
      tree.insertMailbox(u, INBOX, false, []);
      u.stmts.get(`INSERT OR REPLACE INTO store_info (key, value) VALUES ('${tree.INBOX_UNANNOUNCED}', '1')`).run();
    }
  }

  // ---------------------------------------------------------------- unit of work and notices

  /** Several operations as one transaction (nested calls join it); the backend's own batching. */
  transaction<T>(fn: () => T): T {
    return this.u.transaction(fn);
  }

  durably<T>(fn: (store: SyncUserStore) => T | Promise<T>): Promise<T> {
    this.deferredStore ??= deferredView(this, this.u);
    return this.u.durably(fn, this.deferredStore);
  }

  async stageBody(
    content: Buffer | SpooledContent,
    opts?: { linkFrom?: BodyLinkSource | SharedBody; onWritten?: (file: BodyLinkSource) => void },
  ): Promise<Buffer | SpooledContent | StagedBodyFile> {
    this.u.assertOpen();
    const size = BodyStore.sizeOf(content);
    if (!this.u.usesFile(size) || size > this.settings.maxMessageBytes) return content; // append() decides
    const linkFrom = isBodyLinkSource(opts?.linkFrom) ? opts.linkFrom : undefined;
    return this.u.bodies.files.stage(content, size, { linkFrom, onWritten: opts?.onWritten });
  }

  withActor<T>(actor: StoreActor, fn: () => T): T {
    return this.u.notices.withActor(actor, fn);
  }

  onMailEvents(listener: MailEventListener): () => void {
    this.u.assertOpen();
    return this.u.notices.onMailEvents(listener);
  }

  onChange(listener: (n: ChangeNotice) => void): () => void {
    this.u.assertOpen();
    return this.u.notices.onChange(listener, () => this.refreshChanges());
  }

  refreshChanges(): void {
    if (this.u.closed || this.u.depth > 0) return;
    this.u.notices.refresh();
  }

  close(): void {
    this.u.close();
  }

  // ---------------------------------------------------------------- mailbox tree

  listMailboxes(): MailboxInfo[] {
    return tree.listMailboxes(this.u);
  }
  getMailbox(name: string): MailboxInfo | undefined {
    return tree.getMailbox(this.u, name);
  }
  getMailboxById(id: number): MailboxInfo | undefined {
    return tree.getMailboxById(this.u, id);
  }
  createMailbox(name: string, opts?: { specialUse?: string[] }): MailboxInfo {
    return tree.createMailbox(this.u, name, opts);
  }
  deleteMailbox(name: string): void {
    tree.deleteMailbox(this.u, name);
  }
  renameMailbox(oldName: string, newName: string): void {
    tree.renameMailbox(this.u, oldName, newName);
  }
  setSubscribed(name: string, subscribed: boolean): void {
    tree.setSubscribed(this.u, name, subscribed);
  }
  listSubscriptions(): string[] {
    return tree.listSubscriptions(this.u);
  }
  setSpecialUse(name: string, specialUse: string[]): void {
    tree.setSpecialUse(this.u, name, specialUse);
  }
  setMailboxUids(name: string, ids: { uidValidity?: number; uidNext?: number; highestModseq?: number }): MailboxInfo {
    return tree.setMailboxUids(this.u, name, ids);
  }
  status(name: string): MailboxStatus {
    return tree.status(this.u, name);
  }
  enableModseqTracking(mailboxId: number): void {
    tree.enableModseqTracking(this.u, mailboxId);
  }
  openMailboxView(name: string, claim: boolean): MailboxViewSnapshot {
    return openMailboxView(this.u, name, claim);
  }

  // ---------------------------------------------------------------- messages

  append(mailbox: string, input: AppendInput): AppendResult {
    return messages.append(this.u, mailbox, input);
  }
  appendMany(mailbox: string, inputs: AppendInput[]): AppendResult[] {
    return messages.appendMany(this.u, mailbox, inputs);
  }
  replace(mailboxId: number, uid: number, mailbox: string, input: AppendInput): ReplaceResult {
    return this.u.transaction(() => ({ appended: messages.append(this.u, mailbox, input), expunged: messages.expunge(this.u, mailboxId, [uid]) }));
  }
  importMessages(mailbox: string, inputs: AppendInput[]): AppendResult[] {
    return messages.importMessages(this.u, mailbox, inputs);
  }
  listMessages(mailboxId: number): MessageMeta[] {
    return messages.listMessages(this.u, mailboxId);
  }
  listMessageFlags(mailboxId: number): MessageFlags[] {
    return messages.listMessageFlags(this.u, mailboxId);
  }
  getMessages(mailboxId: number, uids: number[]): MessageMeta[] {
    return messages.getMessages(this.u, mailboxId, uids);
  }
  openBody(bodyId: number): BodyReader {
    return messages.openBody(this.u, bodyId);
  }
  openBodyWithStructure(bodyId: number): { body: BodyReader; mimeStructure: unknown } {
    return messages.openBodyWithStructure(this.u, bodyId);
  }
  getMimeStructure(bodyId: number): unknown {
    return messages.getMimeStructure(this.u, bodyId);
  }
  setMimeStructure(bodyId: number, mimeStructure: unknown): void {
    messages.setMimeStructure(this.u, bodyId, mimeStructure);
  }
  storeFlags(mailboxId: number, input: StoreFlagsInput): StoreFlagsResult {
    return messages.storeFlags(this.u, mailboxId, input);
  }
  copy(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult {
    return messages.copy(this.u, fromMailboxId, uids, toMailbox);
  }
  move(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult {
    return messages.move(this.u, fromMailboxId, uids, toMailbox);
  }
  expunge(mailboxId: number, uids: number[]): number[] {
    return messages.expunge(this.u, mailboxId, uids);
  }
  changesSince(mailboxId: number, sinceModseq: number): ChangeRecord[] {
    return messages.changesSince(this.u, mailboxId, sinceModseq);
  }
  claimRecent(mailboxId: number): number[] {
    return messages.claimRecent(this.u, mailboxId);
  }

  // ---------------------------------------------------------------- metadata and quota

  getMetadata(mailbox: string, entries: string[], rules?: EntryNameRules): MetadataEntry[] {
    return metadata.getMetadata(this.u, mailbox, entries, rules);
  }
  setMetadata(mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): void {
    metadata.setMetadata(this.u, mailbox, entry, value, rules);
  }
  setMetadataMany(mailbox: string, entries: MetadataEntryChange[], opts?: { maxEntries?: number; rules?: EntryNameRules }): void {
    metadata.setMetadataMany(this.u, mailbox, entries, opts);
  }
  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): MetadataEntry[] {
    return metadata.listMetadata(this.u, mailbox, prefix, depth);
  }
  quotaUsage(): QuotaUsage {
    return quotaUsage(this.u);
  }
}

/** This store with every call run as UnitOfWork.deferred (durably's store); durably itself nests. */
function deferredView(store: SqliteUserStore, u: UnitOfWork): SyncUserStore {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        fn = (...args: unknown[]) => u.deferred(() => method.apply(target, args));
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
