// dovecot.http on the wire as Dovecot's http-client: bodies are bytes both ways (nothing is
// decoded as UTF-8), payloads go with Content-Length (never chunked, so a plain python3
// http.server receiver reads them), and proxy_url sends the request to the proxy with the
// absolute URI in the request line (RFC 9112 §3.2.2).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { evalLua } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let pool: LuaWorkerPool;
const servers: Server[] = [];

/** A local HTTP server recording each request and answering with `reply`. */
async function recorder(reply: Buffer): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(reply);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1, callTimeoutMs: 10_000 });
});
afterAll(async () => {
  await pool.close();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** Lua that renders a string as hex, so the bytes cross to the test unchanged. */
const HEX = 'local function hex(s) return (s:gsub(".", function(c) return string.format("%02X ", c:byte()) end)) end';

test('a response body arrives as its bytes (41 FF 42 00 43), not decoded', async () => {
  const origin = await recorder(Buffer.from([0x41, 0xff, 0x42, 0x00, 0x43]));
  const [len, hex] = await evalLua(
    pool,
    [HEX, `local res = dovecot.http.client({}):request({ url = "${origin.url}/bin" }):submit()`, 'local b = res:payload()', 'return #b, hex(b)'].join('\n'),
    2,
  );
  expect([len, hex]).toEqual([5n, '41 FF 42 00 43 ']);
});

test('a payload goes as its bytes with Content-Length, not chunked', async () => {
  const origin = await recorder(Buffer.from('ok'));
  await evalLua(
    pool,
    [
      `local req = dovecot.http.client({}):request({ url = "${origin.url}/in", method = "POST" })`,
      'req:set_payload("A\\255B\\0C")',
      'return req:submit():status()',
    ].join('\n'),
  );
  expect(origin.seen).toHaveLength(1);
  const { headers, body } = origin.seen[0]!;
  expect([...body]).toEqual([0x41, 0xff, 0x42, 0x00, 0x43]);
  expect(headers['content-length']).toBe('5');
  expect(headers['transfer-encoding']).toBeUndefined();
});

test('a POST without payload says Content-Length: 0; a GET sends no body headers', async () => {
  const origin = await recorder(Buffer.from('ok'));
  await evalLua(
    pool,
    [
      `local c = dovecot.http.client({})`,
      `c:request({ url = "${origin.url}/a", method = "POST" }):submit()`,
      `return c:request({ url = "${origin.url}/b" }):submit():status()`,
    ].join('\n'),
  );
  expect(origin.seen.map((s) => [s.method, s.headers['content-length'], s.headers['transfer-encoding']])).toEqual([
    ['POST', '0', undefined],
    ['GET', undefined, undefined],
  ]);
});

test('a python3 http.server receiver reads the whole POST body', async () => {
  // BaseHTTPRequestHandler reads exactly Content-Length bytes: a chunked body would read as empty.
  const python = spawn('python3', [
    '-c',
    [
      'import http.server, sys',
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_POST(self):',
      '        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))',
      '        self.send_response(200)',
      '        self.send_header("Content-Length", str(len(body)))',
      '        self.end_headers()',
      '        self.wfile.write(body)',
      '    def log_message(self, *a): pass',
      's = http.server.HTTPServer(("127.0.0.1", 0), H)',
      'print(s.server_address[1], flush=True)',
      's.handle_request()',
    ].join('\n'),
  ]) as ChildProcess;
  try {
    const port = await new Promise<string>((resolve, reject) => {
      createInterface({ input: python.stdout! }).once('line', resolve);
      python.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)));
    });
    const [status, echoed] = await evalLua(
      pool,
      [
        `local req = dovecot.http.client({}):request({ url = "http://127.0.0.1:${port}/push", method = "POST" })`,
        `req:add_header("Content-Type", "application/json")`,
        `req:set_payload('{"user":"alice","subject":"caf\\195\\169"}')`,
        'local res = req:submit()',
        'return res:status(), res:payload()',
      ].join('\n'),
      2,
    );
    expect([status, echoed]).toEqual([200n, '{"user":"alice","subject":"café"}']);
  } finally {
    python.kill();
  }
});

test('proxy_url: the request goes to the proxy with the absolute URI and the origin in Host', async () => {
  const proxy = await recorder(Buffer.from('via proxy'));
  // The origin's name does not resolve: only the proxy can answer.
  const [status, body] = await evalLua(
    pool,
    [
      `local c = dovecot.http.client({ proxy_url = "${proxy.url}" })`,
      'local req = c:request({ url = "http://origin.invalid:8080/hook?x=1", method = "PUT" })',
      'req:set_payload("data")',
      'local res = req:submit()',
      'return res:status(), res:payload()',
    ].join('\n'),
    2,
  );
  expect([status, body]).toEqual([200n, 'via proxy']);
  expect(proxy.seen).toHaveLength(1);
  expect(proxy.seen[0]).toMatchObject({ method: 'PUT', url: 'http://origin.invalid:8080/hook?x=1', body: Buffer.from('data') });
  expect(proxy.seen[0]!.headers.host).toBe('origin.invalid:8080');
});

test('proxy_url with an https URL fails with a clear error instead of bypassing the proxy', async () => {
  const proxy = await recorder(Buffer.from('never'));
  const [status, reason] = await evalLua(
    pool,
    [
      `local c = dovecot.http.client({ proxy_url = "${proxy.url}" })`,
      'local res = c:request({ url = "https://origin.invalid/" }):submit()',
      'return res:status(), res:reason()',
    ].join('\n'),
    2,
  );
  expect(status).toBe(9003n);
  expect(reason).toMatch(/https through an HTTP proxy \(CONNECT\) is not supported/);
  expect(proxy.seen).toHaveLength(0);
});
