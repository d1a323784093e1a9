import { beforeEach, expect, test } from '@jest/globals';
import { isDovecotInternalEntry, type UserStore } from '../../src/storage/index.js';
import { describeEachBackend, errorCode } from './helpers/backends.js';

const code = errorCode;
const show = (entries: { entry: string; value: Buffer }[]) => entries.map((e) => `${e.entry}=${e.value.toString()}`);

describeEachBackend('metadata (RFC 5464)', (t) => {
  let store: UserStore;
  beforeEach(() => {
    store = t.open();
  });

  test('server and mailbox metadata are separate; names are case-insensitive; values binary', async () => {
    await store.setMetadata('', '/private/Comment', Buffer.from('server'));
    await store.setMetadata('INBOX', '/private/comment', Buffer.from('inbox'));
    await store.setMetadata('INBOX', '/shared/bin', Buffer.from([0, 255, 10]));
    expect(show(await store.getMetadata('', ['/PRIVATE/COMMENT', '/private/missing']))).toEqual(['/private/Comment=server']);
    expect(show(await store.getMetadata('inbox', ['/private/comment']))).toEqual(['/private/comment=inbox']);
    expect((await store.getMetadata('INBOX', ['/shared/bin']))[0]!.value).toEqual(Buffer.from([0, 255, 10]));
    await store.setMetadata('', '/private/comment', null);
    expect(await store.getMetadata('', ['/private/comment'])).toEqual([]);
  });

  test('bad entries and missing mailboxes are refused', async () => {
    for (const bad of ['/other/x', 'private/x', '/private/', '/private/a//b', '/private/a/', '/private/a*', '/shared/%', '/private/\u0001']) {
      expect([bad, await code(() => store.setMetadata('', bad, Buffer.from('v')))]).toEqual([bad, 'PARAMETERS']);
    }
    expect(await code(() => store.getMetadata('Nope', ['/private/x']))).toBe('NONEXISTENT');
    expect(await code(() => store.setMetadata('Nope', '/private/x', Buffer.from('v')))).toBe('NONEXISTENT');
  });

  test('listMetadata honours depth', async () => {
    for (const e of ['/private/a', '/private/a/b', '/private/a/b/c', '/private/ab', '/shared/a/x']) {
      await store.setMetadata('INBOX', e, Buffer.from(e));
    }
    const names = async (p: string, d: 0 | 1 | 'infinity') => (await store.listMetadata('INBOX', p, d)).map((e) => e.entry);
    expect(await names('/private/a', 0)).toEqual(['/private/a']);
    expect(await names('/private/a', 1)).toEqual(['/private/a', '/private/a/b']);
    expect(await names('/private/a', 'infinity')).toEqual(['/private/a', '/private/a/b', '/private/a/b/c']);
    expect(await names('/private/', 1)).toEqual(['/private/a', '/private/ab']);
    expect(await names('/PRIVATE', 'infinity')).toHaveLength(4);
  });

  test("Dovecot's vendor entries are storable; the internal ones are recognisable", async () => {
    const e = '/private/vendor/vendor.dovecot/pvt/server/a/b';
    await store.setMetadata('INBOX', e, Buffer.from('v1'));
    expect(show(await store.listMetadata('INBOX', '/private/vendor/vendor.dovecot', 'infinity'))).toEqual([`${e}=v1`]);
    expect(isDovecotInternalEntry(e)).toBe(true);
    expect(isDovecotInternalEntry('/shared/vendor/vendor.dovecot/webpush')).toBe(false);
  });

  test('limits: value size (TOOBIG) and entry count (LIMIT)', async () => {
    const small = t.open('bob', { settings: { metadataMaxValueBytes: 4, metadataMaxEntries: 2 } });
    expect(await code(() => small.setMetadata('', '/private/a', Buffer.from('12345')))).toBe('TOOBIG');
    await small.setMetadata('', '/private/a', Buffer.from('1'));
    await small.setMetadata('', '/private/b', Buffer.from('1'));
    await small.setMetadata('', '/private/B', Buffer.from('2')); // replaces, not a new entry
    expect(await code(() => small.setMetadata('', '/private/c', Buffer.from('1')))).toBe('LIMIT');
  });

  test('deleting a mailbox removes its metadata', async () => {
    await store.createMailbox('M');
    await store.setMetadata('M', '/private/x', Buffer.from('1'));
    await store.deleteMailbox('M');
    await store.createMailbox('M');
    expect(await store.getMetadata('M', ['/private/x'])).toEqual([]);
  });
});
