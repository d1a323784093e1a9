// IMAP4rev2 (RFC 9051) over a raw socket: advertised next to IMAP4rev1 before and after login (with
// IDLE before login, which Outlook needs), and `ENABLE IMAP4rev2` switching to rev2's rules: no
// RECENT response, no \Recent flag, no UNSEEN code in SELECT, SEARCH answered with ESEARCH.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

const msg = (s: string) => `Subject: ${s}\r\n\r\n${s} body\r\n`;

async function append(c: RawClient, subject: string): Promise<string[]> {
  const m = msg(subject);
  c.send(`ap APPEND INBOX {${m.length}+}\r\n${m}\r\n`);
  return c.until((l) => l.startsWith('ap '));
}

test('IMAP4rev2 and IDLE are advertised before login, IMAP4rev2 after', async () => {
  const c = await RawClient.connect(t.port);
  expect(c.greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 [^\]]* IDLE /);
  expect((await c.command('c', 'CAPABILITY'))[0]).toMatch(/^\* CAPABILITY IMAP4rev1 IMAP4rev2 .* IDLE /);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK \[CAPABILITY IMAP4rev1 IMAP4rev2 /);
  c.close();
});

test('without ENABLE the session keeps IMAP4rev1 rules', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN bob pw');
  await append(c, 'one');
  const sel = await c.command('s', 'SELECT INBOX');
  expect(sel).toContain('* 1 RECENT');
  expect(sel).toContain('* OK [UNSEEN 1] First unseen.');
  expect((await c.command('f', 'FETCH 1 FLAGS'))[0]).toBe('* 1 FETCH (FLAGS (\\Recent))');
  expect((await c.command('x', 'SEARCH ALL'))[0]).toBe('* SEARCH 1');
  c.close();
});

test('ENABLE IMAP4rev2: no \\Recent or RECENT, no UNSEEN code, SEARCH answers ESEARCH', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  expect(await c.command('e', 'ENABLE imap4rev2')).toEqual(['* ENABLED IMAP4rev2', 'e OK Enabled.']);
  // Enabling again enables nothing new (RFC 5161 §3.1).
  expect((await c.command('e2', 'ENABLE IMAP4rev2'))[0]).toBe('* ENABLED');
  await append(c, 'one');
  await append(c, 'two');
  const sel = await c.command('s', 'SELECT INBOX');
  expect(sel).toContain('* 2 EXISTS');
  expect(sel.some((l) => / RECENT$/.test(l) || l.includes('[UNSEEN'))).toBe(false);
  expect((await c.command('f', 'FETCH 1:2 FLAGS')).slice(0, 2)).toEqual(['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS ())']);
  expect((await c.command('x', 'SEARCH ALL'))[0]).toBe('* ESEARCH (TAG "x") ALL 1:2');
  expect((await c.command('u', 'UID SEARCH SUBJECT two'))[0]).toBe('* ESEARCH (TAG "u") UID ALL 2');
  expect(await c.command('n', 'SEARCH SUBJECT nothing')).toEqual(['* ESEARCH (TAG "n")', 'n OK Search completed.']);
  // \Recent is gone from SEARCH too: RECENT matches nothing.
  expect((await c.command('r', 'SEARCH RECENT'))[0]).toBe('* ESEARCH (TAG "r")');
  // A message another session appends arrives with EXISTS only.
  const other = await RawClient.connect(t.port);
  await other.command('l', 'LOGIN alice pw');
  await append(other, 'three');
  other.close();
  const noop = await c.command('p', 'NOOP');
  expect(noop).toContain('* 3 EXISTS');
  expect(noop.some((l) => / RECENT$/.test(l))).toBe(false);
  c.close();
});

test('ENABLE IMAP4rev2 while a mailbox is selected drops \\Recent from the selected view', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN bob pw');
  await append(c, 'late');
  const sel = await c.command('s', 'SELECT INBOX');
  expect(sel).toContain('* 1 RECENT');
  const uid = Number(/UIDNEXT (\d+)/.exec(sel.join('\n'))![1]) - 1;
  expect((await c.command('f', `UID FETCH ${uid} FLAGS`))[0]).toMatch(/FLAGS \(\\Recent\)\)$/);
  await c.command('e', 'ENABLE IMAP4rev2');
  expect((await c.command('f2', `UID FETCH ${uid} FLAGS`))[0]).toMatch(/FLAGS \(\)\)$/);
  c.close();
});

test('ENABLE IMAP4rev2: mailbox names travel as UTF-8 both ways; IMAP4rev1 sessions still see mUTF-7', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('e', 'ENABLE IMAP4rev2');
  c.socket.write(Buffer.from('c CREATE "Entwürfe"\r\n', 'utf8'));
  expect((await c.until((l) => l.startsWith('c '))).pop()).toMatch(/^c OK /);
  const list = (await c.command('li', 'LIST "" "Entw*"')).map((l) => Buffer.from(l, 'latin1').toString('utf8'));
  expect(list[0]).toBe('* LIST (\\HasNoChildren) "/" "Entwürfe"');
  const rev1 = await RawClient.connect(t.port);
  await rev1.command('l', 'LOGIN alice pw');
  expect((await rev1.command('li', 'LIST "" "Entw*"'))[0]).toBe('* LIST (\\HasNoChildren) "/" Entw&APw-rfe');
  rev1.close();
  c.close();
});
