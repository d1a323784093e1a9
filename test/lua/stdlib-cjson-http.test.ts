// The built-in equivalents of C modules: cjson (results as Debian's lua-cjson 2.1.0 on lua5.4
// prints them, plus OpenResty's additions) and LuaSocket's socket.http / ltn12 / socket.url,
// exercised against a local HTTP server.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { evalError, evalLua } from './helpers.js';

let pool: LuaWorkerPool;
let server: Server;
let base: string;
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];

beforeAll(async () => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1 });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/moved') {
        res.writeHead(302, { Location: '/json' });
        return void res.end();
      }
      if (req.url === '/json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Multi': ['a', 'b'] });
        return void res.end(JSON.stringify({ user: 'alice', quota: [1, 2], ok: true, none: null }));
      }
      res.writeHead(201, 'Created Here', { 'X-Echo': `${req.method} ${req.headers['content-type'] ?? '-'}` });
      res.end(`got ${body.length}:${body}`);
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

describe('cjson', () => {
  test('encode as Debian lua-cjson 2.1.0: numbers, escapes, arrays, objects, null', async () => {
    const r = await evalLua(pool, [
      'local cjson = require "cjson"',
      'return cjson.encode({1,2,3}), cjson.encode({}), cjson.encode({a=1}), cjson.encode("a/b\\"\\\\\\n\\1\\127é"),',
      '  cjson.encode(1.5), cjson.encode(123), cjson.encode(1e20), cjson.encode(math.maxinteger), cjson.encode(2^53),',
      '  cjson.encode(0.1), cjson.encode(-0.0), cjson.encode(1/3), cjson.encode({[1]=1,[2]=2,[4]=4}), cjson.encode({[1]="a"}),',
      '  cjson.encode(cjson.null), cjson.encode(true), cjson.encode({{}}), tostring(cjson.null), cjson._NAME, cjson._VERSION',
    ].join('\n'), 20);
    expect(r).toEqual([
      '[1,2,3]', '{}', '{"a":1}', '"a\\/b\\"\\\\\\n\\u0001\\u007fé"',
      '1.5', '123', '1e+20', '9.2233720368548e+18', '9.007199254741e+15',
      '0.1', '-0', '0.33333333333333', '[1,2,null,4]', '["a"]',
      'null', 'true', '[{}]', 'userdata: (nil)', 'cjson', '2.1.0',
    ]);
  });

  test('decode: floats, null, unicode escapes; error texts with positions', async () => {
    const r = await evalLua(pool, [
      'local cjson = require "cjson"',
      `local t = cjson.decode('{"a":[1,2.5,null,true,"x\\\\u00e9\\\\/"],"b":{},"c":1e2,"e":12345678901234567890}')`,
      'return math.type(t.a[1]), t.a[2], t.a[3] == cjson.null, t.a[4], t.a[5], next(t.b), t.c, t.e, cjson.decode(\'"\\\\ud83d\\\\ude00"\'), cjson.decode("12")',
    ].join('\n'), 10);
    expect(r).toEqual(['float', 2.5, true, true, 'xé/', null, 100, 12345678901234567000, '😀', 12]);
    const errors = await evalLua(pool, [
      'local cjson = require "cjson"',
      'local out = {}',
      'for _, s in ipairs({ \'{"a":}\', "[1,2", "", "nul", \'{"a":1} x\', "{1:2}", \'"\\\\q"\', "[1,]" }) do',
      '  out[#out + 1] = select(2, pcall(cjson.decode, s))',
      'end',
      'return table.concat(out, "|")',
    ].join('\n'));
    expect((errors[0] as string).split('|')).toEqual([
      'Expected value but found T_OBJ_END at character 6',
      'Expected comma or array end but found T_END at character 5',
      'Expected value but found T_END at character 1',
      'Expected value but found invalid token at character 1',
      'Expected the end but found invalid token at character 9',
      'Expected object key string but found T_NUMBER at character 2',
      'Expected value but found invalid escape code at character 2',
      'Expected value but found T_ARR_END at character 4',
    ]);
    // raised from a script: the caller's position, like luaL_error
    expect(await evalError(pool, 'require("cjson").decode("[")')).toMatch(/s\d+\.lua:2: Expected value but found T_END at character 2\n/);
  });

  test('encode errors, sparse arrays, depth limits, precision, cjson.safe and cjson.new', async () => {
    const r = await evalLua(pool, [
      'local cjson = require "cjson"',
      'local deep = {} local cur = deep for i = 1, 1100 do cur[1] = {} cur = cur[1] end',
      'local e = function(v) return select(2, pcall(cjson.encode, v)) end',
      'local a = { e({ [1] = 1, [20] = 2 }), e({ f = print }), e(0/0), e({ [true] = 1 }), e(deep), select(2, pcall(cjson.decode, string.rep("[", 1100))) }',
      'local safe = require "cjson.safe"',
      'local s1, s2 = safe.decode("{")',
      'local c2 = cjson.new() c2.encode_number_precision(3)',
      'cjson.encode_sparse_array(true)',
      'return a[1], a[2], a[3], a[4], a[5], a[6], s1, s2, c2.encode(3.14159), cjson.encode(3.14159), cjson.encode({ [1] = 1, [20] = 2 }), select("#", cjson.encode_sparse_array())',
    ].join('\n'), 12);
    expect(r).toEqual([
      'Cannot serialise table: excessively sparse array',
      'Cannot serialise function: type not supported',
      'Cannot serialise number: must not be NaN or Inf',
      'Cannot serialise boolean: table key must be a number or string',
      'Cannot serialise, excessive nesting (1001)',
      'Found too many nested data structures (1001) at character 1001',
      null,
      'Expected object key string but found T_END at character 2',
      '3.14',
      '3.14159',
      expect.stringMatching(/^\{("1":1,"20":2|"20":2,"1":1)\}$/),
      3n,
    ]);
  });

  test('OpenResty additions: empty_array, array_mt, encode_empty_table_as_object, decode_array_with_array_mt', async () => {
    const r = await evalLua(pool, [
      'local cjson = require("cjson").new()',
      'local a = cjson.encode({ list = cjson.empty_array }), cjson.encode(setmetatable({}, cjson.array_mt)), cjson.encode(setmetatable({}, cjson.empty_array_mt))',
      'local plain = cjson.decode("[]")',
      'cjson.decode_array_with_array_mt(true)',
      'local marked = cjson.decode("[]")',
      'cjson.encode_empty_table_as_object(false)',
      'return a, cjson.encode(setmetatable({}, cjson.array_mt)), getmetatable(plain) == nil, getmetatable(marked) == cjson.array_mt, cjson.encode(marked), cjson.encode({})',
    ].join('\n'), 6);
    expect(r).toEqual(['{"list":[]}', '[]', true, true, '[]', '[]']);
  });
});

