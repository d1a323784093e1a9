// QRESYNC (RFC 7162 §3.2) over real sockets: raw protocol lines pinned to what Dovecot 2.3.19
// answered for the same steps, and imapflow resynchronising a mailbox the way Thunderbird does.
import { ImapFlow } from 'imapflow';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

async function login(): Promise<RawClient> {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK /);
  return c;
}

async function fill(c: RawClient, box: string, n: number): Promise<void> {
  await c.command('c', `CREATE ${box}`);
  for (let i = 1; i <= n; i++) {
    const body = `Subject: q${i}\r\nMessage-ID: <q${i}@x>\r\n\r\nbody ${i}\r\n`;
    c.send(`a APPEND ${box} {${body.length}+}\r\n${body}\r\n`);
    await c.until((l) => l.startsWith('a '));
  }
}

const modseqOf = (lines: string[]) => Number(/HIGHESTMODSEQ (\d+)/.exec(lines.join('\n'))![1]);
const uidValidityOf = (lines: string[]) => Number(/UIDVALIDITY (\d+)/.exec(lines.join('\n'))![1]);
const withoutPreamble = (lines: string[]) => lines.filter((l) => !/^\* (FLAGS|OK \[(PERMANENTFLAGS|UNSEEN|UIDVALIDITY|UIDNEXT|MAILBOXID)|\d+ (EXISTS|RECENT))/.test(l));

test('ENABLE QRESYNC, SELECT (QRESYNC ...) with and without known UIDs, UIDVALIDITY mismatch, BAD before ENABLE', async () => {
  const c = await login();
  await fill(c, 'q1', 8);
  // STATUS HIGHESTMODSEQ turns CONDSTORE on: SELECT then reports HIGHESTMODSEQ (Dovecot leaves it
  // out of a plain SELECT of a mailbox no CONDSTORE client has opened yet).
  await c.command('st', 'STATUS q1 (HIGHESTMODSEQ)');
  const first = await c.command('s', 'SELECT q1');
  const uv = uidValidityOf(first);
  const base = modseqOf(first);
  await c.command('f', 'STORE 2 +FLAGS.SILENT (\\Seen)');
  await c.command('d', 'STORE 3,5 +FLAGS.SILENT (\\Deleted)');
  await c.command('e', 'EXPUNGE');
  await c.command('u', 'UNSELECT');

  expect(await c.command('b', `SELECT q1 (QRESYNC (${uv} ${base}))`)).toEqual(['b BAD Error in IMAP command SELECT: QRESYNC not enabled.']);
  expect(await c.command('en', 'ENABLE QRESYNC')).toEqual(['* ENABLED QRESYNC', 'en OK Enabled.']);

  const sel = await c.command('s1', `SELECT q1 (QRESYNC (${uv} ${base}))`);
  const now = modseqOf(sel);
  expect(withoutPreamble(sel)).toEqual([
    `* OK [HIGHESTMODSEQ ${now}] Highest`,
    '* VANISHED (EARLIER) 3,5',
    expect.stringMatching(/^\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/),
    's1 OK [READ-WRITE] Select completed.',
  ]);
  // Known UIDs limit both answers; modseq 0 asks for everything.
  expect(withoutPreamble(await c.command('s2', `SELECT q1 (QRESYNC (${uv} ${base} 3:4))`))).toEqual([
    '* OK [CLOSED] Previous mailbox closed.',
    `* OK [HIGHESTMODSEQ ${now}] Highest`,
    '* VANISHED (EARLIER) 3',
    's2 OK [READ-WRITE] Select completed.',
  ]);
  const all = withoutPreamble(await c.command('s3', `EXAMINE q1 (QRESYNC (${uv} 0 1:* (1:3 1,2,4)))`));
  expect(all.slice(0, 3)).toEqual(['* OK [CLOSED] Previous mailbox closed.', `* OK [HIGHESTMODSEQ ${now}] Highest`, '* VANISHED (EARLIER) 3,5']);
  expect(all.filter((l) => / FETCH /.test(l)).map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['1', '2', '4', '6', '7', '8']);
  // Another UIDVALIDITY: the client must start over, so nothing more than SELECT's usual answer.
  expect(withoutPreamble(await c.command('s4', `SELECT q1 (QRESYNC (${uv + 1} ${base}))`))).toEqual([
    '* OK [CLOSED] Previous mailbox closed.',
    `* OK [HIGHESTMODSEQ ${now}] Highest`,
    's4 OK [READ-WRITE] Select completed.',
  ]);
  c.close();
});

test('UID FETCH (CHANGEDSINCE n VANISHED); VANISHED instead of EXPUNGE; HIGHESTMODSEQ on tagged replies as Dovecot', async () => {
  const a = await login();
  const b = await login();
  await fill(a, 'q2', 6);
  expect(await a.command('v0', 'UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)')).toEqual(['v0 BAD No mailbox selected.']);
  await a.command('en', 'ENABLE QRESYNC');
  const sel = await a.command('s', 'SELECT q2');
  const start = modseqOf(sel);
  await b.command('s', 'SELECT q2');

  // B flags 1 and expunges 2: A hears of the flag during FETCH (UID first, MODSEQ before FLAGS),
  // the expunge is held back, and the tagged reply names the last modseq A saw completely.
  await b.command('f', 'STORE 1 +FLAGS (\\Flagged)');
  await b.command('d', 'STORE 2 +FLAGS (\\Deleted)');
  await b.command('e', 'EXPUNGE');
  const during = await a.command('f1', 'FETCH 1 FLAGS');
  expect(during[0]).toBe('* 1 FETCH (FLAGS (\\Flagged \\Recent))');
  expect(during[1]).toMatch(/^\* 1 FETCH \(UID 1 MODSEQ \(\d+\) FLAGS \(\\Flagged \\Recent\)\)$/);
  // (Dovecot also shows the \Deleted of message 2 here; Roost leaves a message whose expunge is
  // held back as it was until the expunge is announced.)
  expect(during[2]).toBe(`f1 OK [HIGHESTMODSEQ ${start}] Fetch completed.`);
  const noop = await a.command('n', 'NOOP');
  expect(noop[0]).toBe('* VANISHED 2');
  // Message 2 was \Recent for A: the lower count follows, as Dovecot 2.3.19 sends it.
  expect(noop[1]).toMatch(/^\* \d+ RECENT$/);
  expect(noop[2]).toMatch(/^n OK \[HIGHESTMODSEQ \d+\] NOOP completed\.$/);
  const afterNoop = modseqOf(noop);

  // A's own STORE shows its MODSEQ: no HIGHESTMODSEQ code then.
  const st = await a.command('st', 'STORE 1 -FLAGS (\\Flagged)');
  expect(st).toEqual([expect.stringMatching(/^\* 1 FETCH \(UID 1 MODSEQ \(\d+\) FLAGS \(\\Recent\)\)$/), 'st OK Store completed.']);

  // A's EXPUNGE and MOVE announce VANISHED, and the tagged OK the new HIGHESTMODSEQ.
  await a.command('d2', 'UID STORE 3 +FLAGS.SILENT (\\Deleted)');
  const ex = await a.command('e2', 'EXPUNGE');
  expect(ex[0]).toBe('* VANISHED 3');
  expect(ex[ex.length - 1]).toMatch(/^e2 OK \[HIGHESTMODSEQ \d+\] Expunge completed\.$/);
  const mv = await a.command('m', 'UID MOVE 4 INBOX');
  expect(mv.slice(1, 2)).toEqual(['* VANISHED 4']);
  expect(mv[mv.length - 1]).toMatch(/^m OK \[HIGHESTMODSEQ \d+\] Move completed\.$/);

  expect(await a.command('v1', `UID FETCH 1:* FLAGS (CHANGEDSINCE ${afterNoop} VANISHED)`)).toEqual([
    '* VANISHED (EARLIER) 3:4',
    expect.stringMatching(/^\* 1 FETCH \(UID 1 FLAGS \(\\Recent\) MODSEQ \(\d+\)\)$/),
    'v1 OK Fetch completed.',
  ]);
  expect(await a.command('v2', 'UID FETCH 2:3 FLAGS (CHANGEDSINCE 1 VANISHED)')).toEqual(['* VANISHED (EARLIER) 2:3', 'v2 OK Fetch completed.']);
  expect(await a.command('v3', 'FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)')).toEqual([
    'v3 BAD Error in IMAP command FETCH: Unknown FETCH modifier.',
  ]);
  expect(await a.command('v4', 'UID FETCH 1:* FLAGS (VANISHED)')).toEqual(['v4 BAD Error in IMAP command UID FETCH: VANISHED used without CHANGEDSINCE.']);
  // B, without QRESYNC, still gets EXPUNGE with sequence numbers.
  expect((await b.command('n2', 'NOOP')).filter((l) => l.endsWith('EXPUNGE'))).toEqual(['* 3 EXPUNGE', '* 2 EXPUNGE']);
  a.close();
  b.close();
});

test('imapflow with qresync: reopening a mailbox reports the expunges and flag changes made meanwhile', async () => {
  const options = { host: '127.0.0.1', port: t.port, secure: false, auth: { user: 'alice', pass: 'pw' }, logger: false as const, tls: { rejectUnauthorized: false } };
  const mail = new ImapFlow({ ...options, qresync: true });
  await mail.connect();
  expect(mail.enabled.has('QRESYNC')).toBe(true);
  await mail.mailboxCreate('sync');
  for (let i = 1; i <= 5; i++) await mail.append('sync', Buffer.from(`Subject: s${i}\r\n\r\nbody ${i}\r\n`));
  const box = await mail.mailboxOpen('sync');
  const known = { uidValidity: box.uidValidity, changedSince: box.highestModseq };
  await mail.mailboxClose();

  const other = new ImapFlow(options);
  await other.connect();
  await other.mailboxOpen('sync');
  await other.messageFlagsAdd('2', ['\\Flagged'], { uid: true });
  await other.messageDelete('3:4', { uid: true });
  await other.logout();

  const expunged: Array<{ uid?: number; earlier?: boolean }> = [];
  const flagged: Array<{ uid?: number; flags: Set<string> }> = [];
  mail.on('expunge', (e: { uid?: number; earlier?: boolean }) => expunged.push(e));
  mail.on('flags', (f: { uid?: number; flags: Set<string> }) => flagged.push(f));
  // imapflow's typings leave out the QRESYNC options its SELECT takes (lib/commands/select.js).
  const again = (await mail.mailboxOpen('sync', known as never)) as { qresync?: boolean };
  expect(again.qresync).toBe(true);
  expect(expunged.map((e) => [e.uid, e.earlier])).toEqual([[3, true], [4, true]]);
  expect(flagged.map((f) => [f.uid, [...f.flags]])).toEqual([[2, ['\\Flagged']]]);
  await mail.logout();
});
