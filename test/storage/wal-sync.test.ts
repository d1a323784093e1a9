// durability 'async-fsync': commits with synchronous=NORMAL, then an fdatasync of the -wal file
// (on the calling thread, or in the threadpool inside durably()). These tests pin the ordering
// rules (an acknowledgement waits for a sync that started after its commit; syncs are serialized
// and group commits; a failed sync is sticky) and the -wal inode assumptions (checkpoints and
// truncation keep the file, so the descriptor stays valid). Crash safety itself is durability.test.ts.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import type Database from 'better-sqlite3';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SyncUserStore } from '../../src/storage/index.js';
import { WalSync } from '../../src/storage/sqlite/wal-sync.js';
import { msg, tempStores, type TempStores } from './helpers/temp-store.js';

let t: TempStores;
beforeEach(() => {
  t = tempStores();
});
afterEach(() => t.cleanup());

/** A sync function the test completes by hand. */
function manualSync() {
  const calls: ((err: Error | null) => void)[] = [];
  const fn = (_fd: number, cb: (err: Error | null) => void) => void calls.push(cb);
  return { fn, calls };
}

/** Which of these promises have settled (after pending callbacks ran). */
async function settled(ps: Promise<unknown>[]): Promise<boolean[]> {
  const state = ps.map(() => false);
  ps.forEach((p, i) => p.then(() => (state[i] = true), () => (state[i] = true)));
  await new Promise((r) => setImmediate(r));
  return state;
}

const internals = (s: SyncUserStore) => s as unknown as { walSync: WalSync; db: Database.Database };

describe('WalSync', () => {
  test('a wait resolves only after a sync that started after its commit; syncs are serialized and group commits', async () => {
    const wal = join(t.dir, 'x-wal');
    writeFileSync(wal, 'frames');
    const m = manualSync();
    const w = new WalSync(wal, m.fn);
    expect(await w.whenDurable().then(() => 'idle')).toBe('idle'); // nothing committed yet
    w.noteCommit();
    const a = w.whenDurable();
    expect(m.calls).toHaveLength(1);
    w.noteCommit(); // commits while the first sync runs: not covered by it
    const b = w.whenDurable();
    w.noteCommit();
    const c = w.whenDurable();
    expect(m.calls).toHaveLength(1);
    expect(await settled([a, b, c])).toEqual([false, false, false]);
    m.calls[0]!(null);
    expect(await settled([a, b, c])).toEqual([true, false, false]);
    expect(m.calls).toHaveLength(2); // one sync for both later commits
    m.calls[1]!(null);
    expect(await settled([b, c])).toEqual([true, true]);
    expect(m.calls).toHaveLength(2);
    expect(w.idle).toBe(true);
    w.close();
  });

  test('a failed sync fails its waiters and every later one (sticky)', async () => {
    const wal = join(t.dir, 'y-wal');
    writeFileSync(wal, 'frames');
    const m = manualSync();
    const w = new WalSync(wal, m.fn);
    w.noteCommit();
    const a = w.whenDurable();
    m.calls[0]!(new Error('EIO'));
    await expect(a).rejects.toThrow(/fdatasync.*EIO/);
    w.noteCommit();
    await expect(w.whenDurable()).rejects.toThrow(/EIO/);
    expect(() => w.syncNow()).toThrow(/EIO/);
    w.close();
  });
});

describe('store with durability async-fsync (the default)', () => {
  test('durably() resolves after the WAL sync; later commits wait for a later sync', async () => {
    const store = t.open('alice');
    const m = manualSync();
    const dbPath = t.options('alice').dbPath;
    internals(store).walSync.close();
    (internals(store) as { walSync: WalSync }).walSync = new WalSync(`${dbPath}-wal`, m.fn);
    const a = store.durably(() => store.append('INBOX', { content: msg('a') }));
    const b = store.durably(() => store.append('INBOX', { content: msg('b') }));
    // Committed and visible at once; acknowledged only after the sync.
    expect(store.status('INBOX').messages).toBe(2);
    expect(await settled([a, b])).toEqual([false, false]);
    expect(m.calls).toHaveLength(1); // b committed while a's sync runs: it needs the next one
    m.calls[0]!(null);
    expect((await a).uid).toBe(1);
    expect(await settled([b])).toEqual([false]);
    expect(m.calls).toHaveLength(2);
    m.calls[1]!(null);
    expect((await b).uid).toBe(2);
    const c = store.durably(() => store.claimRecent(store.getMailbox('INBOX')!.id));
    expect(m.calls).toHaveLength(3); // claimRecent changed rows
    m.calls[2]!(null);
    expect(await c).toEqual([1, 2]);
    // Now nothing to claim: a transaction that changed no rows wrote no WAL frames, needs no sync.
    const d = store.durably(() => store.claimRecent(store.getMailbox('INBOX')!.id));
    expect(await settled([d])).toEqual([true]);
    expect(m.calls).toHaveLength(3);
  });

  test('the -wal file keeps its inode through checkpoints, TRUNCATE and journal_size_limit', async () => {
    const store = t.open('bob');
    const wal = `${t.options('bob').dbPath}-wal`;
    const { walSync, db } = internals(store);
    await store.durably(() => store.append('INBOX', { content: msg('one') }));
    const ino = statSync(wal).ino;
    expect(walSync.inode).toBe(ino);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(statSync(wal).size).toBe(0);
    await store.durably(() => store.append('INBOX', { content: msg('two') }));
    expect(statSync(wal).size).toBeGreaterThan(0);
    db.pragma('journal_size_limit = 0');
    db.pragma('wal_autocheckpoint = 2');
    for (let i = 0; i < 20; i++) await store.durably(() => store.append('INBOX', { content: Buffer.alloc(8000, 'x') }));
    db.pragma('wal_checkpoint(RESTART)');
    await store.durably(() => store.append('INBOX', { content: msg('three') }));
    expect(statSync(wal).ino).toBe(ino);
    expect(walSync.inode).toBe(ino);
    expect(store.status('INBOX').messages).toBe(23);
  });

  test('durability full and normal: durably() just runs the function', async () => {
    for (const durability of ['full', 'normal'] as const) {
      const store = t.open(`u-${durability}`, { settings: { durability } });
      const r = await store.durably(() => store.append('INBOX', { content: msg('x') }));
      expect(r.uid).toBe(1);
    }
  });
});
