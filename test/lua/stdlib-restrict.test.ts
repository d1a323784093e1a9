// Operator restrictions on Lua's access to the system (lua_read_paths, lua_write_paths,
// lua_allow_commands; no Dovecot release has them, so the default is unrestricted): what is
// outside is refused with EACCES and the setting's name, through symbolic links and `..` too.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfigText } from '../../src/config/index.js';
import { luaPoolFor } from '../../src/cli/context.js';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { evalLua } from './helpers.js';

let pool: LuaWorkerPool;
let unrestricted: LuaWorkerPool;
let root: string;
let readable: string;
let writable: string;
let outside: string;

beforeAll(() => {
  logHub.setDefaultOutput(false);
  root = mkdtempSync(join(tmpdir(), 'roost-lua-restrict-'));
  readable = join(root, 'config');
  writable = join(root, 'logs');
  outside = join(root, 'secret');
  for (const d of [readable, writable, outside]) mkdirSync(d);
  writeFileSync(join(readable, 'settings.json'), '{"a":1}');
  writeFileSync(join(outside, 'key'), 'secret');
  writeFileSync(join(outside, 'mod.lua'), 'return 1');
  symlinkSync(join(outside, 'key'), join(readable, 'link-to-key'));
  symlinkSync(outside, join(writable, 'link-to-secret'));
  pool = new LuaWorkerPool({ workers: 1, system: { readPaths: [readable], writePaths: [writable], allowCommands: false } });
  unrestricted = new LuaWorkerPool({ workers: 1 });
});
afterAll(async () => {
  await pool.close();
  await unrestricted.close();
});

const lua = (s: string) => JSON.stringify(s);

test('reads inside lua_read_paths (and lua_write_paths) work; others are refused', async () => {
  const r = await evalLua(pool, [
    `local ok = io.open(${lua(join(readable, 'settings.json'))}):read("a")`,
    `local w = io.open(${lua(join(writable, 'own.log'))}, "w") w:write("mine") w:close()`,
    `local back = io.open(${lua(join(writable, 'own.log'))}):read("a")`,
    `local a = { io.open(${lua(join(outside, 'key'))}) }`,
    `local b = { io.open(${lua(join(readable, 'link-to-key'))}) }`,
    `local c = { io.open(${lua(join(readable, '..', 'secret', 'key'))}) }`,
    `local lines = { pcall(io.lines, ${lua(join(outside, 'key'))}) }`,
    'return ok, back, a[1], a[2], a[3], b[2], c[2], lines[2]',
  ].join('\n'), 8);
  expect(r).toEqual([
    '{"a":1}', 'mine', null,
    `${join(outside, 'key')}: Permission denied (lua_read_paths)`, 13n,
    `${join(readable, 'link-to-key')}: Permission denied (lua_read_paths)`,
    `${join(readable, '..', 'secret', 'key')}: Permission denied (lua_read_paths)`,
    `cannot open file '${join(outside, 'key')}' (Permission denied (lua_read_paths))`,
  ]);
});

test('writes, removes and renames outside lua_write_paths are refused; nothing changes there', async () => {
  const r = await evalLua(pool, [
    `local a = { io.open(${lua(join(readable, 'new.txt'))}, "w") }`,
    `local b = { io.open(${lua(join(writable, 'link-to-secret', 'key'))}, "a") }`,
    `local c = { os.remove(${lua(join(outside, 'key'))}) }`,
    `local d = { os.rename(${lua(join(writable, 'own.log'))}, ${lua(join(outside, 'moved'))}) }`,
    `local e = { io.open(${lua(join(readable, 'settings.json'))}, "r+") }`,
    'local f = { pcall(os.tmpname) }',
    'local g = { io.tmpfile() }',
    'return a[2], a[3], b[2], c[2], d[2], e[2], f[2], g[2]',
  ].join('\n'), 8);
  expect(r).toEqual([
    `${join(readable, 'new.txt')}: Permission denied (lua_write_paths)`, 13n,
    `${join(writable, 'link-to-secret', 'key')}: Permission denied (lua_write_paths)`,
    `${join(outside, 'key')}: Permission denied (lua_write_paths)`,
    'Permission denied (lua_write_paths)',
    `${join(readable, 'settings.json')}: Permission denied (lua_write_paths)`,
    expect.stringMatching(/unable to generate a unique filename: Permission denied \(lua_write_paths\)$/),
    'Permission denied (lua_write_paths)',
  ]);
  expect(readFileSync(join(outside, 'key'), 'utf8')).toBe('secret');
  expect(existsSync(join(readable, 'new.txt'))).toBe(false);
  expect(existsSync(join(outside, 'moved'))).toBe(false);
});

test('require and loadfile only see readable paths', async () => {
  const r = await evalLua(pool, [
    `package.path = ${lua(join(outside, '?.lua'))}`,
    'local ok, err = pcall(require, "mod")',
    `return ok, err, select(2, loadfile(${lua(join(outside, 'mod.lua'))}))`,
  ].join('\n'), 3);
  expect(r).toEqual([
    false,
    expect.stringContaining(`module 'mod' not found:\n\tno field package.preload['mod']\n\tno file '${join(outside, 'mod.lua')}'`),
    `cannot open ${join(outside, 'mod.lua')}: Permission denied (lua_read_paths)`,
  ]);
});

test('lua_allow_commands = no: popen and execute refuse, os.execute() reports no shell', async () => {
  const marker = join(writable, 'ran');
  const r = await evalLua(pool, [
    `local p = { io.popen("touch ${marker}") }`,
    `local e = { os.execute("touch ${marker}") }`,
    'return p[1], p[2], p[3], e[1], e[2], e[3], os.execute()',
  ].join('\n'), 7);
  expect(r).toEqual([null, `touch ${marker}: Permission denied (lua_allow_commands)`, 13n, null, 'Permission denied (lua_allow_commands)', 13n, false]);
  expect(existsSync(marker)).toBe(false);
});

test('the default is unrestricted, as in Dovecot', async () => {
  const r = await evalLua(unrestricted, `return io.open(${lua(join(outside, 'key'))}):read("a"), os.execute()`, 2);
  expect(r).toEqual(['secret', true]);
});

test('the settings: defaults, lists of absolute paths, `none`, and a relative path refused', async () => {
  const defaults = parseConfigText('', 'x.conf').settings;
  expect([defaults.lua_read_paths, defaults.lua_write_paths, defaults.lua_allow_commands]).toEqual([['/'], ['/'], true]);
  const set = parseConfigText(`lua_read_paths = ${readable} /usr/share/lua\nlua_write_paths = none\nlua_allow_commands = no\n`, 'x.conf').settings;
  expect([set.lua_read_paths, set.lua_write_paths, set.lua_allow_commands]).toEqual([[readable, '/usr/share/lua'], [], false]);
  expect(() => parseConfigText('lua_write_paths = logs\n', 'x.conf')).toThrow(ConfigError);
  expect(() => parseConfigText('lua_write_paths = logs\n', 'x.conf')).toThrow(/lua_write_paths: logs is not an absolute path/);
  // the configured pool applies them: nothing is writable, commands are off
  const configured = luaPoolFor(set);
  try {
    const r = await evalLua(configured, `return select(2, io.open(${lua(join(writable, 'x'))}, "w")), io.open(${lua(join(readable, 'settings.json'))}):read("a"), os.execute()`, 3);
    expect(r).toEqual([`${join(writable, 'x')}: Permission denied (lua_write_paths)`, '{"a":1}', false]);
  } finally {
    await configured.close();
  }
});
