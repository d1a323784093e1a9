// UNAUTHENTICATE (RFC 8437): back to the not-authenticated state on the same connection; the
// selected mailbox closes without expunging and enabled extensions are forgotten.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

test('UNAUTHENTICATE, then another LOGIN on the same connection', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ UNAUTHENTICATE[ \]]/);
  expect(await c.command('u0', 'UNAUTHENTICATE extra')).toEqual(['u0 BAD Error in IMAP command UNAUTHENTICATE: Invalid arguments.']);
  const body = 'Subject: keep\r\n\r\nkeep\r\n';
  c.send(`a APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
  await c.until((l) => l.startsWith('a '));
  await c.command('e', 'ENABLE QRESYNC');
  await c.command('s', 'SELECT INBOX');
  await c.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  expect(await c.command('u', 'UNAUTHENTICATE')).toEqual(['u OK Unauthenticate completed.']);
  // Pre-login again: the pre-login capabilities, mailbox commands refused.
  const caps = await c.command('c', 'CAPABILITY');
  expect(caps[0]).toMatch(/AUTH=PLAIN/);
  expect(caps[0]).not.toMatch(/UNAUTHENTICATE/);
  expect(await c.command('s2', 'SELECT INBOX')).toEqual(['s2 BAD Error in IMAP command received by server.']);
  expect((await c.command('l2', 'LOGIN alice pw')).pop()).toMatch(/^l2 OK/);
  // QRESYNC was forgotten; the \Deleted message was not expunged.
  expect(await c.command('e2', 'ENABLE QRESYNC')).toEqual(['* ENABLED QRESYNC', 'e2 OK Enabled.']);
  expect(await c.command('st', 'STATUS INBOX (MESSAGES)')).toEqual(['* STATUS INBOX (MESSAGES 1)', 'st OK Status completed.']);
  expect(await c.command('o', 'LOGOUT')).toEqual(['* BYE Logging out', 'o OK Logout completed.']);
});

test('UNAUTHENTICATE is not a pre-login command', async () => {
  const c = await RawClient.connect(t.port);
  expect(await c.command('u', 'UNAUTHENTICATE')).toEqual(['u BAD Error in IMAP command received by server.']);
  c.close();
});
