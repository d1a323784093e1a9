// The HTTP side of `roost lua test`: every request a script under test makes (dovecot.http and
// every other HTTP client that goes through the Lua HTTP helper thread, http-worker.ts) is first
// shown to this gateway, a loopback HTTP server in the runner process. The running test's
// HttpControl records it and decides: a stubbed response (optionally slow), a simulated fault, or
// a real request when the test allowed it. No stub and no allow: answered as "connection refused",
// so no request leaves the machine unless a test says so.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { TestGatewayDecision } from '../../lua/http-protocol.js';

export type HttpFault = Extract<TestGatewayDecision, { kind: 'fault' }>['fault'];

export interface StubResponse {
  status?: number;
  reason?: string;
  body?: string;
  /** Serialised as the body, with Content-Type application/json. */
  json?: unknown;
  headers?: Record<string, string>;
  delay_ms?: number;
  fault?: HttpFault;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The body parsed, when it is JSON. */
  json?: unknown;
  /** What the test's stubs answered: `stub`, `allowed`, or `blocked` (no stub matched). */
  answer: 'stub' | 'allowed' | 'blocked';
}

interface Stub {
  method: string | null;
  url: RegExp;
  responses: StubResponse[];
  used: number;
}

const FAULTS = new Set(['timeout', 'refused', 'dns', 'reset']);

/** `*` matches any characters; everything else literally. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function parsePattern(pattern: string): { method: string | null; url: RegExp } {
  const m = /^([A-Z]+)\s+(\S.*)$/.exec(pattern.trim());
  return m ? { method: m[1]!, url: globToRegExp(m[2]!) } : { method: null, url: globToRegExp(pattern.trim()) };
}

const REASONS: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' };

/** One test's HTTP stubs and the requests seen. */
export class HttpControl {
  readonly requests: RecordedRequest[] = [];
  private readonly stubs: Stub[] = [];
  private readonly allowed: Array<{ method: string | null; url: RegExp }> = [];

  constructor(private readonly note: (line: string) => void) {}

  stub(pattern: string, response: StubResponse | StubResponse[]): void {
    const responses = Array.isArray(response) ? response : [response];
    if (responses.length === 0) throw new Error('t.http.stub: give a response');
    for (const r of responses) {
      if (r.fault !== undefined && !FAULTS.has(r.fault)) {
        throw new Error(`t.http.stub: unknown fault "${String(r.fault)}" (timeout, refused, dns, reset)`);
      }
    }
    // Later stubs win over earlier ones for the same URL.
    this.stubs.unshift({ ...parsePattern(pattern), responses, used: 0 });
  }

  allow(pattern: string): void {
    this.allowed.push(parsePattern(pattern));
  }

  /** `req.payload`: the request body, base64 (bytes on the wire). */
  async decide(req: { method: string; url: string; headers: Array<[string, string]>; payload: string }): Promise<TestGatewayDecision> {
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    const sent = Buffer.from(req.payload, 'base64').toString('utf8');
    const recorded: RecordedRequest = { method: req.method, url: req.url, headers, body: sent, answer: 'blocked' };
    try {
      if (sent) recorded.json = JSON.parse(sent);
    } catch {
      // not JSON
    }
    this.requests.push(recorded);
    const matches = (p: { method: string | null; url: RegExp }) => (p.method === null || p.method === req.method) && p.url.test(req.url);
    const stub = this.stubs.find(matches);
    if (!stub) {
      if (this.allowed.some(matches)) {
        recorded.answer = 'allowed';
        return { kind: 'pass' };
      }
      this.note(`roost lua test: no stub for ${req.method} ${req.url}: answered as connection refused (t.http.stub or t.http.allow it)`);
      return { kind: 'fault', fault: 'refused' };
    }
    recorded.answer = 'stub';
    const r = stub.responses[Math.min(stub.used++, stub.responses.length - 1)]!;
    if (r.delay_ms) await new Promise((resolve) => setTimeout(resolve, r.delay_ms));
    if (r.fault) return { kind: 'fault', fault: r.fault };
    const status = r.status ?? 200;
    const outHeaders: Array<[string, string]> = Object.entries(r.headers ?? {});
    let body = r.body ?? '';
    if (r.json !== undefined) {
      body = JSON.stringify(r.json);
      if (!outHeaders.some(([k]) => k.toLowerCase() === 'content-type')) outHeaders.push(['Content-Type', 'application/json']);
    }
    return { kind: 'respond', status, reason: r.reason ?? REASONS[status] ?? http.STATUS_CODES[status] ?? '', headers: outHeaders, body };
  }
}

/** The loopback server the HTTP helper threads ask (their env carries its URL). */
export class HttpGateway {
  current: HttpControl | null = null;
  private server: http.Server | null = null;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const asked = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Parameters<HttpControl['decide']>[0];
        const control = this.current;
        const decision: Promise<TestGatewayDecision> = control ? control.decide(asked) : Promise.resolve({ kind: 'fault', fault: 'refused' });
        void decision.then((d) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(d));
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.server.unref();
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
