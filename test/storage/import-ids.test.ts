// The storage calls `roost import` uses to keep a source's UIDs, UIDVALIDITY and GUIDs.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import type { SyncUserStore } from '../../src/storage/index.js';
import { errorCode, msg, tempStores, type TempStores } from './helpers/temp-store.js';

let t: TempStores;
let store: SyncUserStore;
beforeEach(() => {
  t = tempStores();
  store = t.open();
});
afterEach(() => t.cleanup());

test('append with a source UID and GUID: gaps kept, UIDNEXT follows, a UID below UIDNEXT refused', () => {
  const a = store.append('INBOX', { content: msg('a'), uid: 3, guid: '1700000000.M1P1.host' });
  const b = store.append('INBOX', { content: msg('b'), uid: 7 });
  const c = store.append('INBOX', { content: msg('c') });
  expect([a.uid, b.uid, c.uid]).toEqual([3, 7, 8]);
  const inbox = store.getMailbox('INBOX')!;
  expect(store.listMessages(inbox.id)[0]!.guid).toBe('1700000000.M1P1.host');
  expect(errorCode(() => store.append('INBOX', { content: msg('d'), uid: 8 }))).toBe('PARAMETERS');
  expect(errorCode(() => store.append('INBOX', { content: msg('d'), uid: 2 ** 32 }))).toBe('PARAMETERS');
  expect(store.listMessages(inbox.id).map((m) => m.uid)).toEqual([3, 7, 8]);
});

test('setMailboxUids: UIDVALIDITY only while no UID was handed out; UIDNEXT only grows', () => {
  store.createMailbox('Fresh');
  expect(store.setMailboxUids('Fresh', { uidValidity: 1234, uidNext: 10 })).toMatchObject({ uidValidity: 1234, uidNext: 10 });
  expect(store.setMailboxUids('Fresh', { uidNext: 4 }).uidNext).toBe(10);
  expect(errorCode(() => store.setMailboxUids('Fresh', { uidValidity: 99 }))).toBe('INUSE');
  store.append('INBOX', { content: msg('x') });
  expect(errorCode(() => store.setMailboxUids('INBOX', { uidValidity: 99 }))).toBe('INUSE');
  expect(errorCode(() => store.setMailboxUids('INBOX', { uidValidity: 0 }))).toBe('PARAMETERS');
  expect(errorCode(() => store.setMailboxUids('Missing', { uidNext: 5 }))).toBe('NONEXISTENT');
});

test('a mailbox re-created after taking over a UIDVALIDITY gets a different one', () => {
  store.createMailbox('Taken');
  const future = Math.floor(Date.now() / 1000) + 3600;
  store.setMailboxUids('Taken', { uidValidity: future });
  store.deleteMailbox('Taken');
  expect(store.createMailbox('Taken').uidValidity).toBeGreaterThan(future);
});
