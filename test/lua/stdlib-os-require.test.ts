// Lua's os library on the real system and `require` loading from disk (spec §1), compared with
// what Debian's lua5.4 gives: package.path's default, searchpath, the not-found message, module
// arguments and package.loaded; C modules fail with an error naming them.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { evalError, evalLua } from './helpers.js';

const MODULES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/lua-modules');
const DEBIAN_PATH =
  '/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;/usr/local/lib/lua/5.4/?.lua;' +
  '/usr/local/lib/lua/5.4/?/init.lua;/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua;./?/init.lua';

let pool: LuaWorkerPool;
let dir: string;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1 });
  dir = mkdtempSync(join(tmpdir(), 'roost-lua-os-'));
});
afterAll(() => pool.close());

const lua = (s: string) => JSON.stringify(s);

describe('os', () => {
  test('getenv reads the real environment (a variable set for `roost`: test/e2e/lua-stdlib.test.ts)', async () => {
    expect(await evalLua(pool, 'return os.getenv("HOME"), os.getenv("PATH"), os.getenv("ROOST_NO_SUCH_VAR")', 3))
      .toEqual([process.env.HOME, process.env.PATH, null]);
  });

  test('remove, rename and tmpname act on real files; failures return nil, message, errno', async () => {
    const a = join(dir, 'a.txt');
    const b = join(dir, 'b.txt');
    const emptyDir = join(dir, 'empty');
    writeFileSync(a, 'data');
    const r = await evalLua(pool, [
      `local ok1 = os.rename(${lua(a)}, ${lua(b)})`,
      `local missing = { os.remove(${lua(a)}) }`,
      `local badrename = { os.rename(${lua(a)}, ${lua(b)}) }`,
      `local nonempty = { os.remove(${lua(dir)}) }`,
      'local tmp = os.tmpname()',
      `os.execute("mkdir " .. ${lua(emptyDir)})`,
      `local rmdir = os.remove(${lua(emptyDir)})`,
      'return ok1, missing[1], missing[2], missing[3], badrename[2], nonempty[2], nonempty[3], tmp, rmdir',
    ].join('\n'), 9);
    expect(r.slice(0, 7)).toEqual([true, null, `${a}: No such file or directory`, 2n, 'No such file or directory', `${dir}: Directory not empty`, 39n]);
    expect(readFileSync(b, 'utf8')).toBe('data');
    // os.tmpname creates the file (mkstemp), like Lua 5.4 on Linux
    expect(r[7]).toMatch(/^\/tmp\/lua_\w{6}$/);
    expect(statSync(r[7] as string).size).toBe(0);
    expect(r[8]).toBe(true);
    expect(existsSync(emptyDir)).toBe(false);
  });

  test('execute: shell available, exit codes and signals as luaL_execresult', async () => {
    const marker = join(dir, 'executed');
    const r = await evalLua(pool, `return os.execute(), os.execute("touch ${marker}"), select(2, os.execute("exit 3")), select(3, os.execute("exit 3")), select(2, os.execute("kill -9 $$"))`, 5);
    expect(r).toEqual([true, true, 'exit', 3n, 'signal']);
    expect(existsSync(marker)).toBe(true);
  });

  test('time, date, difftime and clock; os.exit stays an error', async () => {
    const r = await evalLua(pool, 'return math.type(os.time()), os.date("!%Y-%m-%d %H:%M:%S", 86400), os.difftime(10, 4), math.type(os.clock()), os.clock() > 0, os.time({ year = 2020, month = 1, day = 1, hour = 12 }) - os.time({ year = 2020, month = 1, day = 1, hour = 11 })', 6);
    expect(r).toEqual(['integer', '1970-01-02 00:00:00', 6, 'float', true, 3600n]);
    const now = await evalLua(pool, 'return os.time()');
    expect(Math.abs(Number(now[0]) - Date.now() / 1000)).toBeLessThan(120);
    expect(await evalError(pool, 'os.exit(0)')).toMatch(/os\.exit\(\) is not allowed in Lua scripts/);
  });
});

