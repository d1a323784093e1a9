// Lua's io library on the real filesystem (spec §1: Dovecot opens it unsandboxed): what a script
// writes is in the file for Node to read, what Node writes a script reads, with Lua 5.4's
// results and error texts (as Debian's lua5.4 prints them).
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { evalError, evalLua } from './helpers.js';

let pool: LuaWorkerPool;
let dir: string;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1 });
  dir = mkdtempSync(join(tmpdir(), 'roost-lua-io-'));
});
afterAll(() => pool.close());

const lua = (s: string) => JSON.stringify(s);

test('a script appends to a log file in every write form; Node reads the bytes', async () => {
  const log = join(dir, 'hooks.log');
  writeFileSync(log, 'existing\n');
  const r = await evalLua(pool, [
    `local f, err = io.open(${lua(log)}, "a")`,
    'assert(f, err)',
    'local same = f:write("line ", 1, " ", 2.5, " ", 1.0, " ", -0.0, " ", 1e100, "\\n")',
    'f:write("bin\\0\\255\\n")',
    'return same == f, io.type(f), f:close(), io.type(f)',
  ].join('\n'), 4);
  expect(r).toEqual([true, 'file', true, 'closed file']);
  expect(readFileSync(log)).toEqual(Buffer.from('existing\nline 1 2.5 1 -0 1e+100\nbin\0\xff\n', 'latin1'));
});

test('a script reads what Node wrote: lines, read formats, numbers, byte counts', async () => {
  const path = join(dir, 'input.txt');
  writeFileSync(path, 'hello\n12 1.5\nline2\n3.25e1 0x1F rest\r\nno newline');
  const r = await evalLua(pool, [
    `local f = assert(io.open(${lua(path)}))`,
    'local a, b, c, d = f:read("l", "L", "n", "n")',
    'local e = f:read("*l")',
    'local n1, n2 = f:read("n", "n")',
    'local rest = f:read(4)',
    'local all = f:read("a")',
    'local eof = { f:read("a"), f:read("l"), f:read(0), f:read(5) }',
    'f:close()',
    `local lines = {} for l in io.lines(${lua(path)}) do lines[#lines + 1] = l end`,
    `local pairs_ = {} for x, y in io.lines(${lua(path)}, 1, "l") do pairs_[#pairs_ + 1] = x .. "|" .. y end`,
    'return a, b, c, d, e, n1, n2, rest, all, #eof, eof[1], #lines, lines[4], lines[5], pairs_[1]',
  ].join('\n'), 16);
  // "n" stops at "line2" (fails, returns nil) without consuming it; 0x1F is hexadecimal.
  expect(r).toEqual(['hello', '12 1.5\n', null, null, 'line2', 32.5, 31n, ' res', 't\r\nno newline', 1n, '', 5n, '3.25e1 0x1F rest\r', 'no newline', 'h|ello', null]);
});

test('open modes: w truncates, r+ updates in place, w+ and a+ read back, seek and position', async () => {
  const path = join(dir, 'modes.txt');
  writeFileSync(path, 'old content that is long');
  const r = await evalLua(pool, [
    `local p = ${lua(path)}`,
    'local f = assert(io.open(p, "w")) f:write("abcdef") f:close()',
    'f = assert(io.open(p, "r+")) f:seek("set", 2) f:write("XY") local pos = f:seek() f:seek("set") local all = f:read("a") f:close()',
    'f = assert(io.open(p, "a+")) local start = f:seek() local first = f:read(2) f:write("!") local after = f:seek() f:close()',
    'f = assert(io.open(p, "w+b")) f:write("123") local size = f:seek("end") f:seek("set", 1) local tail = f:read("a") f:close()',
    'return pos, all, start, first, after, size, tail',
  ].join('\n'), 7);
  expect(r).toEqual([4n, 'abXYef', 0n, 'ab', 7n, 3n, '23']);
  expect(readFileSync(path, 'utf8')).toBe('123');
});

test('error returns are nil, message, errno as Lua 5.4 gives them', async () => {
  const missing = join(dir, 'no', 'such');
  const file = join(dir, 'plain.txt');
  writeFileSync(file, 'x');
  const r = await evalLua(pool, [
    `local a = { io.open(${lua(missing)}) }`,
    `local b = { io.open(${lua(dir)}, "w") }`,
    `local c = { io.open(${lua(dir)}):read("a") }`,
    `local d = { io.open(${lua(file)}):write("y") }`,
    `local e = { io.open(${lua(file)}):seek("set", -1) }`,
    'return a[1], a[2], a[3], b[2], b[3], c[1], c[2], c[3], d[2], d[3], e[2], e[3]',
  ].join('\n'), 12);
  expect(r).toEqual([
    null, `${missing}: No such file or directory`, 2n,
    `${dir}: Is a directory`, 21n,
    null, 'Is a directory', 21n,
    'Bad file descriptor', 9n,
    'Invalid argument', 22n,
  ]);
});

