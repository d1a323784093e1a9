// Lua runtime benchmark (DESIGN.md decision 3): what a per-user mail_lua_script costs.
//  (a) mail-user sessions created and destroyed per second through MailUserService, without
//      mail-lua and with a three-hook script (mail_user_created / _deinit_pre / _deinit reading
//      fields and calling user:plugin_getenv), one session at a time, and the extra ms per login;
//  (b) hook call latency on one state (a trivial hook, and a mail-lua style call: user object
//      argument + full GC), p50/p99 round trip from the main thread;
//  (c) memory per live Lua state: N sessions held open through MailUserService, RSS and wasm heap
//      growth per session;
//  (d) concurrent sessions with a live Lua state per GB: extrapolated from (c), and measured by
//      holding BENCH_HOLD sessions (default 10,000) and reporting RSS.
// Targets: (a) < 1 ms extra per login; (d) >= 10,000 sessions in 1 GB.
// Bounded: BENCH_SECONDS per rate (default 2), BENCH_CALLS hook calls (default 5000),
// BENCH_STATES for (c) (default 2000), BENCH_HOLD for (d) (0 skips it).
// Run: npm run build && node dist/bench/lua.js
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServerContext, type CreatedContext } from '../src/cli/context.js';
import { defaultSettings } from '../src/config/index.js';
import { logHub } from '../src/log/logger.js';
import { installMailLua } from '../src/lua/mail-lua.js';
import { LuaWorkerPool, type LuaWorkerStats } from '../src/lua/index.js';
import type { AnyMailUser as MailUser } from '../src/mail-user/mail-user.js';

logHub.setDefaultOutput(false);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const MAX_SESSIONS = 20_000;
const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const STATES = Number(process.env.BENCH_STATES ?? 2000);
const HOLD = Number(process.env.BENCH_HOLD ?? 10_000);
const IN_FLIGHT = 16;
const GB = 1024 ** 3;
const MB = 1024 ** 2;

const dir = mkdtempSync(join(tmpdir(), 'roost-bench-lua-'));
const script = join(dir, 'hooks.lua');
writeFileSync(
  script,
  `local sessions = 0
function mail_user_created(user)
  sessions = sessions + 1
  local who = user.username .. "@" .. user.service
  if user:plugin_getenv("bench_greeting") ~= "hello" then return -1, "no greeting for " .. who end
  return 0
end
function mail_user_deinit_pre(user)
  local s = user.session_id
  return 0
end
function mail_user_deinit(user)
  local msg = user:plugin_getenv("bench_greeting") .. " " .. user.username
  return 0
end
`,
);
const trivial = join(dir, 'trivial.lua');
writeFileSync(trivial, 'function hook() end\nfunction mail_user_created(user) return 0 end\n');

interface Env {
  ctx: CreatedContext;
  close(): Promise<void>;
}

function env(label: string, withLua: boolean, workers = 1): Env {
  const settings = defaultSettings();
  settings.data_dir = join(dir, label);
  settings.mail_home = join(dir, label, 'home/%n');
  settings.lua_workers = workers;
  settings.plugin.bench_greeting = 'hello';
  if (withLua) settings.plugin.mail_lua_script = script;
  const ctx = createServerContext(settings);
  const uninstall = withLua ? installMailLua(ctx.mailUsers, () => ctx.luaPool()) : () => {};
  return {
    ctx,
    async close() {
      await ctx.close();
      uninstall();
    },
  };
}

const login = (e: Env, i: number) => e.ctx.mailUsers.createUser({ username: `user${i % 100}`, service: 'imap' });

/** Sessions created and destroyed per second, one at a time (the latency a login sees). */
async function sessionRate(e: Env): Promise<{ rate: number; msPer: number; count: number }> {
  for (let i = 0; i < 50; i++) await e.ctx.mailUsers.destroyUser(await login(e, i)); // warm-up
  let count = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end && count < MAX_SESSIONS) {
    await e.ctx.mailUsers.destroyUser(await login(e, count));
    count++;
  }
  const ms = performance.now() - start;
  return { rate: (count * 1000) / ms, msPer: ms / count, count };
}

/** Same with IN_FLIGHT logins in parallel (throughput, all workers busy). */
async function parallelRate(e: Env): Promise<number> {
  let count = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        await e.ctx.mailUsers.destroyUser(await login(e, count++));
      }
    }),
  );
  return (count * 1000) / (performance.now() - start);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function hookLatency(): Promise<void> {
  const pool = new LuaWorkerPool({ workers: 1 });
  const e = env('latency', false);
  const user = await login(e, 0);
  const { mailUserBindingData } = await import('../src/lua/bindings/mail-user-data.js');
  const { compiledModuleUrl } = await import('../src/threads/compiled-module.js');
  const state = await pool.createState({
    scriptPath: trivial,
    context: 'mail',
    logPrefix: user.log.prefix,
    bindings: [{ module: compiledModuleUrl('lua/bindings/mail-user.js').href, data: mailUserBindingData(user) }],
  });
  const measure = async (label: string, call: () => Promise<unknown>) => {
    for (let i = 0; i < 200; i++) await call();
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      await call();
      times.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    times.sort((a, b) => a - b);
    console.log(
      `  ${label.padEnd(40)} p50 ${(percentile(times, 50) * 1000).toFixed(0).padStart(5)} us  p99 ${(percentile(times, 99) * 1000).toFixed(0).padStart(5)} us  (${CALLS} calls, ${Math.round((CALLS * 1000) / total)}/s)`,
    );
  };
  console.log('(b) hook call latency, one state, main thread -> worker -> Lua -> back:');
  await measure('trivial hook()', () => state.callHook('hook'));
  await measure('mail_user_created(user) + full GC', () =>
    state.callHook('mail_user_created', [{ $binding: 'mail_user', data: { storage: false } }], 2, { fullGc: true }),
  );
  await state.close();
  await e.ctx.mailUsers.destroyUser(user);
  await e.close();
  await pool.close();
}

