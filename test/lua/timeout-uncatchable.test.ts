// lua_call_timeout holds against everything a script can do to catch it: pcall, xpcall (with a
// message handler that loops too), coroutines, pcall inside coroutines, debug.sethook. The
// watchdog is set far beyond the test's own timeout, so a call that ends at all was ended by the
// in-Lua time limit, on the same worker, with no state lost.
import { LuaScriptError, LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { stateFor } from './helpers.js';

let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1, callTimeoutMs: 100, watchdogTimeoutMs: 600_000 });
});
afterAll(() => pool.close());

const TIMEOUT = /^lua_pcall\(spin, 0, 1\) failed: (\S+:\d+: )?Lua script exceeded lua_call_timeout \(100 ms\)\nstack traceback:/;

const LOOPS: Record<string, string> = {
  'pcall around the loop': 'while true do pcall(function() while true do end end) end',
  'pcall around pcall': 'while true do pcall(pcall, function() while true do end end) end',
  'xpcall whose handler returns': 'while true do xpcall(function() while true do end end, function(e) return e end) end',
  'error() inside a pcall loop': 'while true do pcall(error, "x") end',
  'a coroutine that loops, resumed again and again':
    'while true do local co = coroutine.create(function() while true do end end) coroutine.resume(co) end',
  'coroutine.wrap inside pcall': 'while true do pcall(coroutine.wrap(function() while true do end end)) end',
  'pcall loop inside a coroutine': 'coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()',
  'nested coroutines, each catching': [
    'local function catcher(f) return function() while true do pcall(f) end end end',
    'coroutine.wrap(catcher(coroutine.wrap(catcher(function() while true do end end))))()',
  ].join('\n'),
  'xpcall with a handler that catches the error and loops on': [
    'while true do xpcall(function() while true do end end, function(e) while true do end end) end',
  ].join('\n'),
  'a to-be-closed variable whose __close loops': [
    'local mt = { __close = function() while true do end end }',
    'while true do pcall(function() local x <close> = setmetatable({}, mt) while true do end end) end',
  ].join('\n'),
};

test.each(Object.entries(LOOPS))('%s: stopped by lua_call_timeout, the state stays usable', async (_name, body) => {
  const cap = captureLogs();
  const h = await stateFor(pool, `function spin()\n${body}\nend\nfunction ok() return "ok" end\n`);
  let error: unknown;
  try {
    await h.callHook('spin', [], 1);
  } catch (e) {
    error = e;
  }
  cap.stop();
  expect(error).toBeInstanceOf(LuaScriptError);
  expect((error as LuaScriptError).phase).toBe('call');
  expect((error as LuaScriptError).message).toMatch(TIMEOUT);
  // Same state, same worker: nothing was replaced.
  expect(await h.callHook('ok', [], 1)).toEqual(['ok']);
  expect(cap.lines.filter((l) => /Lua worker/.test(l))).toEqual([]);
  await h.close();
});

test('after a timeout, the next call checks the deadline every 10000 instructions again, in new coroutines too', async () => {
  const h = await stateFor(
    pool,
    [
      'function spin() while true do pcall(function() while true do end end) end end',
      'function hooks() return select(3, debug.gethook()), select(3, debug.gethook(coroutine.create(print))) end',
    ].join('\n'),
  );
  await expect(h.callHook('spin', [], 1)).rejects.toThrow(/lua_call_timeout/);
  expect(await h.callHook('hooks', [], 2)).toEqual([10000n, 10000n]);
  await h.close();
});

test('debug.sethook cannot remove the time limit', async () => {
  const h = await stateFor(pool, 'function spin() local ok, e = pcall(debug.sethook) return tostring(e) end');
  expect(await h.callHook('spin', [], 1)).toEqual(['debug.sethook is not available: Roost uses the debug hook to enforce lua_call_timeout']);
  await h.close();
});
