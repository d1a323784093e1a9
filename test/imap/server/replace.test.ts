// REPLACE (RFC 8508) over a raw socket: in place, into another mailbox, with QRESYNC, and the
// failures that must leave the old message alone.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

const msg = (s: string) => `Subject: ${s}\r\n\r\n${s} body\r\n`;

test('REPLACE and UID REPLACE: APPENDUID, then the old message expunged', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ REPLACE[ \]]/);
  await c.command('c', 'CREATE drafts');
  await c.command('c2', 'CREATE sent');
  for (const s of ['d1', 'd2']) {
    const m = msg(s);
    c.send(`a APPEND drafts {${m.length}+}\r\n${m}\r\n`);
    await c.until((l) => l.startsWith('a '));
  }
  await c.command('s', 'SELECT drafts');
  const m1 = msg('d1 v2');
  c.send(`r1 REPLACE 1 drafts (\\Draft) {${m1.length}+}\r\n${m1}\r\n`);
  const r1 = await c.until((l) => l.startsWith('r1 '));
  expect(r1[0]).toMatch(/^\* OK \[APPENDUID \d+ 3\] Replacement Message ID$/);
  expect(r1).toContain('* 1 EXPUNGE');
  expect(r1).toContain('* 2 EXISTS');
  expect(r1.pop()).toBe('r1 OK Replace completed.');
  expect((await c.command('f', 'UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).filter((l) => l.startsWith('*')).map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['2', '3']);
  // UID REPLACE into another mailbox, with QRESYNC: VANISHED for the old one.
  await c.command('e', 'ENABLE QRESYNC');
  const m2 = msg('sent copy');
  c.send(`r2 UID REPLACE 2 sent {${m2.length}+}\r\n${m2}\r\n`);
  const r2 = await c.until((l) => l.startsWith('r2 '));
  expect(r2[0]).toMatch(/^\* OK \[APPENDUID \d+ 1\] Replacement Message ID$/);
  expect(r2).toContain('* VANISHED 2');
  expect(r2.pop()).toMatch(/^r2 OK \[HIGHESTMODSEQ \d+\] Replace completed\.$/);
  c.close();
});

test('a failed REPLACE leaves the old message: missing target mailbox, unknown UID, read-only view', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE keep');
  const m = msg('keep');
  c.send(`a APPEND keep {${m.length}+}\r\n${m}\r\n`);
  await c.until((l) => l.startsWith('a '));
  await c.command('s', 'SELECT keep');
  c.send(`r1 REPLACE 1 nosuch {${m.length}+}\r\n${m}\r\n`);
  expect((await c.until((l) => l.startsWith('r1 '))).pop()).toMatch(/^r1 NO \[TRYCREATE\]/);
  c.send(`r2 UID REPLACE 99 keep {${m.length}+}\r\n${m}\r\n`);
  expect((await c.until((l) => l.startsWith('r2 '))).pop()).toBe('r2 NO [EXPUNGEISSUED] Message to replace does not exist.');
  c.send(`r3 REPLACE 5 keep {${m.length}+}\r\n${m}\r\n`);
  expect((await c.until((l) => l.startsWith('r3 '))).pop()).toBe('r3 BAD Error in IMAP command REPLACE: Invalid messageset.');
  await c.command('x', 'EXAMINE keep');
  c.send(`r4 REPLACE 1 keep {${m.length}+}\r\n${m}\r\n`);
  expect((await c.until((l) => l.startsWith('r4 '))).pop()).toBe('r4 NO [READ-ONLY] Mailbox is read-only.');
  await c.command('u', 'UNSELECT');
  expect(await c.command('st', 'STATUS keep (MESSAGES)')).toEqual(['* STATUS keep (MESSAGES 1)', 'st OK Status completed.']);
  c.close();
});
