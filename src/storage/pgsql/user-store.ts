// The PostgreSQL implementation of UserStore (issue #15): every user's mail in one database, so
// that any node serves any user. This class opens the store and hands each call to the module of
// its concern, as sqlite/user-store.ts does: the unit of work (store-context.ts: set-up,
// transactions, notices after COMMIT), the mailbox tree, messages, the view snapshot, metadata
// and quota. It is the asynchronous mode of the contract: every call returns a promise.
//
// Durability: each mutating call commits (synchronous_commit on, pool.ts) before its promise
// resolves, so durably(fn) only waits for fn and for the calls still in flight.
// Bodies live in the database (bodies.ts), written by the append's own transaction (a body
// written ahead in a transaction of its own would be deleted at that COMMIT, as nothing refers to
// it yet: migrations/0001-init.sql body_unused); stageBody lets the recipients of one message
// share one body row (staged-body.ts).
import { Logger } from '../../log/logger.js';
import type { ChangeFeed } from '../change-feed.js';
import { parseFlags } from '../flags.js';
import type { MailEventListener, StoreActor } from '../mail-events.js';
import { mailboxIndexCache, type StoreIndexes } from '../mailbox-index.js';
import { normalizeSpecialUse } from '../mailbox-names.js';
import type { EntryNameRules } from '../metadata-entries.js';
import { resolveStorageSettings } from '../settings.js';
import { StoreNotices } from '../store-notices.js';
import {
  StorageError,
  type AppendInput,
  type AppendResult,
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
  type QuotaLimits,
  type QuotaUsage,
  type ReplaceResult,
  type SharedBody,
  type SpooledContent,
  type StorageSettings,
  type StoreFlagsInput,
  type StoreFlagsResult,
  type UserStoreOf,
} from '../types.js';
import { openBody, type PgsqlBodyReader } from './bodies.js';
import { PgsqlChangeFeed } from './change-feed.js';
import { changesSince } from './changes.js';
import * as tree from './mailbox-tree.js';
import { readMailboxView } from './mailbox-view.js';
import * as messages from './messages.js';
import * as metadata from './metadata.js';
import { acquirePgsqlPool } from './pool.js';
import { lockQuota, quotaUsage } from './quota.js';
import { PgsqlBodyShare, PgsqlStagedBody } from './staged-body.js';
import { PgsqlStoreContext } from './store-context.js';

export interface PgsqlUserStoreOptions {
  username: string;
  /** Dovecot's SQL connect string (the part of `mail_location` after `pgsql:`). */
  connect: string;
  separator?: string;
  settings?: Partial<StorageSettings>;
  quota?: QuotaLimits;
  logger?: Logger;
}

type AsyncUserStore = UserStoreOf<'async'>;

export class PgsqlUserStore implements AsyncUserStore {
  readonly username: string;
  readonly separator: string;
  readonly settings: StorageSettings;
  private readonly u: PgsqlStoreContext;
  private readonly feed: PgsqlChangeFeed;
  /** Signals from the change feed so far: refreshChanges() compares it with the last look. */
  private feedSignals = 0;
  /** This thread's shared mailbox listings of the user (mailbox-index.ts), and their cache key. */
  private readonly indexes: StoreIndexes;
  private readonly indexKey: string;

  constructor(opts: PgsqlUserStoreOptions) {
    this.username = opts.username;
    this.separator = opts.separator || '/';
    if ([...this.separator].length !== 1 || /[*%\s]/.test(this.separator)) {
      throw new StorageError('PARAMETERS', `Invalid hierarchy separator ${JSON.stringify(this.separator)}`);
    }
    this.settings = resolveStorageSettings(opts.settings);
    const logger = opts.logger ?? new Logger('storage: ');
    const pool = acquirePgsqlPool(opts.connect, logger);
    this.u = new PgsqlStoreContext(this.username, this.separator, this.settings, opts.quota ?? {}, pool, opts.settings?.bodyChunkBytes);
    this.feed = new PgsqlChangeFeed(opts.connect, this.username, { logger, safetyPollMs: this.settings.changePollIntervalMs });
    // Commits announce themselves inside their transaction (NOTIFY at COMMIT), so the notices'
    // announce() has nothing left to do; a signal from the feed counts as "changed elsewhere".
    const feed: ChangeFeed = {
      announce: () => undefined,
      watch: (onSignal) => this.feed.watch(() => (this.feedSignals++, onSignal())),
      close: () => this.feed.close(),
    };
    this.u.notices = new StoreNotices(this.username, feed, () => this.feedSignals);
    this.indexKey = `pgsql\0${this.u.database}\0${this.username}`;
    this.indexes = mailboxIndexCache.acquire(this.indexKey);
  }