describe('require and package', () => {
  test('package.path defaults to Debian lua5.4; searchpath reports the files it tried', async () => {
    const r = await evalLua(pool, 'return package.path, package.config:sub(1, 1), package.searchpath("x.y", "./?.lua;/nonexistent/?.lua")', 4);
    expect(r).toEqual([DEBIAN_PATH, '/', null, "no file './x/y.lua'\n\tno file '/nonexistent/x/y.lua'"]);
  });

  test('a script requires a pure-Lua JSON module from a directory on package.path', async () => {
    const r = await evalLua(pool, [
      `package.path = ${lua(MODULES + '/?.lua;' + MODULES + '/?/init.lua;')} .. package.path`,
      'local json, where = require("minijson")',
      'local again = require("minijson")',
      'local util = require("util")',
      'local t = json.decode(\'{"user":"alice","quota":[1,2,3],"on":true}\')',
      'return json.name, where, again == json, package.loaded.minijson == json, util.args[1], util.args[2], util.json_name, t.user, #t.quota, t.on, json.encode({ b = 1, a = { "x" } })',
    ].join('\n'), 11);
    expect(r).toEqual([
      'minijson', `${MODULES}/minijson.lua`, true, true, 'util', `${MODULES}/util/init.lua`, 'minijson', 'alice', 3n, true, '{"a":["x"],"b":1}',
    ]);
  });

  test('module not found, a module with a syntax error, loadfile and dofile from disk', async () => {
    const missing = await evalLua(pool, 'return select(2, pcall(require, "roost_no_such_module"))');
    expect(missing[0]).toBe(
      "module 'roost_no_such_module' not found:\n\tno field package.preload['roost_no_such_module']\n" +
        DEBIAN_PATH.split(';').map((t) => `\tno file '${t.replace('?', 'roost_no_such_module')}'`).join('\n') +
        '\n' +
        [
          '/usr/local/lib/lua/5.4/roost_no_such_module.so',
          '/usr/lib/x86_64-linux-gnu/lua/5.4/roost_no_such_module.so',
          '/usr/lib/lua/5.4/roost_no_such_module.so',
          '/usr/local/lib/lua/5.4/loadall.so',
          './roost_no_such_module.so',
        ].map((f) => `\tno file '${f}'`).join('\n'),
    );
    expect(await evalError(pool, `package.path = ${lua(MODULES + '/?.lua')} require("broken")`)).toMatch(
      new RegExp(`error loading module 'broken' from file '${MODULES}/broken.lua':\\n\\t${MODULES}/broken.lua:1: unexpected symbol near '='`),
    );
    const script = join(dir, 'chunk.lua');
    writeFileSync(script, '#!/usr/bin/lua\nlocal a = ... return (a or 0) + 40, 2');
    expect(await evalLua(pool, `local f = loadfile(${lua(script)}) return f(1), dofile(${lua(script)})`, 3)).toEqual([41n, 40n, 2n]);
    expect(await evalLua(pool, `return loadfile(${lua(join(dir, 'nope.lua'))})`, 2)).toEqual([null, `cannot open ${join(dir, 'nope.lua')}: No such file or directory`]);
  });

  test('C modules: built-ins load, any other fails naming the module and why', async () => {
    expect(await evalLua(pool, 'return type(require("cjson").encode), type(require("socket.http").request), type(require("socket.url").parse), type(require("ltn12").pump.all)', 4))
      .toEqual(['function', 'function', 'function', 'function']);
    expect(await evalError(pool, 'require("lfs")')).toMatch(/module 'lfs' is a C module \(LuaFileSystem\): Roost runs Lua in WebAssembly, which cannot load C modules/);
    // a .so on package.cpath is named with its path
    const cdir = join(dir, 'clib');
    await evalLua(pool, `os.execute("mkdir -p ${cdir}") local f = io.open("${cdir}/fastthing.so", "w") f:write("\\127ELF") f:close()`, 0);
    expect(await evalError(pool, `package.cpath = "${cdir}/?.so" require("fastthing")`)).toMatch(
      new RegExp(`module 'fastthing' is a C module \\(${cdir}/fastthing\\.so\\)`),
    );
  });
});
