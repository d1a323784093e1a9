// What Lua's system libraries on the real filesystem cost a script (src/lua/stdlib/):
//  (a) a hook that appends one line to a log file (io.open "a", write, close): calls/s and µs
//      per call, against the same hook doing nothing;
//  (b) reading a file: f:read("a") and `for line in f:lines()` over BENCH_FILE_MB (default 8)
//      of 80-byte lines, MB/s;
//  (c) a state's Lua memory without and with the libraries loaded (they load on first use).
// Bounded: BENCH_CALLS hook calls per case (default 3000), BENCH_STATES states for (c) (200).
// Run: npm run build && node dist/bench/lua-stdlib.js
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { logHub } from '../src/log/logger.js';
import { LuaWorkerPool, type LuaStateHandle } from '../src/lua/index.js';

logHub.setDefaultOutput(false);
const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 8);
const STATES = Number(process.env.BENCH_STATES ?? 200);

const dir = mkdtempSync(join(tmpdir(), 'roost-bench-lua-stdlib-'));
const pool = new LuaWorkerPool({ workers: 1, callTimeoutMs: 60_000, memoryLimitBytes: 256 * 1024 * 1024 });
let n = 0;
// The pool's worker threads do not hold the event loop open while a call is pending.
const keepAlive = setInterval(() => undefined, 60_000);

async function state(source: string): Promise<LuaStateHandle> {
  const path = join(dir, `s${++n}.lua`);
  writeFileSync(path, source);
  return pool.createState({ scriptPath: path, context: 'mail', logPrefix: 'bench: ' });
}

async function perCall(h: LuaStateHandle, hook: string): Promise<number> {
  for (let i = 0; i < 100; i++) await h.callHook(hook, [], 0); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await h.callHook(hook, [], 0);
  return (performance.now() - t0) / CALLS;
}

try {
  const log = join(dir, 'hooks.log');
  const h = await state(
    `function noop() end\n` +
      `function append() local f = io.open(${JSON.stringify(log)}, "a") f:write("2026-01-01T00:00:00 alice lmtp delivered a message\\n") f:close() end\n` +
      `function read_all(p) local f = io.open(p, "rb") local s = f:read("a") f:close() return #s end\n` +
      `function read_lines(p) local n = 0 for l in io.lines(p) do n = n + 1 end return n end\n`,
  );
  const noop = await perCall(h, 'noop');
  const append = await perCall(h, 'append');
  console.log(`(a) hook call, ${CALLS} calls each, one at a time:`);
  console.log(`  empty hook                      ${(1000 / noop).toFixed(0)} calls/s (${(noop * 1000).toFixed(0)} µs)`);
  console.log(`  open(a) + write + close a log   ${(1000 / append).toFixed(0)} calls/s (${(append * 1000).toFixed(0)} µs, +${((append - noop) * 1000).toFixed(0)} µs); log ${(statSync(log).size / 1024).toFixed(0)} KB`);

  const big = join(dir, 'big.txt');
  const line = `${'x'.repeat(79)}\n`;
  writeFileSync(big, line.repeat(Math.floor((FILE_MB * 1024 * 1024) / line.length)));
  const mb = statSync(big).size / (1024 * 1024);
  for (const hook of ['read_all', 'read_lines']) {
    await h.callHook(hook, [big], 1);
    const t0 = performance.now();
    const rounds = 3;
    for (let i = 0; i < rounds; i++) await h.callHook(hook, [big], 1);
    const ms = (performance.now() - t0) / rounds;
    console.log(`(b) ${hook === 'read_all' ? 'f:read("a")         ' : 'for l in io.lines() '} ${mb.toFixed(1)} MB in ${ms.toFixed(0)} ms: ${((mb * 1000) / ms).toFixed(0)} MB/s`);
  }
  await h.close();

  const perState = async (body: string): Promise<number> => {
    const handles: LuaStateHandle[] = [];
    const before = (await pool.workerStats())[0]!.luaBytes;
    for (let i = 0; i < STATES; i++) {
      const s = await state(`function t() ${body} end`);
      await s.callHook('t', [], 0);
      handles.push(s);
    }
    const after = (await pool.workerStats())[0]!.luaBytes;
    for (const s of handles) await s.close();
    return (after - before) / STATES / 1024;
  };
  const plain = await perState('local x = 1');
  const withIo = await perState(`local f = io.open(${JSON.stringify(log)}) f:close()`);
  const withCjson = await perState('local s = require("cjson").encode({ a = 1 })');
  console.log(`(c) Lua memory per state (${STATES} states): script without io ${plain.toFixed(1)} KB, after one io.open ${withIo.toFixed(1)} KB, after require("cjson") ${withCjson.toFixed(1)} KB`);
} finally {
  await pool.close();
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
}
