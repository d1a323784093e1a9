// Differential conformance: the same scripts run under Debian's lua5.4 with its lua-cjson and
// lua-socket packages (when installed: `apt-get install lua5.4 lua-cjson lua-socket`) and under
// Roost; both write what they see to a file and the two files must be equal, error texts and
// positions included. Where a package is missing its test is skipped (the other stdlib tests
// hold the same expectations written out).
import { execFile, spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';

const haveLua54 = spawnSync('lua5.4', ['-v']).status === 0;
const haveCjson = haveLua54 && spawnSync('lua5.4', ['-e', 'require "cjson"']).status === 0;
const haveLuaSocket = haveLua54 && spawnSync('lua5.4', ['-e', 'require "socket.http"']).status === 0;

let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1 });
});
afterAll(() => pool.close());

function script(dir: string, out: string): string {
  return String.raw`
local OUT, D = "${out}", "${dir}/"
local SELF = debug.getinfo(1, "S").source:sub(2)
local function p(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = (tostring(t[i]):gsub(SELF, "SCRIPT"):gsub("0x%x+", "ADDR")) end
  local f = io.open(OUT, "a") f:write(table.concat(t, "\t"), "\n") f:close()
end
function t()
  p(io.open(D .. "missing/x", "r"))
  p(pcall(io.open, D .. "x", "rw"))
  local f = assert(io.open(D .. "a.txt", "w"))
  p(f:write("hello\n", 12, " ", 1.5, " ", -0.0, "\nline2\n3.25e1 0x1F 1e 0x rest\n\tlast"))
  p(f:flush(), f:seek(), f:seek("set", 2), f:seek("cur", 1), f:seek("end"), f:close(), pcall(f.read, f))
  p(io.type(f), io.type(io.stdout), io.type(42), tostring(f))
  f = io.open(D .. "a.txt", "a+") p("a+", f:seek(), f:read("l")) f:write("X") p(f:seek()) f:close()
  f = io.open(D .. "a.txt")
  p(f:read("l", "L", "n", "n", "l"))
  p(f:read("n", "n", "n", "n", "n"))
  p(f:read(3), f:read("L"), f:read("a"), f:read("a"), f:read("l"), f:read(0), f:read(5))
  f:close()
  for a, b in io.lines(D .. "a.txt", 2, "n") do p("pair", a, b) end
  p(pcall(io.lines, D .. "nope"))
  p(io.open(D, "r"):read("a"))
  p(io.open(D, "w"))
  p(io.open(D .. "a.txt"):write("x"))
  -- an append-mode position after another writer appended: where this handle's write ended
  f = io.open(D .. "log", "a") f:write("abc") f:flush()
  local g = io.open(D .. "log", "a") g:write("xyz") g:close()
  p("append", f:seek("cur"), f:seek("end"), f:seek("cur")) f:write("!") p(f:seek("cur")) f:close()
  -- C sees a file name up to its first NUL
  f = io.open(D .. "nul\0ignored", "w") p(io.type(f)) f:close() p(io.type(io.open(D .. "nul")), os.remove(D .. "nul"))
  p(os.remove(D .. "nope"), os.rename(D .. "nope", D .. "nope2"))
  p(os.remove(D))
  p(os.execute(), os.execute("exit 3"))
  p(os.execute("kill -9 $$"))
  local pp = io.popen("printf 'x\\ny'; exit 2") p(pp:read("a"), pp:close())
  p(io.close(), io.stdout:close())
  p(pcall(io.read, "x"))
  p(pcall(f.seek, io.stdout, "bad"))
  p(pcall(io.stdout.setvbuf, io.stdout, "bad"))
  p(io.stdout:setvbuf("no"), io.stdout:setvbuf("full", 1024))
  p(pcall(io.input, D .. "nope"))
  p(pcall(os.getenv), pcall(io.type), pcall(io.open, {}))
  p(select("#", io.lines(D .. "a.txt")))
  local t = io.tmpfile() t:write("tmp") t:seek("set") p(t:read("a")) t:close()
  package.path = D .. "?.lua;" .. D .. "?/init.lua"
  p(package.searchpath("mod.sub", package.path))
  p(pcall(require, "nosuch"))
  local m = io.open(D .. "mod.lua", "w") m:write("#!/usr/bin/lua\nreturn { name = ..., file = select(2, ...) }") m:close()
  local mod = require("mod")
  p(mod.name, mod.file == D .. "mod.lua", package.loaded.mod == mod, select("#", require("mod")))
  p(loadfile(D .. "nope.lua"))
  p(pcall(dofile, D .. "nope.lua"))
  local b = io.open(D .. "bad.lua", "w") b:write("local x = = 1") b:close()
  p(pcall(require, "bad"))
  p(io.write("") == io.stdout)
end
`;
}

/** Runs `t()` of the script under lua5.4 and under Roost; the two output files, DIR for the folder. */
async function runBoth(script: (dir: string, out: string) => string): Promise<string[]> {
  const base = mkdtempSync(join(tmpdir(), 'roost-lua-vs-'));
  const results: string[] = [];
  for (const runner of ['lua5.4', 'roost'] as const) {
    const dir = join(base, runner);
    mkdirSync(dir);
    const out = join(dir, 'out.txt');
    const file = join(dir, 'script.lua');
    writeFileSync(file, script(dir, out));
    if (runner === 'lua5.4') {
      // not spawnSync: a test's HTTP server in this process must go on answering
      const r = await promisify(execFile)('lua5.4', ['-e', `dofile(${JSON.stringify(file)}) t()`], { timeout: 20_000 });
      expect(r.stderr).toBe('');
    } else {
      const h = await pool.createState({ scriptPath: file, context: 'mail', logPrefix: 'x: ' });
      await h.callHook('t', [], 0);
      await h.close();
    }
    results.push(readFileSync(out, 'utf8').replaceAll(dir, 'DIR'));
  }
  return results;
}

