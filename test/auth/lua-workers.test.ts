// passdb/userdb `driver = lua` on a pool of 2 workers: one copy of each db's script per worker,
// as Dovecot gives each auth-worker process its own (spec §11.1). A login whose script loops
// until lua_call_timeout holds up only its own copy; the others keep serving logins. A copy
// lost with its worker (watchdog) is re-created.
import type { AuthService } from '../../src/auth/service.js';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { info } from './helpers.js';
import { luaPassdbUserdb, luaScript, luaService } from './lua-helpers.js';

logHub.setDefaultOutput(false);
const CALL_TIMEOUT = 1000;
let pool: LuaWorkerPool;
beforeAll(() => {
  pool = new LuaWorkerPool({ workers: 2, callTimeoutMs: CALL_TIMEOUT, watchdogTimeoutMs: 1500 });
});
afterAll(() => pool.close());

const login = (auth: AuthService, user: string, password = 'secret') => auth.authenticatePlain({ ...info, user, password });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SCRIPT = String.raw`
function script_init()
  dovecot.i_info("init")
  return 0
end
function script_deinit() dovecot.i_info("deinit") end
function auth_passdb_lookup(req)
  if req.user == "loopy" then while true do end end
  if req.user == "stuck" then debug.sethook() while true do end end
  return dovecot.auth.PASSDB_RESULT_OK, "password=secret"
end
function auth_userdb_lookup(req)
  return dovecot.auth.USERDB_RESULT_OK, ""
end
function auth_userdb_iterate() return { "a", "b", x = "c" } end
`;

test('script_init runs once per worker in each db, script_deinit for each at close; iteration works', async () => {
  const logs = captureLogs();
  const auth = await luaPassdbUserdb(pool, SCRIPT);
  expect(logs.lines.filter((l) => l.endsWith(': init'))).toHaveLength(4); // (passdb + userdb) × 2 workers
  const users: string[] = [];
  for await (const u of auth.iterateUsers()) users.push(u);
  expect(users).toEqual(['a', 'b', 'c']);
  await auth.close();
  logs.stop();
  expect(logs.lines.filter((l) => l.endsWith(': deinit'))).toHaveLength(4);
});

test('while one login loops until lua_call_timeout, logins through the same Lua passdb complete well before it', async () => {
  const auth = await luaPassdbUserdb(pool, SCRIPT);
  const logs = captureLogs();
  const t0 = performance.now();
  const looped = login(auth, 'loopy');
  await sleep(50); // the loop is running now
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    expect(await login(auth, `user${i}`)).toMatchObject({ ok: true });
    expect(await auth.lookupUser(`user${i}`, 'imap', info)).toMatchObject({ found: true });
    expect(performance.now() - t).toBeLessThan(CALL_TIMEOUT / 4);
  }
  expect(await looped).toMatchObject({ ok: false, reason: 'tempfail' });
  expect(performance.now() - t0).toBeGreaterThanOrEqual(CALL_TIMEOUT * 0.9);
  logs.stop();
  expect(logs.lines.filter((l) => l.includes('lua_call_timeout'))).toEqual([
    expect.stringMatching(/^auth: Error: lua\(loopy,192\.0\.2\.7\): db-lua: lua_pcall\(auth_passdb_lookup, 1, 2\) failed: Lua script exceeded lua_call_timeout \(1000 ms\)/),
  ]);
  await auth.close();
}, 10000);

test('logins spread over the copies: two slow logins run side by side', async () => {
  const file = luaScript(String.raw`
function auth_passdb_lookup(req)
  local t = os.clock() + 0.3 -- wall-clock time in the wasm runtime
  while os.clock() < t do end
  return dovecot.auth.PASSDB_RESULT_OK, "password=secret"
end`);
  const auth = await luaService(pool, { passdbs: [{ driver: 'lua', args: `file=${file}` }] });
  const t0 = performance.now();
  const results = await Promise.all([login(auth, 'a'), login(auth, 'b')]);
  const elapsed = performance.now() - t0;
  expect(results).toMatchObject([{ ok: true }, { ok: true }]);
  expect(elapsed).toBeLessThan(550); // one after the other would take >= 600 ms
  await auth.close();
});

test('a copy lost with its worker (watchdog) is re-created; the other copy serves logins meanwhile', async () => {
  const logs = captureLogs();
  const auth = await luaPassdbUserdb(pool, SCRIPT);
  const stuck = login(auth, 'stuck');
  await sleep(50);
  const t = performance.now();
  expect(await login(auth, 'other')).toMatchObject({ ok: true });
  expect(performance.now() - t).toBeLessThan(CALL_TIMEOUT / 4);
  expect(await stuck).toMatchObject({ ok: false, reason: 'tempfail' });
  expect(logs.lines.some((l) => /^lua: Error: Lua worker \d did not answer within lua_watchdog_timeout/.test(l))).toBe(true);
  // Both copies work again: the passdb and userdb copies on the replaced worker were re-created.
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => login(auth, `after${i}`)));
  expect(results.every((r) => r.ok)).toBe(true);
  expect(logs.lines.filter((l) => l.endsWith(': init'))).toHaveLength(4 + 2);
  await auth.close();
  logs.stop();
  expect(logs.lines.filter((l) => l.endsWith(': deinit'))).toHaveLength(4);
}, 15000);
