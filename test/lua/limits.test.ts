// Limits (DESIGN.md decision 3): per-call time, per-state memory, and the watchdog that
// replaces a worker which stops answering. Other workers' sessions must keep working.
import { LuaScriptError, LuaWorkerPool, type LuaStateHandle } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { waitUntil } from '../poll.js';
import { stateFor } from './helpers.js';
import { startSignalServer } from './signal-server.js';

const CALL_TIMEOUT = 300;
let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 2, callTimeoutMs: CALL_TIMEOUT, memoryLimitBytes: 8 * 1024 * 1024, watchdogTimeoutMs: 1500 });
});
afterAll(() => pool.close());

async function failure(p: Promise<unknown>): Promise<LuaScriptError> {
  try {
    await p;
  } catch (e) {
    return e as LuaScriptError;
  }
  throw new Error('expected a failure');
}

/** A state on the other worker than `h`, answering a trivial hook. */
async function neighbourOf(h: LuaStateHandle): Promise<LuaStateHandle> {
  const sameWorker: LuaStateHandle[] = [];
  for (;;) {
    const n = await stateFor(pool, 'function ping() return "pong" end');
    if (n.workerIndex !== h.workerIndex) {
      await Promise.all(sameWorker.map((s) => s.close()));
      return n;
    }
    sameWorker.push(n); // kept open so the next state goes to the less loaded worker
  }
}

test('an endless loop in the main chunk is stopped by lua_call_timeout', async () => {
  const e = await failure(stateFor(pool, 'while true do end'));
  expect(e.phase).toBe('init');
  expect(e.message).toMatch(/^lua_pcall\(.*\.lua\) failed: Lua script exceeded lua_call_timeout \(300 ms\)\nstack traceback:/);
});

test('an endless loop in script_init is stopped', async () => {
  const e = await failure(stateFor(pool, 'function script_init() while true do end end'));
  expect(e.message).toMatch(/^lua_pcall\(script_init, 0, 1\) failed: Lua script exceeded lua_call_timeout/);
});

test('an endless loop in a hook is stopped, the state stays usable, a neighbour keeps answering', async () => {
  const h = await stateFor(pool, 'function spin() while true do end end\nfunction ok() return 1 end');
  const other = await neighbourOf(h);
  const spinning = failure(h.callHook('spin'));
  expect(await other.callHook('ping', [], 1)).toEqual(['pong']);
  const e = await spinning;
  expect(e.message).toMatch(/^lua_pcall\(spin, 0, 0\) failed: Lua script exceeded lua_call_timeout/);
  expect(await h.callHook('ok', [], 1)).toEqual([1n]);
  await h.close();
  await other.close();
});

test('a memory bomb fails that call with an error naming lua_memory_limit; the memory comes back', async () => {
  const h = await stateFor(pool, [
    'function bomb() local s = string.rep("x", 64 * 1024 * 1024) return #s end',
    'function grow() local t = {} for i = 1, 1e8 do t[i] = string.rep("x", 4096) .. i end end',
    'function caught() local t = {} local ok, e = pcall(function() for i = 1, 1e8 do t[i] = string.rep("x", 4096) .. i end end) return e end',
    'function kb() return collectgarbage("count") end',
    'function ok() return "still here" end',
  ].join('\n'), { limits: { callTimeoutMs: 30_000 } }); // filling 8 MB must not meet the 300 ms limit on a busy machine
  const named = 'not enough memory (lua_memory_limit 8388608 bytes reached)';
  const before = (await h.callHook('kb', [], 1))[0] as number;
  expect((await failure(h.callHook('bomb'))).message).toBe(`lua_pcall(bomb, 0, 0) failed: ${named}`);
  expect((await failure(h.callHook('grow'))).message).toBe(`lua_pcall(grow, 0, 0) failed: ${named}`);
  // Caught inside the script: the script's own error value names the limit too.
  expect(await h.callHook('caught', [], 1)).toEqual([named]);
  // What the failed calls allocated was collected: the state is back to its size before.
  const after = (await h.callHook('kb', [], 1))[0] as number;
  expect(after).toBeLessThan(before + 64);
  expect(await h.callHook('ok', [], 1)).toEqual(['still here']);
  await h.close();
});

test('watchdog: a worker stuck where the hook cannot fire is replaced; other workers keep working', async () => {
  const cap = captureLogs();
  // A pattern match that backtracks for hours runs inside one C function, where the count hook
  // never fires: only the watchdog can stop it.
  const signals = await startSignalServer();
  const stuck = await stateFor(pool, `${signals.lua}function stuck() signal("at", "stuck") return (string.rep('a', 5000)):find(string.rep('.-', 8) .. 'b') end`);
  const sibling = await stateFor(pool, 'function ping() return "pong" end');
  const other = await neighbourOf(stuck);
  const stuckCall = failure(stuck.callHook('stuck'));
  let stuckEnded = false;
  void stuckCall.finally(() => (stuckEnded = true));
  await waitUntil('the hook to be stuck', () => signals.reached.has('stuck'));
  // A call sent to the stuck worker behind the stuck one (pipelined) is lost with it.
  const behind = failure(stuck.callHook('stuck'));
  // The other worker answers while this one is stuck (before the watchdog replaces it).
  expect(await other.callHook('ping', [], 1)).toEqual(['pong']);
  expect(stuckEnded).toBe(false);
  const e = await stuckCall;
  await signals.close();
  cap.stop();
  expect(e.phase).toBe('lost');
  expect(e.message).toMatch(/did not answer within lua_watchdog_timeout \(1500 ms\)/);
  const b = await behind;
  expect(b.phase).toBe('lost');
  expect(b.message).toMatch(/did not answer within lua_watchdog_timeout \(1500 ms\)/);
  expect(cap.lines.some((l) => /^lua: Error: Lua worker \d did not answer within lua_watchdog_timeout/.test(l))).toBe(true);
  expect(await other.callHook('ping', [], 1)).toEqual(['pong']);
  // The lost session errors out (its state is gone); the replaced worker accepts new sessions.
  if (sibling.workerIndex === stuck.workerIndex) {
    expect((await failure(sibling.callHook('ping', [], 1))).phase).toBe('lost');
  }
  const fresh = await stateFor(pool, 'function ping() return "fresh" end');
  expect(await fresh.callHook('ping', [], 1)).toEqual(['fresh']);
  await Promise.all([stuck.close(), sibling.close(), other.close(), fresh.close()]);
}, 15000);
