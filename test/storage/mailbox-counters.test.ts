// The per-mailbox counters (SQLite: migrations/user/0004_mailbox_counters.sql; pgsql: the message
// triggers of its schema): after every kind of change, status() agrees with a count over the
// listing, on both backends. Then, SQLite only: the listings kept after a store closes
// (mailbox-index.ts) and a restore under an open store.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { backupUserStore, restoreUserStore } from '../../src/storage/sqlite/backup.js';
import { mailboxIndexCache } from '../../src/storage/mailbox-index.js';
import { SqliteUserStore } from '../../src/storage/sqlite/user-store.js';
import type { UserStore as AsyncUserStore } from '../../src/storage/types.js';
import { testBackend } from '../backend.js';
import { describeEachBackend } from './helpers/backends.js';
import { msg, tempStores, type TempStores } from './helpers/temp-store.js';

const sqliteOnly = testBackend === 'sqlite' ? describe : describe.skip;

let stores: TempStores;
beforeEach(() => {
  stores = tempStores();
});
afterEach(() => stores.cleanup());

/** STATUS figures counted from the listing (the message rows), not from the counters status() reads. */
async function counted(store: AsyncUserStore, name: string) {
  const box = (await store.getMailbox(name))!;
  const list = await store.listMessages(box.id);
  const firstUnseen = list.findIndex((m) => !m.flags.includes('\\Seen'));
  const view = await store.openMailboxView(name, false);
  return {
    messages: list.length,
    size: list.reduce((a, m) => a + m.size, 0),
    recent: view.recentCount,
    unseen: list.filter((m) => !m.flags.includes('\\Seen')).length,
    firstUnseenSeq: firstUnseen + 1,
  };
}

async function expectCountersRight(store: AsyncUserStore, names: string[]): Promise<void> {
  for (const name of names) {
    const want = await counted(store, name);
    const s = await store.status(name);
    expect({ name, messages: s.messages, size: s.size, recent: s.recent, unseen: s.unseen, firstUnseenSeq: s.firstUnseenSeq }).toEqual({ name, ...want });
    if (want.recent === 0) expect(s.firstRecentUid).toBe(s.uidNext);
    else expect(s.firstRecentUid).toBeLessThan(s.uidNext);
  }
}

// SQLite only: its per-thread listing cache and its backup/restore.
sqliteOnly('sqlite: listings kept after close, restore under an open store', () => {
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
});

// Last: the listings it reads stay in this thread's cache (the tests above count what is retained).
describeEachBackend('mailbox counters', (t) => {
  test('counters follow append, flags, \\Recent claims, copy, move, expunge, RENAME INBOX and DELETE', async () => {
    const store = t.open();
    await store.createMailbox('A');
    await store.createMailbox('B');
    const inbox = async () => (await store.getMailbox('INBOX'))!.id;
    for (let i = 0; i < 40; i++) await store.append(i % 2 ? 'INBOX' : 'A', { content: msg(`m${i}`, 'x'.repeat(i)), flags: i % 3 ? ['\\Seen'] : [] });
    const all = ['INBOX', 'A', 'B'];
    await expectCountersRight(store, all);
    await store.storeFlags(await inbox(), { uids: [1, 2, 3], operation: 'remove', flags: ['\\Seen'] });
    await store.storeFlags(await inbox(), { uids: [4, 5], operation: 'add', flags: ['\\Seen', '\\Flagged'] });
    await store.storeFlags(await inbox(), { uids: [6], operation: 'set', flags: ['$Kw'] });
    await expectCountersRight(store, all);
    await store.claimRecent(await inbox());
    await store.append('INBOX', { content: msg('late') });
    await expectCountersRight(store, all);
    await store.copy(await inbox(), [1, 2, 7, 8], 'B');
    await store.move((await store.getMailbox('A'))!.id, [1, 3, 5], 'B');
    await expectCountersRight(store, all);
    await store.expunge(await inbox(), [2, 4, 9, 100]);
    await expectCountersRight(store, all);
    await store.renameMailbox('INBOX', 'Old');
    await expectCountersRight(store, [...all, 'Old']);
    await store.append('INBOX', { content: msg('after rename'), flags: ['\\Seen'] });
    await store.deleteMailbox('A');
    await expectCountersRight(store, ['INBOX', 'B', 'Old']);
    await store.createMailbox('A');
    await expectCountersRight(store, ['INBOX', 'A', 'B', 'Old']);
  });
});
