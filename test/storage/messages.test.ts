import { beforeEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChangeNotice, SharedBody, UserStore } from '../../src/storage/index.js';
import { collect, describeEachBackend, errorCode, msg } from './helpers/backends.js';

const code = errorCode;

describeEachBackend('messages', (t) => {
  let store: UserStore;
  let inboxId: number;
  beforeEach(async () => {
    store = t.open();
    inboxId = (await store.getMailbox('INBOX'))!.id;
  });

  describe('append and list', () => {
    test('UIDs ascend, modseq strictly increases, metadata is kept', async () => {
      const date = new Date('2024-03-01T10:00:00Z');
      const a = await store.append('INBOX', { content: msg('a'), flags: ['\\seen', '$Label1'], internalDate: date, mimeStructure: { type: 'text/plain' } });
      const b = await store.append('inbox', { content: msg('bb') });
      expect([a.uid, b.uid]).toEqual([1, 2]);
      expect(b.modseq).toBeGreaterThan(a.modseq);
      expect(a.uidValidity).toBe((await store.getMailbox('INBOX'))!.uidValidity);
      const list = await store.listMessages(inboxId);
      expect(list.map((m) => [m.uid, m.flags, m.size])).toEqual([
        [1, ['\\Seen', '$Label1'], msg('a').length],
        [2, [], msg('bb').length],
      ]);
      expect(list[0]!.internalDate.getTime()).toBe(date.getTime());
      expect(list[0]!.guid).toMatch(/^[0-9a-f]{32}$/);
      expect(list[0]!.guid).not.toBe(list[1]!.guid);
      expect(await store.getMimeStructure(a.bodyId)).toEqual({ type: 'text/plain' });
      expect(await store.getMimeStructure(b.bodyId)).toBeUndefined();
      await store.setMimeStructure(b.bodyId, { type: 'x' });
      expect(await store.getMimeStructure(b.bodyId)).toEqual({ type: 'x' });
      expect((await (await store.openBody(a.bodyId)).read(0, 1000)).toString()).toBe(msg('a').toString());
      expect((await store.getMessages(inboxId, [2, 99, 1])).map((m) => m.uid)).toEqual([1, 2]);
      expect(await store.status('INBOX')).toMatchObject({ messages: 2, unseen: 1, firstUnseenSeq: 2, uidNext: 3, highestModseq: b.modseq, keywords: ['$Label1'] });
    });

    test('append errors: missing mailbox (TRYCREATE), \\Recent, bad keyword, too big', async () => {
      expect(await code(() => store.append('Nope', { content: msg('x') }))).toBe('NONEXISTENT');
      expect(await code(() => store.append('INBOX', { content: msg('x'), flags: ['\\Recent'] }))).toBe('PARAMETERS');
      expect(await code(() => store.append('INBOX', { content: msg('x'), flags: ['bad(kw'] }))).toBe('PARAMETERS');
      const small = t.open('bob', { settings: { maxMessageBytes: 10 } });
      expect(await code(() => small.append('INBOX', { content: msg('x') }))).toBe('TOOBIG');
      expect((await store.status('INBOX')).messages).toBe(0);
    });

    test('appendMany is all or nothing', async () => {
      const r = await store.appendMany('INBOX', [{ content: msg('1') }, { content: msg('2') }]);
      expect(r.map((x) => x.uid)).toEqual([1, 2]);
      expect(await code(() => store.appendMany('INBOX', [{ content: msg('3') }, { content: msg('4'), flags: ['\\Bogus'] }]))).toBe('PARAMETERS');
      expect((await store.listMessages(inboxId)).map((m) => m.uid)).toEqual([1, 2]);
      expect((await store.getMailbox('INBOX'))!.uidNext).toBe(3);
    });

    test('a spooled file is stored chunk by chunk and reads back across chunk boundaries', async () => {
      const small = t.open('bob', { settings: { bodyChunkBytes: 1024 } });
      const content = Buffer.alloc(5000);
      for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 251;
      const path = join(t.dir, 'spool.eml');
      writeFileSync(path, content);
      const r = await small.append('INBOX', { content: { path, size: content.length } });
      const body = await small.openBody(r.bodyId);
      expect(body.size).toBe(5000);
      expect((await body.read(0, 5000)).equals(content)).toBe(true);
      expect((await body.read(1000, 50)).equals(content.subarray(1000, 1050))).toBe(true); // across 1024
      expect((await body.read(1024, 1024)).equals(content.subarray(1024, 2048))).toBe(true); // exactly one chunk
      expect((await body.read(4990, 100)).equals(content.subarray(4990))).toBe(true); // short at the end
      expect((await body.read(6000, 10)).length).toBe(0);
      expect((await collect(body.slices(1000, 2100))).map((b) => b.length)).toEqual([24, 1024, 1024, 28]);
      expect(await code(() => small.append('INBOX', { content: { path, size: 4999 } }))).toBe('PARAMETERS');
      // The same bytes given as a Buffer read back the same.
      const r2 = await small.append('INBOX', { content });
      expect((await (await small.openBody(r2.bodyId)).read(1020, 10)).equals(content.subarray(1020, 1030))).toBe(true);
    });

    test('a large body staged by one recipient is shared by the next; each reads it back, after the other expunged too', async () => {
      const bob = t.open('bob');
      const content = msg('big', 'y'.repeat(40_000)); // above the default bodyFileThresholdBytes
      let shared: SharedBody | undefined;
      const staged = await store.stageBody(content, { onWritten: (s) => (shared = s) });
      const mine = await store.append('INBOX', { content: staged });
      expect(shared).toBeDefined();
      const theirs = await bob.append('INBOX', { content: await bob.stageBody(content, { linkFrom: shared }) });
      expect(await code(() => store.append('INBOX', { content: staged }))).toBe('PARAMETERS'); // already saved
      expect((await (await store.openBody(mine.bodyId)).read(0, content.length)).equals(content)).toBe(true);
      await store.expunge(inboxId, [mine.uid]);
      const bobInbox = (await bob.getMailbox('INBOX'))!.id;
      expect((await bob.getMessages(bobInbox, [theirs.uid]))[0]!.size).toBe(content.length);
      expect((await (await bob.openBody(theirs.bodyId)).read(0, content.length)).equals(content)).toBe(true);
    });

    test('an empty message is stored', async () => {
      const r = await store.append('INBOX', { content: Buffer.alloc(0) });
      expect((await (await store.openBody(r.bodyId)).read(0, 10)).length).toBe(0);
      expect((await store.getMessages(inboxId, [r.uid]))[0]!.size).toBe(0);
    });
  });

  describe('flags', () => {
    beforeEach(async () => {
      await store.appendMany('INBOX', [{ content: msg('1') }, { content: msg('2'), flags: ['\\Seen'] }, { content: msg('3') }]);
    });

    test('add, remove, set; one modseq per call; unchanged messages keep theirs', async () => {
      const hm = (await store.getMailbox('INBOX'))!.highestModseq;
      const r = await store.storeFlags(inboxId, { uids: [1, 2, 3], operation: 'add', flags: ['\\Seen', 'Todo'] });
      expect(r.changed.map((c) => [c.uid, c.flags, c.oldFlags])).toEqual([
        [1, ['\\Seen', 'Todo'], []],
        [2, ['\\Seen', 'Todo'], ['\\Seen']],
        [3, ['\\Seen', 'Todo'], []],
      ]);
      expect(new Set(r.changed.map((c) => c.modseq))).toEqual(new Set([hm + 1]));
      expect((await store.getMailbox('INBOX'))!.highestModseq).toBe(hm + 1);
      // Keywords are case-insensitive: the first spelling wins.
      const r2 = await store.storeFlags(inboxId, { uids: [1], operation: 'remove', flags: ['TODO', '\\SEEN'] });
      expect(r2.changed[0]!.flags).toEqual([]);
      const r3 = await store.storeFlags(inboxId, { uids: [2], operation: 'set', flags: ['todo', '\\Flagged'] });
      expect(r3.changed[0]!.flags).toEqual(['\\Flagged', 'Todo']);
      // No-op stores change nothing and do not bump the modseq.
      const before = (await store.getMailbox('INBOX'))!.highestModseq;
      expect((await store.storeFlags(inboxId, { uids: [2], operation: 'add', flags: ['\\Flagged'] })).changed).toEqual([]);
      expect((await store.getMailbox('INBOX'))!.highestModseq).toBe(before);
      expect((await store.status('INBOX')).keywords).toEqual(['Todo']);
    });

    test('UNCHANGEDSINCE refuses messages modified later (MODIFIED)', async () => {
      const m = await store.listMessages(inboxId);
      const since = m[0]!.modseq;
      await store.storeFlags(inboxId, { uids: [3], operation: 'add', flags: ['\\Answered'] });
      const r = await store.storeFlags(inboxId, { uids: [1, 3], operation: 'add', flags: ['\\Deleted'], unchangedSince: since });
      expect(r.changed.map((c) => c.uid)).toEqual([1]);
      expect(r.modified).toEqual([3]);
    });

    test('changesSince reports appends, flag changes and expunges in modseq order', async () => {
      const since = (await store.getMailbox('INBOX'))!.highestModseq;
      await store.storeFlags(inboxId, { uids: [1], operation: 'add', flags: ['\\Flagged'] });
      const a = await store.append('INBOX', { content: msg('4') });
      await store.expunge(inboxId, [2]);
      expect((await store.changesSince(inboxId, since)).map((c) => [c.kind, c.uid])).toEqual([
        ['flags', 1],
        ['append', a.uid],
        ['expunge', 2],
      ]);
      expect(await store.changesSince(inboxId, (await store.getMailbox('INBOX'))!.highestModseq)).toEqual([]);
    });
  });

  describe('copy, move, expunge, quota', () => {
    test('copy shares the body, keeps flags, date and GUID, gives new UIDs', async () => {
      await store.createMailbox('Archive');
      const archive = (await store.getMailbox('Archive'))!;
      const date = new Date('2020-01-01T00:00:00Z');
      await store.append('INBOX', { content: msg('1'), flags: ['\\Seen', 'Kw'], internalDate: date });
      await store.append('INBOX', { content: msg('2') });
      await store.append('Archive', { content: msg('z') });
      const r = await store.copy(inboxId, [2, 1], 'Archive');
      expect(r).toEqual({ uidValidity: archive.uidValidity, sourceUids: [1, 2], destUids: [2, 3] });
      const [src] = await store.getMessages(inboxId, [1]);
      const [dst] = await store.getMessages(archive.id, [2]);
      expect(dst!.bodyId).toBe(src!.bodyId);
      expect(dst!.guid).toBe(src!.guid);
      expect(dst!.flags).toEqual(['\\Seen', 'Kw']);
      expect(dst!.internalDate.getTime()).toBe(date.getTime());
      expect((await store.status('Archive')).keywords).toEqual(['Kw']);
      expect((await store.quotaUsage()).messages).toBe(5);
      // Expunging one reference keeps the body for the other, the last one frees it.
      await store.expunge(inboxId, [1]);
      expect((await (await store.openBody(dst!.bodyId)).read(0, 5)).toString()).toBe('From:');
      await store.expunge(archive.id, [2]);
      expect(await code(() => store.openBody(dst!.bodyId))).toBe('EXPUNGEISSUED');
      expect(await code(() => store.copy(inboxId, [2], 'Nope'))).toBe('NONEXISTENT');
    });

    test('move expunges the source in the same transaction', async () => {
      await store.createMailbox('Trash');
      await store.appendMany('INBOX', [{ content: msg('1') }, { content: msg('2') }]);
      const usage = await store.quotaUsage();
      const r = await store.move(inboxId, [1, 2, 77], 'Trash');
      expect(r.sourceUids).toEqual([1, 2]);
      expect(await store.listMessages(inboxId)).toEqual([]);
      expect((await store.status('Trash')).messages).toBe(2);
      expect(await store.quotaUsage()).toEqual(usage);
      // Move within the same mailbox renumbers.
      const trash = (await store.getMailbox('Trash'))!;
      expect((await store.move(trash.id, [1], 'Trash')).destUids).toEqual([3]);
      expect((await store.listMessages(trash.id)).map((m) => m.uid)).toEqual([2, 3]);
    });

    test('expunge returns what it removed and bumps modseq once; quota follows', async () => {
      const r = await store.appendMany('INBOX', [{ content: msg('1') }, { content: msg('22') }, { content: msg('333') }]);
      const total = r.reduce((a, x) => a + x.size, 0);
      expect(await store.quotaUsage()).toEqual({ storageBytes: total, messages: 3 });
      const hm = (await store.getMailbox('INBOX'))!.highestModseq;
      expect(await store.expunge(inboxId, [3, 1, 50])).toEqual([1, 3]);
      expect((await store.getMailbox('INBOX'))!.highestModseq).toBe(hm + 1);
      expect(await store.quotaUsage()).toEqual({ storageBytes: r[1]!.size, messages: 1 });
      expect(await store.expunge(inboxId, [1])).toEqual([]);
      expect(await code(() => store.expunge(inboxId, [0]))).toBe('PARAMETERS');
    });

    test('quota limits refuse appends and copies (OVERQUOTA)', async () => {
      const q = t.open('bob', { quota: { messages: 2 } });
      const box = (await q.getMailbox('INBOX'))!.id;
      await q.append('INBOX', { content: msg('1') });
      await q.append('INBOX', { content: msg('2') });
      expect(await code(() => q.append('INBOX', { content: msg('3') }))).toBe('OVERQUOTA');
      expect(await code(() => q.copy(box, [1], 'INBOX'))).toBe('OVERQUOTA');
      await q.expunge(box, [1]);
      await q.append('INBOX', { content: msg('3') });
      expect((await q.quotaUsage()).messages).toBe(2);
    });
  });

  describe('recent and notices', () => {
    test('\\Recent goes to the first session that claims it', async () => {
      await store.append('INBOX', { content: msg('1') });
      await store.append('INBOX', { content: msg('2'), recentForSession: true });
      expect(await store.status('INBOX')).toMatchObject({ recent: 1, firstRecentUid: 1 });
      const other = t.open();
      expect(await other.claimRecent(inboxId)).toEqual([1]);
      expect(await store.claimRecent(inboxId)).toEqual([]);
      expect(await store.status('INBOX')).toMatchObject({ recent: 0, firstRecentUid: 3 });
      await store.createMailbox('B');
      await store.copy(inboxId, [1, 2], 'B');
      expect((await store.status('B')).recent).toBe(2);
    });

    test('same-thread listeners get notices synchronously after commit, not for failures', async () => {
      const other = t.open();
      const seen: ChangeNotice[] = [];
      const stop = other.onChange((n) => seen.push(n));
      const r = await store.append('INBOX', { content: msg('1') });
      expect(seen).toEqual([{ user: 'alice', mailboxId: inboxId, kind: 'messages', highestModseq: r.modseq }]);
      expect(await code(() => store.append('INBOX', { content: msg('x'), flags: ['\\Nope'] }))).toBe('PARAMETERS');
      // A failure inside the transaction, after the first message got its UID: nothing is told.
      expect(await code(() => store.appendMany('INBOX', [{ content: msg('2') }, { content: msg('3'), uid: 1 }]))).toBe('PARAMETERS');
      expect(seen).toHaveLength(1);
      expect((await store.status('INBOX')).messages).toBe(1);
      await store.createMailbox('N');
      expect(seen.map((n) => n.kind)).toEqual(['messages', 'mailboxes']);
      stop();
      await store.createMailbox('M');
      expect(seen).toHaveLength(2);
    });

    test('a content hash survives close and reopen', async () => {
      const content = msg('persist', 'x'.repeat(200_000));
      const r = await store.append('INBOX', { content });
      await store.close();
      const again = t.open();
      const b = (await (await again.openBody(r.bodyId)).read(0, content.length));
      expect(createHash('sha256').update(b).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
    });
  });

  describe('compact listing', () => {
    test('listMessageFlags matches listMessages', async () => {
      await store.appendMany('INBOX', [{ content: msg('1'), flags: ['\\Draft', 'X'] }, { content: msg('22') }]);
      const full = (await store.listMessages(inboxId)).map((m) => ({ uid: m.uid, modseq: m.modseq, flags: m.flags, size: m.size }));
      expect(await store.listMessageFlags(inboxId)).toEqual(full);
      expect(full[0]!.flags).toEqual(['\\Draft', 'X']);
    });
  });
});