function rss(): number {
  gc();
  return process.memoryUsage().rss;
}

function sum(stats: LuaWorkerStats[]): LuaWorkerStats {
  return stats.reduce((a, s) => ({ states: a.states + s.states, wasmHeapBytes: a.wasmHeapBytes + s.wasmHeapBytes, luaBytes: a.luaBytes + s.luaBytes }), {
    states: 0,
    wasmHeapBytes: 0,
    luaBytes: 0,
  });
}

/** Holds `n` sessions with live Lua states; returns bytes of RSS and wasm heap per session. */
async function holdSessions(label: string, n: number, workers: number): Promise<{ rssPer: number; wasmPer: number; luaPer: number; rss: number }> {
  const e = env(label, true, workers);
  // Start the pool and the workers' wasm modules before the baseline.
  await e.ctx.mailUsers.destroyUser(await login(e, 0));
  const pool = e.ctx.luaPool();
  const before = sum(await pool.workerStats());
  const rss0 = rss();
  const users: MailUser[] = [];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        const i = next++;
        users.push(await login(e, i));
      }
    }),
  );
  const createMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 200));
  const after = sum(await pool.workerStats());
  const rss1 = rss();
  const result = {
    rssPer: (rss1 - rss0) / n,
    wasmPer: (after.wasmHeapBytes - before.wasmHeapBytes) / n,
    luaPer: (after.luaBytes - before.luaBytes) / n,
    rss: rss1,
  };
  console.log(
    `  ${String(n).padStart(6)} sessions held (${pool.workerCount} worker${pool.workerCount > 1 ? 's' : ''}, created in ${(createMs / 1000).toFixed(1)} s, ${Math.round((n * 1000) / createMs)}/s): ` +
      `RSS ${(rss0 / MB).toFixed(0)} -> ${(rss1 / MB).toFixed(0)} MB; per session: RSS ${(result.rssPer / 1024).toFixed(1)} KB, ` +
      `wasm heap ${(result.wasmPer / 1024).toFixed(1)} KB, Lua allocator ${(result.luaPer / 1024).toFixed(1)} KB`,
  );
  const t1 = performance.now();
  for (const u of users) await e.ctx.mailUsers.destroyUser(u);
  const closed = sum(await pool.workerStats());
  const rss2 = rss();
  console.log(
    `         all closed in ${((performance.now() - t1) / 1000).toFixed(1)} s: Lua allocator ${(closed.luaBytes / 1024).toFixed(0)} KB live in ${closed.states} states, ` +
      `wasm heap ${(closed.wasmHeapBytes / MB).toFixed(0)} MB (WebAssembly memory never shrinks; freed space is reused), RSS ${(rss2 / MB).toFixed(0)} MB`,
  );
  await e.close();
  return result;
}

// Lua workers are unref'd: keep the process alive while it waits for them.
const keepAlive = setInterval(() => {}, 1000);
try {
  console.log(`(a) session creation, one at a time, ${SECONDS} s each:`);
  const plainEnv = env('plain', false);
  const plain = await sessionRate(plainEnv);
  const luaEnv = env('lua', true);
  const lua = await sessionRate(luaEnv);
  console.log(`  without mail_lua_script         ${Math.round(plain.rate).toString().padStart(6)} sessions/s  (${plain.msPer.toFixed(3)} ms each, ${plain.count})`);
  console.log(`  with a three-hook script        ${Math.round(lua.rate).toString().padStart(6)} sessions/s  (${lua.msPer.toFixed(3)} ms each, ${lua.count})`);
  const extra = lua.msPer - plain.msPer;
  console.log(`  extra per session: ${extra.toFixed(3)} ms  (target < 1 ms: ${extra < 1 ? 'met' : 'NOT met'})`);
  const plainPar = await parallelRate(plainEnv);
  await plainEnv.close();
  await luaEnv.close();
  const luaParEnv = env('lua-par', true, 0);
  await luaParEnv.ctx.mailUsers.destroyUser(await login(luaParEnv, 0));
  const luaPar = await parallelRate(luaParEnv);
  console.log(
    `  ${IN_FLIGHT} in flight: ${Math.round(plainPar)}/s without, ${Math.round(luaPar)}/s with the script (${luaParEnv.ctx.luaPool().workerCount} workers)`,
  );
  await luaParEnv.close();

  await hookLatency();

  console.log('(c) memory per live Lua state (one per session, held through MailUserService):');
  const c = await holdSessions('hold-c', STATES, 1);
  const perGb = Math.floor(GB / c.rssPer);
  console.log(`(d) extrapolated from (c): ${perGb.toLocaleString('en')} sessions with a live Lua state per GB of RSS (target >= 10,000: ${perGb >= 10_000 ? 'met' : 'NOT met'})`);
  if (HOLD > 0) {
    const d = await holdSessions('hold-d', HOLD, 0);
    console.log(
      `    measured: ${HOLD.toLocaleString('en')} sessions -> process RSS ${(d.rss / MB).toFixed(0)} MB (${(d.rssPer / 1024).toFixed(1)} KB each above the idle server)` +
        ` (target: fits in 1 GB: ${d.rss < GB ? 'met' : 'NOT met'})`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  clearInterval(keepAlive);
}
