// Large bodies as files under the home (bodyFileThresholdBytes): partial reads, COPY sharing,
// unlinking with the last reference (expunge, MOVE, mailbox delete), staging ahead, hard links
// between stores, and what is left after failures.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedBodyFile as StagedBody } from '../../src/storage/sqlite/body-files.js';
import type { SqliteUserStore as SyncUserStore } from '../../src/storage/sqlite/index.js';
import { errorCode, msg, tempStores, type TempStores } from './helpers/temp-store.js';
import { waitUntil } from '../poll.js';

let t: TempStores;
let store: SyncUserStore;
let inboxId: number;
beforeEach(() => {
  t = tempStores();
  store = t.open('alice', { settings: { bodyChunkBytes: 4096 } });
  inboxId = store.getMailbox('INBOX')!.id;
});
afterEach(() => t.cleanup());

/** A message of about `kb` KiB whose every byte depends on its position (a misplaced read shows). */
function big(subject: string, kb: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; lines.length * 80 < kb * 1024; i++) lines.push(`${String(i).padStart(8, '0')} ${'abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(i % 26, i % 26 + 68)}\r\n`);
  return Buffer.concat([msg(subject, ''), Buffer.from(lines.join(''))]);
}

/** Every body file under a user's home: path → inode. */
function bodyFiles(user = 'alice'): Map<string, number> {
  const root = join(t.dir, user, 'bodies');
  const out = new Map<string, number>();
  if (!existsSync(root)) return out;
  for (const d of readdirSync(root)) for (const f of readdirSync(join(root, d))) out.set(join(root, d, f), statSync(join(root, d, f)).ino);
  return out;
}


