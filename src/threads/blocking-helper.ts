// A helper thread a thread calls synchronously. Lua code on a worker's stack keeps the worker's
// event loop from running, so the work (an HTTP request, a password hash, a storage call on an
// asynchronous engine) runs on a helper thread and the caller sleeps in Atomics.wait until the
// helper raises a shared flag; the answer travels on a MessagePort and is read with
// receiveMessageOnPort. The helper's entry receives `workerData = { port, flag }` and must set
// flag[0] = 1 and notify after each reply.
//
// A helper may also post messages of its own (id 0: not an answer), e.g. events it saw between
// calls. With `onUnsolicited`, those reach the caller in the order they were posted: read during a
// call, they are kept and handed over right after it (never from inside it: the handler may call
// again); posted while the caller's event loop runs, they arrive as port messages (the port is
// unref'd: it keeps nothing alive).
//
// src/threads/ sits below every layer (it imports nothing of ours), so the Lua, auth and storage
// layers share it.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/** Omit over each member of a union (a plain Omit would merge the members). */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class BlockingHelperThread<Req extends { id: number }, Res extends { id: number }> {
  private helper?: Worker;
  private port?: MessagePort;
  private failure?: Error;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  /** Messages read during a call that were not its answer, handed to onUnsolicited after it. */
  private held: unknown[] = [];

  constructor(
    private readonly entry: URL,
    private readonly onUnsolicited?: (message: unknown) => void,
  ) {}

  /** Sends the request and waits for its answer; null when `waitLimitMs` passed first. */
  call(req: WithoutId<Req>, waitLimitMs: number): Res | null {
    const port = this.ensureHelper();
    const id = this.nextId++;
    Atomics.store(this.flag, 0, 0);
    port.postMessage({ ...req, id });
    const deadline = Date.now() + waitLimitMs;
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        Atomics.wait(this.flag, 0, 0, left);
        Atomics.store(this.flag, 0, 0);
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
          const res = m.message as Res;
          if (res.id === id) return res;
          // the helper's own message; else an answer to an earlier request we stopped waiting for: dropped
          if (res.id === 0 && this.onUnsolicited) this.held.push(res);
        }
      }
    } finally {
      this.handOver();
    }
  }

  private handOver(): void {
    if (this.held.length === 0 || !this.onUnsolicited) return;
    const held = this.held;
    this.held = [];
    for (const m of held) this.onUnsolicited(m);
  }

  close(): void {
    void this.helper?.terminate();
    this.helper = undefined;
    this.port?.close();
    this.port = undefined;
  }

  /** The helper thread while it runs (started by the first call), for its 'exit' event. */
  get thread(): Worker | undefined {
    return this.helper;
  }

  /** Why the last helper thread failed (its module did not load, it threw), once this thread's event loop has seen it. */
  get lastFailure(): Error | undefined {
    return this.failure;
  }

  private ensureHelper(): MessagePort {
    if (this.helper && this.port) return this.port;
    const { port1, port2 } = new MessageChannel();
    const helper = new Worker(this.entry, { workerData: { port: port2, flag: this.flag }, transferList: [port2] });
    helper.unref();
    // A failing helper must not take the caller down (an 'error' nobody listens to is thrown):
    // its calls ran into their wait limit, the next call starts a new helper.
    helper.on('error', (err) => (this.failure = err));
    helper.once('exit', () => {
      if (this.helper !== helper) return;
      this.helper = undefined;
      this.port?.close();
      this.port = undefined;
    });
    if (this.onUnsolicited) {
      const handler = this.onUnsolicited;
      port1.on('message', (m: { id?: number }) => {
        if (m.id === 0) handler(m);
      });
      port1.unref();
    }
    this.helper = helper;
    this.port = port1;
    return port1;
  }
}
