// passdb/userdb `driver = lua` on a pool of 2 workers: one copy of each db's script per worker,
// as Dovecot gives each auth-worker process its own (spec §11.1). A login whose script loops
// until lua_call_timeout holds up only its own copy; the others keep serving logins. A copy
// lost with its worker (watchdog) is re-created.
import { AuthService } from '../../src/auth/service.js';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { info } from './helpers.js';
import { luaPassdbUserdb, luaScript, luaService } from './lua-helpers.js';
import { waitUntil } from '../poll.js';
import { startSignalServer, type SignalServer } from '../lua/signal-server.js';

logHub.setDefaultOutput(false);
// Generous limits: what these tests show is the order of events (a login finishes while another
// is still looping), and a busy machine must not reach a limit before the test's own events.
const CALL_TIMEOUT = 3000;
let pool: LuaWorkerPool;
beforeAll(() => {
  pool = new LuaWorkerPool({ workers: 2, callTimeoutMs: CALL_TIMEOUT, watchdogTimeoutMs: 4500 });
});
afterAll(() => pool.close());

const login = (auth: AuthService, user: string, password = 'secret') => auth.authenticatePlain({ ...info, user, password });

let signals: SignalServer;
beforeAll(async () => {
  signals = await startSignalServer();
});
afterAll(() => signals.close());

/** Tracks whether a promise has settled. */
function settled(p: Promise<unknown>): () => boolean {
  let done = false;
  void p.finally(() => (done = true));
  return () => done;
}

const script = () => signals.lua + String.raw`
function script_init()
  dovecot.i_info("init")
  return 0
end
function script_deinit() dovecot.i_info("deinit") end
function auth_passdb_lookup(req)
  if req.user == "loopy" then signal("at", "loopy") while true do end end
  if req.user == "stuck" then signal("at", "stuck") return string.rep("a", 5000):find(string.rep(".-", 8) .. "b") end
  return dovecot.auth.PASSDB_RESULT_OK, "password=secret"
end
function auth_userdb_lookup(req)
  return dovecot.auth.USERDB_RESULT_OK, ""
end
function auth_userdb_iterate() return { "a", "b", x = "c" } end
`;

test('script_init runs once per worker in each db, script_deinit for each at close; iteration works', async () => {
  const logs = captureLogs();
  const auth = await luaPassdbUserdb(pool, script());
  expect(logs.lines.filter((l) => l.endsWith(': init'))).toHaveLength(4); // (passdb + userdb) × 2 workers
  const users: string[] = [];
  for await (const u of auth.iterateUsers()) users.push(u);
  expect(users).toEqual(['a', 'b', 'c']);
  await auth.close();
  logs.stop();
  expect(logs.lines.filter((l) => l.endsWith(': deinit'))).toHaveLength(4);
});

test('close() while the copies are still being created: script_deinit has run in each when close() resolves', async () => {
  const logs = captureLogs();
  const file = luaScript(script());
  const auth = new AuthService(
    { passdbs: [{ driver: 'lua', args: `file=${file}` }], userdbs: [{ driver: 'lua', args: `file=${file}` }], auth_failure_delay: 0 },
    { lua: pool, sleep: async () => undefined },
  );
  await auth.close(); // no init() first: every copy is still being created
  logs.stop();
  expect(logs.lines.filter((l) => l.endsWith(': init'))).toHaveLength(4);
  expect(logs.lines.filter((l) => l.endsWith(': deinit'))).toHaveLength(4);
});

test('while one login loops until lua_call_timeout, logins through the same Lua passdb complete meanwhile', async () => {
  const auth = await luaPassdbUserdb(pool, script());
  const logs = captureLogs();
  const looped = login(auth, 'loopy');
  const loopEnded = settled(looped);
  await waitUntil('the loop has started', () => signals.reached.has('loopy'));
  for (let i = 0; i < 5; i++) {
    expect(await login(auth, `user${i}`)).toMatchObject({ ok: true });
    expect(await auth.lookupUser(`user${i}`, 'imap', info)).toMatchObject({ found: true });
    expect(loopEnded()).toBe(false);
  }
  expect(await looped).toMatchObject({ ok: false, reason: 'tempfail' });
  logs.stop();
  expect(logs.lines.filter((l) => l.includes('lua_call_timeout'))).toEqual([
    expect.stringMatching(
      new RegExp(`^auth: Error: lua\\(loopy,192\\.0\\.2\\.7\\): db-lua: lua_pcall\\(auth_passdb_lookup, 1, 2\\) failed: Lua script exceeded lua_call_timeout \\(${CALL_TIMEOUT} ms\\)`),
    ),
  ]);
  await auth.close();
}, 20000);

test('logins spread over the copies: two logins run side by side', async () => {
  // Each login waits, inside Lua, until the other one has arrived too: run one after the other,
  // the first would wait for a meeting that never happens and fail.
  const file = luaScript(signals.lua + String.raw`
function auth_passdb_lookup(req)
  if not signal("meet", req.user) then return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, "" end
  return dovecot.auth.PASSDB_RESULT_OK, "password=secret"
end`);
  const auth = await luaService(pool, { passdbs: [{ driver: 'lua', args: `file=${file}` }] });
  const results = await Promise.all([login(auth, 'a'), login(auth, 'b')]);
  expect(results).toMatchObject([{ ok: true }, { ok: true }]);
  await auth.close();
}, 20000);

test('a copy lost with its worker (watchdog) is re-created; the other copy serves logins meanwhile', async () => {
  const logs = captureLogs();
  const auth = await luaPassdbUserdb(pool, script());
  const stuck = login(auth, 'stuck');
  const stuckEnded = settled(stuck);
  await waitUntil('the script is stuck', () => signals.reached.has('stuck'));
  expect(await login(auth, 'other')).toMatchObject({ ok: true });
  expect(stuckEnded()).toBe(false);
  expect(await stuck).toMatchObject({ ok: false, reason: 'tempfail' });
  expect(logs.lines.some((l) => /^lua: Error: Lua worker \d did not answer within lua_watchdog_timeout/.test(l))).toBe(true);
  // Both copies work again: the passdb and userdb copies on the replaced worker were re-created.
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => login(auth, `after${i}`)));
  expect(results.every((r) => r.ok)).toBe(true);
  // Re-created in the background (logins meanwhile go to the other copies).
  await waitUntil('the lost copies are re-created', () => logs.lines.filter((l) => l.endsWith(': init')).length >= 6);
  expect(logs.lines.filter((l) => l.endsWith(': init'))).toHaveLength(4 + 2);
  await auth.close();
  logs.stop();
  expect(logs.lines.filter((l) => l.endsWith(': deinit'))).toHaveLength(4);
}, 30000);
