// Clients of the hash helper threads (hash-worker.ts): an async pool for the main thread (slow
// schemes only, so logins with SHA-crypt/ARGON2/BLF-CRYPT do not stall IMAP connections and
// verify in parallel on several cores) and a blocking one for Lua workers, whose
// req:password_verify must return synchronously (each Lua worker has its own helper).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BlockingHelperThread } from '../../threads/blocking-helper.js';
import { compiledModuleUrl } from '../../threads/compiled-module.js';
import type { HashWorkerReply, HashWorkerRequest } from './hash-protocol.js';
import type { SchemeContext } from './types.js';

type VerifyResult = Extract<HashWorkerReply, { op: 'verify' }>['result'];
type Job = DistributiveOmit<HashWorkerRequest, 'id'>;

const hashWorkerUrl = () => compiledModuleUrl('auth/schemes/hash-worker.js');

const toBytes = (plain: string | Buffer) => (typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain);

interface Pending {
  resolve: (r: HashWorkerReply) => void;
  reject: (e: Error) => void;
}

interface HelperSlot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Helper threads for the main thread: as many as can run at once, at most 4 (argon2 is memory-hungry). */
export const HASH_POOL_SIZE = Math.min(4, availableParallelism());

/**
 * Main-thread client: a pool of helper threads, started one at a time as concurrent jobs need
 * them, each job going to the thread with the fewest jobs in flight. A thread is kept referenced
 * only while it has work pending, so an idle pool never holds the process open.
 */
export class AsyncHashPool {
  private slots: HelperSlot[] = [];
  private nextId = 1;

  constructor(private readonly size = HASH_POOL_SIZE) {}

  /** Threads started so far (for tests and benchmarks). */
  get threadCount(): number {
    return this.slots.length;
  }

  verify(plain: string | Buffer, stored: string, opts: SchemeContext & { defaultScheme?: string }): Promise<VerifyResult> {
    return this.send({ op: 'verify', plain: toBytes(plain), stored, ...opts }).then((r) => {
      if (r.op === 'verify') return r.result;
      return { error: r.op === 'error' ? r.message : 'unexpected hash worker reply' };
    });
  }

  async hash(plain: string | Buffer, scheme: string, opts: SchemeContext): Promise<string> {
    const r = await this.send({ op: 'hash', plain: toBytes(plain), scheme, ...opts });
    if (r.op === 'hash') return r.hashed;
    throw new Error(r.op === 'error' ? r.message : 'unexpected hash worker reply');
  }

  /** Stops every helper thread; jobs in flight are rejected. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private send(job: Job): Promise<HashWorkerReply> {
    const slot = this.pickSlot();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ ...job, id } as HashWorkerRequest);
    });
  }

  /** The least busy thread; a new one when every started thread is busy and the pool may grow. */
  private pickSlot(): HelperSlot {
    let best: HelperSlot | undefined;
    for (const slot of this.slots) if (!best || slot.pending.size < best.pending.size) best = slot;
    if (best && (best.pending.size === 0 || this.slots.length >= this.size)) return best;
    return this.startSlot();
  }

  private startSlot(): HelperSlot {
    const worker = new Worker(hashWorkerUrl());
    const slot: HelperSlot = { worker, pending: new Map() };
    worker.on('message', (reply: HashWorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      p.resolve(reply);
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('hash worker exited')));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

/** Blocking client for Lua worker threads (req:password_verify runs synchronously in Lua). */
export class SyncHashThread {
  private readonly helper = new BlockingHelperThread<HashWorkerRequest, HashWorkerReply>(hashWorkerUrl());

  /** Verifies `plain` against `{SCHEME}data`; waits at most `waitLimitMs`. */
  verify(plain: string, stored: string, waitLimitMs: number): VerifyResult {
    const reply = this.helper.call({ op: 'verify', plain: Buffer.from(plain, 'utf8'), stored }, waitLimitMs);
    if (!reply) return { error: 'Password verification timed out' };
    if (reply.op === 'verify') return reply.result;
    return { error: reply.op === 'error' ? reply.message : 'unexpected hash worker reply' };
  }

  close(): void {
    this.helper.close();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
