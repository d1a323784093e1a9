import { beforeEach, expect, test } from '@jest/globals';
import type { UserStore } from '../../src/storage/index.js';
import { describeEachBackend, errorCode, msg } from './helpers/backends.js';

const code = errorCode;

describeEachBackend('mailboxes', (t) => {
  let store: UserStore;
  beforeEach(() => {
    store = t.open();
  });
  const names = async () => (await store.listMailboxes()).map((m) => `${m.name}${m.noselect ? ' (noselect)' : ''}`);

  test('a new store has INBOX, found case-insensitively', async () => {
    expect(await names()).toEqual(['INBOX']);
    expect((await store.getMailbox('inbox'))?.name).toBe('INBOX');
    expect((await store.getMailbox('InBox'))?.uidNext).toBe(1);
    expect((await store.getMailbox('INBOX'))?.highestModseq).toBe(1);
  });

  test('create makes \\Noselect parents; creating a parent later makes it selectable', async () => {
    await store.createMailbox('Work/2024/Q1');
    expect(await names()).toEqual(['INBOX', 'Work (noselect)', 'Work/2024 (noselect)', 'Work/2024/Q1']);
    expect(await code(() => store.status('Work'))).toBe('NONEXISTENT');
    await store.createMailbox('Work');
    expect((await store.getMailbox('Work'))?.noselect).toBe(false);
    expect(await code(() => store.createMailbox('Work'))).toBe('ALREADYEXISTS');
    expect(await code(() => store.createMailbox('inbox'))).toBe('ALREADYEXISTS');
  });

  test('INBOX children are normalized to INBOX/...', async () => {
    await store.createMailbox('inbox/Sub');
    expect((await store.getMailbox('INBOX/Sub'))?.name).toBe('INBOX/Sub');
    expect(await store.getMailbox('Inbox/Sub')).toBeDefined();
    expect(await store.getMailbox('INBOXY')).toBeUndefined();
  });

  test('bad names are refused with PARAMETERS', async () => {
    for (const bad of ['', '/a', 'a/', 'a//b', 'a*', 'b%', 'x\u0001', 'a'.repeat(256), Array(20).fill('x').join('/')]) {
      expect([bad, await code(() => store.createMailbox(bad))]).toEqual([bad, 'PARAMETERS']);
    }
    expect((await store.createMailbox('Ünïcødé ✓')).name).toBe('Ünïcødé ✓');
  });

  test('UIDVALIDITY is unique per creation, even when recreated in the same second', async () => {
    const a = (await store.createMailbox('A')).uidValidity;
    await store.deleteMailbox('A');
    const b = (await store.createMailbox('A')).uidValidity;
    const c = (await store.createMailbox('C')).uidValidity;
    expect(new Set([a, b, c, (await store.getMailbox('INBOX'))!.uidValidity]).size).toBe(4);
    expect(b).toBeGreaterThan(a);
  });

  test('delete: INBOX refused, children keep the parent as \\Noselect, messages go', async () => {
    expect(await code(() => store.deleteMailbox('inbox'))).toBe('NOPERM');
    expect(await code(() => store.deleteMailbox('Nope'))).toBe('NONEXISTENT');
    await store.createMailbox('P');
    await store.createMailbox('P/C');
    await store.append('P', { content: msg('one') });
    await store.deleteMailbox('P');
    expect(await names()).toEqual(['INBOX', 'P (noselect)', 'P/C']);
    expect(await store.quotaUsage()).toEqual({ storageBytes: 0, messages: 0 });
    expect(await code(() => store.deleteMailbox('P'))).toBe('NOPERM');
    await store.deleteMailbox('P/C');
    // The placeholder only existed for its child.
    expect(await names()).toEqual(['INBOX']);
  });

  test('rename moves children and subscriptions, keeps UIDVALIDITY and messages', async () => {
    await store.createMailbox('A/B/C');
    await store.createMailbox('A/B');
    await store.setSubscribed('A/B/C', true);
    const before = (await store.getMailbox('A/B'))!;
    await store.append('A/B', { content: msg('x') });
    await store.renameMailbox('A/B', 'X/Y');
    expect(await names()).toEqual(['INBOX', 'X (noselect)', 'X/Y', 'X/Y/C']);
    const after = (await store.getMailbox('X/Y'))!;
    expect(after.id).toBe(before.id);
    expect(after.uidValidity).toBe(before.uidValidity);
    expect((await store.status('X/Y')).messages).toBe(1);
    expect(await store.listSubscriptions()).toEqual(['X/Y/C']);
    expect(await code(() => store.renameMailbox('X/Y', 'X/Y/Z'))).toBe('PARAMETERS');
    expect(await code(() => store.renameMailbox('X/Y', 'INBOX'))).toBe('ALREADYEXISTS');
    expect(await code(() => store.renameMailbox('Nope', 'Q'))).toBe('NONEXISTENT');
  });

  test('renaming INBOX moves its messages and leaves an empty INBOX; INBOX children stay', async () => {
    await store.createMailbox('INBOX/Child');
    const inbox = (await store.getMailbox('INBOX'))!;
    await store.append('INBOX', { content: msg('1'), flags: ['\\Seen', 'Work'] });
    await store.append('INBOX', { content: msg('2') });
    await store.renameMailbox('INBOX', 'Old');
    expect(await names()).toEqual(['INBOX', 'INBOX/Child', 'Old']);
    const old = (await store.getMailbox('Old'))!;
    expect((await store.listMessages(old.id)).map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen', 'Work']],
      [2, []],
    ]);
    expect(await store.status('Old')).toMatchObject({ messages: 2, uidNext: 3, keywords: ['Work'] });
    expect(await store.status('INBOX')).toMatchObject({ messages: 0, uidNext: 3 });
    expect((await store.getMailbox('INBOX'))!.id).toBe(inbox.id);
    // Sessions on INBOX learn that both messages went away.
    expect((await store.changesSince(inbox.id, inbox.highestModseq + 2)).map((c) => [c.kind, c.uid])).toEqual([
      ['expunge', 1],
      ['expunge', 2],
    ]);
  });

  test('subscriptions may name nonexistent mailboxes and survive delete', async () => {
    await store.setSubscribed('Ghost', true);
    await store.createMailbox('Real');
    await store.setSubscribed('Real', true);
    await store.setSubscribed('inbox', true);
    expect(await store.listSubscriptions()).toEqual(['Ghost', 'INBOX', 'Real']);
    expect((await store.getMailbox('Real'))?.subscribed).toBe(true);
    await store.deleteMailbox('Real');
    expect(await store.listSubscriptions()).toContain('Real');
    await store.setSubscribed('Ghost', false);
    expect(await store.listSubscriptions()).toEqual(['INBOX', 'Real']);
  });

  test('special-use attributes are validated and canonicalized', async () => {
    await store.createMailbox('Sent', { specialUse: ['\\sent'] });
    expect((await store.getMailbox('Sent'))?.specialUse).toEqual(['\\Sent']);
    await store.setSpecialUse('Sent', ['\\Sent', '\\Archive']);
    expect((await store.getMailbox('Sent'))?.specialUse).toEqual(['\\Sent', '\\Archive']);
    expect(await code(() => store.createMailbox('X', { specialUse: ['\\Bogus'] }))).toBe('PARAMETERS');
  });

  test('another separator is honoured and a changed separator is refused', async () => {
    const dotted = t.open('bob', { separator: '.' });
    await dotted.createMailbox('a.b');
    expect((await dotted.listMailboxes()).map((m) => m.name)).toEqual(['INBOX', 'a', 'a.b']);
    await dotted.close();
    expect(await code(() => t.open('bob', { separator: '/' }).listMailboxes())).toBe('PARAMETERS');
  });

  test('mailbox count limit', async () => {
    const small = t.open('carol', { settings: { maxMailboxes: 3 } });
    await small.createMailbox('a');
    await small.createMailbox('b');
    expect(await code(() => small.createMailbox('c'))).toBe('LIMIT');
  });

  test('bad settings are refused clearly', async () => {
    expect(() => t.open('dave', { settings: { bodyChunkBytes: -1 } })).toThrow(/bodyChunkBytes/);
  });
});