(haveLua54 ? test : test.skip)('io, os and require give what Debian lua5.4 gives on the same files', async () => {
  const [lua54, roost] = await runBoth(script);
  expect(roost!.split('\n')).toEqual(lua54!.split('\n'));
  expect(lua54!.split('\n').length).toBeGreaterThan(40);
});

// Debian's lua-cjson 2.1.0 (apt-get install lua-cjson) against the built-in; objects with one key
// only (key order follows each table's hash order).
(haveCjson ? test : test.skip)('cjson gives what Debian lua-cjson gives', async () => {
  const cjsonScript = (_dir: string, out: string) => String.raw`
local OUT = "${out}"
local function p(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  local f = io.open(OUT, "a") f:write(table.concat(t, "\t"), "\n") f:close()
end
function t()
  local cjson = require "cjson"
  local values = { {1,2,3}, {}, {a=1}, "a/b\"\\\n\1\127\200é", 1.5, 123, 1e20, math.maxinteger, 2^53, 0.1, -0.0, 1/3,
    {[1]=1,[2]=2,[4]=4}, {[1]="a", [2]={b={true,false}}}, cjson.null, true, {{}}, {[1.5]=1}, -1e-300, 5e-324, 12345678.9 }
  for _, v in ipairs(values) do p(pcall(cjson.encode, v)) end
  for _, v in ipairs({ {[1]=1,[20]=2}, {f=print}, 0/0, math.huge, {[true]=1} }) do p(pcall(cjson.encode, v)) end
  for _, s in ipairs({ '{"a":[1,2.5,null,true,"x\\u00e9\\/"]}', '{"a":}', "[1,2", "", "nul", '{"a":1} x', "{1:2}",
      '"\\q"', "[1,]", '"\\ud83d\\ude00"', '"\\ud83d"', "1E400", "-1.5e-3", "0x10", "-0", '"a\1b"', " [ 1 , 2 ] ", "tru",
      "[-]", "1.", ".5", "01", '{"a":1,}', "[[[]]]", '"\\u0041\\n"', "12345678901234567890" }) do
    local ok, v = pcall(cjson.decode, s)
    if ok and type(v) == "table" then p(ok, cjson.encode(v), math.type(v[1])) else p(ok, v, math.type(v)) end
  end
  p(cjson.encode_sparse_array(), cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(),
    cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers())
  cjson.encode_sparse_array(true) p(cjson.encode({[1]=1,[20]=2}):len())
  cjson.encode_number_precision(3) p(cjson.encode(3.14159), cjson.encode(10))
  p(pcall(cjson.encode_number_precision, 20))
  local safe = require "cjson.safe" p(safe.decode("{"), safe.encode(print))
end
`;
  const [lua54, roost] = await runBoth(cjsonScript);
  expect(roost!.split('\n')).toEqual(lua54!.split('\n'));
  expect(lua54!.split('\n').length).toBeGreaterThan(50);
});

// LuaSocket's own socket.http (Debian's lua-socket) against the built-in, on one local server:
// what the script gets back and what the server receives.
(haveLuaSocket ? test : test.skip)('socket.http gives what LuaSocket gives and sends the same requests', async () => {
  const received: string[][] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const h = req.headers;
      received.push([req.method ?? '', req.url ?? '', body, h['content-length'] ?? '-', h['content-type'] ?? '-', h['user-agent'] ?? '-', String(h['x-token'] ?? '-'), h['transfer-encoding'] ?? '-']);
      if (req.url === '/moved') {
        res.writeHead(302, { Location: '/json' });
        return void res.end();
      }
      if (req.url === '/json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Multi': ['a', 'b'] });
        return void res.end('{"user":"alice"}');
      }
      res.writeHead(201, 'Created Here', { 'X-Echo': req.method ?? '' });
      res.end(`got ${body.length}:${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const httpScript = (_dir: string, out: string) => String.raw`
local OUT = "${out}"
local function p(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = (tostring(t[i]):gsub("0x%x+", "ADDR")) end
  local f = io.open(OUT, "a") f:write(table.concat(t, "\t"), "\n") f:close()
end
function t()
  local http, ltn12 = require "socket.http", require "ltn12"
  local body, code, headers, status = http.request("${base}/json")
  p(body, code, headers["content-type"], headers["x-multi"], status)
  p(http.request("${base}/post", "a=1&b=2"))
  local out = {}
  local payload = '{"event":"MessageNew"}'
  local one, pcode, pheaders, pstatus = http.request{ url = "${base}/hook", method = "PUT", sink = ltn12.sink.table(out),
    source = ltn12.source.string(payload), headers = { ["content-type"] = "application/json", ["content-length"] = #payload, ["x-token"] = "t1" } }
  p(one, pcode, table.concat(out), pheaders["x-echo"], pstatus)
  local moved = {}
  local _, mcode = http.request{ url = "${base}/moved", sink = ltn12.sink.table(moved) }
  p(mcode, table.concat(moved))
  p(http.request("http://127.0.0.1:1/"))
  p(http.USERAGENT, http.TIMEOUT)
end
`;
    const [lua54, roost] = await runBoth(httpScript);
    expect(roost!.split('\n')).toEqual(lua54!.split('\n'));
    expect(lua54!.split('\n').length).toBeGreaterThan(6);
    // each run sent the same requests (method, path, body, length, type, agent, token, chunking)
    expect(received.length % 2).toBe(0);
    expect(received.slice(received.length / 2)).toEqual(received.slice(0, received.length / 2));
  } finally {
    server.close();
  }
});
