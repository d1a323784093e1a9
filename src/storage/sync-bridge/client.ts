// A synchronous store over any backend's asynchronous one (issue #15): Lua's storage calls run in
// worker threads and must be synchronous, as in Dovecot, but a network engine (PostgreSQL) only
// answers asynchronously. The backend's store (storage/index.ts openUserStore, whichever backend
// `opts.location` selects) runs on a helper thread (worker.ts) and this thread sleeps in
// Atomics.wait until the helper answers (src/threads/blocking-helper.ts). A backend decides
// whether its sync stores go through here (its StorageBackend.openSyncUserStore calls
// openBridgedSyncStore); SQLite serves them natively.
//
// One helper thread per calling thread, shared by every bridged store opened there (a Lua worker
// holds one store per user, store-cache.ts): a thread per store would cost one V8 isolate each for
// calls that run one at a time anyway, since the caller blocks on each. It starts with the first
// store and ends when the last one closes; it never keeps a process alive (unref), and when the
// calling thread exits, Node ends it too.
//
// What crosses (protocol.ts): arguments and results by structured clone, Buffers revived,
// StorageError rebuilt with its code and message. A body reader stays on the helper; read() and
// slices() fetch the requested range only. Mail events and change notices the helper's store
// emits during a call are relayed to this store's listeners, in order, before the call returns
// (as a store delivers them synchronously after its commit). Notices that reach the helper's store
// between calls (other threads and processes, through the backend's change feed) come as a message
// of their own, delivered when this thread's event loop runs (as a direct store's notices from other
// threads are), or with the next call if that comes first; refreshChanges() is the cheap call
// that looks. A call that ran into the wait limit loses the events its late answer carries.
import { Logger } from '../../log/logger.js';
import { BlockingHelperThread, type WithoutId } from '../../threads/blocking-helper.js';
import { compiledModuleUrl } from '../../threads/compiled-module.js';
import { FlagSets, MessageColumns } from '../mailbox-index.js';
import {
  DEFAULT_STORAGE_SETTINGS,
  isStagedBody,
  StorageError,
  type AppendInput,
  type ChangeNotice,
  type MailEventListener,
  type MailTransactionEvents,
  type MailboxViewSnapshot,
  type MetadataEntry,
  type MetadataEntryChange,
  type SharedBody,
  type SpooledContent,
  type StagedBody,
  type StoreActor,
  type SyncBodyReader,
  type SyncUserStore,
  type UserStoreOptions,
} from '../types.js';
import type { BridgeReply, BridgeRequest, ForwardedMethod, OpenedBody, RelayedEvent, SerializedColumns, StagedAnswer, StagedRef } from './protocol.js';

const log = new Logger('storage: ');

/** How long a call waits for the helper's store before it fails with SERVERBUG. */
export const DEFAULT_BRIDGE_WAIT_LIMIT_MS = 30_000;

export interface BridgeOptions {
  /** Default DEFAULT_BRIDGE_WAIT_LIMIT_MS. */
  waitLimitMs?: number;
}

// ---- The helper thread of this thread ----

interface Helper {
  thread: BlockingHelperThread<BridgeRequest, BridgeReply>;
  stores: Map<number, BridgedSyncStore>;
}

let helper: Helper | undefined;
let nextStoreId = 1;
/** Helper threads started in this thread and not yet exited (tests). */
let runningHelpers = 0;
const counted = new WeakSet<object>();

function acquireHelper(): Helper {
  if (!helper) {
    const stores = new Map<number, BridgedSyncStore>();
    // Events the helper's stores emitted between calls (other threads' and processes' changes).
    const thread = new BlockingHelperThread<BridgeRequest, BridgeReply>(compiledModuleUrl('storage/sync-bridge/worker.js'), (m) => {
      relayQueue.push(...(m as BridgeReply).events);
      if (!calling) relay(stores);
    });
    helper = { thread, stores };
  }
  return helper;
}

function releaseHelper(h: Helper): void {
  if (h.stores.size > 0) return;
  h.thread.close();
  if (helper === h) helper = undefined;
}

/** Number of bridge helper threads this thread started that have not exited yet (seen by this thread's event loop). */
export function bridgeHelperThreads(): number {
  return runningHelpers;
}

