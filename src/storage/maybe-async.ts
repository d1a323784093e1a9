// For callers of the storage contract. Storage calls return either their value (a synchronous backend: SQLite) or a promise of it
// (PostgreSQL): see storage/types.ts, UserStore. Most IMAP code simply awaits them; the per-message
// loops of SEARCH, SORT and FETCH instead continue synchronously while every value is at hand, so a
// synchronous backend pays no microtask per message, and wait only where a promise came back.
import type { BodyReader, SyncBodyReader } from '../storage/types.js';

export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** `f(v)` now when `v` is a value, after it resolves when it is a promise. */
export function then<T, U>(v: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(v) ? v.then(f) : f(v);
}

/**
 * Thrown by a synchronous evaluation (SEARCH criteria, SORT facts) that needs data still being
 * read: the caller awaits `ready` and evaluates the message again (evaluations have no side effects).
 */
export class DataPending {
  constructor(readonly ready: Promise<unknown>) {}
}

/**
 * A body that src/mime's synchronous readers can use: the reader itself when its backend answers
 * synchronously (a zero-length read tells, and reads nothing), else the body's bytes read whole.
 */
export function syncBody(body: BodyReader): MaybePromise<SyncBodyReader> {
  const probe = body.read(0, 0);
  if (!isPromise(probe)) return body as SyncBodyReader;
  return probe.then(async () => bufferReader(body.bodyId, await readWhole(body)));
}

async function readWhole(body: BodyReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let pos = 0; pos < body.size; ) {
    const got = await body.read(pos, body.size - pos);
    if (got.length === 0) break;
    parts.push(got);
    pos += got.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function bufferReader(bodyId: number, bytes: Buffer): SyncBodyReader {
  return {
    bodyId,
    size: bytes.length,
    read: (offset, length) => bytes.subarray(Math.min(offset, bytes.length), Math.min(bytes.length, offset + length)),
    *slices(offset, length) {
      if (offset < bytes.length && length > 0) yield bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
  };
}

/**
 * Runs a synchronous evaluation that may throw DataPending, waiting for the data and running it
 * again until it completes. With a synchronous store it runs once and costs one microtask.
 */
export async function evaluateWhenReady<T>(evaluate: () => T): Promise<T> {
  for (;;) {
    try {
      return evaluate();
    } catch (err) {
      if (!(err instanceof DataPending)) throw err;
      await err.ready;
    }
  }
}

/** Holds a value read from storage once; `get()` throws DataPending while an asynchronous read runs. */
export class LazyValue<T> {
  private value: { v: T } | null = null;
  private reading: Promise<T> | null = null;

  constructor(private readonly read: () => MaybePromise<T>) {}

  get(): T {
    if (this.value) return this.value.v;
    if (!this.reading) {
      const r = this.read();
      if (!isPromise(r)) {
        this.value = { v: r };
        return r;
      }
      this.reading = r.then((v) => {
        this.value = { v };
        return v;
      });
    }
    throw new DataPending(this.reading);
  }

  /** The value, waiting for it when it is being read. */
  async load(): Promise<T> {
    if (this.value) return this.value.v;
    return this.reading ?? evaluateWhenReady(() => this.get());
  }
}