  /** Resolves once the store is set up (migrations, the user's store row, INBOX); rejects if that failed. */
  get ready(): Promise<void> {
    return this.u.ready;
  }

  // ---------------------------------------------------------------- unit of work and notices

  async durably<T>(fn: (store: AsyncUserStore) => T | Promise<T>): Promise<T> {
    this.u.assertOpen();
    try {
      return await fn(this);
    } finally {
      // Every call fn made (and every earlier one) committed with synchronous_commit on once it settled.
      await this.u.settled();
    }
  }

  /**
   * Large bodies (at least bodyFileThresholdBytes) become a staged handle that the other
   * recipients of the same message share (staged-body.ts): the body row is written once, by the
   * first append that commits; nothing is written here.
   */
  async stageBody(
    content: Buffer | SpooledContent,
    opts?: { linkFrom?: SharedBody; onWritten?: (shared: SharedBody) => void },
  ): Promise<Buffer | SpooledContent | PgsqlStagedBody> {
    this.u.assertOpen();
    const size = Buffer.isBuffer(content) ? content.length : content.size;
    const threshold = this.settings.bodyFileThresholdBytes;
    if (threshold === 0 || size < threshold || size > this.settings.maxMessageBytes) return content; // append() decides
    const linkFrom = opts?.linkFrom instanceof PgsqlBodyShare && opts.linkFrom.database === this.u.database ? opts.linkFrom : undefined;
    const staged = new PgsqlStagedBody(this.u, content, size, new PgsqlBodyShare(this.u.database), linkFrom);
    opts?.onWritten?.(staged.share);
    return staged;
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

  /** Answered from the change feed (no query): an `elsewhere` notice if it signalled since the last look. */
  refreshChanges(): void {
    if (this.u.closed) return;
    this.u.notices.refresh();
  }

  async close(): Promise<void> {
    if (this.u.closed) return;
    await this.u.settled();
    this.u.closed = true;
    this.u.notices.close();
    mailboxIndexCache.release(this.indexKey, this.settings.indexRetainMessages);
    await this.u.pool.release();
  }

  // ---------------------------------------------------------------- mailbox tree

  listMailboxes(): Promise<MailboxInfo[]> {
    return this.u.read(() => tree.listMailboxes(this.u.pool, this.u));
  }
  getMailbox(name: string): Promise<MailboxInfo | undefined> {
    return this.u.read(async () => {
      const r = await tree.mailboxRow(this.u.pool, this.u, tree.norm(this.u, name));
      return r && tree.toInfo(r);
    });
  }
  getMailboxById(id: number): Promise<MailboxInfo | undefined> {
    return this.u.read(async () => {
      const r = await tree.mailboxRowById(this.u.pool, this.u, id);
      return r && tree.toInfo(r);
    });
  }
  createMailbox(name: string, opts?: { specialUse?: string[] }): Promise<MailboxInfo> {
    return this.checked(() => {
      const n = tree.norm(this.u, name);
      tree.validate(this.u, n);
      const specialUse = normalizeSpecialUse(opts?.specialUse ?? []);
      return this.u.mutate((c, log) => tree.createMailbox(c, this.u, log, n, specialUse));
    });
  }
  deleteMailbox(name: string): Promise<void> {
    return this.checked(() => {
      const n = tree.norm(this.u, name);
      if (n === 'INBOX') throw new StorageError('NOPERM', "INBOX can't be deleted.");
      return this.u.mutate((c, log) => tree.deleteMailbox(c, this.u, log, n));
    });
  }
  renameMailbox(oldName: string, newName: string): Promise<void> {
    return this.checked(() => {
      const from = tree.norm(this.u, oldName);
      const to = tree.norm(this.u, newName);
      tree.validate(this.u, to);
      return this.u.mutate((c, log) => tree.renameMailbox(c, this.u, log, from, to));
    });
  }
  setSubscribed(name: string, subscribed: boolean): Promise<void> {
    return this.checked(() => {
      const n = tree.norm(this.u, name);
      tree.validate(this.u, n);
      return this.u.mutate((c, log) => tree.setSubscribed(c, this.u, log, n, subscribed));
    });
  }
  listSubscriptions(): Promise<string[]> {
    return this.u.read(() => tree.listSubscriptions(this.u.pool, this.u));
  }
  setSpecialUse(name: string, specialUse: string[]): Promise<void> {
    return this.u.mutate((c, log) => tree.setSpecialUse(c, this.u, log, name, specialUse));
  }
  setMailboxUids(name: string, ids: { uidValidity?: number; uidNext?: number; highestModseq?: number }): Promise<MailboxInfo> {
    return this.u.mutate((c, log) => tree.setMailboxUids(c, this.u, log, name, ids));
  }
  status(name: string): Promise<MailboxStatus> {
    const actor = this.u.notices.currentActor;
    return this.u.read(async () => {
      await this.u.announceInbox(name, actor);
      return tree.status(this.u.pool, this.u, name);
    });
  }
  enableModseqTracking(mailboxId: number): Promise<void> {
    return this.u.mutate((c) => tree.enableModseqTracking(c, this.u, mailboxId));
  }
  openMailboxView(name: string, claim: boolean): Promise<MailboxViewSnapshot> {
    return this.u.mutate((c) => readMailboxView(c, this.u, this.indexes, name, claim), name);
  }

  // ---------------------------------------------------------------- messages

  append(mailbox: string, input: AppendInput): Promise<AppendResult> {
    return this.appendMany(mailbox, [input]).then((r) => r[0]!);
  }
  appendMany(mailbox: string, inputs: AppendInput[]): Promise<AppendResult[]> {
    return this.insert(mailbox, inputs, false);
  }

  /**
   * APPEND and import: the inputs checked, then inserted in one transaction. A refused input is
   * refused after `mailbox` was opened, as in Dovecot (and the SQLite store): INBOX's
   * MailboxCreate is raised first when it is due.
   */
  private insert(mailbox: string, inputs: AppendInput[], keepFreeUids: boolean): Promise<AppendResult[]> {
    let parsed: messages.ParsedAppend[];
    try {
      parsed = inputs.map((i) => messages.parseAppend(this.u, i));
    } catch (e) {
      return this.u.announceInbox(mailbox).then(() => Promise.reject(e));
    }
    return this.u.mutate((c, log) => messages.insertMessages(c, this.u, log, mailbox, parsed, keepFreeUids), mailbox);
  }
  replace(mailboxId: number, uid: number, mailbox: string, input: AppendInput): Promise<ReplaceResult> {
    return this.checked(() => {
      const parsed = messages.parseAppend(this.u, input);
      return this.u.mutate(async (c, log) => {
        // Lock order: the store row (quota), then both mailbox rows in id order.
        await lockQuota(c, this.u);
        const dest = await tree.selectable(c, this.u, mailbox);
        await tree.lockSelectable(c, this.u, [mailboxId, dest.id]);
        const appended = (await messages.insertMessages(c, this.u, log, mailbox, [parsed]))[0]!;
        // Read again under the lock: the append may have been into the same mailbox.
        const box = (await tree.lockSelectable(c, this.u, [mailboxId])).get(mailboxId)!;
        return { appended, expunged: await messages.expungeRows(c, log, box, [uid], true) };
      }, mailbox);
    });
  }
  importMessages(mailbox: string, inputs: AppendInput[]): Promise<AppendResult[]> {
    return this.insert(mailbox, inputs, true);
  }
  listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.u.read(() => messages.listMessages(this.u.pool, this.u, mailboxId));
  }
  listMessageFlags(mailboxId: number): Promise<MessageFlags[]> {
    return this.u.read(() => messages.listMessageFlags(this.u.pool, this.u, mailboxId));
  }
  getMessages(mailboxId: number, uids: number[]): Promise<MessageMeta[]> {
    return this.u.read(async () => (await messages.selectByUids(this.u.pool, this.u, mailboxId, uids)).map(messages.toMeta));
  }
  openBody(bodyId: number): Promise<PgsqlBodyReader> {
    return this.u.read(() => openBody(this.u.pool, bodyId, this.u.storeId));
  }
  openBodyWithStructure(bodyId: number): Promise<{ body: PgsqlBodyReader; mimeStructure: unknown }> {
    return this.u.read(async () => {
      const body = await openBody(this.u.pool, bodyId, this.u.storeId);
      return { body, mimeStructure: body.mimeStructure };
    });
  }
  getMimeStructure(bodyId: number): Promise<unknown> {
    return this.u.read(async () => (await openBody(this.u.pool, bodyId, this.u.storeId)).mimeStructure);
  }
  setMimeStructure(bodyId: number, mimeStructure: unknown): Promise<void> {
    return this.u.mutate(async (c) => {
      const { rowCount } = await c.query('UPDATE body SET mime_structure = $2 WHERE id = $1', [bodyId, JSON.stringify(mimeStructure)]);
      if (!rowCount) throw new StorageError('EXPUNGEISSUED', 'Message was expunged');
    });
  }
  storeFlags(mailboxId: number, input: StoreFlagsInput): Promise<StoreFlagsResult> {
    return this.checked(() => {
      const parsed = parseFlags(input.flags, this.settings.maxKeywordBytes);
      if (input.unchangedSince !== undefined && (!Number.isInteger(input.unchangedSince) || input.unchangedSince < 0)) {
        throw new StorageError('PARAMETERS', `Invalid UNCHANGEDSINCE ${String(input.unchangedSince)}`);
      }
      return this.u.mutate((c, log) => messages.storeFlags(c, this.u, log, mailboxId, input, parsed));
    });
  }
  copy(fromMailboxId: number, uids: number[], toMailbox: string): Promise<CopyResult> {
    return this.u.mutate(async (c, log) => (await messages.copyRows(c, this.u, log, fromMailboxId, uids, toMailbox)).result, toMailbox);
  }
  move(fromMailboxId: number, uids: number[], toMailbox: string): Promise<CopyResult> {
    return this.u.mutate(async (c, log) => {
      const { result, source } = await messages.copyRows(c, this.u, log, fromMailboxId, uids, toMailbox);
      if (result.sourceUids.length > 0) await messages.expungeRows(c, log, source, result.sourceUids, true);
      return result;
    }, toMailbox);
  }
  expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    return this.u.mutate(async (c, log) => {
      const box = (await tree.lockSelectable(c, this.u, [mailboxId])).get(mailboxId)!;
      return messages.expungeRows(c, log, box, uids, true);
    });
  }
  changesSince(mailboxId: number, sinceModseq: number): Promise<ChangeRecord[]> {
    return this.u.read(() => changesSince(this.u.pool, mailboxId, sinceModseq, this.u.storeId));
  }
  claimRecent(mailboxId: number): Promise<number[]> {
    return this.u.mutate((c) => messages.claimRecent(c, this.u, mailboxId));
  }

  // ---------------------------------------------------------------- metadata and quota

  getMetadata(mailbox: string, entries: string[], rules?: EntryNameRules): Promise<MetadataEntry[]> {
    const actor = this.u.notices.currentActor;
    return this.u.read(async () => {
      await this.u.announceInbox(mailbox || 'INBOX', actor); // server metadata lives on INBOX in Dovecot
      return metadata.getMetadata(this.u.pool, this.u, mailbox, entries, rules);
    });
  }
  setMetadata(mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): Promise<void> {
    return this.checked(() => {
      metadata.checkMetadataChange(this.u, entry, value, rules);
      return this.u.mutate((c, log) => metadata.setMetadata(c, this.u, log, mailbox, entry, value, rules), mailbox || 'INBOX');
    });
  }
  setMetadataMany(mailbox: string, entries: MetadataEntryChange[], opts?: { maxEntries?: number; rules?: EntryNameRules }): Promise<void> {
    return this.u.mutate((c, log) => metadata.setMetadataMany(c, this.u, log, mailbox, entries, opts), mailbox || 'INBOX');
  }
  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): Promise<MetadataEntry[]> {
    const actor = this.u.notices.currentActor;
    return this.u.read(async () => {
      await this.u.announceInbox(mailbox || 'INBOX', actor);
      return metadata.listMetadata(this.u.pool, this.u, mailbox, prefix, depth);
    });
  }
  quotaUsage(): Promise<QuotaUsage> {
    return this.u.read(() => quotaUsage(this.u.pool, this.u.storeId));
  }

  /** Runs `start` (argument checks, then the call), turning a check's throw into a rejected promise. */
  private checked<T>(start: () => Promise<T>): Promise<T> {
    try {
      return start();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** Opens a user's pgsql store with the backend's own options (tests, benches, the backend itself). */
export function openPgsqlStore(opts: PgsqlUserStoreOptions): PgsqlUserStore {
  return new PgsqlUserStore(opts);
}
