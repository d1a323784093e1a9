// Calls for a busy worker's own states are sent to it behind the call it runs (pool.ts
// pipeline()): its thread takes each as soon as it has answered the one before. What a caller
// sees stays the same: results and log lines in call order, failures of the lost ones alike.
import { Worker } from 'node:worker_threads';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { stateFor } from './helpers.js';

let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1, maxWorkers: 1 });
});
afterAll(() => pool.close());

/** Counts the hook calls posted to any Lua worker while `fn` runs synchronously. */
function postedCalls(fn: () => void): number {
  const original = Worker.prototype.postMessage;
  let calls = 0;
  Worker.prototype.postMessage = function (this: Worker, msg: unknown, ...rest: unknown[]) {
    if ((msg as { op?: string }).op === 'call') calls++;
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
