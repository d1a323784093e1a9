// The helper thread of a bridged store (client.ts): it opens the backend's asynchronous store
// (storage/index.ts openUserStore, any backend) for each bridged store of its calling thread and
// answers their requests one at a time, in the order they came. Events the stores emit (mail
// events, change notices) are collected and ride on the next reply. Entry protocol of
// src/threads/blocking-helper.ts: workerData = { port, flag }; flag[0] = 1 and a notify after
// each reply.
import { parentPort, workerData, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { openUserStore } from '../index.js';
import {
  isStagedBody,
  StorageError,
  type AppendInput,
  type BodyReader,
  type MailboxViewSnapshot,
  type MailTransactionEvents,
  type MetadataEntry,
  type MetadataEntryChange,
  type SharedBody,
  type StagedBody,
  type UserStore,
} from '../types.js';
import { FORWARDED_METHODS, type ActorToken, type BridgeReply, type BridgeRequest, type OpenedBody, type RelayedEvent, type SerializedColumns, type SerializedError, type StagedAnswer, type StagedRef } from './protocol.js';

const FORWARDED = new Set<string>(FORWARDED_METHODS);

if (!parentPort) throw new Error('the storage sync bridge helper must run in a worker thread');
const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };

/** Body readers kept open per store, the most recently used last (FETCH reads one body in several ranges). */
const READERS_KEPT = 16;

interface OpenStore {
  store: UserStore;
  readers: Map<number, BodyReader>;
  staged: Map<number, StagedBody>;
  unsubscribeMail?: () => void;
  unsubscribeChange?: () => void;
}

const stores = new Map<number, OpenStore>();
/** Events emitted since the last reply, of every store, in order. */
let pendingEvents: RelayedEvent[] = [];
let nextStaged = 1;

function storeOf(storeId: number): OpenStore {
  const s = stores.get(storeId);
  if (!s) throw new StorageError('SERVERBUG', 'The store is closed');
  return s;
}

function actorNumber(actor: unknown): number | undefined {
  const n = (actor as Partial<ActorToken> | undefined)?.bridgeActor;
  return typeof n === 'number' ? n : undefined;
}

