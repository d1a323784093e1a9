// The per-mailbox counters (migrations/user/0004_mailbox_counters.sql) and the listings kept after a
// store closes (mailbox-index.ts): after every kind of change, status() and the SELECT snapshot agree
// with a count over the messages themselves.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupUserStore, restoreUserStore } from '../../src/storage/sqlite/backup.js';
import { mailboxIndexCache } from '../../src/storage/mailbox-index.js';
import { SqliteUserStore } from '../../src/storage/sqlite/user-store.js';
import type { SyncUserStore as UserStore } from '../../src/storage/types.js';
import { msg, tempStores, type TempStores } from './helpers/temp-store.js';

let stores: TempStores;
beforeEach(() => {
  stores = tempStores();
});
afterEach(() => stores.cleanup());

/** STATUS figures counted from the message rows (the aggregate status() ran before the counters). */
function counted(dbPath: string, name: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const id = (db.prepare('SELECT id FROM mailbox WHERE name = ?').get(name) as { id: number }).id;
    const r = db
      .prepare(
        `SELECT count(*) AS messages, coalesce(sum(size), 0) AS size, coalesce(sum(recent), 0) AS recent,
           coalesce(sum((flags & 8) = 0), 0) AS unseen, min(CASE WHEN recent = 1 THEN uid END) AS firstRecent,
           min(CASE WHEN (flags & 8) = 0 THEN uid END) AS firstUnseen FROM message WHERE mailbox_id = ?`,
      )
      .get(id) as { messages: number; size: number; recent: number; unseen: number; firstRecent: number | null; firstUnseen: number | null };
    const firstUnseenSeq = r.firstUnseen === null ? 0 : (db.prepare('SELECT count(*) AS n FROM message WHERE mailbox_id = ? AND uid <= ?').get(id, r.firstUnseen) as { n: number }).n;
    return { messages: r.messages, size: r.size, recent: r.recent, unseen: r.unseen, firstUnseenSeq, firstRecent: r.firstRecent };
  } finally {
    db.close();
  }
}

function expectCountersRight(store: UserStore, dbPath: string, names: string[]): void {
  for (const name of names) {
    const want = counted(dbPath, name);
    const s = store.status(name);
    expect({ name, messages: s.messages, size: s.size, recent: s.recent, unseen: s.unseen, firstUnseenSeq: s.firstUnseenSeq }).toEqual({
      name,
      messages: want.messages,
      size: want.size,
      recent: want.recent,
      unseen: want.unseen,
      firstUnseenSeq: want.firstUnseenSeq,
    });
    expect(s.firstRecentUid).toBe(want.firstRecent ?? s.uidNext);
  }
}

test('counters follow append, flags, \\Recent claims, copy, move, expunge, RENAME INBOX and DELETE', () => {
  const store = stores.open();
  const dbPath = stores.options().dbPath;
  store.createMailbox('A');
  store.createMailbox('B');
  const inbox = () => store.getMailbox('INBOX')!.id;
  for (let i = 0; i < 40; i++) store.append(i % 2 ? 'INBOX' : 'A', { content: msg(`m${i}`, 'x'.repeat(i)), flags: i % 3 ? ['\\Seen'] : [] });
  const all = ['INBOX', 'A', 'B'];
  expectCountersRight(store, dbPath, all);
  store.storeFlags(inbox(), { uids: [1, 2, 3], operation: 'remove', flags: ['\\Seen'] });
  store.storeFlags(inbox(), { uids: [4, 5], operation: 'add', flags: ['\\Seen', '\\Flagged'] });
  store.storeFlags(inbox(), { uids: [6], operation: 'set', flags: ['$Kw'] });
  expectCountersRight(store, dbPath, all);
  store.claimRecent(inbox());
  store.append('INBOX', { content: msg('late') });
  expectCountersRight(store, dbPath, all);
  store.copy(inbox(), [1, 2, 7, 8], 'B');
  store.move(store.getMailbox('A')!.id, [1, 3, 5], 'B');
  expectCountersRight(store, dbPath, all);
  store.expunge(inbox(), [2, 4, 9, 100]);
  expectCountersRight(store, dbPath, all);
  store.renameMailbox('INBOX', 'Old');
  expectCountersRight(store, dbPath, [...all, 'Old']);
  store.append('INBOX', { content: msg('after rename'), flags: ['\\Seen'] });
  store.deleteMailbox('A');
  expectCountersRight(store, dbPath, ['INBOX', 'B', 'Old']);
  store.createMailbox('A');
  expectCountersRight(store, dbPath, ['INBOX', 'A', 'B', 'Old']);
});

test('listings are kept after the store closes up to indexRetainMessages, and catch up when used again', () => {
  const opts = stores.options('carol', { settings: { indexRetainMessages: 5 } });
  const first = new SqliteUserStore(opts);
  for (let i = 0; i < 4; i++) first.append('INBOX', { content: msg(`m${i}`) });
  first.openMailboxView('INBOX', true);
  const before = mailboxIndexCache.retainedCount;
  first.close();
  expect(mailboxIndexCache.retainedCount).toBe(before + 1); // 4 messages ≤ 5: kept
  const writer = new SqliteUserStore({ ...opts, settings: { indexRetainMessages: 0 } });
  expect(mailboxIndexCache.retainedCount).toBe(before); // in use again
  writer.expunge(writer.getMailbox('INBOX')!.id, [2]);
  for (let i = 0; i < 3; i++) writer.append('INBOX', { content: msg(`n${i}`), flags: ['\\Seen'] });
  const snap = writer.openMailboxView('INBOX', false);
  expect(Array.from({ length: snap.columns.length }, (_, i) => snap.columns.uidAt(i))).toEqual([1, 3, 4, 5, 6, 7]);
  expect(Array.from({ length: snap.columns.length }, (_, i) => snap.columns.flagsAt(i))).toEqual([[], [], [], ['\\Seen'], ['\\Seen'], ['\\Seen']]);
  expect(snap.firstUnseenSeq).toBe(1);
  expect(snap.recentCount).toBe(3);
  writer.close();
  expect(mailboxIndexCache.retainedCount).toBe(before); // indexRetainMessages 0: none kept
});

test('a restore into the live store while it is open: the next SELECT lists the restored messages', async () => {
  const opts = stores.options('dora');
  const store = new SqliteUserStore(opts);
  for (let i = 0; i < 3; i++) store.append('INBOX', { content: msg(`m${i}`) });
  const uidsOf = () => {
    const snap = store.openMailboxView('INBOX', false);
    return Array.from({ length: snap.columns.length }, (_, i) => snap.columns.uidAt(i));
  };
  expect(uidsOf()).toEqual([1, 2, 3]);
  const saved = join(stores.dir, 'backup');
  backupUserStore({ dbPath: opts.dbPath, home: opts.home }, saved);
  store.expunge(store.getMailbox('INBOX')!.id, [2]);
  store.append('INBOX', { content: msg('later') });
  expect(uidsOf()).toEqual([1, 3, 4]);
  await restoreUserStore(saved, { dbPath: opts.dbPath, home: opts.home });
  expect(uidsOf()).toEqual([1, 2, 3]);
  expect(store.status('INBOX').messages).toBe(3);
  store.close();
});