describe('body files', () => {
  test('a body at the threshold is a file, a smaller one stays in SQLite; both read back exactly', () => {
    const small = msg('small', 'x'.repeat(1000));
    const large = big('large', 40);
    const a = store.append('INBOX', { content: small });
    expect(bodyFiles().size).toBe(0);
    const b = store.append('INBOX', { content: large });
    const files = [...bodyFiles().keys()];
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/bodies\/([0-9a-f])\/\1[0-9a-f]{31}$/);
    expect(statSync(files[0]!).size).toBe(large.length);
    expect(store.openBody(a.bodyId).read(0, small.length)).toEqual(small);
    expect(store.openBody(b.bodyId).read(0, large.length + 10)).toEqual(large);
  });

  test('partial reads and slices across the file path match the chunked path byte for byte', () => {
    const large = big('partial', 50);
    const inFile = store.append('INBOX', { content: large });
    const sqlite = t.open('bob', { settings: { bodyChunkBytes: 4096, bodyFileThresholdBytes: 0 } });
    const inDb = sqlite.append('INBOX', { content: large });
    expect(bodyFiles('bob').size).toBe(0);
    const f = store.openBody(inFile.bodyId);
    const c = sqlite.openBody(inDb.bodyId);
    expect(f.size).toBe(large.length);
    for (const [off, len] of [[0, 1], [4095, 2], [4096, 4096], [10_000, 30_000], [large.length - 5, 100], [large.length, 10], [large.length + 7, 1], [123, 0]] as const) {
      expect(f.read(off, len)).toEqual(large.subarray(off, off + len));
      expect([...f.slices(off, len)].map((s) => s.length)).toEqual([...c.slices(off, len)].map((s) => s.length));
      expect(Buffer.concat([...f.slices(off, len)])).toEqual(large.subarray(off, off + len));
    }
    expect(errorCode(() => f.read(-1, 2))).toBe('PARAMETERS');
    const { body, mimeStructure } = store.openBodyWithStructure(inFile.bodyId);
    expect(body.read(0, 20)).toEqual(large.subarray(0, 20));
    expect(mimeStructure).toBeUndefined();
  });

  test('COPY shares the file; it is unlinked only when the last message referencing it is expunged', () => {
    const r = store.append('INBOX', { content: big('shared', 40), mimeStructure: { type: 'text' } });
    store.createMailbox('Archive');
    store.createMailbox('Other');
    const archive = store.getMailbox('Archive')!.id;
    store.copy(inboxId, [r.uid], 'Archive');
    store.move(archive, [1], 'Other');
    expect(bodyFiles().size).toBe(1);
    const [path] = [...bodyFiles().keys()];
    expect(store.expunge(inboxId, [r.uid])).toEqual([r.uid]);
    expect(existsSync(path!)).toBe(true);
    const other = store.getMailbox('Other')!.id;
    const copyMeta = store.listMessages(other)[0]!;
    expect(copyMeta.bodyId).toBe(r.bodyId);
    expect(store.getMimeStructure(copyMeta.bodyId)).toEqual({ type: 'text' });
    const reader = store.openBody(copyMeta.bodyId);
    store.expunge(other, [copyMeta.uid]);
    expect(existsSync(path!)).toBe(false);
    expect(errorCode(() => reader.read(0, 10))).toBe('EXPUNGEISSUED');
    expect(errorCode(() => store.openBody(r.bodyId))).toBe('EXPUNGEISSUED');
  });

  test('deleting a mailbox unlinks the files of its messages; a rolled back append leaves none', () => {
    store.createMailbox('Big');
    store.append('Big', { content: big('one', 40) });
    store.appendMany('Big', [{ content: big('two', 60) }, { content: msg('small') }]);
    expect(bodyFiles().size).toBe(2);
    store.deleteMailbox('Big');
    expect(bodyFiles().size).toBe(0);
    const full = t.open('carol', { quota: { storageBytes: 10_000 } });
    expect(errorCode(() => full.append('INBOX', { content: big('over', 40) }))).toBe('OVERQUOTA');
    expect(errorCode(() => store.append('NoSuchBox', { content: big('missing', 40) }))).toBe('NONEXISTENT');
    expect(bodyFiles('carol').size).toBe(0);
    expect(bodyFiles().size).toBe(0);
  });

  test('a spooled file above the threshold is copied into the home', () => {
    const large = big('spooled', 45);
    const spool = join(t.dir, 'spool.eml');
    writeFileSync(spool, large);
    const r = store.append('INBOX', { content: { path: spool, size: large.length } });
    expect(bodyFiles().size).toBe(1);
    expect(store.openBody(r.bodyId).read(0, large.length)).toEqual(large);
  });

  test('stageBody writes ahead; durably(append) commits it; expunge inside durably unlinks after the sync', async () => {
    const large = big('staged', 40);
    expect(await store.stageBody(msg('small'))).toEqual(msg('small')); // below the threshold: unchanged
    const staged = (await store.stageBody(large)) as StagedBody;
    expect(staged.kind).toBe('staged');
    expect(statSync(staged.path).size).toBe(large.length);
    const r = await store.durably(() => store.append('INBOX', { content: staged }));
    expect(store.openBody(r.bodyId).read(0, large.length)).toEqual(large);
    await staged.discard(); // committed: left alone
    expect(existsSync(staged.path)).toBe(true);
    expect(errorCode(() => store.append('INBOX', { content: staged }))).toBe('PARAMETERS'); // saved once only
    await store.durably(() => store.expunge(inboxId, [r.uid]));
    // Unlinks after a commit inside durably() wait for its sync; outside they are immediate.
    await waitUntil('the unlink after the sync', () => !existsSync(staged.path));

    // A staged body whose append failed is removed by discard().
    const lost = (await store.stageBody(large)) as StagedBody;
    await expect(store.durably(() => store.append('Nope', { content: lost }))).rejects.toThrow(/Nope/);
    await lost.discard();
    expect(bodyFiles().size).toBe(0);
    // Another store refuses it.
    const other = (await store.stageBody(large)) as StagedBody;
    const bob = t.open('bob');
    expect(errorCode(() => bob.append('INBOX', { content: other }))).toBe('PARAMETERS');
    await other.discard();
  });

  test('linkFrom hard-links another store\'s file (same inode); a missing source falls back to writing', async () => {
    const large = big('linked', 40);
    const bob = t.open('bob');
    const first = (await store.stageBody(large)) as StagedBody;
    const second = (await bob.stageBody(large, { linkFrom: first })) as StagedBody;
    expect(statSync(second.path).ino).toBe(statSync(first.path).ino);
    expect(statSync(first.path).nlink).toBe(2);
    const a = await store.durably(() => store.append('INBOX', { content: first }));
    const b = await bob.durably(() => bob.append('INBOX', { content: second }));
    expect(bob.openBody(b.bodyId).read(0, large.length)).toEqual(large);
    // Expunging one user's copy leaves the other's link intact.
    store.expunge(inboxId, [a.uid]);
    expect(existsSync(first.path)).toBe(false);
    expect(bob.openBody(b.bodyId).read(0, large.length)).toEqual(large);
    expect(statSync(second.path).nlink).toBe(1);

    const third = (await bob.stageBody(large, { linkFrom: { path: join(t.dir, 'gone'), durable: Promise.resolve() } })) as StagedBody;
    expect(statSync(third.path).ino).not.toBe(statSync(second.path).ino);
    expect(statSync(third.path).size).toBe(large.length);
    await third.discard();

    // Linked as soon as the source is written; a source whose sync fails is not relied on.
    let source: { path: string; durable: Promise<void> } | undefined;
    const carol = t.open('carol');
    const pending = carol.stageBody(large, { onWritten: (f) => (source = f) });
    while (!source) await new Promise((r) => setImmediate(r)); // told once written (before its sync)
    const failed = Promise.reject(new Error('EIO'));
    failed.catch(() => {});
    const failing = { path: source!.path, durable: failed };
    const own = (await bob.stageBody(large, { linkFrom: failing })) as StagedBody;
    const src = (await pending) as StagedBody;
    expect(statSync(own.path).ino).not.toBe(statSync(src.path).ino);
    expect(statSync(src.path).nlink).toBe(1);
    expect(bob.openBody((await bob.durably(() => bob.append('INBOX', { content: own }))).bodyId).read(0, large.length)).toEqual(large);
  });
});

