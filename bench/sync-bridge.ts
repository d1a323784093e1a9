// The storage sync bridge's cost per call (src/storage/sync-bridge/): the same calls on a SQLite
// sync store opened directly and through the bridge (the backend's store on a helper thread, this
// thread blocked in Atomics.wait for each answer), in calls per second. What is left after
// subtracting the direct figure is the bridge's own round trip: a PostgreSQL store pays it on top
// of its network round trip for every Lua storage call.
// Run: npm run build && node dist/bench/sync-bridge.js (or npm run bench -- sync-bridge)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { logHub } from '../src/log/logger.js';
import { openBridgedSyncStore, openSyncUserStore, type SyncUserStore, type UserStoreOptions } from '../src/storage/index.js';

logHub.setDefaultOutput(false);
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-bridge-'));

function options(name: string): UserStoreOptions {
  return { username: name, home: join(dir, name), location: 'sqlite:~/mail.db', separator: '/', fsync: 'never' };
}

/** Fills a store: 200 messages of 20 KB in INBOX, one metadata entry. Returns a body id. */
function fill(store: SyncUserStore): number {
  let bodyId = 0;
  for (let i = 0; i < 200; i++) {
    const head = `From: bench@example.org\r\nSubject: bench ${i}\r\n\r\n`;
    bodyId = store.append('INBOX', { content: Buffer.concat([Buffer.from(head), Buffer.alloc(20 * 1024, 'x')]), flags: i % 3 ? ['\\Seen'] : [] }).bodyId;
  }
  store.setMetadata('', '/private/bench', Buffer.from('value'));
  return bodyId;
}

/** Calls per second of `fn`, run for about `seconds` after a warm-up. */
function rate(fn: () => unknown, seconds = 1): number {
  for (let i = 0; i < 200; i++) fn();
  let calls = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) fn();
    calls += 100;
  }
  return calls / ((performance.now() - start) / 1000);
}

const direct = openSyncUserStore(options('direct'));
const bridged = openBridgedSyncStore(options('bridged'));
const directBody = fill(direct);
const bridgedBody = fill(bridged);
const inbox = direct.getMailbox('INBOX')!.id;
const bridgedInbox = bridged.getMailbox('INBOX')!.id;

const cases: [string, (s: SyncUserStore, box: number, body: number) => unknown][] = [
  ['getMailbox', (s) => s.getMailbox('INBOX')],
  ['status', (s) => s.status('INBOX')],
  ['getMetadata', (s) => s.getMetadata('', ['/private/bench'])],
  ['read 4 KB of a body', (s, _box, body) => s.openBody(body).read(1000, 4096)],
  ['listMessageFlags (200)', (s, box) => s.listMessageFlags(box)],
  ['storeFlags +$X / -$X', (s, box) => s.storeFlags(box, { uids: [1], operation: Math.random() < 0.5 ? 'add' : 'remove', flags: ['$X'] })],
];

console.log('call                        direct calls/s   bridged calls/s   bridge overhead per call');
for (const [name, fn] of cases) {
  // the best of 3 rounds, alternating, so that other load on the machine weighs on both alike
  let d = 0;
  let b = 0;
  for (let round = 0; round < 3; round++) {
    d = Math.max(d, rate(() => fn(direct, inbox, directBody), 0.5));
    b = Math.max(b, rate(() => fn(bridged, bridgedInbox, bridgedBody), 0.5));
  }
  const overheadUs = (1 / b - 1 / d) * 1e6;
  console.log(`${name.padEnd(26)} ${Math.round(d).toString().padStart(14)}   ${Math.round(b).toString().padStart(15)}   ${overheadUs.toFixed(1).padStart(10)} µs`);
}

direct.close();
bridged.close();
rmSync(dir, { recursive: true, force: true });
