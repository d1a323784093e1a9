// The storage calls `roost import` uses to keep a source's UIDs, UIDVALIDITY and GUIDs.
import { beforeEach, expect, test } from '@jest/globals';
import type { UserStore } from '../../src/storage/index.js';
import { describeEachBackend, errorCode, msg } from './helpers/backends.js';

describeEachBackend('import ids', (t) => {
  let store: UserStore;
  beforeEach(() => {
    store = t.open();
  });

  test('append with a source UID and GUID: gaps kept, UIDNEXT follows, a UID below UIDNEXT refused', async () => {
    const a = await store.append('INBOX', { content: msg('a'), uid: 3, guid: '1700000000.M1P1.host' });
    const b = await store.append('INBOX', { content: msg('b'), uid: 7 });
    const c = await store.append('INBOX', { content: msg('c') });
    expect([a.uid, b.uid, c.uid]).toEqual([3, 7, 8]);
    const inbox = (await store.getMailbox('INBOX'))!;
    expect((await store.listMessages(inbox.id))[0]!.guid).toBe('1700000000.M1P1.host');
    expect(await errorCode(() => store.append('INBOX', { content: msg('d'), uid: 8 }))).toBe('PARAMETERS');
    expect(await errorCode(() => store.append('INBOX', { content: msg('d'), uid: 2 ** 32 }))).toBe('PARAMETERS');
    expect((await store.listMessages(inbox.id)).map((m) => m.uid)).toEqual([3, 7, 8]);
  });

  test('setMailboxUids: UIDVALIDITY only while no UID was handed out; UIDNEXT only grows', async () => {
    await store.createMailbox('Fresh');
    expect(await store.setMailboxUids('Fresh', { uidValidity: 1234, uidNext: 10 })).toMatchObject({ uidValidity: 1234, uidNext: 10 });
    expect((await store.setMailboxUids('Fresh', { uidNext: 4 })).uidNext).toBe(10);
    expect(await errorCode(() => store.setMailboxUids('Fresh', { uidValidity: 99 }))).toBe('INUSE');
    await store.append('INBOX', { content: msg('x') });
    expect(await errorCode(() => store.setMailboxUids('INBOX', { uidValidity: 99 }))).toBe('INUSE');
    expect(await errorCode(() => store.setMailboxUids('INBOX', { uidValidity: 0 }))).toBe('PARAMETERS');
    expect(await errorCode(() => store.setMailboxUids('Missing', { uidNext: 5 }))).toBe('NONEXISTENT');
  });

  test('a mailbox re-created after taking over a UIDVALIDITY gets a different one', async () => {
    await store.createMailbox('Taken');
    const future = Math.floor(Date.now() / 1000) + 3600;
    await store.setMailboxUids('Taken', { uidValidity: future });
    await store.deleteMailbox('Taken');
    expect((await store.createMailbox('Taken')).uidValidity).toBeGreaterThan(future);
  });

  test('setMailboxUids raises HIGHESTMODSEQ (never lowers it), and the next change goes above it', async () => {
    const inbox = await store.append('INBOX', { content: msg('x') });
    expect((await store.getMailbox('INBOX'))!.highestModseq).toBeLessThan(500);
    expect((await store.setMailboxUids('INBOX', { highestModseq: 500 })).highestModseq).toBe(500);
    expect((await store.setMailboxUids('INBOX', { highestModseq: 3 })).highestModseq).toBe(500);
    const changed = await store.storeFlags(inbox.mailboxId, { uids: [inbox.uid], operation: 'add', flags: ['\\Seen'] });
    expect(changed.changed[0]!.modseq).toBe(501);
    expect((await store.changesSince(inbox.mailboxId, 500)).map((c) => c.uid)).toEqual([inbox.uid]);
    expect(await errorCode(() => store.setMailboxUids('INBOX', { highestModseq: -1 }))).toBe('PARAMETERS');
  });
});
