// The SQLite backend's change feed: another connection's commits (another process, in production)
// are found by refreshChanges() at once and signalled by the watched change file without a
// command; one watcher per file; a removed file is watched again; an unwatchable one is polled.
import { chmodSync, chownSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { captureLogs } from '../../src/log/logger.js';
import { changeFilePath, FileChangeFeed, watchedChangeFiles, FALLBACK_POLL_MS } from '../../src/storage/sqlite/file-change-feed.js';
import type { ChangeNotice } from '../../src/storage/types.js';
import { msg, tempStores, type TempStores } from './helpers/temp-store.js';

let t: TempStores;
beforeEach(() => {
  t = tempStores();
});
afterEach(() => t.cleanup());

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

test('refreshChanges finds another connection\'s commit at once, and only once; its own commits are not "elsewhere"', () => {
  const mine = t.open();
  const other = t.open(); // a second connection: what `roost deliver` in another process has
  const seen: ChangeNotice[] = [];
  const off = mine.onChange((n) => seen.push(n));
  other.append('INBOX', { content: msg('from elsewhere') });
  const elsewhere = () => seen.filter((n) => n.kind === 'elsewhere').length;
  mine.refreshChanges();
  expect(elsewhere()).toBe(1);
  expect(seen.find((n) => n.kind === 'elsewhere')).toMatchObject({ user: 'alice', mailboxId: null });
  mine.refreshChanges();
  expect(elsewhere()).toBe(1);
  mine.append('INBOX', { content: msg('mine') });
  mine.refreshChanges();
  expect(elsewhere()).toBe(1);
  off();
});

test('a commit elsewhere reaches a subscriber without any call, through the watched change file', async () => {
  const mine = t.open();
  const other = t.open();
  const elsewhere: ChangeNotice[] = [];
  const off = mine.onChange((n) => n.kind === 'elsewhere' && elsewhere.push(n));
  expect(existsSync(changeFilePath(t.options().dbPath))).toBe(true);
  other.append('INBOX', { content: msg('watched') });
  await waitFor(() => elsewhere.length > 0);
  off();
});

test('one watcher per change file, however many subscribers; none after the last leaves', () => {
  const base = watchedChangeFiles();
  const a = t.open();
  const b = t.open();
  const offs = [a.onChange(() => undefined), a.onChange(() => undefined), b.onChange(() => undefined)];
  expect(watchedChangeFiles()).toBe(base + 1);
  const bob = t.open('bob');
  const offBob = bob.onChange(() => undefined);
  expect(watchedChangeFiles()).toBe(base + 2);
  for (const off of offs) off();
  offBob();
  expect(watchedChangeFiles()).toBe(base);
});

test('a change file removed while watched is created and watched again', async () => {
  const path = join(t.dir, 'feed-changes');
  const watcher = new FileChangeFeed(path, 60_000);
  const writer = new FileChangeFeed(path, 60_000);
  let signals = 0;
  const off = watcher.watch(() => signals++);
  rmSync(path);
  await waitFor(() => signals > 0 && existsSync(path));
  const before = signals;
  writer.announce();
  await waitFor(() => signals > before);
  off();
  watcher.close();
  writer.close();
});

test(`where the file cannot be watched, the feed polls every ${FALLBACK_POLL_MS} ms and says so`, async () => {
  const logs = captureLogs();
  try {
    const feed = new FileChangeFeed(join(t.dir, 'missing-folder', 'mail.db-changes'), 60_000);
    let signals = 0;
    const off = feed.watch(() => signals++);
    expect(logs.lines.some((l) => /Cannot watch .*missing-folder.*: polling every 1000 ms instead/.test(l))).toBe(true);
    await waitFor(() => signals > 0);
    off();
    feed.close();
  } finally {
    logs.stop();
  }
});

test('the change file is created with the mode (and, for root, the owner) of the database, as SQLite does for -wal', () => {
  const { dbPath } = t.options('carol');
  const first = t.open('carol');
  first.close();
  rmSync(changeFilePath(dbPath));
  chmodSync(dbPath, 0o640);
  const otherUid = 4242;
  if (process.getuid?.() === 0) chownSync(dbPath, otherUid, otherUid);
  t.open('carol');
  const st = statSync(changeFilePath(dbPath));
  expect(st.mode & 0o777).toBe(0o640);
  if (process.getuid?.() === 0) expect([st.uid, st.gid]).toEqual([otherUid, otherUid]);
});