/** A Buffer as the caller can receive it: a view of part of a larger ArrayBuffer (Node's pool, a body chunk) is copied, so only its bytes cross. */
function compact(b: Uint8Array, transfer: TransferListItem[]): Uint8Array {
  const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer) ? b : new Uint8Array(b);
  // A Buffer of Node's pool must not be detached; a fresh copy may be.
  if (own !== b) transfer.push(own.buffer as ArrayBuffer);
  return own;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function serializeError(err: unknown): SerializedError {
  if (err instanceof StorageError) return { storageCode: err.code, name: err.name, message: err.message, stack: err.stack };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

function serializeColumns(view: MailboxViewSnapshot): SerializedColumns {
  const cols = view.columns;
  const n = cols.length;
  const out: SerializedColumns = {
    flagLists: [],
    uids: new Uint32Array(n),
    sets: new Uint32Array(n),
    modseqs: new Float64Array(n),
    sizes: new Float64Array(n),
  };
  for (let id = 0; id < cols.flagSets.size; id++) out.flagLists.push([...cols.flagSets.list(id)]);
  for (let i = 0; i < n; i++) {
    out.uids[i] = cols.uidAt(i);
    out.sets[i] = cols.setAt(i);
    out.modseqs[i] = cols.modseqAt(i);
    out.sizes[i] = cols.sizeAt(i);
  }
  return out;
}

/** AppendInput as the store takes it: bytes as a Buffer, a staged body by its number. */
function reviveInput(s: OpenStore, input: AppendInput, used: number[]): AppendInput {
  const c = input.content as unknown;
  if (ArrayBuffer.isView(c)) return { ...input, content: asBuffer(c as Uint8Array) };
  const ref = (c as Partial<StagedRef>).bridgeStaged;
  if (typeof ref === 'number') {
    const staged = s.staged.get(ref);
    if (!staged) throw new StorageError('PARAMETERS', 'The staged body was already appended or discarded');
    used.push(ref);
    return { ...input, content: staged };
  }
  return input;
}

/** The arguments as the store takes them (Buffers revived); `used` collects the staged bodies appended. */
function reviveArgs(s: OpenStore, method: string, args: unknown[], used: number[]): unknown[] {
  switch (method) {
    case 'append':
    case 'appendMany':
    case 'importMessages': {
      const [mailbox, inputs] = args as [string, AppendInput | AppendInput[]];
      return [mailbox, Array.isArray(inputs) ? inputs.map((i) => reviveInput(s, i, used)) : reviveInput(s, inputs, used)];
    }
    case 'replace': {
      const [mailboxId, uid, mailbox, input] = args as [number, number, string, AppendInput];
      return [mailboxId, uid, mailbox, reviveInput(s, input, used)];
    }
    case 'setMetadata': {
      const [mailbox, entry, value, rules] = args as [string, string, Uint8Array | null, unknown];
      return [mailbox, entry, value === null ? null : asBuffer(value), rules];
    }
    case 'setMetadataMany': {
      const [mailbox, entries, opts] = args as [string, MetadataEntryChange[], unknown];
      return [mailbox, entries.map((e) => ({ entry: e.entry, value: e.value === null ? null : asBuffer(e.value) })), opts];
    }
    default:
      return args;
  }
}

/** The result as it crosses: Buffers compacted, the view's columns as data. */
function encodeResult(method: string, value: unknown, transfer: TransferListItem[]): unknown {
  switch (method) {
    case 'getMetadata':
    case 'listMetadata':
      return (value as MetadataEntry[]).map((e) => ({ entry: e.entry, value: compact(e.value, transfer) }));
    case 'openMailboxView': {
      const view = value as MailboxViewSnapshot;
      const columns = serializeColumns(view);
      transfer.push(...[columns.uids, columns.sets, columns.modseqs, columns.sizes].map((a) => a.buffer as ArrayBuffer));
      return { ...view, columns };
    }
    default:
      return value;
  }
}

function listen(storeId: number, s: OpenStore, mail: boolean, change: boolean): void {
  if (mail && !s.unsubscribeMail) {
    s.unsubscribeMail = s.store.onMailEvents((txn: MailTransactionEvents) => {
      pendingEvents.push({ storeId, kind: 'mail', txn: { user: txn.user, actor: actorNumber(txn.actor), committed: txn.committed, events: txn.events } });
      eventsPending();
    });
  } else if (!mail && s.unsubscribeMail) {
    s.unsubscribeMail();
    s.unsubscribeMail = undefined;
  }
  if (change && !s.unsubscribeChange) {
    s.unsubscribeChange = s.store.onChange((notice) => {
      pendingEvents.push({ storeId, kind: 'change', notice });
      eventsPending();
    });
  } else if (!change && s.unsubscribeChange) {
    s.unsubscribeChange();
    s.unsubscribeChange = undefined;
  }
}

/** The store's reader of `bodyId`, kept among the last READERS_KEPT used (opened again when it was let go). */
async function readerOf(s: OpenStore, bodyId: number): Promise<BodyReader> {
  let reader = s.readers.get(bodyId);
  if (reader) s.readers.delete(bodyId);
  else reader = await s.store.openBody(bodyId);
  s.readers.set(bodyId, reader);
  if (s.readers.size > READERS_KEPT) s.readers.delete(s.readers.keys().next().value!);
  return reader;
}

/** Runs `fn` with the caller's actor as the store's current one (the calls it starts are authored by it). */
function asActor<T>(s: OpenStore, actor: number | undefined, fn: () => T): T {
  return actor === undefined ? fn() : s.store.withActor({ bridgeActor: actor } satisfies ActorToken, fn);
}

async function run(req: BridgeRequest, transfer: TransferListItem[]): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      const store = openUserStore(req.opts);
      stores.set(req.storeId, { store, readers: new Map(), staged: new Map() });
      return { username: store.username, separator: store.separator };
    }
    case 'call': {
      if (!FORWARDED.has(req.method)) throw new StorageError('SERVERBUG', `Not a storage call: ${String(req.method)}`);
      const s = storeOf(req.storeId);
      const used: number[] = [];
      const args = reviveArgs(s, req.method, req.args, used);
      const method = s.store[req.method] as (...a: unknown[]) => unknown;
      const value = await asActor(s, req.actor, () => method.apply(s.store, args));
      for (const n of used) s.staged.delete(n);
      return encodeResult(req.method, value, transfer);
    }
    case 'openBody': {
      const s = storeOf(req.storeId);
      if (req.withStructure) {
        const { body, mimeStructure } = await s.store.openBodyWithStructure(req.bodyId);
        s.readers.delete(req.bodyId);
        s.readers.set(req.bodyId, body);
        return { bodyId: body.bodyId, size: body.size, mimeStructure } satisfies OpenedBody;
      }
      const body = await s.store.openBody(req.bodyId);
      s.readers.delete(req.bodyId);
      s.readers.set(req.bodyId, body);
      return { bodyId: body.bodyId, size: body.size } satisfies OpenedBody;
    }
    case 'readBody': {
      const s = storeOf(req.storeId);
      const reader = await readerOf(s, req.bodyId);
      return compact(await reader.read(req.offset, req.length), transfer);
    }
    case 'listen':
      listen(req.storeId, storeOf(req.storeId), req.mail, req.change);
      return undefined;
    case 'durable': {
      const s = storeOf(req.storeId);
      await asActor(s, req.actor, () => s.store.durably(() => undefined));
      return undefined;
    }
    case 'stageBody': {
      const s = storeOf(req.storeId);
      const content = ArrayBuffer.isView(req.content) ? asBuffer(req.content) : req.content;
      const linkFrom: SharedBody | undefined = req.linkFrom === undefined ? undefined : s.staged.get(req.linkFrom);
      const result = await s.store.stageBody(content, linkFrom ? { linkFrom } : undefined);
      if (!isStagedBody(result)) return { content: result instanceof Uint8Array ? compact(result, transfer) : result } satisfies StagedAnswer;
      // The caller's handle resolves `durable` at once: the answer waits for it here.
      await result.durable;
      const staged = nextStaged++;
      s.staged.set(staged, result);
      return { staged, size: result.size } satisfies StagedAnswer;
    }
    case 'discardStaged': {
      const s = storeOf(req.storeId);
      const staged = s.staged.get(req.staged);
      s.staged.delete(req.staged);
      await staged?.discard();
      return undefined;
    }
    case 'close': {
      const s = stores.get(req.storeId);
      if (!s) return undefined;
      stores.delete(req.storeId);
      s.unsubscribeMail?.();
      s.unsubscribeChange?.();
      for (const staged of s.staged.values()) await staged.discard().catch(() => undefined);
      await s.store.close();
      return undefined;
    }
  }
}

