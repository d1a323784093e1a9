// BlockingHelperThread (src/threads/blocking-helper.ts): a caller blocks until its helper thread
// answers. Here: answers in order, a helper that never answers, and one that fails to start.
import { describe, expect, test } from '@jest/globals';
import { BlockingHelperThread } from '../../src/threads/blocking-helper.js';
import { waitUntil } from '../poll.js';

type Req = { id: number; n: number };
type Res = { id: number; doubled: number };

/** A helper entry as a data: URL module (workerData = { port, flag }). */
function entry(body: string): URL {
  return new URL(`data:text/javascript,${encodeURIComponent(`import { workerData } from 'node:worker_threads';\nconst { port, flag } = workerData;\n${body}`)}`);
}

const DOUBLER = entry(`port.on('message', (m) => { port.postMessage({ id: m.id, doubled: m.n * 2 }); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); });`);

describe('BlockingHelperThread', () => {
  test('each call gets its own answer, synchronously', () => {
    const h = new BlockingHelperThread<Req, Res>(DOUBLER);
    try {
      expect([1, 2, 3].map((n) => h.call({ n }, 20_000)?.doubled)).toEqual([2, 4, 6]);
    } finally {
      h.close();
    }
  });

  test('a helper that does not answer: the call gives up at its wait limit', () => {
    const h = new BlockingHelperThread<Req, Res>(entry(`port.on('message', () => {});`));
    try {
      expect(h.call({ n: 1 }, 0)).toBeNull();
    } finally {
      h.close();
    }
  });

  test('a helper that fails to start does not take the caller down; its failure is told and the next call starts a new one', async () => {
    const h = new BlockingHelperThread<Req, Res>(entry(`throw new Error('helper broke');`));
    try {
      expect(h.call({ n: 1 }, 0)).toBeNull();
      await waitUntil('the helper to be gone', () => h.thread === undefined);
      expect(h.lastFailure?.message).toBe('helper broke');
      expect(h.call({ n: 2 }, 0)).toBeNull();
      expect(h.thread).toBeDefined();
    } finally {
      h.close();
    }
  });
});

describe('messages the helper sends of its own (id 0)', () => {
  const TALKER = entry(`
    port.on('message', (m) => {
      port.postMessage({ id: 0, said: 'before ' + m.n });
      port.postMessage({ id: m.id, doubled: m.n * 2 });
      Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);
      setTimeout(() => { port.postMessage({ id: 0, said: 'later ' + m.n }); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }, 1);
    });`);

  test('read during a call they are handed over after it, in order; between calls they arrive as messages', async () => {
    const heard: string[] = [];
    const h = new BlockingHelperThread<Req, Res>(TALKER, (m) => heard.push((m as { said: string }).said));
    try {
      const answer = h.call({ n: 1 }, 20_000);
      heard.push(`answer ${answer?.doubled}`);
      expect(heard).toEqual(['before 1', 'answer 2']);
      await waitUntil('the later message', () => heard.length === 3);
      expect(heard[2]).toBe('later 1');
    } finally {
      h.close();
    }
  });
});