describe('socket.http', () => {
  test('simple form: GET returns body, code, headers, status line; POST sends a form body with Content-Length', async () => {
    seen.length = 0;
    const r = await evalLua(pool, [
      'local http = require "socket.http"',
      `local body, code, headers, status = http.request("${base}/json")`,
      `local pbody, pcode, pheaders = http.request("${base}/post", "a=1&b=2")`,
      'local t = require("cjson").decode(body)',
      'return t.user, code, headers["content-type"], headers["x-multi"], status, pbody, pcode, pheaders["x-echo"]',
    ].join('\n'), 8);
    expect(r).toEqual(['alice', 200n, 'application/json', 'a, b', 'HTTP/1.1 200 OK', 'got 7:a=1&b=2', 201n, 'POST application/x-www-form-urlencoded']);
    expect(seen.map((s) => [s.method, s.url, s.headers['content-length'], s.headers['transfer-encoding'], s.headers['user-agent']])).toEqual([
      ['GET', '/json', undefined, undefined, 'LuaSocket 3.0.0'],
      ['POST', '/post', '7', undefined, 'LuaSocket 3.0.0'],
    ]);
  });

  test('table form: method, headers, ltn12 source and sink; redirects are followed', async () => {
    seen.length = 0;
    const r = await evalLua(pool, [
      'local http, ltn12 = require "socket.http", require "ltn12"',
      'local out = {}',
      'local payload = \'{"event":"MessageNew"}\'',
      `local one, code, headers, status = http.request{ url = "${base}/hook", method = "PUT", sink = ltn12.sink.table(out),`,
      '  source = ltn12.source.string(payload), headers = { ["Content-Type"] = "application/json", ["Content-Length"] = #payload, ["X-Token"] = "t1" } }',
      'local moved = {}',
      `local _, mcode = http.request{ url = "${base}/moved", sink = ltn12.sink.table(moved) }`,
      'return one, code, table.concat(out), headers["x-echo"], status, mcode, require("cjson").decode(table.concat(moved)).user',
    ].join('\n'), 7);
    expect(r).toEqual([1n, 201n, 'got 22:{"event":"MessageNew"}', 'PUT application/json', 'HTTP/1.1 201 Created Here', 200n, 'alice']);
    expect(seen[0]).toMatchObject({ method: 'PUT', url: '/hook', body: '{"event":"MessageNew"}', headers: { 'x-token': 't1', 'content-length': '22' } });
    expect(seen.slice(1).map((s) => s.url)).toEqual(['/moved', '/json']);
  });

  test('failures return nil and LuaSocket error strings', async () => {
    const r = await evalLua(pool, [
      'local http = require "socket.http"',
      'local a, aerr = http.request("http://127.0.0.1:1/")',
      'local b, berr = http.request{ url = "ftp://example.com/x" }',
      'return a, aerr, b, berr',
    ].join('\n'), 4);
    expect(r).toEqual([null, 'connection refused', null, "unknown scheme 'ftp'"]);
  });

  test('socket.url and ltn12 are LuaSocket\'s', async () => {
    const r = await evalLua(pool, [
      'local url, ltn12 = require "socket.url", require "ltn12"',
      'local p = url.parse("http://u:p@host:8080/a/b?q=1#frag")',
      'local out = {}',
      'ltn12.pump.all(ltn12.source.string("abc"), (ltn12.sink.table(out)))',
      'return url.escape("a b/c"), p.host, p.port, p.path, p.query, p.fragment, p.user, url.absolute("http://h/a/b", "../c"), table.concat(out), url._VERSION',
    ].join('\n'), 10);
    expect(r).toEqual(['a%20b%2fc', 'host', '8080', '/a/b', 'q=1', 'frag', 'u', 'http://h/c', 'abc', 'URL 1.0.3']);
  });
});
