// UTF8=ACCEPT (RFC 6855): after ENABLE, mailbox names travel as UTF-8 both ways; a session that
// did not enable it keeps seeing modified UTF-7.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

/** Sends a command whose text holds UTF-8 (the raw client writes latin1 strings as they are). */
async function utf8Command(c: RawClient, tag: string, command: string): Promise<string[]> {
  c.socket.write(Buffer.from(`${tag} ${command}\r\n`, 'utf8'));
  return c.until((l) => l.startsWith(`${tag} `));
}
const asUtf8 = (lines: string[]) => lines.map((l) => Buffer.from(l, 'latin1').toString('utf8'));

test('UTF-8 mailbox names after ENABLE UTF8=ACCEPT, mUTF-7 for other sessions', async () => {
  const a = await RawClient.connect(t.port);
  expect((await a.command('l', 'LOGIN alice pw')).pop()).toMatch(/ UTF8=ACCEPT[ \]]/);
  expect(await a.command('e', 'ENABLE UTF8=ACCEPT')).toEqual(['* ENABLED UTF8=ACCEPT', 'e OK Enabled.']);
  expect((await utf8Command(a, 'c', 'CREATE "Entwürfe/Ärger & Co"')).pop()).toMatch(/^c OK \[MAILBOXID \(\S+\)\] Create completed\.$/);
  const list = asUtf8(await a.command('ls', 'LIST "" "Entw*"'));
  expect(list).toEqual(['* LIST (\\Noselect \\HasChildren) "/" "Entwürfe"', '* LIST (\\HasNoChildren) "/" "Entwürfe/Ärger & Co"', 'ls OK List completed.']);
  expect(asUtf8(await utf8Command(a, 's', 'STATUS "Entwürfe/Ärger & Co" (MESSAGES)'))).toEqual(['* STATUS "Entwürfe/Ärger & Co" (MESSAGES 0)', 's OK Status completed.']);
  expect((await utf8Command(a, 'x', 'SELECT "Entwürfe/Ärger & Co"')).pop()).toMatch(/^x OK \[READ-WRITE\]/);

  const b = await RawClient.connect(t.port);
  await b.command('l', 'LOGIN alice pw');
  expect(await b.command('ls', 'LIST "" "Entw*"')).toEqual(['* LIST (\\Noselect \\HasChildren) "/" Entw&APw-rfe', '* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/&AMQ-rger &- Co"', 'ls OK List completed.']);
  // APPEND's UTF8 data extension: the message's headers may be UTF-8.
  const msg = Buffer.from('Subject: Grüße\r\nFrom: jörg@example.org\r\n\r\nHallo\r\n', 'utf8');
  a.socket.write(Buffer.concat([Buffer.from(`ap APPEND INBOX UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
  expect((await a.until((l) => l.startsWith('ap '))).pop()).toMatch(/^ap OK \[APPENDUID \d+ 1\]/);
  await a.command('si', 'SELECT INBOX');
  const subject = asUtf8(await a.command('f', 'FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]'));
  expect(subject[1]).toBe('Subject: Grüße');
  // Without ENABLE the UTF8 form is refused.
  b.socket.write(Buffer.concat([Buffer.from(`ap APPEND INBOX UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
  expect((await b.until((l) => l.startsWith('ap '))).pop()).toBe('ap BAD Error in IMAP command APPEND: UTF8 APPEND without ENABLE UTF8=ACCEPT.');
  a.close();
  b.close();
});

test('after ENABLE UTF8=ACCEPT a charset other than UTF-8 is BAD (RFC 6855 §3, erratum 4029); strings are UTF-8', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE utf8search');
  const msg = Buffer.from('Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: a@example.org\r\n\r\nSchöne Grüße\r\n', 'utf8');
  c.socket.write(Buffer.concat([Buffer.from(`ap APPEND utf8search {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
  await c.until((l) => l.startsWith('ap '));
  await c.command('s', 'SELECT utf8search');
  // Before ENABLE any known charset is converted.
  c.socket.write(Buffer.from('b2 SEARCH CHARSET ISO-8859-1 BODY {5+}\r\nsch\xf6n\r\n', 'latin1'));
  expect(await c.until((l) => l.startsWith('b2 '))).toEqual(['* SEARCH 1', 'b2 OK Search completed.']);
  await c.command('e', 'ENABLE UTF8=ACCEPT');
  expect(await c.command('u1', 'SEARCH CHARSET ISO-8859-1 BODY x')).toEqual(['u1 BAD Error in IMAP command SEARCH: Only UTF-8 can be used after ENABLE UTF8=ACCEPT.']);
  expect(await c.command('u2', 'SORT (DATE) ISO-8859-1 ALL')).toEqual(['u2 BAD Error in IMAP command SORT: Only UTF-8 can be used after ENABLE UTF8=ACCEPT.']);
  expect(await c.command('u3', 'THREAD REFERENCES KOI8-R ALL')).toEqual(['u3 BAD Error in IMAP command THREAD: Only UTF-8 can be used after ENABLE UTF8=ACCEPT.']);
  // Quoted strings carry UTF-8; naming UTF-8 (or US-ASCII) conflicts with nothing and is taken.
  expect(asUtf8(await utf8Command(c, 'u4', 'SEARCH SUBJECT "grüße"'))).toEqual(['* SEARCH 1', 'u4 OK Search completed.']);
  expect(asUtf8(await utf8Command(c, 'u5', 'SEARCH CHARSET UTF-8 BODY "schöne"'))).toEqual(['* SEARCH 1', 'u5 OK Search completed.']);
  expect(asUtf8(await utf8Command(c, 'u6', 'SORT (SUBJECT) UTF-8 SUBJECT "GRÜSSE"'))).toEqual(['* SORT 1', 'u6 OK Sort completed.']);
  expect(asUtf8(await utf8Command(c, 'u7', 'THREAD REFERENCES UTF-8 BODY "grüße"'))).toEqual(['* THREAD (1)', 'u7 OK Thread completed.']);
  // A mailbox name that is not UTF-8 is refused.
  c.socket.write(Buffer.from('u8 CREATE "bad\xff\xfename"\r\n', 'latin1'));
  expect((await c.until((l) => l.startsWith('u8 '))).pop()).toMatch(/^u8 (NO|BAD) /);
  c.close();
});
