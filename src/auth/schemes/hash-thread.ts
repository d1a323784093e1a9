// Clients of the hash helper thread (hash-worker.ts): an async one for the main thread (slow
// schemes only, so logins with ARGON2/BLF-CRYPT do not stall IMAP connections) and a blocking
// one for Lua workers, whose req:password_verify must return synchronously.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { HashWorkerReply, HashWorkerRequest } from './hash-protocol.js';
import type { SchemeContext } from './types.js';

type VerifyResult = Extract<HashWorkerReply, { op: 'verify' }>['result'];
type Job = DistributiveOmit<HashWorkerRequest, 'id'>;

/** The compiled hash-worker.js (from sources, i.e. under ts-jest: the build output in dist/). */
function hashWorkerUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../../dist/src/auth/schemes/hash-worker.js', here) : new URL('./hash-worker.js', here);
  if (!existsSync(fileURLToPath(url))) throw new Error(`hash worker ${fileURLToPath(url)} is missing: run "npm run build" first`);
  return url;
}

const toBytes = (plain: string | Buffer) => (typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain);

/** Main-thread client: one helper thread, kept referenced only while work is pending. */
export class AsyncHashThread {
  private worker?: Worker;
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: HashWorkerReply) => void; reject: (e: Error) => void }>();

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

  private send(job: Job): Promise<HashWorkerReply> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...job, id } as HashWorkerRequest);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(hashWorkerUrl());
    worker.on('message', (reply: HashWorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      p.resolve(reply);
    });
    const fail = (err: Error) => {
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('hash worker exited')));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** Blocking client for Lua worker threads (same pattern as src/lua/http-sync.ts). */
export class SyncHashThread {
  private helper?: Worker;
  private port?: MessagePort;
  private flag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;

  /** Verifies `plain` against `{SCHEME}data`; waits at most `waitLimitMs`. */
  verify(plain: string, stored: string, waitLimitMs: number): VerifyResult {
    const port = this.ensureHelper();
    const id = this.nextId++;
    Atomics.store(this.flag, 0, 0);
    port.postMessage({ id, op: 'verify', plain: Buffer.from(plain, 'utf8'), stored } satisfies HashWorkerRequest);
    const deadline = Date.now() + waitLimitMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return { error: 'Password verification timed out' };
      Atomics.wait(this.flag, 0, 0, left);
      Atomics.store(this.flag, 0, 0);
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const reply = m.message as HashWorkerReply;
        if (reply.id !== id) continue; // a late answer to a request we gave up on
        if (reply.op === 'verify') return reply.result;
        return { error: reply.op === 'error' ? reply.message : 'unexpected hash worker reply' };
      }
    }
  }

  close(): void {
    void this.helper?.terminate();
    this.helper = undefined;
  }

  private ensureHelper(): MessagePort {
    if (this.helper && this.port) return this.port;
    const { port1, port2 } = new MessageChannel();
    this.helper = new Worker(hashWorkerUrl(), { workerData: { port: port2, flag: this.flag }, transferList: [port2] });
    this.helper.unref();
    this.port = port1;
    return port1;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