test('argument and state errors raise with lauxlib texts and the caller position', async () => {
  expect(await evalError(pool, 'io.open("x", "rw")')).toMatch(/s\d+\.lua:2: bad argument #2 to 'open' \(invalid mode\)\n/);
  expect(await evalError(pool, 'local f = io.tmpfile() f:close() f:read()')).toMatch(/s\d+\.lua:2: attempt to use a closed file\n/);
  expect(await evalError(pool, 'io.stdout:seek("bad")')).toMatch(/s\d+\.lua:2: bad argument #1 to 'seek' \(invalid option 'bad'\)\n/);
  expect(await evalError(pool, 'io.read("x")')).toMatch(/s\d+\.lua:2: bad argument #1 to 'read' \(invalid format\)\n/);
  expect(await evalError(pool, 'io.stdout.write(42)')).toMatch(/bad argument #1 to 'write' \(FILE\* expected, got number\)/);
  expect(await evalError(pool, `io.lines(${lua(join(dir, 'nope'))})`)).toMatch(new RegExp(`s\\d+\\.lua:2: cannot open file '${join(dir, 'nope')}' \\(No such file or directory\\)\\n`));
  expect(await evalLua(pool, 'return pcall(io.open, "x", {})', 2)).toEqual([false, "bad argument #2 to 'io.open' (string expected, got table)"]);
});

test('tmpfile, type, setvbuf, std files, io.input/io.output by name', async () => {
  const out = join(dir, 'default-out.txt');
  const inp = join(dir, 'default-in.txt');
  writeFileSync(inp, 'first\nsecond\n');
  const r = await evalLua(pool, [
    'local t = io.tmpfile() t:write("tmp") t:seek("set") local tmp = t:read("a") t:close()',
    `io.output(${lua(out)}) io.write("via ", "io.write\\n") io.close()`,
    `io.input(${lua(inp)}) local l1 = io.read() local l2 = io.read("L")`,
    'local std = { io.stdout:close() }',
    'return tmp, l1, l2, std[1], std[2], io.type(io.stdout), io.type({}), io.stdout:setvbuf("no"), io.stdin:read("a"), tostring(io.stdout):match("^file %(") ~= nil',
  ].join('\n'), 10);
  expect(r).toEqual(['tmp', 'first', 'second\n', null, 'cannot close standard file', 'file', null, true, '', true]);
  expect(readFileSync(out, 'utf8')).toBe('via io.write\n');
});

test('io.popen runs a command: output, exit status, input to the command', async () => {
  const target = join(dir, 'popen-w.txt');
  const r = await evalLua(pool, [
    'local p = io.popen("printf \'a\\\\nb\\\\n\'; exit 3")',
    'local lines = {} for l in p:lines() do lines[#lines + 1] = l end',
    'local ok, how, code = p:close()',
    `local w = io.popen("cat > ${target}", "w") w:write("fed to cat") local wok = w:close()`,
    'return table.concat(lines, ","), ok, how, code, wok',
  ].join('\n'), 5);
  expect(r).toEqual(['a,b', null, 'exit', 3n, true]);
  expect(readFileSync(target, 'utf8')).toBe('fed to cat');
});

test('a file left open is closed when the state closes (its data is there)', async () => {
  const path = join(dir, 'left-open.txt');
  await evalLua(pool, `LEFT = io.open(${lua(path)}, "w") LEFT:write("kept")`, 0);
  expect(existsSync(path)).toBe(true);
  expect(readFileSync(path, 'utf8')).toBe('kept');
});

describe('limits', () => {
  let limited: LuaWorkerPool;
  beforeAll(() => {
    limited = new LuaWorkerPool({ workers: 1, callTimeoutMs: 600, memoryLimitBytes: 4 * 1024 * 1024 });
  });
  afterAll(() => limited.close());

  test('reading more than lua_memory_limit fails as a memory error; the state goes on', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(6 * 1024 * 1024, 0x61));
    const r = await evalLua(limited, [
      `local function try(fmt) local f = io.open(${lua(big)}, "rb") local ok, err = pcall(f.read, f, fmt) f:close() return ok, err end`,
      'local ok, err = try("a")',
      'local ok2, err2 = try(5 * 1024 * 1024)',
      'local ok3, err3 = try("l")',
      `local head = io.open(${lua(big)}, "rb"):read(3)`,
      'return ok, err, ok2, err2, ok3, err3, head',
    ].join('\n'), 7);
    expect(r).toEqual([false, 'not enough memory', false, 'not enough memory', false, 'not enough memory', 'aaa']);
  });

  test('a command still running at lua_call_timeout is killed, and the call fails with the timeout', async () => {
    const marker = join(dir, 'after-sleep');
    const msg = await evalError(limited, `local ok, how, sig = os.execute("sleep 30; touch ${marker}") RESULT = { ok, how, sig } while true do end`);
    expect(msg).toMatch(/Lua script exceeded lua_call_timeout \(600 ms\)/);
    const r = await evalLua(limited, 'local p = io.popen("sleep 30; echo late") local out = p:read("a") local ok, how, sig = p:close() return out, ok, how, sig', 4);
    expect(r).toEqual(['', null, 'signal', 15n]);
    expect(existsSync(marker)).toBe(false);
  });
});

test('the libraries load on first use also under dovecot.restrict_global_variables(true)', async () => {
  const path = join(dir, 'restricted-globals.txt');
  const r = await evalLua(pool, [
    'dovecot.restrict_global_variables(true)',
    `local f = io.open(${lua(path)}, "w") f:write("ok") f:close()`,
    'local names = {} for k in pairs(io) do names[#names + 1] = k end table.sort(names)',
    'return io.type(f), table.concat(names, " "), type(require("cjson").encode)',
  ].join('\n'), 3);
  // the fields of Lua 5.4's io table
  expect(r).toEqual(['closed file', 'close flush input lines open output popen read stderr stdin stdout tmpfile type write', 'function']);
  expect(readFileSync(path, 'utf8')).toBe('ok');
});