function reply(r: BridgeReply, transfer: TransferListItem[]): void {
  port.postMessage(r, transfer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

// One request at a time, in order: the caller blocks on each, but one it stopped waiting for (wait
// limit) may still run when the next arrives. Events emitted while a request runs go with its
// answer; events emitted between requests (other threads' and processes' changes) are sent on
// their own (id 0), so a caller whose event loop runs gets them without calling.
let busy = false;
let flushScheduled = false;

function eventsPending(): void {
  if (busy || flushScheduled) return;
  flushScheduled = true;
  setImmediate(() => {
    flushScheduled = false;
    if (busy || pendingEvents.length === 0) return;
    const events = pendingEvents;
    pendingEvents = [];
    reply({ id: 0, ok: true, events }, []);
  });
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: BridgeRequest) => {
  queue = queue.then(async () => {
    busy = true;
    const transfer: TransferListItem[] = [];
    let r: BridgeReply;
    try {
      const value = await run(req, transfer);
      r = { id: req.id, ok: true, value, events: pendingEvents };
    } catch (err) {
      r = { id: req.id, ok: false, error: serializeError(err), events: pendingEvents };
      transfer.length = 0;
    }
    pendingEvents = [];
    try {
      reply(r, transfer);
    } catch (err) {
      // Something in the answer cannot be cloned: the caller gets the reason instead of waiting.
      reply({ id: req.id, ok: false, error: serializeError(new StorageError('SERVERBUG', `The storage answer cannot be sent: ${(err as Error).message}`)), events: r.events }, []);
    }
    busy = false;
  });
});
