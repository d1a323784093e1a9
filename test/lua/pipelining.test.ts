// Calls for a busy worker's own states are sent to it behind the call it runs (pool.ts
// pipeline()): its thread takes each as soon as it has answered the one before. What a caller
// sees stays the same: results and log lines in call order, failures of the lost ones alike.
// Work any worker could run (a new state) is offered to a busy worker when none is free (offer()),
// and taken back by a worker that frees up first.
import { Worker } from 'node:worker_threads';
import { LuaWorkerPool, type LuaStateHandle } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { waitUntil } from '../poll.js';
import { scriptFile, stateFor } from './helpers.js';
import { startSignalServer } from './signal-server.js';

let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1, maxWorkers: 1 });
});
afterAll(() => pool.close());

/** Counts the requests of kind `op` posted to any Lua worker while `fn` runs synchronously. */
function postedCalls(fn: () => void, op = 'call'): number {
  const original = Worker.prototype.postMessage;
  let calls = 0;
  Worker.prototype.postMessage = function (this: Worker, msg: unknown, ...rest: unknown[]) {
    if ((msg as { op?: string }).op === op) calls++;
    return (original as (...a: unknown[]) => void).call(this, msg, ...rest);
  };
  try {
    fn();
  } finally {
    Worker.prototype.postMessage = original;
  }
  return calls;
}

const SCRIPT = `
function work(name, n)
  local x = 0
  for i = 1, n do x = x + i end
  dovecot.i_info(name .. " ran")
  return name
end
`;

test('calls on a busy worker are sent at once, run in order, and keep their log lines in order', async () => {
  const a = await stateFor(pool, SCRIPT);
  const b = await stateFor(pool, SCRIPT);
  expect(b.workerIndex).toBe(a.workerIndex);
  const cap = captureLogs();
  const done: string[] = [];
  let calls: Promise<unknown>[] = [];
  // Without pipelining only the first would leave before its reply came back.
  const posted = postedCalls(() => {
    calls = [
      a.callHook('work', ['first', 2_000_000], 1).then((r) => done.push(String(r[0]))),
      b.callHook('work', ['second', 10], 1).then((r) => done.push(String(r[0]))),
      a.callHook('work', ['third', 10], 1).then((r) => done.push(String(r[0]))),
    ];
  });
  expect(posted).toBe(3);
  await Promise.all(calls);
  cap.stop();
  expect(done).toEqual(['first', 'second', 'third']);
  expect(cap.lines.filter((l) => l.includes(' ran'))).toEqual([
    'imap(alice): Info: first ran',
    'imap(alice): Info: second ran',
    'imap(alice): Info: third ran',
  ]);
  await Promise.all([a.close(), b.close()]);
});

test('at most 4 calls wait on the worker behind the running one; the others follow as it answers', async () => {
  const a = await stateFor(pool, SCRIPT);
  let calls: Promise<unknown[]>[] = [];
  const posted = postedCalls(() => {
    calls = Array.from({ length: 8 }, (_, i) => a.callHook('work', [`c${i}`, i === 0 ? 1_000_000 : 10], 1));
  });
  expect(posted).toBe(5);
  expect((await Promise.all(calls)).map((r) => r[0])).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7']);
  await a.close();
});

describe('work any worker could run, while every worker is busy', () => {
  let two: LuaWorkerPool;
  beforeAll(() => {
    two = new LuaWorkerPool({ workers: 2, maxWorkers: 2, callTimeoutMs: 20_000 });
  });
  afterAll(() => two.close());

  /** A state on each worker, each with a hook that waits until the test releases it. */
  async function heldStates(lua: string): Promise<[LuaStateHandle, LuaStateHandle]> {
    const script = `${lua}\nfunction wait(name) signal("hold", name) return name end\n`;
    const states: LuaStateHandle[] = [];
    const extra: LuaStateHandle[] = [];
    for (;;) {
      const s = await stateFor(two, script);
      if (states.some((o) => o.workerIndex === s.workerIndex)) extra.push(s);
      else states.push(s);
      if (states.length === 2) {
        await Promise.all(extra.map((e) => e.close()));
        // Worker 0 first: of two busy workers with nothing pipelined, the first gets the offer.
        states.sort((x, y) => x.workerIndex - y.workerIndex);
        return [states[0]!, states[1]!];
      }
    }
  }

  test('a new state is sent to a busy worker at once and created there right after its call', async () => {
    const signals = await startSignalServer();
    try {
      const [a, b] = await heldStates(signals.lua);
      const calls = [a.callHook('wait', ['a'], 1), b.callHook('wait', ['b'], 1)];
      let created: Promise<LuaStateHandle> | undefined;
      const posted = postedCalls(() => {
        created = two.createState({ scriptPath: scriptFile('function ping() return "pong" end'), context: 'mail', logPrefix: 'imap(alice): ' });
      }, 'create');
      expect(posted).toBe(1);
      await waitUntil('both calls to wait', () => signals.reached.has('a') && signals.reached.has('b'));
      // The worker it was sent to (the first) creates it as soon as its own call ends.
      signals.release('a');
      const state = await created!;
      expect(state.workerIndex).toBe(a.workerIndex);
      expect(await state.callHook('ping', [], 1)).toEqual(['pong']);
      signals.release('b');
      expect(await Promise.all(calls)).toEqual([['a'], ['b']]);
      await Promise.all([a.close(), b.close(), state.close()]);
    } finally {
      await signals.close(); // a failed expectation must not leave the workers waiting
    }
  });

  test('a worker that frees up first takes it back; the busy one skips it', async () => {
    const signals = await startSignalServer();
    try {
      const [a, b] = await heldStates(signals.lua);
      const calls = [a.callHook('wait', ['a2'], 1), b.callHook('wait', ['b2'], 1)];
      const created = two.createState({ scriptPath: scriptFile('function ping() return "pong" end'), context: 'mail', logPrefix: 'imap(alice): ' });
      await waitUntil('both calls to wait', () => signals.reached.has('a2') && signals.reached.has('b2'));
      // The state was offered to the first worker, still waiting; the second is free first.
      signals.release('b2');
      const state = await created;
      expect(state.workerIndex).toBe(b.workerIndex);
      expect(await state.callHook('ping', [], 1)).toEqual(['pong']);
      signals.release('a2');
      expect(await Promise.all(calls)).toEqual([['a2'], ['b2']]);
      // Exactly one copy of the state exists: a's worker skipped the request it had been sent.
      const stats = await two.workerStats();
      expect(stats[a.workerIndex]!.states + stats[b.workerIndex]!.states).toBe(3);
      await Promise.all([a.close(), b.close(), state.close()]);
      expect((await two.workerStats()).reduce((n, w) => n + w.states, 0)).toBe(0);
    } finally {
      await signals.close();
    }
  });
});
