import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { StorageError, type SyncUserStore } from '../../src/storage/index.js';
import { msg, tempStores, type TempStores, errorCode } from './helpers/temp-store.js';

let t: TempStores;
let store: SyncUserStore;
beforeEach(() => {
  t = tempStores();
  store = t.open();
});
afterEach(() => t.cleanup());

const names = () => store.listMailboxes().map((m) => `${m.name}${m.noselect ? ' (noselect)' : ''}`);
const code = errorCode;

describe('mailboxes', () => {
  test('a new store has INBOX, found case-insensitively', () => {
    expect(names()).toEqual(['INBOX']);
    expect(store.getMailbox('inbox')?.name).toBe('INBOX');
    expect(store.getMailbox('InBox')?.uidNext).toBe(1);
    expect(store.getMailbox('INBOX')?.highestModseq).toBe(1);
  });

  test('create makes \\Noselect parents; creating a parent later makes it selectable', () => {
    store.createMailbox('Work/2024/Q1');
    expect(names()).toEqual(['INBOX', 'Work (noselect)', 'Work/2024 (noselect)', 'Work/2024/Q1']);
    expect(code(() => store.status('Work'))).toBe('NONEXISTENT');
    store.createMailbox('Work');
    expect(store.getMailbox('Work')?.noselect).toBe(false);
    expect(code(() => store.createMailbox('Work'))).toBe('ALREADYEXISTS');
    expect(code(() => store.createMailbox('inbox'))).toBe('ALREADYEXISTS');
  });

  test('INBOX children are normalized to INBOX/...', () => {
    store.createMailbox('inbox/Sub');
    expect(store.getMailbox('INBOX/Sub')?.name).toBe('INBOX/Sub');
    expect(store.getMailbox('Inbox/Sub')).toBeDefined();
    expect(store.getMailbox('INBOXY')).toBeUndefined();
  });

  test('bad names are refused with PARAMETERS', () => {
    for (const bad of ['', '/a', 'a/', 'a//b', 'a*', 'b%', 'x\u0001', 'a'.repeat(256), Array(20).fill('x').join('/')]) {
      expect([bad, code(() => store.createMailbox(bad))]).toEqual([bad, 'PARAMETERS']);
    }
    expect(store.createMailbox('Ünïcødé ✓').name).toBe('Ünïcødé ✓');
  });

  test('UIDVALIDITY is unique per creation, even when recreated in the same second', () => {
    const a = store.createMailbox('A').uidValidity;
    store.deleteMailbox('A');
    const b = store.createMailbox('A').uidValidity;
    const c = store.createMailbox('C').uidValidity;
    expect(new Set([a, b, c, store.getMailbox('INBOX')!.uidValidity]).size).toBe(4);
    expect(b).toBeGreaterThan(a);
  });

  test('delete: INBOX refused, children keep the parent as \\Noselect, messages go', () => {
    expect(code(() => store.deleteMailbox('inbox'))).toBe('NOPERM');
    expect(code(() => store.deleteMailbox('Nope'))).toBe('NONEXISTENT');
    store.createMailbox('P');
    store.createMailbox('P/C');
    store.append('P', { content: msg('one') });
    store.deleteMailbox('P');
    expect(names()).toEqual(['INBOX', 'P (noselect)', 'P/C']);
    expect(store.quotaUsage()).toEqual({ storageBytes: 0, messages: 0 });
    expect(code(() => store.deleteMailbox('P'))).toBe('NOPERM');
    store.deleteMailbox('P/C');
    // The placeholder only existed for its child.
    expect(names()).toEqual(['INBOX']);
  });

  test('rename moves children and subscriptions, keeps UIDVALIDITY and messages', () => {
    store.createMailbox('A/B/C');
    store.createMailbox('A/B');
    store.setSubscribed('A/B/C', true);
    const before = store.getMailbox('A/B')!;
    store.append('A/B', { content: msg('x') });
    store.renameMailbox('A/B', 'X/Y');
    expect(names()).toEqual(['INBOX', 'X (noselect)', 'X/Y', 'X/Y/C']);
    const after = store.getMailbox('X/Y')!;
    expect(after.id).toBe(before.id);
    expect(after.uidValidity).toBe(before.uidValidity);
    expect(store.status('X/Y').messages).toBe(1);
    expect(store.listSubscriptions()).toEqual(['X/Y/C']);
    expect(code(() => store.renameMailbox('X/Y', 'X/Y/Z'))).toBe('PARAMETERS');
    expect(code(() => store.renameMailbox('X/Y', 'INBOX'))).toBe('ALREADYEXISTS');
    expect(code(() => store.renameMailbox('Nope', 'Q'))).toBe('NONEXISTENT');
  });

  test('renaming INBOX moves its messages and leaves an empty INBOX; INBOX children stay', () => {
    store.createMailbox('INBOX/Child');
    const inbox = store.getMailbox('INBOX')!;
    store.append('INBOX', { content: msg('1'), flags: ['\\Seen', 'Work'] });
    store.append('INBOX', { content: msg('2') });
    store.renameMailbox('INBOX', 'Old');
    expect(names()).toEqual(['INBOX', 'INBOX/Child', 'Old']);
    const old = store.getMailbox('Old')!;
    expect(store.listMessages(old.id).map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen', 'Work']],
      [2, []],
    ]);
    expect(store.status('Old')).toMatchObject({ messages: 2, uidNext: 3, keywords: ['Work'] });
    expect(store.status('INBOX')).toMatchObject({ messages: 0, uidNext: 3 });
    expect(store.getMailbox('INBOX')!.id).toBe(inbox.id);
    // Sessions on INBOX learn that both messages went away.
    expect(store.changesSince(inbox.id, inbox.highestModseq + 2).map((c) => [c.kind, c.uid])).toEqual([
      ['expunge', 1],
      ['expunge', 2],
    ]);
  });

  test('subscriptions may name nonexistent mailboxes and survive delete', () => {
    store.setSubscribed('Ghost', true);
    store.createMailbox('Real');
    store.setSubscribed('Real', true);
    store.setSubscribed('inbox', true);
    expect(store.listSubscriptions()).toEqual(['Ghost', 'INBOX', 'Real']);
    expect(store.getMailbox('Real')?.subscribed).toBe(true);
    store.deleteMailbox('Real');
    expect(store.listSubscriptions()).toContain('Real');
    store.setSubscribed('Ghost', false);
    expect(store.listSubscriptions()).toEqual(['INBOX', 'Real']);
  });

  test('special-use attributes are validated and canonicalized', () => {
    store.createMailbox('Sent', { specialUse: ['\\sent'] });
    expect(store.getMailbox('Sent')?.specialUse).toEqual(['\\Sent']);
    store.setSpecialUse('Sent', ['\\Sent', '\\Archive']);
    expect(store.getMailbox('Sent')?.specialUse).toEqual(['\\Sent', '\\Archive']);
    expect(code(() => store.createMailbox('X', { specialUse: ['\\Bogus'] }))).toBe('PARAMETERS');
  });

  test('another separator is honoured and a changed separator is refused', () => {
    const dotted = t.open('bob', { separator: '.' });
    dotted.createMailbox('a.b');
    expect(dotted.listMailboxes().map((m) => m.name)).toEqual(['INBOX', 'a', 'a.b']);
    dotted.close();
    expect(() => t.open('bob', { separator: '/' })).toThrow(/separator/);
  });

  test('mailbox count limit', () => {
    const small = t.open('carol', { settings: { maxMailboxes: 3 } });
    small.createMailbox('a');
    small.createMailbox('b');
    expect(code(() => small.createMailbox('c'))).toBe('LIMIT');
  });

  test('bad settings are refused clearly', () => {
    expect(() => t.open('dave', { settings: { bodyChunkBytes: -1 } })).toThrow(/bodyChunkBytes/);
  });
});
