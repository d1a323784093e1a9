// CATENATE (RFC 4469) over a raw socket: messages built from TEXT literals and relative IMAP URLs
// (RFC 5092) to the user's own messages, with SECTION and URL-PARTIAL ranges, and the BADURL
// failures, answered as Dovecot 2.3.19 answers them (recorded against it on loopback).
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.mail_max_message_size = 4096;
  });
});
afterAll(async () => t.stop());

const SOURCE =
  'Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\nContent-Type: text/plain\r\n\r\npart two\r\n--b--\r\n';

async function appendSource(c: RawClient): Promise<number> {
  c.send(`ap APPEND INBOX {${SOURCE.length}+}\r\n${SOURCE}\r\n`);
  const r = await c.until((l) => l.startsWith('ap '));
  return Number(/APPENDUID (\d+) 1\]/.exec(r.pop()!)![1]);
}

/** The stored body of message `uid`, as BODY.PEEK[] returns it. */
async function bodyOf(c: RawClient, uid: number): Promise<string> {
  const lines = await c.command('f', `UID FETCH ${uid} BODY.PEEK[]`);
  const text = lines.join('\r\n');
  const m = /BODY\[\] \{(\d+)\}\r\n/.exec(text)!;
  return text.slice(m.index + m[0].length, m.index + m[0].length + Number(m[1]));
}

test('CATENATE and URL-PARTIAL are advertised; TEXT and URL parts make one message', async () => {
  const c = await RawClient.connect(t.port);
  const caps = (await c.command('l', 'LOGIN alice pw')).pop()!;
  expect(caps).toMatch(/ MULTIAPPEND URL-PARTIAL CATENATE /);
  const uidValidity = await appendSource(c);
  await c.command('s', 'SELECT INBOX');
  c.send('c1 APPEND INBOX CATENATE (TEXT {14+}\r\nSubject: x\r\n\r\n URL "/INBOX/;UID=1/;SECTION=1" TEXT {2+}\r\n--)\r\n');
  expect((await c.until((l) => l.startsWith('c1 '))).pop()).toBe(`c1 OK [APPENDUID ${uidValidity} 2] Append completed.`);
  expect(await bodyOf(c, 2)).toBe('Subject: x\r\n\r\npart one--');
  // Sections, a partial of the whole message, HEADER, UIDVALIDITY, a percent-encoded mailbox name.
  const r2 = await c.command(
    'c2',
    `APPEND INBOX (\\Flagged) CATENATE (URL "/INBOX/;UID=1/;SECTION=2" URL "/INBOX/;UID=1/;PARTIAL=0.5" URL "/inbox;UIDVALIDITY=${uidValidity}/;UID=1/;SECTION=HEADER")`,
  );
  expect(r2.pop()).toBe(`c2 OK [APPENDUID ${uidValidity} 3] Append completed.`);
  expect(await bodyOf(c, 3)).toBe('part twoSubjeSubject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n');
  expect((await c.command('f2', 'UID FETCH 3 FLAGS')).shift()).toBe('* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))');
  // SECTION=1.MIME and SECTION=1/;PARTIAL=2.3; MULTIAPPEND with two CATENATE messages.
  const r3 = await c.command('c3', 'APPEND INBOX CATENATE (URL "/INBOX/;UID=1/;SECTION=1.MIME") CATENATE (URL "/INBOX/;UID=1/;SECTION=1/;PARTIAL=2.3")');
  expect(r3.pop()).toBe(`c3 OK [APPENDUID ${uidValidity} 4:5] Append completed.`);
  expect(await bodyOf(c, 4)).toBe('Content-Type: text/plain\r\n\r\n');
  expect(await bodyOf(c, 5)).toBe('rt ');
  // A nonexistent section is empty, and Dovecot stores the empty result.
  expect((await c.command('c4', 'APPEND INBOX CATENATE (URL "/INBOX/;UID=1/;SECTION=3")')).pop()).toBe(`c4 OK [APPENDUID ${uidValidity} 6] Append completed.`);
  // Another mailbox's message, appended into the selected one: EXISTS arrives.
  await c.command('cr', 'CREATE "Sent Items"');
  await c.command('cp', 'UID COPY 1 "Sent Items"');
  const r5 = await c.command('c5', 'APPEND INBOX CATENATE (URL "/Sent%20Items/;UID=1/;SECTION=TEXT")');
  expect(r5).toContain('* 7 EXISTS');
  expect(r5.pop()).toBe(`c5 OK [APPENDUID ${uidValidity} 7] Append completed.`);
  expect(await bodyOf(c, 7)).toBe(SOURCE.slice(SOURCE.indexOf('\r\n\r\n') + 4));
  c.close();
});

