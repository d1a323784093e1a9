// The mail-event feed (UserStore.onMailEvents, mail-events.ts) on both backends: one record per
// committed transaction, the events in the order they happened, attributed to the actor of the
// call, and a rolled-back transaction that had recorded events reported as not committed.
import { beforeEach, expect, test } from '@jest/globals';
import type { MailTransactionEvents, UserStore } from '../../src/storage/index.js';
import { savedMessage } from '../../src/storage/mail-events.js';
import { parseMessage } from '../../src/mime/parser.js';
import { describeEachBackend, errorCode, msg } from './helpers/backends.js';

describeEachBackend('mail events', (t) => {
  let store: UserStore;
  let records: MailTransactionEvents[];
  beforeEach(() => {
    store = t.open();
    records = [];
    store.onMailEvents((txn) => records.push(txn));
  });

  /** The records so far, without ids that differ between runs; then forgets them. */
  const take = () => {
    const out = records.map((r) => ({
      committed: r.committed,
      events: r.events.map((e) => {
        const { mailboxId: _m, uidValidity: _v, bodyId: _b, ...rest } = e as Record<string, unknown>;
        return rest;
      }),
    }));
    records = [];
    return out;
  };

  test('mailbox changes, saves, flag changes, copies, moves and expunges, in order', async () => {
    await store.status('INBOX');
    expect(take()).toEqual([{ committed: true, events: [{ type: 'MailboxCreate', mailbox: 'INBOX' }] }]);
    await store.status('INBOX'); // INBOX is announced once
    await store.createMailbox('Work');
    await store.setSubscribed('Work', true);
    const [a] = await store.appendMany('INBOX', [{ content: msg('1'), flags: ['$Kw'], origin: 'delivery' }, { content: msg('2') }]);
    const inbox = a!.mailboxId;
    await store.storeFlags(inbox, { uids: [1, 2], operation: 'add', flags: ['\\Seen'], recentUids: [2] });
    expect(take()).toEqual([
      { committed: true, events: [{ type: 'MailboxCreate', mailbox: 'Work' }] },
      { committed: true, events: [{ type: 'MailboxSubscribe', mailbox: 'Work' }] },
      {
        committed: true,
        events: [
          { type: 'MessageSave', origin: 'delivery', mailbox: 'INBOX', uid: 1, flags: ['$Kw'] },
          { type: 'MessageSave', origin: 'append', mailbox: 'INBOX', uid: 2, flags: [] },
        ],
      },
      {
        committed: true,
        events: [
          { type: 'MessageFlags', mailbox: 'INBOX', uid: 1, oldFlags: ['$Kw'], newFlags: ['\\Seen', '$Kw'], oldRecent: false },
          { type: 'MessageFlags', mailbox: 'INBOX', uid: 2, oldFlags: [], newFlags: ['\\Seen'], oldRecent: true },
        ],
      },
    ]);
    await store.copy(inbox, [1], 'Work');
    await store.move(inbox, [2], 'Work');
    await store.renameMailbox('Work', 'Done');
    await store.deleteMailbox('Done');
    expect(take()).toEqual([
      { committed: true, events: [{ type: 'MessageSave', origin: 'copy', mailbox: 'Work', uid: 1, flags: ['\\Seen', '$Kw'] }] },
      {
        committed: true,
        events: [
          { type: 'MessageSave', origin: 'copy', mailbox: 'Work', uid: 2, flags: ['\\Seen'] },
          { type: 'MessageExpunge', mailbox: 'INBOX', uid: 2 },
        ],
      },
      { committed: true, events: [{ type: 'MailboxRename', mailbox: 'Done', oldMailbox: 'Work' }] },
      {
        committed: true,
        events: [
          { type: 'MessageExpunge', mailbox: 'Done', uid: 1 },
          { type: 'MessageExpunge', mailbox: 'Done', uid: 2 },
          { type: 'MailboxDelete', mailbox: 'Done' },
        ],
      },
    ]);
  });

  test('a transaction that fails after recording events is reported as not committed; a failed check records nothing', async () => {
    await store.status('INBOX');
    take();
    expect(await errorCode(() => store.appendMany('INBOX', [{ content: msg('1') }, { content: msg('2'), uid: 1 }]))).toBe('PARAMETERS');
    expect(await errorCode(() => store.append('INBOX', { content: msg('3'), flags: ['\\Bogus'] }))).toBe('PARAMETERS');
    expect(take()).toEqual([{ committed: false, events: [] }]);
  });

  test('INBOX is announced in a transaction of its own before whatever first opens it', async () => {
    const create = { committed: true, events: [{ type: 'MailboxCreate', mailbox: 'INBOX' }] };
    await store.appendMany('INBOX', [{ content: msg('1'), origin: 'delivery' }]);
    expect(take()).toEqual([create, { committed: true, events: [{ type: 'MessageSave', origin: 'delivery', mailbox: 'INBOX', uid: 1, flags: [] }] }]);

    const bob = t.open('bob');
    bob.onMailEvents((txn) => records.push(txn));
    await bob.openMailboxView('INBOX', true);
    await bob.openMailboxView('INBOX', true);
    expect(take()).toEqual([create]);

    // A refused input: INBOX was opened before the input was looked at.
    const carol = t.open('carol');
    carol.onMailEvents((txn) => records.push(txn));
    expect(await errorCode(() => carol.append('INBOX', { content: msg('2'), flags: ['\\Bogus'] }))).toBe('PARAMETERS');
    expect(take()).toEqual([create]);

    // RENAME INBOX leaves a new, unannounced INBOX behind; a COPY into it announces it first.
    await store.renameMailbox('INBOX', 'Old');
    const old = await store.getMailbox('Old');
    take();
    await store.copy(old!.id, [1], 'INBOX');
    expect(take()).toEqual([create, { committed: true, events: [{ type: 'MessageSave', origin: 'copy', mailbox: 'INBOX', uid: expect.any(Number), flags: [] }] }]);
  });

  test('a message saved from memory with its MIME structure is kept with its MessageSave event; others are not', async () => {
    await store.status('INBOX');
    take();
    const content = msg('kept');
    const mimeStructure = parseMessage(content);
    await store.appendMany('INBOX', [{ content, mimeStructure, origin: 'delivery' }, { content: msg('no structure') }]);
    const [saved, bare] = records[0]!.events;
    expect(savedMessage(saved!)).toEqual({ content, mimeStructure });
    expect(savedMessage(bare!)).toBeUndefined();
    const inbox = (await store.getMailbox('INBOX'))!.id;
    await store.createMailbox('Copies');
    records = [];
    await store.copy(inbox, [1], 'Copies');
    expect(savedMessage(records[0]!.events[0]!)).toBeUndefined();
  });

  test('each record names the actor of the call that made it, also when calls overlap', async () => {
    const alice = { session: 1 };
    const bob = { session: 2 };
    await store.status('INBOX');
    records = [];
    await Promise.all([
      store.withActor(alice, () => store.createMailbox('FromAlice')),
      store.withActor(bob, () => store.append('INBOX', { content: msg('from bob') })),
    ]);
    const byActor = new Map(records.map((r) => [r.actor, r.events.map((e) => e.type)]));
    expect(byActor.get(alice)).toEqual(['MailboxCreate']);
    expect(byActor.get(bob)).toEqual(['MessageSave']);
    expect(records.every((r) => r.user === 'alice')).toBe(true);
  });
});
