// Storage benchmark: durable appends per second (1 KB and 10 KB messages in SQLite, 100 KB ones as
// body files; one fsync'd commit each: synchronous append() as IMAP APPEND does, and durably() with
// 4 in flight as LMTP delivers, large bodies staged ahead with stageBody() as LMTP does) and the
// time to list UID/FLAGS/RFC822.SIZE of 10,000 messages
// (what `FETCH 1:* (UID FLAGS RFC822.SIZE)` needs). Run: npm run build && node dist/bench/store.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { logHub } from '../src/log/logger.js';
import { openSqliteUserStore as openSyncUserStore } from '../src/storage/sqlite/index.js';
import type { AppendInput } from '../src/storage/types.js';

logHub.setDefaultOutput(false);
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-store-'));

function message(i: number, size: number): Buffer {
  const head = `From: bench@example.org\r\nTo: user@example.org\r\nSubject: bench ${i}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(Math.max(0, size - head.length), 'x')]);
}

function appendRate(label: string, size: number, count: number): void {
  const store = openSyncUserStore({ username: label, home: join(dir, label), dbPath: join(dir, label, 'mail.db'), separator: '/' });
  const start = performance.now();
  for (let i = 0; i < count; i++) store.append('INBOX', { content: message(i, size) });
  const secs = (performance.now() - start) / 1000;
  store.close();
  console.log(`append ${String(size / 1024).padStart(3)} KB, durable (one fsync'd commit each): ${Math.round(count / secs)} appends/s (${count} in ${secs.toFixed(2)} s)`);
}

/** As LMTP stores: `lanes` appends in flight, each acknowledged when durably() resolves. */
async function durablyRate(label: string, size: number, count: number, lanes: number): Promise<void> {
  const store = openSyncUserStore({ username: label, home: join(dir, label), dbPath: join(dir, label, 'mail.db'), separator: '/' });
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) {
        const c = await store.stageBody(message(next++, size));
        await store.durably(() => store.append('INBOX', { content: c }));
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  store.close();
  console.log(`append ${String(size / 1024).padStart(3)} KB, durably(), ${lanes} in flight (fsync in threadpool): ${Math.round(count / secs)} appends/s (${count} in ${secs.toFixed(2)} s)`);
}

function listTiming(count: number): void {
  const store = openSyncUserStore({ username: 'list', home: join(dir, 'list'), dbPath: join(dir, 'list', 'mail.db'), separator: '/' });
  const batch: AppendInput[] = [];
  for (let i = 0; i < count; i++) batch.push({ content: message(i, 1024), flags: i % 3 ? ['\\Seen'] : ['\\Flagged', '$Work'] });
  store.appendMany('INBOX', batch);
  const inbox = store.getMailbox('INBOX')!.id;
  const times: number[] = [];
  let n = 0;
  for (let run = 0; run < 15; run++) {
    const t0 = performance.now();
    const list = store.listMessages(inbox);
    // What FETCH renders: uid, flags, size.
    for (const m of list) n += m.uid + m.flags.length + m.size;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const compact: number[] = [];
  for (let run = 0; run < 15; run++) {
    const t0 = performance.now();
    for (const m of store.listMessageFlags(inbox)) n += m.uid + m.flags.length + m.size;
    compact.push(performance.now() - t0);
  }
  compact.sort((a, b) => a - b);
  const status0 = performance.now();
  store.status('INBOX');
  const statusMs = performance.now() - status0;
  store.close();
  console.log(`listMessages of ${count} messages (UID FLAGS RFC822.SIZE): median ${times[7]!.toFixed(2)} ms, best ${times[0]!.toFixed(2)} ms, worst ${times[14]!.toFixed(2)} ms [${n > 0 ? 'ok' : '?'}]`);
  console.log(`listMessageFlags of ${count} messages (compact rows):     median ${compact[7]!.toFixed(2)} ms, best ${compact[0]!.toFixed(2)} ms, worst ${compact[14]!.toFixed(2)} ms`);
  console.log(`STATUS of the same mailbox: ${statusMs.toFixed(2)} ms`);
}

try {
  appendRate('warmup', 1024, 300);
  appendRate('a1k', 1024, 3000);
  appendRate('a10k', 10 * 1024, 2000);
  appendRate('a100k', 100 * 1024, 500);
  await durablyRate('d1k', 1024, 3000, 4);
  await durablyRate('d10k', 10 * 1024, 2000, 4);
  await durablyRate('d100k', 100 * 1024, 1000, 4);
  listTiming(10_000);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
