// HTTP helper thread: performs the requests a Lua worker submits and wakes the (blocked)
// Lua worker through a shared flag. The answer itself travels on the MessagePort and is read
// synchronously with receiveMessageOnPort (see http-sync.ts).
import http from 'node:http';
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { HTTP_ERROR, TEST_GATEWAY_ENV, type HttpRequestMessage, type HttpResponseMessage, type TestGatewayDecision } from './http-protocol.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
if (!parentPort) throw new Error('http-worker must run in a worker thread');

function reply(msg: HttpResponseMessage): void {
  port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function failure(id: number, status: number, reason: string): HttpResponseMessage {
  return { id, status, reason, headers: [], body: new Uint8Array(0) };
}

/** Methods that carry no body unless one is set (Dovecot's http-client sends none for them). */
const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * Where to connect and what to send: the origin server, or with proxy_url the proxy, given the
 * absolute URI in the request line (RFC 9112 §3.2.2) and the origin in Host. Dovecot's
 * http-client (lib-http/http-client-request.c) likewise sends payloads with Content-Length,
 * never chunked: a plain receiver (python's http.server) reads Content-Length only.
 */
function requestTarget(req: HttpRequestMessage, url: URL): http.RequestOptions & { lib: typeof http | typeof https } {
  const headers: http.OutgoingHttpHeaders = Object.fromEntries(groupHeaders(req.headers));
  const hasLength = req.headers.some(([k]) => k.toLowerCase() === 'content-length');
  if (!hasLength && (req.payload.length > 0 || !NO_BODY_METHODS.has(req.method.toUpperCase()))) {
    headers['Content-Length'] = String(req.payload.length);
  }
  if (!req.proxyUrl) return { lib: url.protocol === 'https:' ? https : http, method: req.method, headers, ...urlParts(url) };
  const proxy = new URL(req.proxyUrl);
  if (!req.headers.some(([k]) => k.toLowerCase() === 'host')) headers.Host = url.host;
  return {
    lib: http,
    method: req.method,
    headers,
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxy.port || 80),
    path: url.href,
  };
}

function urlParts(url: URL): http.RequestOptions {
  return {
    protocol: url.protocol,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : undefined,
    path: `${url.pathname}${url.search}`,
    ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
  };
}

function perform(req: HttpRequestMessage, url: URL, redirectsLeft: number): void {
  const started = Date.now();
  if (req.proxyUrl && url.protocol === 'https:') {
    reply(failure(req.id, HTTP_ERROR.CONNECT_FAILED, `proxy_url ${req.proxyUrl}: https through an HTTP proxy (CONNECT) is not supported`));
    return;
  }
  const { lib, ...options } = requestTarget(req, url);
  const hostPort = `${options.host}:${options.port ?? (url.protocol === 'https:' ? 443 : 80)}`;
  let connected = false;
  let done = false;
  const finish = (msg: HttpResponseMessage) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    reply(msg);
  };
  const outgoing = lib.request(options);
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
        body: Buffer.concat(chunks),
      });
    });
  });
  if (req.payload.length > 0) outgoing.write(req.payload);
  outgoing.end();
}

// `roost lua test` (src/cli/lua-test/http-gateway.ts) sets this before the pool starts: every
// request is first shown to the test's gateway, which answers with a stubbed response, a fault to
// simulate, or "pass" (the test allowed the real request). Nothing leaves the machine otherwise.
const testGateway = process.env[TEST_GATEWAY_ENV];

function askTestGateway(gateway: string, req: HttpRequestMessage, url: URL): void {
  const hostPort = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  let done = false;
  const finish = (msg: HttpResponseMessage) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    reply(msg);
  };
  // A slow stubbed reply is slow for real: the request's own timeout applies.
  const timer = setTimeout(() => {
    finish(failure(req.id, HTTP_ERROR.TIMED_OUT, `Request timed out (Request sent ${(req.timeoutMs / 1000).toFixed(3)} secs ago)`));
  }, req.timeoutMs);
  const ask = http.request(gateway, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const d = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TestGatewayDecision;
      if (d.kind === 'pass') {
        if (done) return;
        done = true;
        clearTimeout(timer);
        perform(req, url, req.maxRedirects);
      } else if (d.kind === 'respond') {
        finish({ id: req.id, status: d.status, reason: d.reason, headers: d.headers, body: Buffer.from(d.body, 'utf8') });
      } else if (d.fault === 'timeout') {
        // Answered at once, with the text the request's timeout gives after request_timeout_msecs.
        finish(failure(req.id, HTTP_ERROR.TIMED_OUT, `Request timed out (Request sent ${(req.timeoutMs / 1000).toFixed(3)} secs ago)`));
      } else if (d.fault === 'dns') {
        finish(failure(req.id, HTTP_ERROR.HOST_LOOKUP_FAILED, `Failed to lookup host ${url.hostname}: getaddrinfo ENOTFOUND ${url.hostname}`));
      } else if (d.fault === 'reset') {
        finish(failure(req.id, HTTP_ERROR.CONNECTION_LOST, `Connection lost: ${ERRNO_TEXT.ECONNRESET}`));
      } else {
        finish(failure(req.id, HTTP_ERROR.CONNECT_FAILED, `connect(${hostPort}) failed: ${ERRNO_TEXT.ECONNREFUSED}`));
      }
    });
  });
  ask.on('error', (err) => finish(failure(req.id, HTTP_ERROR.CONNECT_FAILED, `roost lua test gateway: ${err.message}`)));
  ask.end(
    JSON.stringify({ method: req.method, url: req.url, headers: req.headers, payload: Buffer.from(req.payload).toString('base64'), timeoutMs: req.timeoutMs }),
  );
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
  if (testGateway) askTestGateway(testGateway, req, url);
  else perform(req, url, req.maxRedirects);
});
