// Blocking HTTP for `request:submit()` (spec §4: submit blocks until the response is there).
// The Lua worker cannot run its event loop while Lua code is on the stack, so the request runs
// on a helper thread and this thread sleeps in Atomics.wait until the helper raises the flag.
import { BlockingHelperThread } from '../threads/blocking-helper.js';
import { HTTP_ERROR, type HttpRequestMessage, type HttpResponseMessage } from './http-protocol.js';
import { compiledModuleUrl } from '../threads/compiled-module.js';

export type SyncHttpRequest = Omit<HttpRequestMessage, 'id'>;

export class SyncHttpClient {
  private readonly helper = new BlockingHelperThread<HttpRequestMessage, HttpResponseMessage>(compiledModuleUrl('lua/http-worker.js'));

  /** Runs the request; waits at most `waitLimitMs` (the caller's remaining Lua call time). */
  request(req: SyncHttpRequest, waitLimitMs: number): HttpResponseMessage {
    const res = this.helper.call(req, Math.min(waitLimitMs, req.timeoutMs + 1000));
    return res ?? { id: 0, status: HTTP_ERROR.TIMED_OUT, reason: 'Request timed out', headers: [], body: new Uint8Array(0) };
  }

  close(): void {
    this.helper.close();
  }
}
