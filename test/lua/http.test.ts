// dovecot.http (spec §4): settings validation, blocking submit, responses, failures.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { evalError, evalLua } from './helpers.js';

let pool: LuaWorkerPool;
let server: Server;
let base: string;
beforeAll(async () => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1, callTimeoutMs: 3000 });
  server = createServer((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 1500);
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(201, 'Made It', { 'X-Echo': `${req.method} ${req.headers['x-a'] ?? '-'} ${req.headers['x-b'] ?? '-'}` });
      res.end(`got:${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await pool.close();
  server.closeAllConnections();
  server.close();
});

test('request, headers, payload, response accessors', async () => {
  const r = await evalLua(pool, [
    `local c = dovecot.http.client({ timeout = 5, user_agent = "roost-test" })`,
    `local req = c:request({ url = "${base}/x", method = "POST" })`,
    'req:add_header("X-A", "1") req:add_header("X-B", "2") req:remove_header("x-b")',
    'req:set_payload("hello")',
    'local res = req:submit()',
    'return res:status(), math.type(res:status()), res:reason(), res:header("x-echo"), res:header("missing"), res:payload()',
  ].join('\n'), 6);
  expect(r).toEqual([201n, 'integer', 'Made It', 'POST 1 -', '', 'got:hello']);
});

test('setting and request validation texts', async () => {
  expect(await evalError(pool, 'dovecot.http.client({ user_agent = 5 })')).toMatch(/failed: Invalid HTTP client setting: user_agent: string expected\n/);
  expect(await evalError(pool, 'dovecot.http.client({ max_redirects = -1 })')).toMatch(/failed: Invalid HTTP client setting: max_redirects: non-negative number expected\n/);
  expect(await evalError(pool, 'dovecot.http.client({ debug = "yes" })')).toMatch(/failed: Invalid HTTP client setting: debug: boolean expected\n/);
  expect(await evalError(pool, 'dovecot.http.client({}):request({ method = "GET" })')).toMatch(/failed: cannot create request: url not specified\n/);
  expect(await evalError(pool, 'dovecot.http.client({}):request({ url = "not a url" })')).toMatch(/failed: Failed to parse url not a url: /);
});

test('connection failure and timeout give Dovecot 9000-range statuses', async () => {
  const refused = await evalLua(pool, 'local r = dovecot.http.client({}):request({ url = "http://127.0.0.1:1/" }):submit() return r:status(), r:reason()', 2);
  expect(refused).toEqual([9003n, 'connect(127.0.0.1:1) failed: Connection refused']);
  const slow = await evalLua(pool, `local r = dovecot.http.client({ request_timeout_msecs = 200 }):request({ url = "${base}/slow" }):submit() return r:status(), r:reason()`, 2);
  expect(slow[0]).toBe(9008n);
  expect(slow[1]).toMatch(/^Request timed out/);
});
