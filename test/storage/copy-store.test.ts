// copyUserStore (storage/copy-store.ts, `roost migrate-store`) through the storage contract only:
// everything a client sees comes across, an interrupted copy resumes where its last commit left
// off and ends identical, and a destination in use (or holding another source's unfinished copy)
// is refused without being touched. (setMailboxUids and HIGHESTMODSEQ: import-ids.test.ts, on
// both backends.)
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../src/log/logger.js';
import { copyUserStore, openUserStore, type UserStore } from '../../src/storage/index.js';
import { COPY_MARK_ENTRY } from '../../src/storage/copy-store.js';
import { msg } from './helpers/temp-store.js';

let dir: string;
const opened: UserStore[] = [];
beforeEach(() => {
  logHub.setDefaultOutput(false);
  dir = mkdtempSync(join(tmpdir(), 'roost-copy-store-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(file: string): UserStore {
  const s = openUserStore({ username: 'alice', home: join(dir, 'home'), location: `sqlite:~/${file}`, separator: '/' });
  opened.push(s);
  return s;
}

/** A store with a bit of everything: gaps in UIDs, keywords, dates, placeholders, metadata, a large body. */
async function filledStore(): Promise<UserStore> {
  const s = open('source.db');
  await s.setMailboxUids('INBOX', { uidValidity: 1234567 });
  await s.importMessages('INBOX', [
    { content: msg('one'), uid: 3, flags: ['\\Seen', '$Forwarded'], internalDate: new Date('2024-01-02T03:04:05Z'), guid: 'aa'.repeat(16) },
    { content: msg('two', 'y'.repeat(80_000)), uid: 7, flags: ['\\Flagged'], internalDate: new Date('2024-02-02T03:04:05Z') },
    { content: msg('three'), uid: 8, flags: [], internalDate: new Date('2024-03-02T03:04:05Z') },
  ]);
  await s.setMailboxUids('INBOX', { uidNext: 20 });
  await s.createMailbox('Work/Projects', { specialUse: ['\\Archive'] });
  await s.setMailboxUids('Work/Projects', { uidValidity: 555 });
  for (let i = 1; i <= 5; i++) await s.append('Work/Projects', { content: msg(`p${i}`), flags: i % 2 ? ['Project'] : [] });
  await s.expunge((await s.getMailbox('Work/Projects'))!.id, [2]);
  await s.createMailbox('Sent', { specialUse: ['\\Sent'] });
  await s.setSubscribed('Work/Projects', true);
  await s.setSubscribed('Nowhere', true);
  await s.setMetadata('INBOX', '/private/comment', Buffer.from('inbox note'));
  await s.setMetadata('Work/Projects', '/shared/vendor/acme/x', Buffer.from('shared'));
  await s.setMetadata('', '/private/vendor/acme/server', Buffer.from('server'));
  await s.enableModseqTracking((await s.getMailbox('INBOX'))!.id);
  // Many flag changes: INBOX's HIGHESTMODSEQ is well above what importing 3 messages gives.
  const inbox = (await s.getMailbox('INBOX'))!.id;
  for (let i = 0; i < 30; i++) await s.storeFlags(inbox, { uids: [8], operation: i % 2 ? 'remove' : 'add', flags: ['\\Answered'] });
  return s;
}

/** What a client sees, in one comparable value. */
async function view(s: UserStore) {
  const boxes = [];
  for (const b of await s.listMailboxes()) {
    const messages = b.noselect ? [] : await s.listMessages(b.id);
    const bodies: string[] = [];
    for (const m of messages) {
      const body = await s.openBody(m.bodyId);
      bodies.push((await body.read(0, body.size)).toString());
    }
    boxes.push({
      name: b.name,
      noselect: b.noselect,
      // A \Noselect placeholder's are never seen by a client (it cannot be selected).
      uidValidity: b.noselect ? null : b.uidValidity,
      uidNext: b.noselect ? null : b.uidNext,
      specialUse: b.specialUse,
      modseqTracking: b.modseqTracking,
      messages: messages.map((m, i) => ({ uid: m.uid, guid: m.guid, flags: [...m.flags].sort(), date: m.internalDate.toISOString(), size: m.size, body: bodies[i] })),
      metadata: b.noselect
        ? []
        : [...(await s.listMetadata(b.name, '/private', 'infinity')), ...(await s.listMetadata(b.name, '/shared', 'infinity'))].map((e) => [e.entry, e.value.toString()]),
    });
  }
  const server = [...(await s.listMetadata('', '/private', 'infinity')), ...(await s.listMetadata('', '/shared', 'infinity'))].map((e) => [e.entry, e.value.toString()]);
  return { boxes, server, subscriptions: await s.listSubscriptions() };
}

test('everything a client sees comes across, modseqs ascending with the UIDs', async () => {
  const from = await filledStore();
  const to = open('dest.db');
  const progress: string[] = [];
  const r = await copyUserStore(from, to, { source: 'source', onMailbox: (p) => progress.push(`${p.mailbox}:${p.copied}`) });
  expect(r).toEqual({ mailboxes: 3, messages: 7, resumed: false });
  expect(progress).toEqual(['INBOX:3', 'Sent:0', 'Work/Projects:4']);
  const expected = await view(from);
  expect(await view(to)).toEqual(expected);
  // The fixture is what the comparison is about.
  expect(expected.boxes.map((b) => b.name)).toEqual(['INBOX', 'Sent', 'Work', 'Work/Projects']);
  expect(expected.boxes[0]).toMatchObject({ uidValidity: 1234567, uidNext: 20, modseqTracking: true });
  expect(expected.server).toEqual([['/private/vendor/acme/server', 'server']]);
  // HIGHESTMODSEQ never below the source's (what a QRESYNC client cached).
  for (const b of await from.listMailboxes()) {
    if (!b.noselect) expect((await to.getMailbox(b.name))!.highestModseq).toBeGreaterThanOrEqual(b.highestModseq);
  }
  expect((await from.getMailbox('INBOX'))!.highestModseq).toBeGreaterThan(30);
  const work = await to.listMessages((await to.getMailbox('Work/Projects'))!.id);
  expect(work.map((m) => m.uid)).toEqual([1, 3, 4, 5]);
  expect(work.map((m) => m.modseq)).toEqual([...work.map((m) => m.modseq)].sort((a, b) => a - b));
  // No mark left behind, and nothing is \Recent in the copy.
  expect(await to.getMetadata('', [COPY_MARK_ENTRY])).toEqual([]);
  expect((await to.status('INBOX')).recent).toBe(0);
});

test('interrupted in the middle of a mailbox: the next run resumes and ends identical', async () => {
  const from = await filledStore();
  const to = open('dest.db');
  // The destination fails on its second import (batches of two: INBOX's second batch).
  let imports = 0;
  const failing = new Proxy(to, {
    get(target, prop, receiver) {
      if (prop === 'importMessages') {
        return (...args: Parameters<UserStore['importMessages']>) => {
          if (++imports === 2) throw new Error('connection lost');
          return target.importMessages(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  await expect(copyUserStore(from, failing, { source: 'source', batchMessages: 2 })).rejects.toThrow('connection lost');
  expect((await to.getMetadata('', [COPY_MARK_ENTRY]))[0]?.value.toString()).toBe('source');
  expect((await to.listMessages((await to.getMailbox('INBOX'))!.id)).map((m) => m.uid)).toEqual([3, 7]);

  // Another source may not finish it.
  await expect(copyUserStore(from, to, { source: 'elsewhere' })).rejects.toThrow(/unfinished copy of another store \(source\)/);

  const progress: string[] = [];
  const r = await copyUserStore(from, to, { source: 'source', batchMessages: 2, onMailbox: (p) => progress.push(`${p.mailbox}:${p.copied}+${p.present}`) });
  expect(r).toEqual({ mailboxes: 3, messages: 7, resumed: true });
  expect(progress).toEqual(['INBOX:1+2', 'Sent:0+0', 'Work/Projects:4+0']);
  expect(await view(to)).toEqual(await view(from));
});

test('a destination in use is refused and left as it was', async () => {
  const from = await filledStore();
  for (const use of [
    async (s: UserStore) => void (await s.append('INBOX', { content: msg('mine') })),
    async (s: UserStore) => void (await s.createMailbox('Mine')),
    async (s: UserStore) => s.setSubscribed('Mine', true),
    async (s: UserStore) => s.setMetadata('', '/private/mine', Buffer.from('x')),
  ]) {
    const file = `dest-${opened.length}.db`;
    const to = open(file);
    await use(to);
    const before = await view(to);
    await expect(copyUserStore(from, to, { source: 'source' })).rejects.toMatchObject({ code: 'ALREADYEXISTS', message: 'The destination is not empty' });
    expect(await view(to)).toEqual(before);
  }
});