// ---- Actors: the objects stay here, the helper's store sees numbers ----

const actorIds = new WeakMap<StoreActor, number>();
const actorsById = new Map<number, WeakRef<StoreActor>>();
const forgetActor = new FinalizationRegistry<number>((id) => actorsById.delete(id));
let nextActorId = 1;

function actorId(actor: StoreActor): number {
  let id = actorIds.get(actor);
  if (id === undefined) {
    id = nextActorId++;
    actorIds.set(actor, id);
    actorsById.set(id, new WeakRef(actor));
    forgetActor.register(actor, id);
  }
  return id;
}

// ---- Events: relayed in order, also when a listener calls the store again ----

const relayQueue: RelayedEvent[] = [];
let relaying = false;
/** A call is waiting for its answer: events read meanwhile wait for the answer's own. */
let calling = false;

function relay(stores: Map<number, BridgedSyncStore>): void {
  if (relaying || relayQueue.length === 0) return; // the outer relay delivers them after the ones before
  relaying = true;
  try {
    for (let e = relayQueue.shift(); e; e = relayQueue.shift()) stores.get(e.storeId)?.deliver(e);
  } finally {
    relaying = false;
  }
}

// ---- Crossing ----

/** Bytes as they should cross: a view of part of a larger ArrayBuffer (Node's pool) is copied, so only its bytes are cloned. */
function compact(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function rebuildColumns(c: SerializedColumns): MessageColumns {
  const flagSets = new FlagSets();
  // Distinct lists interned in the same order get the same numbers.
  for (const list of c.flagLists) flagSets.idOf(list);
  return MessageColumns.filled(flagSets, c.uids.length, (uids, sets, modseqs, sizes) => {
    uids.set(c.uids);
    sets.set(c.sets);
    modseqs.set(c.modseqs);
    sizes.set(c.sizes);
  });
}

/** A body staged on the helper: appended by its number, durable once stageBody resolved. */
class BridgedStagedBody implements StagedBody {
  readonly kind = 'staged' as const;
  readonly durable = Promise.resolve();
  discarded = false;

  constructor(
    private readonly owner: BridgedSyncStore,
    readonly number: number,
    readonly size: number,
  ) {}

  discard(): Promise<void> {
    if (this.discarded) return Promise.resolve();
    this.discarded = true;
    return Promise.resolve().then(() => this.owner.discardStaged(this.number));
  }
}

/** A body reader whose bytes stay on the helper until a range is read. */
class BridgedBodyReader implements SyncBodyReader {
  constructor(
    private readonly owner: BridgedSyncStore,
    readonly bodyId: number,
    readonly size: number,
    private readonly sliceBytes: number,
  ) {}

  read(offset: number, length: number): Buffer {
    if (length <= 0 || offset >= this.size) return Buffer.alloc(0);
    return this.owner.readBody(this.bodyId, offset, Math.min(length, this.size - offset));
  }

  *slices(offset: number, length: number): IterableIterator<Buffer> {
    const end = Math.min(this.size, offset + Math.max(0, length));
    for (let at = offset; at < end; ) {
      // Slices end on chunk boundaries, as the store's own reader gives them.
      const next = Math.min(end, (Math.floor(at / this.sliceBytes) + 1) * this.sliceBytes);
      const piece = this.read(at, next - at);
      if (piece.length === 0) return;
      yield piece;
      at += piece.length;
    }
  }
}

class BridgedSyncStore implements SyncUserStore {
  readonly username: string;
  readonly separator: string;
  private readonly id = nextStoreId++;
  private readonly helper: Helper;
  private readonly waitLimitMs: number;
  private readonly sliceBytes: number;
  private readonly mailListeners = new Set<MailEventListener>();
  private readonly changeListeners = new Set<(n: ChangeNotice) => void>();
  private actor: StoreActor | undefined;
  private closed = false;

  constructor(opts: UserStoreOptions, bridge: BridgeOptions) {
    this.waitLimitMs = bridge.waitLimitMs ?? DEFAULT_BRIDGE_WAIT_LIMIT_MS;
    this.sliceBytes = opts.settings?.bodyChunkBytes ?? DEFAULT_STORAGE_SETTINGS.bodyChunkBytes;
    this.helper = acquireHelper();
    this.helper.stores.set(this.id, this);
    try {
      const opened = this.request({ op: 'open', storeId: this.id, opts }, 'open') as { username: string; separator: string };
      this.username = opened.username;
      this.separator = opened.separator;
    } catch (err) {
      this.helper.stores.delete(this.id);
      releaseHelper(this.helper);
      throw err;
    }
    const thread = this.helper.thread.thread;
    if (thread && !counted.has(thread)) {
      counted.add(thread);
      runningHelpers++;
      thread.once('exit', () => runningHelpers--);
    }
  }

  /** Sends one request, waits for its answer, relays the events it carries, then returns or throws. */
  private request(req: WithoutId<BridgeRequest>, what: string): unknown {
    if (this.closed) throw new StorageError('SERVERBUG', 'The store is closed');
    calling = true;
    let res: BridgeReply | null;
    try {
      res = this.helper.thread.call(req, this.waitLimitMs);
    } finally {
      calling = false;
    }
    if (res) relayQueue.push(...res.events);
    relay(this.helper.stores);
    if (!res) {
      const failure = this.helper.thread.lastFailure;
      throw new StorageError('SERVERBUG', `Storage did not answer ${what} within ${this.waitLimitMs / 1000} s${failure ? ` (its helper thread failed: ${failure.message})` : ''}`);
    }
    if (res.ok) return res.value;
    const e = res.error;
    if (e.storageCode) throw new StorageError(e.storageCode, e.message);
    // Not a protocol error (a bug, an engine failure): keep where it happened on the helper too.
    const err = Object.assign(new Error(e.message), { name: e.name });
    if (e.stack) err.stack = `${err.stack}\nOn the storage helper thread: ${e.stack}`;
    throw err;
  }

  private call(method: ForwardedMethod, ...args: unknown[]): unknown {
    return this.request({ op: 'call', storeId: this.id, method, args, actor: this.currentActor() }, method);
  }

  private currentActor(): number | undefined {
    return this.actor === undefined ? undefined : actorId(this.actor);
  }

  /** One relayed event to this store's listeners; a listener's error is logged, not thrown. */
  deliver(e: RelayedEvent): void {
    if (e.kind === 'change') {
      for (const l of [...this.changeListeners]) guard(() => l(e.notice));
      return;
    }
    const actor = e.txn.actor === undefined ? undefined : actorsById.get(e.txn.actor)?.deref();
    const txn: MailTransactionEvents = { ...e.txn, actor };
    for (const l of [...this.mailListeners]) guard(() => l(txn));
  }

  readBody(bodyId: number, offset: number, length: number): Buffer {
    return asBuffer(this.request({ op: 'readBody', storeId: this.id, bodyId, offset, length }, 'a body read') as Uint8Array);
  }

  discardStaged(staged: number): void {
    if (!this.closed) this.request({ op: 'discardStaged', storeId: this.id, staged }, 'discard');
  }

  private listen(): void {
    this.request({ op: 'listen', storeId: this.id, mail: this.mailListeners.size > 0, change: this.changeListeners.size > 0 }, 'listen');
  }

  // ---- Mailboxes ----
  listMailboxes() {
    return this.call('listMailboxes') as ReturnType<SyncUserStore['listMailboxes']>;
  }
  getMailbox(name: string) {
    return this.call('getMailbox', name) as ReturnType<SyncUserStore['getMailbox']>;
  }
  getMailboxById(id: number) {
    return this.call('getMailboxById', id) as ReturnType<SyncUserStore['getMailboxById']>;
  }
  createMailbox(name: string, opts?: { specialUse?: string[] }) {
    return this.call('createMailbox', name, opts) as ReturnType<SyncUserStore['createMailbox']>;
  }
  deleteMailbox(name: string): void {
    this.call('deleteMailbox', name);
  }
  renameMailbox(oldName: string, newName: string): void {
    this.call('renameMailbox', oldName, newName);
  }
  setSubscribed(name: string, subscribed: boolean): void {
    this.call('setSubscribed', name, subscribed);
  }
  listSubscriptions() {
    return this.call('listSubscriptions') as string[];
  }
  setSpecialUse(name: string, specialUse: string[]): void {
    this.call('setSpecialUse', name, specialUse);
  }
  setMailboxUids(name: string, ids: { uidValidity?: number; uidNext?: number }) {
    return this.call('setMailboxUids', name, ids) as ReturnType<SyncUserStore['setMailboxUids']>;
  }
  status(name: string) {
    return this.call('status', name) as ReturnType<SyncUserStore['status']>;
  }
  enableModseqTracking(mailboxId: number): void {
    this.call('enableModseqTracking', mailboxId);
  }

  // ---- Messages ----
  private input(input: AppendInput): AppendInput | (Omit<AppendInput, 'content'> & { content: StagedRef }) {
    const c = input.content;
    if (Buffer.isBuffer(c)) return { ...input, content: compact(c) as Buffer };
    if (isStagedBody(c)) {
      if (!(c instanceof BridgedStagedBody) || c.discarded) throw new StorageError('PARAMETERS', 'The staged body was not staged by this store, or was discarded');
      return { ...input, content: { bridgeStaged: c.number } };
    }
    return input;
  }
  append(mailbox: string, input: AppendInput) {
    return this.call('append', mailbox, this.input(input)) as ReturnType<SyncUserStore['append']>;
  }
  appendMany(mailbox: string, inputs: AppendInput[]) {
    return this.call('appendMany', mailbox, inputs.map((i) => this.input(i))) as ReturnType<SyncUserStore['appendMany']>;
  }
  replace(mailboxId: number, uid: number, mailbox: string, input: AppendInput) {
    return this.call('replace', mailboxId, uid, mailbox, this.input(input)) as ReturnType<SyncUserStore['replace']>;
  }
  importMessages(mailbox: string, inputs: AppendInput[]) {
    return this.call('importMessages', mailbox, inputs.map((i) => this.input(i))) as ReturnType<SyncUserStore['importMessages']>;
  }
  openMailboxView(name: string, claim: boolean): MailboxViewSnapshot {
    const v = this.call('openMailboxView', name, claim) as Omit<MailboxViewSnapshot, 'columns'> & { columns: SerializedColumns };
    return { ...v, columns: rebuildColumns(v.columns) };
  }
  listMessages(mailboxId: number) {
    return this.call('listMessages', mailboxId) as ReturnType<SyncUserStore['listMessages']>;
  }
  listMessageFlags(mailboxId: number) {
    return this.call('listMessageFlags', mailboxId) as ReturnType<SyncUserStore['listMessageFlags']>;
  }
  getMessages(mailboxId: number, uids: number[]) {
    return this.call('getMessages', mailboxId, uids) as ReturnType<SyncUserStore['getMessages']>;
  }
  async stageBody(
    content: Buffer | SpooledContent,
    opts?: { linkFrom?: SharedBody; onWritten?: (shared: SharedBody) => void },
  ): Promise<Buffer | SpooledContent | StagedBody> {
    const linkFrom = opts?.linkFrom instanceof BridgedStagedBody && !opts.linkFrom.discarded ? opts.linkFrom.number : undefined;
    const answer = this.request(
      { op: 'stageBody', storeId: this.id, content: Buffer.isBuffer(content) ? compact(content) : content, linkFrom },
      'stageBody',
    ) as StagedAnswer;
    if ('content' in answer) return ArrayBuffer.isView(answer.content) ? asBuffer(answer.content) : answer.content;
    const staged = new BridgedStagedBody(this, answer.staged, answer.size);
    opts?.onWritten?.(staged);
    return staged;
  }
  openBody(bodyId: number): SyncBodyReader {
    const b = this.request({ op: 'openBody', storeId: this.id, bodyId, withStructure: false }, 'openBody') as OpenedBody;
    return new BridgedBodyReader(this, b.bodyId, b.size, this.sliceBytes);
  }
  openBodyWithStructure(bodyId: number): { body: SyncBodyReader; mimeStructure: unknown } {
    const b = this.request({ op: 'openBody', storeId: this.id, bodyId, withStructure: true }, 'openBodyWithStructure') as OpenedBody;
    return { body: new BridgedBodyReader(this, b.bodyId, b.size, this.sliceBytes), mimeStructure: b.mimeStructure };
  }
  getMimeStructure(bodyId: number): unknown {
    return this.call('getMimeStructure', bodyId);
  }
  setMimeStructure(bodyId: number, mimeStructure: unknown): void {
    this.call('setMimeStructure', bodyId, mimeStructure);
  }
  storeFlags(mailboxId: number, input: Parameters<SyncUserStore['storeFlags']>[1]) {
    return this.call('storeFlags', mailboxId, input) as ReturnType<SyncUserStore['storeFlags']>;
  }
  copy(fromMailboxId: number, uids: number[], toMailbox: string) {
    return this.call('copy', fromMailboxId, uids, toMailbox) as ReturnType<SyncUserStore['copy']>;
  }
  move(fromMailboxId: number, uids: number[], toMailbox: string) {
    return this.call('move', fromMailboxId, uids, toMailbox) as ReturnType<SyncUserStore['move']>;
  }
  expunge(mailboxId: number, uids: number[]) {
    return this.call('expunge', mailboxId, uids) as number[];
  }
  changesSince(mailboxId: number, sinceModseq: number) {
    return this.call('changesSince', mailboxId, sinceModseq) as ReturnType<SyncUserStore['changesSince']>;
  }
  claimRecent(mailboxId: number) {
    return this.call('claimRecent', mailboxId) as number[];
  }

  // ---- Metadata ----
  getMetadata(mailbox: string, entries: string[], rules?: Parameters<SyncUserStore['getMetadata']>[2]): MetadataEntry[] {
    return (this.call('getMetadata', mailbox, entries, rules) as { entry: string; value: Uint8Array }[]).map((e) => ({ entry: e.entry, value: asBuffer(e.value) }));
  }
  setMetadata(mailbox: string, entry: string, value: Buffer | null, rules?: Parameters<SyncUserStore['setMetadata']>[3]): void {
    this.call('setMetadata', mailbox, entry, value === null ? null : compact(value), rules);
  }
  setMetadataMany(mailbox: string, entries: MetadataEntryChange[], opts?: Parameters<SyncUserStore['setMetadataMany']>[2]): void {
    const crossing = entries.map((e) => ({ entry: e.entry, value: e.value === null ? null : compact(e.value) }));
    this.call('setMetadataMany', mailbox, crossing, opts);
  }
  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): MetadataEntry[] {
    return (this.call('listMetadata', mailbox, prefix, depth) as { entry: string; value: Uint8Array }[]).map((e) => ({ entry: e.entry, value: asBuffer(e.value) }));
  }

  quotaUsage() {
    return this.call('quotaUsage') as ReturnType<SyncUserStore['quotaUsage']>;
  }

  /**
   * Runs `fn` with this store, then has the helper's store make every commit so far durable. The
   * calls inside `fn` are ordinary bridged calls (each committed before it returned).
   */
  async durably<T>(fn: (store: SyncUserStore) => T | Promise<T>): Promise<T> {
    const actor = this.currentActor();
    const result = await fn(this);
    this.request({ op: 'durable', storeId: this.id, actor }, 'durably');
    return result;
  }

  onChange(listener: (n: ChangeNotice) => void): () => void {
    return this.subscribe(this.changeListeners, listener);
  }

  refreshChanges(): void {
    this.call('refreshChanges');
  }

  onMailEvents(listener: MailEventListener): () => void {
    return this.subscribe(this.mailListeners, listener);
  }

  private subscribe<L>(set: Set<L>, listener: L): () => void {
    const first = set.size === 0;
    set.add(listener);
    if (first) this.listen();
    return () => {
      if (!set.delete(listener) || set.size > 0 || this.closed) return;
      this.listen();
    };
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

  close(): void {
    if (this.closed) return;
    try {
      this.request({ op: 'close', storeId: this.id }, 'close');
    } finally {
      this.closed = true;
      this.mailListeners.clear();
      this.changeListeners.clear();
      this.helper.stores.delete(this.id);
      releaseHelper(this.helper);
    }
  }
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.error(`A storage event listener failed: ${(err as Error).stack ?? String(err)}`);
  }
}

/**
 * A synchronous store of the user `opts` names, served by the asynchronous store of whichever
 * backend `opts.location` selects, on this thread's bridge helper thread. Throws what opening the
 * store throws (StorageError).
 */
export function openBridgedSyncStore(opts: UserStoreOptions, bridge: BridgeOptions = {}): SyncUserStore {
  return new BridgedSyncStore(opts, bridge);
}
