import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { isDovecotInternalEntry, StorageError, type SyncUserStore } from '../../src/storage/index.js';
import { tempStores, type TempStores, errorCode } from './helpers/temp-store.js';

let t: TempStores;
let store: SyncUserStore;
beforeEach(() => {
  t = tempStores();
  store = t.open();
});
afterEach(() => t.cleanup());

const code = errorCode;
const show = (entries: { entry: string; value: Buffer }[]) => entries.map((e) => `${e.entry}=${e.value.toString()}`);

describe('metadata (RFC 5464)', () => {
  test('server and mailbox metadata are separate; names are case-insensitive; values binary', () => {
    store.setMetadata('', '/private/Comment', Buffer.from('server'));
    store.setMetadata('INBOX', '/private/comment', Buffer.from('inbox'));
    store.setMetadata('INBOX', '/shared/bin', Buffer.from([0, 255, 10]));
    expect(show(store.getMetadata('', ['/PRIVATE/COMMENT', '/private/missing']))).toEqual(['/private/Comment=server']);
    expect(show(store.getMetadata('inbox', ['/private/comment']))).toEqual(['/private/comment=inbox']);
    expect(store.getMetadata('INBOX', ['/shared/bin'])[0]!.value).toEqual(Buffer.from([0, 255, 10]));
    store.setMetadata('', '/private/comment', null);
    expect(store.getMetadata('', ['/private/comment'])).toEqual([]);
  });

  test('bad entries and missing mailboxes are refused', () => {
    for (const bad of ['/other/x', 'private/x', '/private/', '/private/a//b', '/private/a/', '/private/a*', '/shared/%', '/private/\u0001']) {
      expect([bad, code(() => store.setMetadata('', bad, Buffer.from('v')))]).toEqual([bad, 'PARAMETERS']);
    }
    expect(code(() => store.getMetadata('Nope', ['/private/x']))).toBe('NONEXISTENT');
    expect(code(() => store.setMetadata('Nope', '/private/x', Buffer.from('v')))).toBe('NONEXISTENT');
  });

  test('listMetadata honours depth', () => {
    for (const e of ['/private/a', '/private/a/b', '/private/a/b/c', '/private/ab', '/shared/a/x']) {
      store.setMetadata('INBOX', e, Buffer.from(e));
    }
    const names = (p: string, d: 0 | 1 | 'infinity') => store.listMetadata('INBOX', p, d).map((e) => e.entry);
    expect(names('/private/a', 0)).toEqual(['/private/a']);
    expect(names('/private/a', 1)).toEqual(['/private/a', '/private/a/b']);
    expect(names('/private/a', 'infinity')).toEqual(['/private/a', '/private/a/b', '/private/a/b/c']);
    expect(names('/private/', 1)).toEqual(['/private/a', '/private/ab']);
    expect(names('/PRIVATE', 'infinity')).toHaveLength(4);
  });

  test("Dovecot's vendor entries are storable; the internal ones are recognisable", () => {
    const e = '/private/vendor/vendor.dovecot/pvt/server/a/b';
    store.setMetadata('INBOX', e, Buffer.from('v1'));
    expect(show(store.listMetadata('INBOX', '/private/vendor/vendor.dovecot', 'infinity'))).toEqual([`${e}=v1`]);
    expect(isDovecotInternalEntry(e)).toBe(true);
    expect(isDovecotInternalEntry('/shared/vendor/vendor.dovecot/webpush')).toBe(false);
  });

  test('limits: value size (TOOBIG) and entry count (LIMIT)', () => {
    const small = t.open('bob', { settings: { metadataMaxValueBytes: 4, metadataMaxEntries: 2 } });
    expect(code(() => small.setMetadata('', '/private/a', Buffer.from('12345')))).toBe('TOOBIG');
    small.setMetadata('', '/private/a', Buffer.from('1'));
    small.setMetadata('', '/private/b', Buffer.from('1'));
    small.setMetadata('', '/private/B', Buffer.from('2')); // replaces, not a new entry
    expect(code(() => small.setMetadata('', '/private/c', Buffer.from('1')))).toBe('LIMIT');
  });

  test('deleting a mailbox removes its metadata', () => {
    store.createMailbox('M');
    store.setMetadata('M', '/private/x', Buffer.from('1'));
    store.deleteMailbox('M');
    store.createMailbox('M');
    expect(store.getMetadata('M', ['/private/x'])).toEqual([]);
  });
});
