// End to end with a real client library (imapflow): what a mail client does, over STARTTLS.
import { ImapFlow } from 'imapflow';
import { startTestServer, type TestServer } from './helpers.js';
import { waitUntil } from '../../poll.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

function client(user = 'alice'): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: t.port,
    secure: false,
    auth: { user, pass: 'pw' },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
}

const message = (subject: string, body = 'Hello there, a word in the body.') =>
  Buffer.from(`From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\n\r\n${body}\r\n`);

test('mailboxes: list, create, rename, delete, status', async () => {
  const c = client();
  await c.connect();
  // imapflow upgraded with STARTTLS because the server offered it.
  expect(c.secureConnection).toBe(true);
  await c.mailboxCreate('Work/Reports');
  await c.mailboxRename('Work', 'Projects');
  const names = (await c.list()).map((m) => m.path).sort();
  expect(names).toEqual(['INBOX', 'Projects', 'Projects/Reports']);
  // The \Noselect parent goes with its last child.
  await c.mailboxDelete('Projects/Reports');
  expect((await c.list()).map((m) => m.path)).toEqual(['INBOX']);
  await c.append('INBOX', message('status'));
  const st = await c.status('INBOX', { messages: true, unseen: true, uidNext: true });
  expect(st.messages).toBe(1);
  expect(st.unseen).toBe(1);
  await c.logout();
});

test('append, select, fetch, store, search, copy, move, expunge', async () => {
  const c = client('bob');
  await c.connect();
  const appended = await c.append('INBOX', message('first'), ['\\Flagged']);
  expect(appended && appended.uid).toBe(1);
  await c.append('INBOX', message('second', 'nothing to find'));
  await c.append('INBOX', message('third'));
  const box = await c.mailboxOpen('INBOX');
  expect(box.exists).toBe(3);

  const fetched = [];
  for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, size: true })) fetched.push(m);
  expect(fetched.map((m) => m.envelope?.subject)).toEqual(['first', 'second', 'third']);
  expect([...(fetched[0]!.flags ?? [])]).toContain('\\Flagged');

  const one = await c.fetchOne('2', { source: true });
  expect(one && one.source?.toString()).toContain('nothing to find');
  await c.messageFlagsAdd('2', ['\\Seen']);

  await c.messageFlagsAdd('1', ['$Important']);
  const flagged = await c.fetchOne('1', { flags: true });
  expect(flagged && [...(flagged.flags ?? [])]).toContain('$Important');

  expect(await c.search({ seen: false })).toEqual([1, 3]);
  expect(await c.search({ body: 'word' }, { uid: true })).toEqual([1, 3]);

  await c.mailboxCreate('Archive');
  const copied = await c.messageCopy('1:2', 'Archive');
  expect(copied && copied.uidMap?.get(1)).toBe(1);
  const moved = await c.messageMove('3', 'Archive');
  expect(moved && moved.uidMap?.get(3)).toBe(3);
  expect(c.mailbox && c.mailbox.exists).toBe(2);

  await c.messageDelete('1');
  expect(c.mailbox && c.mailbox.exists).toBe(1);
  const archive = await c.status('Archive', { messages: true });
  expect(archive.messages).toBe(3);
  await c.logout();
});

test('IDLE sees an APPEND made by another client at once', async () => {
  const watcher = client();
  await watcher.connect();
  await watcher.mailboxOpen('INBOX');
  const before = watcher.mailbox ? watcher.mailbox.exists : 0;
  const seen = new Promise<number>((resolve) => watcher.on('exists', (ev: { count: number }) => resolve(ev.count)));
  const idling = watcher.idle();
  await waitUntil('IDLE to start', () => watcher.idling);
  const writer = client();
  await writer.connect();
  await writer.append('INBOX', message('news'));
  // Bounded by the test's timeout: a busy machine delays the EXISTS, a missing one fails the test.
  expect(await seen).toBe(before + 1);
  await writer.logout();
  await watcher.logout();
  await idling.catch(() => undefined);
});

test('special-use mailboxes from the namespace config are created and listed', async () => {
  const u = await startTestServer((s) => {
    s.namespace[0]!.mailboxes.push(
      { name: 'Sent', special_use: ['\\Sent'], auto: 'subscribe' },
      { name: 'Trash', special_use: ['\\Trash'], auto: 'create' },
    );
  });
  const c = new ImapFlow({ host: '127.0.0.1', port: u.port, secure: false, auth: { user: 'alice', pass: 'pw' }, logger: false, tls: { rejectUnauthorized: false } });
  await c.connect();
  const list = await c.list();
  const byPath = new Map(list.map((m) => [m.path, m]));
  expect(byPath.get('Sent')?.specialUse).toBe('\\Sent');
  expect(byPath.get('Sent')?.subscribed).toBe(true);
  expect(byPath.get('Trash')?.specialUse).toBe('\\Trash');
  await c.mailboxCreate('Archive2025');
  await c.logout();
  await u.stop();
});
