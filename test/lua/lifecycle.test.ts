// Script lifecycle (spec §1): load, main chunk, script_init, hooks, script_deinit.
import { writeFileSync } from 'node:fs';
import { LuaScriptError, LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { scriptFile, stateFor } from './helpers.js';

let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1 });
});
afterAll(() => pool.close());

async function createError(source: string | null, path?: string): Promise<LuaScriptError> {
  try {
    const h = await pool.createState({
      scriptPath: path ?? scriptFile(source ?? ''),
      context: 'mail',
      logPrefix: 'imap(alice): ',
    });
    await h.close();
  } catch (e) {
    return e as LuaScriptError;
  }
  throw new Error('expected createState to fail');
}

describe('loading (spec §1.1)', () => {
  test('missing file gives the access() text', async () => {
    const e = await createError(null, '/nonexistent/x.lua');
    expect(e.phase).toBe('load');
    expect(e.message).toBe('access(/nonexistent/x.lua) failed: No such file or directory');
  });
  test('syntax error gives lua_load text with the path', async () => {
    const path = scriptFile('local x =\n');
    const e = await createError(null, path);
    expect(e.phase).toBe('load');
    expect(e.message).toBe(`lua_load(${path}) failed: ${path}:2: unexpected symbol near <eof>`);
  });
});

describe('init (spec §1.2)', () => {
  test('main chunk error: lua_pcall(<file>) failed with traceback', async () => {
    const path = scriptFile('error("top-level")\n');
    const e = await createError(null, path);
    expect(e.phase).toBe('init');
    expect(e.message).toMatch(new RegExp(`^lua_pcall\\(${path}\\) failed: ${path}:1: top-level\\nstack traceback:\\n`));
  });
  test.each([
    ['function script_init() end', 'script_init() returned non-number'],
    ['function script_init() return 0.0 end', 'script_init() returned non-number'],
    ['function script_init() return "0" end', 'script_init() returned non-number'],
    ['function script_init() return 1 end', 'Script init failed'],
  ])('%s → %s', async (src, msg) => {
    const e = await createError(src);
    expect([e.phase, e.message]).toEqual(['init', msg]);
  });
  test('error inside script_init', async () => {
    const e = await createError('function script_init() error("boom") end');
    expect(e.message).toMatch(/^lua_pcall\(script_init, 0, 1\) failed: .*:1: boom\nstack traceback:/);
  });
  test('script_init returning integer 0 succeeds; no script_init is fine', async () => {
    const a = await stateFor(pool, 'function script_init() return 0 end');
    const b = await stateFor(pool, 'x = 1');
    await a.close();
    await b.close();
  });
});

describe('hooks (spec §1.4)', () => {
  test('missing or non-function global', async () => {
    const h = await stateFor(pool, 'notfn = 5');
    await expect(h.callHook('nope')).rejects.toThrow("'nope' is not a function");
    await expect(h.callHook('notfn')).rejects.toThrow("'notfn' is not a function");
    await h.close();
  });
  test('error text names the hook, nargs and nresults', async () => {
    const h = await stateFor(pool, 'function hook(a, b) error("bad " .. a) end');
    const err = await h.callHook('hook', ['x', 1], 2).catch((e: Error) => e.message);
    expect(err).toMatch(/^lua_pcall\(hook, 2, 2\) failed: .*:1: bad x\nstack traceback:\n/);
    await h.close();
  });
  test('fixed result count: missing become nil, extra dropped; number subtypes kept', async () => {
    const h = await stateFor(pool, 'function one() return 1 end\nfunction many() return 1, 2.0, "s", true end');
    expect(await h.callHook('one', [], 3)).toEqual([1n, null, null]);
    expect(await h.callHook('many', [], 2)).toEqual([1n, 2]);
    await h.close();
  });
  test('arguments: bigint → integer, number → float, objects → tables', async () => {
    const h = await stateFor(pool, 'function f(i, x, t) return math.type(i), tostring(x), t.k, t[1] end');
    expect(await h.callHook('f', [7n, 3, { k: 'v' }], 4)).toEqual(['integer', '3.0', 'v', null]);
    expect(await h.callHook('f', [1n, 1, ['a']], 4)).toEqual(['integer', '1.0', null, 'a']);
    await h.close();
  });
  test('hasFunction is a raw lookup and ignores an __index on _G', async () => {
    const h = await stateFor(pool, 'function f() end\nsetmetatable(_G, {__index = function() return print end})');
    expect(await h.hasFunction('f')).toBe(true);
    expect(await h.hasFunction('g')).toBe(false);
    await expect(h.callHook('g')).rejects.toThrow("'g' is not a function");
    await h.close();
  });
  test('hook lookups stay raw while globals are restricted', async () => {
    const h = await stateFor(pool, 'dovecot.restrict_global_variables(true)\nfunction f() return 1 end');
    expect(await h.hasFunction('missing')).toBe(false);
    await expect(h.callHook('missing')).rejects.toThrow("'missing' is not a function");
    expect(await h.callHook('f', [], 1)).toEqual([1n]);
    await h.close();
  });
  test('os.exit raises a Lua error instead of stopping the worker', async () => {
    const h = await stateFor(pool, 'function f() os.exit(1) end\nfunction g() return 2 end');
    await expect(h.callHook('f')).rejects.toThrow(/os\.exit\(\) is not allowed/);
    expect(await h.callHook('g', [], 1)).toEqual([2n]);
    await h.close();
  });
  test('standard libraries are open', async () => {
    const h = await stateFor(pool, 'function f() return type(io), type(os.time), type(debug.traceback), type(require), _VERSION end');
    expect(await h.callHook('f', [], 5)).toEqual(['table', 'function', 'function', 'function', 'Lua 5.4']);
    await h.close();
  });
});

describe('deinit (spec §1.3)', () => {
  test('script_deinit runs on close; its failure is logged', async () => {
    const cap = captureLogs();
    const ok = await stateFor(pool, 'function script_deinit() dovecot.i_info("bye") end');
    await ok.close();
    const bad = await stateFor(pool, 'function script_deinit() error("nope") end');
    await bad.close();
    cap.stop();
    expect(cap.lines[0]).toBe('imap(alice): Info: bye');
    expect(cap.lines[1]).toMatch(/^imap\(alice\): Error: script_deinit\(\) failed: .*:1: nope\nstack traceback:/);
  });
  test('a second close() resolves only once script_deinit has run (not while the first close is on its way)', async () => {
    const cap = captureLogs();
    const h = await stateFor(pool, 'function script_deinit() dovecot.i_info("bye") end');
    const first = h.close();
    await h.close();
    expect(cap.lines).toEqual(['imap(alice): Info: bye']);
    await first;
    cap.stop();
    expect(cap.lines).toEqual(['imap(alice): Info: bye']);
  });
});

test('a changed script file is used by new states; existing states keep theirs', async () => {
  const path = scriptFile('function v() return 1 end');
  const old = await pool.createState({ scriptPath: path, context: 'mail', logPrefix: '' });
  writeFileSync(path, 'function v() return 2, "new version" end');
  const fresh = await pool.createState({ scriptPath: path, context: 'mail', logPrefix: '' });
  expect(await old.callHook('v', [], 1)).toEqual([1n]);
  expect(await fresh.callHook('v', [], 1)).toEqual([2n]);
  await old.close();
  await fresh.close();
});
