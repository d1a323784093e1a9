// HTTP helper thread: performs the requests a Lua worker submits and wakes the (blocked)
// Lua worker through a shared flag. The answer itself travels on the MessagePort and is read
// synchronously with receiveMessageOnPort (see http-sync.ts).
import http from 'node:http';
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { HTTP_ERROR, type HttpRequestMessage, type HttpResponseMessage } from './http-protocol.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
if (!parentPort) throw new Error('http-worker must run in a worker thread');

function reply(msg: HttpResponseMessage): void {
  port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function failure(id: number, status: number, reason: string): HttpResponseMessage {
  return { id, status, reason, headers: [], body: '' };
}

function perform(req: HttpRequestMessage, url: URL, redirectsLeft: number): void {
  const started = Date.now();
  const lib = url.protocol === 'https:' ? https : http;
  const hostPort = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  let connected = false;
  let done = false;
  const finish = (msg: HttpResponseMessage) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    reply(msg);
  };
  const outgoing = lib.request(url, { method: req.method, headers: Object.fromEntries(groupHeaders(req.headers)) });
  const timer = setTimeout(() => {
    const secs = ((Date.now() - started) / 1000).toFixed(3);
    finish(failure(req.id, HTTP_ERROR.TIMED_OUT, `Request timed out (Request sent ${secs} secs ago)`));
    outgoing.destroy();
  }, req.timeoutMs);
  outgoing.on('socket', (sock) => {
    sock.once('connect', () => (connected = true));
    if (req.connectTimeoutMs > 0) {
      sock.setTimeout(req.connectTimeoutMs, () => {
        if (!connected) {
          finish(failure(req.id, HTTP_ERROR.CONNECT_FAILED, `connect(${hostPort}) failed: Connection timed out`));
          outgoing.destroy();
        }
      });
    }
  });
  outgoing.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
      finish(failure(req.id, HTTP_ERROR.HOST_LOOKUP_FAILED, `Failed to lookup host ${url.hostname}: ${err.message}`));
    } else if (!connected) {
      finish(failure(req.id, HTTP_ERROR.CONNECT_FAILED, `connect(${hostPort}) failed: ${describeErrno(err)}`));
    } else {
      finish(failure(req.id, HTTP_ERROR.CONNECTION_LOST, `Connection lost: ${describeErrno(err)}`));
    }
  });
  outgoing.on('response', (res) => {
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 301 && res.statusCode <= 308 && location && redirectsLeft > 0) {
      res.resume();
      clearTimeout(timer);
      done = true;
      perform(req, new URL(location, url), redirectsLeft - 1);
      return;
    }
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', (err) =>
      finish(failure(req.id, HTTP_ERROR.BROKEN_PAYLOAD, `Failed to read payload: ${err.message}`)),
    );
    res.on('end', () => {
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
      finish({
        id: req.id,
        status: res.statusCode ?? HTTP_ERROR.INVALID_RESPONSE,
        reason: res.statusMessage ?? '',
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
    });
  });
  if (req.payload.length > 0) outgoing.write(req.payload);
  outgoing.end();
}

function groupHeaders(list: Array<[string, string]>): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of list) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
};
function describeErrno(err: NodeJS.ErrnoException): string {
  return (err.code && ERRNO_TEXT[err.code]) || err.message;
}

port.on('message', (req: HttpRequestMessage) => {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch (e) {
    reply(failure(req.id, HTTP_ERROR.INVALID_URL, `Invalid URL: ${(e as Error).message}`));
    return;
  }
  perform(req, url, req.maxRedirects);
});
