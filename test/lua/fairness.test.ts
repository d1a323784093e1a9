// Fairness while scripts loop: a call that runs long (a looping script, up to lua_call_timeout)
// holds its own worker only. Waiting work stays on the main thread where another worker can take
// it, and the pool grows (lua_max_workers) so that `lua_workers` workers stay free of long calls.
// Shown by order, not by time: the other users' sessions finish while the loops still run
// (lua_call_timeout is far beyond the test, the watchdog further still).
import { LuaWorkerPool, type LuaStateHandle } from '../../src/lua/index.js';
import { logHub } from '../../src/log/logger.js';
import { luaPassdbUserdb } from '../auth/lua-helpers.js';
import { info } from '../auth/helpers.js';
import { scriptFile } from './helpers.js';
import { waitUntil } from '../poll.js';
import { luaPoolFor } from '../../src/cli/context.js';
import { parseConfigText } from '../../src/config/index.js';

const LOOP = 'function mail_user_created(user) while true do pcall(function() while true do end end) end end';
const QUICK = 'function mail_user_created(user) return 0 end\nfunction ping() return "pong" end';

let pool: LuaWorkerPool;
beforeEach(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 2, maxWorkers: 8, callTimeoutMs: 120_000, watchdogTimeoutMs: 600_000 });
});
afterEach(() => pool.close());

/** Starts `n` looping hooks; returns a flag that turns true if any of them settles. */
function startLoops(n: number): { settled: () => boolean } {
  let settled = false;
  for (let i = 0; i < n; i++) {
    const opts = { scriptPath: scriptFile(LOOP), context: 'mail' as const, logPrefix: `imap(loop${i}): ` };
    pool.createStateAndCall(opts, 'mail_user_created', [], 2).then(
      () => (settled = true),
      () => undefined, // rejected by pool.close()
    );
  }
  return { settled: () => settled };
}

test.each([2, 4])('with %i scripts looping on 2 workers, new sessions are created and called', async (n) => {
  const loops = startLoops(n);
  const sessions: LuaStateHandle[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await pool.createStateAndCall(
      { scriptPath: scriptFile(QUICK), context: 'mail', logPrefix: `imap(user${i}): ` },
      'mail_user_created',
      [],
      2,
    );
    expect(r.outcome).toEqual([0n, null]);
    sessions.push(r.state!);
  }
  for (const s of sessions) expect(await s.callHook('ping', [], 1)).toEqual(['pong']);
  expect(loops.settled()).toBe(false);
  // A loop counts as long by the CPU time it ran (src/lua/run-queue-clock.ts): on a loaded machine
  // a starved loop reaches it later, so the pool's growth is waited for, not read at once.
  await waitUntil('lua_workers workers free of the looping calls', () => pool.workerCount >= 2 + n, 50_000);
  expect(pool.workerCount).toBeLessThanOrEqual(8);
}, 60_000);

test('with 2 logins looping in a Lua passdb, other users log in through the same passdb', async () => {
  const auth = await luaPassdbUserdb(
    pool,
    String.raw`
function auth_passdb_lookup(req)
  if req.user == "loopy" then while true do pcall(function() while true do end end) end end
  return dovecot.auth.PASSDB_RESULT_OK, "password=secret"
end
function auth_userdb_lookup(req) return dovecot.auth.USERDB_RESULT_OK, "" end`,
  );
  let settled = false;
  for (let i = 0; i < 2; i++) {
    auth.authenticatePlain({ ...info, user: 'loopy', password: 'secret' }).then(() => (settled = true));
  }
  for (let i = 0; i < 4; i++) {
    const r = await auth.authenticatePlain({ ...info, user: `user${i}`, password: 'secret' });
    expect(r.ok).toBe(true);
  }
  expect(settled).toBe(false);
  await pool.close(); // ends the loops (their logins fail as internal errors)
  await auth.close();
}, 60_000);

test('without room to grow (lua_max_workers = lua_workers) the pool stays at its size', async () => {
  const fixed = new LuaWorkerPool({ workers: 2, callTimeoutMs: 300 });
  try {
    const h = await fixed.createStateAndCall({ scriptPath: scriptFile(LOOP), context: 'mail', logPrefix: 'imap(x): ' }, 'mail_user_created', [], 2);
    expect(String(h.outcome)).toMatch(/lua_call_timeout/);
    expect(fixed.workerCount).toBe(2);
  } finally {
    await fixed.close();
  }
});

test('lua_max_workers bounds the growth; its default is 4 × lua_workers', async () => {
  const settingsOf = (text: string) => parseConfigText(text, 'roost.conf').settings;
  const bounded = luaPoolFor(settingsOf('lua_workers = 1\nlua_max_workers = 2\nlua_call_timeout = 2 mins\n'));
  try {
    let settled = false;
    for (let i = 0; i < 3; i++) {
      bounded
        .createStateAndCall({ scriptPath: scriptFile(LOOP), context: 'mail', logPrefix: `imap(loop${i}): ` }, 'mail_user_created', [], 2)
        .then(() => (settled = true), () => undefined);
    }
    // The first loop holds worker 0; the pool grows to its bound for the second; the third waits.
    await waitUntil('the pool grows', () => bounded.workerCount >= 2);
    expect(bounded.workerCount).toBe(2);
    expect(bounded.maxWorkerCount).toBe(2);
    expect(settled).toBe(false);
  } finally {
    await bounded.close();
  }
  const byDefault = luaPoolFor(settingsOf('lua_workers = 3\n'));
  try {
    expect(byDefault.workerCount).toBe(3);
    expect(byDefault.maxWorkerCount).toBe(12);
  } finally {
    await byDefault.close();
  }
}, 60_000);

test('without long calls, new work waits for the first lua_workers workers instead of spreading to the spare', async () => {
  const small = new LuaWorkerPool({ workers: 1, maxWorkers: 4, callTimeoutMs: 120_000 });
  try {
    const opts = { scriptPath: scriptFile(QUICK), context: 'mail' as const, logPrefix: 'imap(user): ' };
    // Worker 0 warmed up (its first requests run cold code), then the warm spare is started.
    for (let i = 0; i < 3; i++) await (await small.createState(opts)).close();
    await waitUntil('the warm spare', () => small.workerCount >= 2, 50_000);
    await small.workerStats(); // answers once every worker, the spare too, has started
    // Eight sessions at once: worker 0 is busy with one while the others wait, and the idle spare
    // takes none of them (it is there for calls that run long).
    const states = await Promise.all(Array.from({ length: 8 }, () => small.createState(opts)));
    expect(states.map((s) => s.workerIndex)).toEqual(Array(8).fill(0));
    for (const s of states) await s.close();
  } finally {
    await small.close();
  }
}, 60_000);
