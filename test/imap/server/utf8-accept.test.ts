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
