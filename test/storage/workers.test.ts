import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { ChangeNotice } from '../../src/storage/index.js';
import { compileStorage, type CompiledStorage } from './helpers/compile-storage.js';
import { msg, tempStores, type TempStores } from './helpers/temp-store.js';

let compiled: CompiledStorage;
let t: TempStores;
beforeAll(() => {
  compiled = compileStorage();
  t = tempStores();
});
afterAll(() => {
  t.cleanup();
  compiled.cleanup();
});

type Reply = { type: 'ready' } | { type: 'appended'; uids: number[] } | { type: 'state'; uids: number[]; notices: ChangeNotice[] };

function nextReply(w: Worker, type: Reply['type']): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Reply) => {
      if (m.type !== type) return;
      w.off('message', onMsg);
      w.off('error', reject);
      resolve(m);
    };
    w.on('message', onMsg);
    w.once('error', reject);
  });
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
};

describe('several threads on one user store', () => {
  test('a worker and the main thread append concurrently and see each other’s writes and notices', async () => {
    const store = t.open('alice');
    const inbox = store.getMailbox('INBOX')!.id;
    const mainNotices: ChangeNotice[] = [];
    store.onChange((n) => mainNotices.push(n));

    const worker = new Worker(fileURLToPath(new URL('./fixtures/worker-store.mjs', import.meta.url)), {
      workerData: { indexPath: compiled.indexPath, options: neutralOptions(t.options('alice')) },
    });
    try {
      await nextReply(worker, 'ready');
      const appended = nextReply(worker, 'appended');
      worker.postMessage({ type: 'append', n: 40 });
      // Interleave main-thread appends with the worker's, yielding so both run.
      const mine: number[] = [];
      for (let i = 0; i < 20; i++) {
        mine.push(store.append('INBOX', { content: msg(`main ${i}`) }).uid);
        await new Promise((r) => setImmediate(r));
      }
      const theirs = (await appended) as { uids: number[] };

      const all = [...mine, ...theirs.uids].sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 60 }, (_, i) => i + 1)); // no UID handed out twice
      expect(store.listMessages(inbox).map((m) => m.uid)).toEqual(all);

      const state = nextReply(worker, 'state');
      worker.postMessage({ type: 'read' });
      const seen = (await state) as { uids: number[]; notices: ChangeNotice[] };
      expect(seen.uids).toEqual(all);
      // The worker heard about the main thread's appends, and the main thread about the worker's.
      const lastMain = store.getMessages(inbox, [Math.max(...mine)])[0]!.modseq;
      await until(() => mainNotices.some((n) => n.highestModseq === store.getMailbox('INBOX')!.highestModseq));
      expect(seen.notices.some((n) => n.kind === 'messages' && n.mailboxId === inbox && n.highestModseq >= lastMain)).toBe(true);
      const workerModseqs = store.getMessages(inbox, theirs.uids).map((m) => m.modseq);
      const heard = new Set(mainNotices.map((n) => n.highestModseq));
      expect(workerModseqs.filter((m) => heard.has(m)).length).toBe(workerModseqs.length);
    } finally {
      worker.postMessage({ type: 'close' });
      await worker.terminate();
    }
  });
});

/** The contract's options for the same store: a worker opens it as Lua's bindings do (openSyncUserStore). */
function neutralOptions(o: { username: string; home: string; dbPath: string; separator: string }) {
  return { username: o.username, home: o.home, location: `sqlite:${o.dbPath}`, separator: o.separator };
}
