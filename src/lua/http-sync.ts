// Blocking HTTP for `request:submit()` (spec §4: submit blocks until the response is there).
// The Lua worker cannot run its event loop while Lua code is on the stack, so the request runs
// on a helper thread and this thread sleeps in Atomics.wait until the helper raises the flag.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HTTP_ERROR, type HttpRequestMessage, type HttpResponseMessage } from './http-protocol.js';
import { workerEntryUrl } from './worker-files.js';

export type SyncHttpRequest = Omit<HttpRequestMessage, 'id'>;

export class SyncHttpClient {
  private helper?: Worker;
  private port?: MessagePort;
  private flag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;

  /** Runs the request; waits at most `waitLimitMs` (the caller's remaining Lua call time). */
  request(req: SyncHttpRequest, waitLimitMs: number): HttpResponseMessage {
    const port = this.ensureHelper();
    const id = this.nextId++;
    Atomics.store(this.flag, 0, 0);
    port.postMessage({ ...req, id } satisfies HttpRequestMessage);
    const deadline = Date.now() + Math.min(waitLimitMs, req.timeoutMs + 1000);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(this.flag, 0, 0, left);
      Atomics.store(this.flag, 0, 0);
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const res = m.message as HttpResponseMessage;
        if (res.id === id) return res;
        // an answer to an earlier request we stopped waiting for: drop it
      }
    }
    return { id, status: HTTP_ERROR.TIMED_OUT, reason: 'Request timed out', headers: [], body: '' };
  }

  close(): void {
    void this.helper?.terminate();
    this.helper = undefined;
  }

  private ensureHelper(): MessagePort {
    if (this.helper && this.port) return this.port;
    const { port1, port2 } = new MessageChannel();
    this.helper = new Worker(workerEntryUrl('http-worker'), {
      workerData: { port: port2, flag: this.flag },
      transferList: [port2],
    });
    this.helper.unref();
    this.port = port1;
    return port1;
  }
}
