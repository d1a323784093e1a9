// PREVIEW (RFC 8970) and Dovecot's SNIPPET (FUZZY) over a raw socket, answered as Dovecot 2.3.19
// answers them for the same messages.
import { waitUntil } from '../../poll.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

test('FETCH PREVIEW, PREVIEW (LAZY), SNIPPET (FUZZY); unknown modifiers are BAD', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ PREVIEW /);
  await c.command('c', 'CREATE p');
  const messages = [
    'From: a@example.org\r\nSubject: one\r\n\r\nbody\r\n',
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n--b--\r\n',
    'Subject: quoted\r\n\r\n> quoted line\r\nOwn   words\r\nhere "too"\r\n',
  ];
  for (const m of messages) {
    c.send(`a APPEND p {${m.length}+}\r\n${m}\r\n`);
    await c.until((l) => l.startsWith('a '));
  }
  await c.command('s', 'SELECT p');
  expect(await c.command('f1', 'FETCH 1:2 PREVIEW')).toEqual(['* 1 FETCH (PREVIEW "body")', '* 2 FETCH (PREVIEW "hello world")', 'f1 OK Fetch completed.']);
  // LAZY: NIL until the preview is at hand (Dovecot 2.3.19: NIL until a FETCH without LAZY cached it).
  expect(await c.command('f2', 'FETCH 3 (UID PREVIEW (LAZY))')).toEqual(['* 3 FETCH (UID 3 PREVIEW NIL)', 'f2 OK Fetch completed.']);
  expect(await c.command('f3', 'FETCH 2 PREVIEW (LAZY)')).toEqual(['* 2 FETCH (PREVIEW "hello world")', 'f3 OK Fetch completed.']);
  expect(await c.command('f4', 'FETCH 1 (SNIPPET (FUZZY))')).toEqual(['* 1 FETCH (SNIPPET (FUZZY "body"))', 'f4 OK Fetch completed.']);
  expect(await c.command('b1', 'FETCH 1 (PREVIEW (FOO))')).toEqual(["b1 BAD Error in IMAP command FETCH: 'FOO' is not a supported PREVIEW modifier."]);
  // PREVIEW does not set \Seen.
  expect(await c.command('f5', 'FETCH 1 FLAGS')).toEqual(['* 1 FETCH (FLAGS (\\Recent))', 'f5 OK Fetch completed.']);
  c.close();
});

test('PREVIEW (LAZY): NIL when not at hand, the preview once computed (by a FETCH without LAZY, or in the background after the NIL); a COPY shares it', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE lazy');
  for (let i = 1; i <= 3; i++) {
    const m = `From: a@example.org\r\nSubject: m${i}\r\n\r\nhello body ${i}\r\n`;
    c.send(`a APPEND lazy {${m.length}+}\r\n${m}\r\n`);
    await c.until((l) => l.startsWith('a '));
  }
  await c.command('s', 'SELECT lazy');
  // The same steps as on Dovecot 2.3.19, with its answers.
  expect(await c.command('f1', 'FETCH 2 (PREVIEW)')).toEqual(['* 2 FETCH (PREVIEW "hello body 2")', 'f1 OK Fetch completed.']);
  expect(await c.command('f2', 'FETCH 2 (PREVIEW (LAZY))')).toEqual(['* 2 FETCH (PREVIEW "hello body 2")', 'f2 OK Fetch completed.']);
  expect(await c.command('f3', 'FETCH 1:3 (PREVIEW (LAZY))')).toEqual(['* 1 FETCH (PREVIEW NIL)', '* 2 FETCH (PREVIEW "hello body 2")', '* 3 FETCH (PREVIEW NIL)', 'f3 OK Fetch completed.']);
  expect(await c.command('f4', 'FETCH 3 (SNIPPET (FUZZY))')).toEqual(['* 3 FETCH (SNIPPET (FUZZY "hello body 3"))', 'f4 OK Fetch completed.']);
  // Unlike Dovecot (which caches previews of messages saved after a LAZY request), Roost computes
  // the ones a LAZY request missed in the background: message 1 comes without a FETCH PREVIEW.
  await waitUntil('the background preview', async () => (await c.command('f5', 'FETCH 1 (PREVIEW (LAZY))'))[0] === '* 1 FETCH (PREVIEW "hello body 1")');
  // A copy has the same content, so the same preview (Dovecot copies its cache too).
  await c.command('c2', 'CREATE lazy2');
  await c.command('cp', 'COPY 2 lazy2');
  await c.command('s2', 'SELECT lazy2');
  expect(await c.command('f6', 'FETCH 1 (PREVIEW (LAZY))')).toEqual(['* 1 FETCH (PREVIEW "hello body 2")', 'f6 OK Fetch completed.']);
  c.close();
});