describe('body files inside durably()', () => {
  test('an unstaged large body inside durably() stays in SQLite (no fsync on the event loop)', async () => {
    const large = big('unstaged', 40);
    const r = await store.durably(() => store.append('INBOX', { content: large }));
    expect(bodyFiles().size).toBe(0);
    expect(store.openBody(r.bodyId).read(0, large.length)).toEqual(large);
  });
});

describe('orphaned body files', () => {
  test('a file no message refers to is removed once it is old enough; referenced and young ones stay', async () => {
    const kept = big('kept', 40);
    store.append('INBOX', { content: kept });
    const files = [...bodyFiles().keys()];
    expect(files).toHaveLength(1);
    const dir = join(files[0]!, '..');
    const orphanOld = join(dir, 'a'.repeat(32));
    const orphanYoung = join(dir, 'b'.repeat(32));
    writeFileSync(orphanOld, 'left by a crash');
    writeFileSync(orphanYoung, 'being staged by another process');
    const { utimesSync } = await import('node:fs');
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(orphanOld, twoHoursAgo, twoHoursAgo);
    utimesSync(files[0]!, twoHoursAgo, twoHoursAgo); // old but referenced
    const { BodyFiles } = await import('../../src/storage/sqlite/body-files.js');
    const referenced = new Set(files.map((f) => f.split('/').pop()!));
    const removed = new BodyFiles(join(t.dir, 'alice', 'bodies')).sweepOrphans((n) => referenced.has(n), 3600_000);
    expect(removed).toBe(1);
    expect(existsSync(orphanOld)).toBe(false);
    expect(existsSync(orphanYoung)).toBe(true);
    expect(existsSync(files[0]!)).toBe(true);
    const [m] = store.listMessages(inboxId);
    expect(store.openBody(m!.bodyId).read(0, kept.length).equals(kept)).toBe(true);
  });
});

test('opening a store sweeps old orphans once a day (marker file in the home)', async () => {
  store.append('INBOX', { content: big('x', 40) });
  const [file] = [...bodyFiles().keys()];
  const orphan = join(file!, '..', 'c'.repeat(32));
  writeFileSync(orphan, 'orphan');
  const { utimesSync } = await import('node:fs');
  const old = (Date.now() - 2 * 3600_000) / 1000;
  utimesSync(orphan, old, old);
  store.close();
  const again = t.open('alice', { settings: { bodyChunkBytes: 4096 } });
  await waitUntil('the sweep to remove the orphan', () => !existsSync(orphan));
  expect(existsSync(file!)).toBe(true);
  expect(existsSync(join(t.dir, 'alice', 'bodies.swept'))).toBe(true);
  void again;
});