test('a URL that cannot be resolved fails the whole APPEND with NO [BADURL]; syntax errors are BAD', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN bob pw');
  await appendSource(c);
  const cases: Array<[string, string]> = [
    ['/INBOX/;UID=99', 'Message not found'],
    ['/Nope/;UID=1', "Mailbox doesn't exist: Nope"],
    ['/INBOX;UIDVALIDITY=1/;UID=1', 'Invalid UIDVALIDITY'],
    ['imap://bob@127.0.0.1/INBOX/;UID=1', 'Invalid IMAP URL: Relative URL required'],
    ['INBOX/;UID=1', "Invalid mailbox name: Name must not have '/' characters"],
  ];
  for (const [url, text] of cases) {
    // A good part before the bad one is not saved either.
    const r = await c.command('b', `APPEND INBOX CATENATE (TEXT {2+}\r\nok URL "${url}")`);
    expect(r.pop()).toBe(`b NO [BADURL ${url}] ${text}.`);
  }
  expect((await c.command('e', 'APPEND INBOX CATENATE ()')).pop()).toBe('e BAD Error in IMAP command APPEND: Empty CATENATE list.');
  expect((await c.command('e2', 'APPEND INBOX CATENATE (TEXT "abc")')).pop()).toBe('e2 BAD Error in IMAP command APPEND: Invalid arguments.');
  expect((await c.command('e3', 'APPEND INBOX CATENATE (FOO "x")')).pop()).toBe('e3 BAD Error in IMAP command APPEND: Invalid arguments.');
  expect((await c.command('t', 'APPEND Nope CATENATE (URL "/INBOX/;UID=1")')).pop()).toBe("t NO [TRYCREATE] Mailbox doesn't exist: Nope.");
  // The result is bounded by mail_max_message_size (4096 in this server).
  const big = 'x'.repeat(3000);
  c.send(`big APPEND INBOX CATENATE (TEXT {3000+}\r\n${big} TEXT {3000+}\r\n${big})\r\n`);
  expect((await c.until((l) => l.startsWith('big '))).pop()).toMatch(/^big NO \[TOOBIG\] /);
  // Nothing of the failed APPENDs was stored; the connection is still healthy.
  const status = await c.command('st', 'STATUS INBOX (MESSAGES)');
  expect(status[0]).toBe('* STATUS INBOX (MESSAGES 1)');
  c.close();
});

test('URLAUTH is not advertised and its commands are refused, as by Dovecot without imap_urlauth_host', async () => {
  const c = await RawClient.connect(t.port);
  const caps = (await c.command('l', 'LOGIN alice pw')).pop()!;
  expect(caps).not.toMatch(/URLAUTH/);
  expect((await c.command('g', 'GENURLAUTH "imap://alice@h/INBOX/;uid=1;urlauth=anonymous" INTERNAL')).pop()).toBe('g BAD Error in IMAP command GENURLAUTH: URLAUTH disabled.');
  expect((await c.command('r', 'RESETKEY')).pop()).toBe('r BAD Error in IMAP command RESETKEY: URLAUTH disabled.');
  expect((await c.command('u', 'URLFETCH foo')).pop()).toBe('u BAD Error in IMAP command URLFETCH: URLAUTH disabled.');
  expect((await c.command('n', 'NOOP')).pop()).toBe('n OK NOOP completed.');
  c.close();
});
