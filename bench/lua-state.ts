// Micro-measure of a Lua worker's per-session work (issue #18), in this thread with the worker's
// own services: the Lua-heavy mail_lua_script (bench/dovecot-lua-heavy/hooks.lua) with the
// mail_user binding, one session after another: create (openlibs, stdlib stubs, prelude, script
// load, binding, main chunk, script_init), mail_user_created (+ full GC), mail_user_deinit_pre,
// mail_user_deinit, close. Also the bare steps: lua_newstate + lua_close, + luaL_openlibs.
//   LUA_STATE_ONLY=<text>|<text>...: only the measures whose name contains one of them.
// Prints CPU and wall µs per session (medians and ranges over LUA_STATE_ROUNDS rounds of
// LUA_STATE_SESSIONS sessions; CPU is the process's, so it includes V8's GC threads).
// Run: npm run build && node dist/bench/lua-state.js
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { LuaFactory } from 'wasmoon';
import { ChunkCache } from '../src/lua/chunk-cache.js';
import { SyncHttpClient } from '../src/lua/http-sync.js';
import { LuaRuntime } from '../src/lua/lua-runtime.js';
import { LuaScriptState, type StateServices } from '../src/lua/script-state.js';
import { ScriptSourceCache } from '../src/lua/script-source.js';
import type { LuaBindingModule } from '../src/lua/binding.js';
import { compiledModuleUrl } from '../src/threads/compiled-module.js';
import type { LuaArg, LuaLimits, LuaStateOptions } from '../src/lua/types.js';

const SESSIONS = Number(process.env.LUA_STATE_SESSIONS ?? 300);
const ONLY = process.env.LUA_STATE_ONLY;
const ROUNDS = Number(process.env.LUA_STATE_ROUNDS ?? 5);
const SCRIPT = fileURLToPath(new URL('../../bench/dovecot-lua-heavy/hooks.lua', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'lua-state-'));
const services: StateServices = {
  factory: new LuaFactory(),
  sources: new ScriptSourceCache(),
  chunks: new ChunkCache(),
  http: new SyncHttpClient(),
  log: () => undefined,
  loadBinding: async (url) => ((await import(url)) as { binding: LuaBindingModule }).binding,
};
const limits: LuaLimits = { callTimeoutMs: 5000, memoryLimitBytes: 64 * 1024 * 1024 } as LuaLimits;
const userData = {
  fields: {
    home: dir, username: 'user1', uid: 1000, gid: 1000, service: 'lmtp', session_id: 'abc', session_create_time: 0,
    nonexistent: false, anonymous: false, autocreated: false, mail_debug: false, fuzzy_search: false, dsyncing: false,
    admin: false, session_restored: false,
  },
  pluginEnv: { lua_heavy_log: join(dir, 'hooks.log'), mail_lua_script: SCRIPT },
  varTable: { variables: { user: 'user1' } },
  store: { error: 'no store in this bench' },
  serverAdmin: '',
  serverComment: '',
};
const PLAIN = join(dir, 'plain.lua');
const IO_ONCE = join(dir, 'io-once.lua');
writeFileSync(PLAIN, 'function mail_user_created(user) return 0 end\n');
const IO_TOUCH = join(dir, 'io-touch.lua');
writeFileSync(IO_TOUCH, 'function mail_user_created(user) local open = io.open return 0 end\n');
writeFileSync(IO_ONCE, "function mail_user_created(user) local f = assert(io.open('/dev/null', 'a')) f:close() return 0 end\n");
const options = (bindings: boolean, scriptPath = SCRIPT): LuaStateOptions => ({
  scriptPath,
  context: 'mail',
  logPrefix: 'lmtp(user1)<abc>: ',
  debug: false,
  ...(bindings ? { bindings: [{ module: compiledModuleUrl('lua/bindings/mail-user.js').href, data: userData }] } : {}),
}) as LuaStateOptions;
const arg: LuaArg = { $binding: 'mail_user', data: { storage: false } } as unknown as LuaArg;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(name: string, once: () => Promise<void> | void): Promise<void> {
  if (ONLY && !ONLY.split('|').some((part) => name.includes(part))) return;
  for (let i = 0; i < 50; i++) await once();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < SESSIONS; i++) await once();
    const c = process.cpuUsage(c0);
    wall.push(((performance.now() - t0) * 1000) / SESSIONS);
    cpu.push((c.user + c.system) / SESSIONS);
  }
  const span = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `${median(xs).toFixed(0).padStart(6)} µs (${sorted[0]!.toFixed(0)}–${sorted.at(-1)!.toFixed(0)})`;
  };
  console.log(`${name.padEnd(48)} CPU ${span(cpu)}  wall ${span(wall)}`);
}

const rt = LuaRuntime.of(await services.factory.getLuaModule());
await LuaScriptState.warmUp(services);
console.log(`lua-state: ${SESSIONS} sessions × ${ROUNDS} rounds, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
await measure('lua_newstate + lua_close', () => {
  const st = rt.newState();
  rt.lua.lua_close(st.L);
  st.release();
});
await measure('lua_newstate + luaL_openlibs + lua_close', () => {
  const st = rt.newState();
  rt.lua.luaL_openlibs(st.L);
  rt.lua.lua_close(st.L);
  st.release();
});
await measure('state create + close (no binding)', async () => {
  (await LuaScriptState.create(options(false), limits, services)).close();
});
await measure('state create + close (mail_user binding)', async () => {
  (await LuaScriptState.create(options(true), limits, services)).close();
});
await measure('create, mail_user_created (return 0), close', async () => {
  const s = await LuaScriptState.create(options(true, PLAIN), limits, services);
  s.callHook('mail_user_created', [arg], 2, true);
  s.close();
});
await measure('the same, the hook only looks up io.open (loads io)', async () => {
  const s = await LuaScriptState.create(options(true, IO_TOUCH), limits, services);
  s.callHook('mail_user_created', [arg], 2, true);
  s.close();
});
await measure('the same with one io.open + close in the hook', async () => {
  const s = await LuaScriptState.create(options(true, IO_ONCE), limits, services);
  s.callHook('mail_user_created', [arg], 2, true);
  s.close();
});
/** The profile's mail-lua session: create, the three hooks (each opens its log file), close. */
async function session(fullGc: boolean): Promise<void> {
  const s = await LuaScriptState.create(options(true), limits, services);
  for (const hook of ['mail_user_created', 'mail_user_deinit_pre', 'mail_user_deinit']) s.callHook(hook, [arg], 2, fullGc);
  s.close();
}
await measure('session: create, 3 hooks (io.open each), close', () => session(true));
// Not what Dovecot does (it collects after every mail-lua hook): what those three full GCs cost.
await measure('the same session without the full GCs after the hooks', () => session(false));
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
rmSync(dir, { recursive: true, force: true });
