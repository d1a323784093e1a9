// Protocol details found by running Dovecot's imaptest compliance scripts against Roost, pinned
// here over a raw socket: each test states the behaviour Dovecot 2.3 shows and the RFC asks for.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

async function appendRaw(c: RawClient, tag: string, box: string, body: string): Promise<string[]> {
  c.send(`${tag} APPEND ${box} {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
  return c.until((l) => l.startsWith(`${tag} `));
}

async function login(): Promise<RawClient> {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK /);
  return c;
}

test('a message expunged by another session still answers FETCH UID/FLAGS until the EXPUNGE is announced', async () => {
  const a = await login();
  const b = await login();
  await a.command('c', 'CREATE gone');
  for (let i = 1; i <= 3; i++) await appendRaw(a, `p${i}`, 'gone', `Subject: m${i}\r\n\r\nbody ${i}\r\n`);
  await a.command('s', 'SELECT gone');
  await b.command('s', 'SELECT gone');
  await a.command('d', 'STORE 3 +FLAGS.SILENT (\\Deleted)');
  // Dovecot 2.3.19 follows the EXPUNGE with the lower \Recent count.
  expect(await a.command('e', 'EXPUNGE')).toEqual(['* 3 EXPUNGE', '* 2 RECENT', 'e OK Expunge completed.']);

  // B has not been told: sequence 3 is still UID 3 with the flags B last saw.
  expect(await b.command('f1', 'FETCH 3 (UID FLAGS)')).toEqual(['* 3 FETCH (UID 3 FLAGS ())', 'f1 OK Fetch completed.']);
  expect(await b.command('f2', 'FETCH 2:3 UID')).toEqual(['* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)', 'f2 OK Fetch completed.']);
  // The body is gone: the others are answered and the tagged reply says some were skipped.
  expect(await b.command('f3', 'FETCH 2:3 BODY.PEEK[TEXT]')).toEqual([
    '* 2 FETCH (BODY[TEXT] {8}',
    'body 2',
    ')',
    'f3 OK [EXPUNGEISSUED] Some messages were already expunged.',
  ]);
  expect(await b.command('n', 'NOOP')).toEqual(['* 3 EXPUNGE', 'n OK NOOP completed.']);
  a.close();
  b.close();
});

test('FETCH (UID FLAGS RFC822.SIZE) from the view: sizes of later appends, pending expunges skipped', async () => {
  const a = await login();
  const b = await login();
  await a.command('c', 'CREATE sized');
  await appendRaw(a, 'p1', 'sized', 'Subject: m1\r\n\r\nbody 1\r\n');
  await b.command('s', 'EXAMINE sized');
  // Appended after EXAMINE: the view learns these sizes from storage on the first FETCH.
  await appendRaw(a, 'p2', 'sized', 'Subject: m22\r\n\r\nbody 22\r\n');
  await appendRaw(a, 'p3', 'sized', 'Subject: m3\r\n\r\nbody 3\r\n');
  await b.command('n', 'NOOP');
  const all = ['* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 23)', '* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 25)', '* 3 FETCH (UID 3 FLAGS () RFC822.SIZE 23)'];
  expect(await b.command('f1', 'FETCH 1:* (UID FLAGS RFC822.SIZE)')).toEqual([...all, 'f1 OK Fetch completed.']);
  expect(await b.command('f2', 'FETCH 3,1:2 (UID FLAGS RFC822.SIZE)')).toEqual([...all, 'f2 OK Fetch completed.']);
  await a.command('s', 'SELECT sized');
  await a.command('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
  await a.command('e', 'EXPUNGE');
  // B has not been told: UID 2 keeps its sequence number but its size needs the message.
  expect(await b.command('f3', 'FETCH 1:* (UID FLAGS RFC822.SIZE)')).toEqual([all[0], all[2], 'f3 OK [EXPUNGEISSUED] Some messages were already expunged.']);
  expect(await b.command('f4', 'FETCH 2 (UID FLAGS)')).toEqual(['* 2 FETCH (UID 2 FLAGS ())', 'f4 OK Fetch completed.']);
  a.close();
  b.close();
});

test('ENVELOPE: an empty Sender or Reply-To header falls back to From, like an absent one', async () => {
  const c = await login();
  await c.command('c', 'CREATE env');
  const msg = 'Date: Sat, 01 Feb 2007 01:02:03 +0200\r\nFrom: user@domain (Real Name)\r\nSender: \r\nReply-To: \r\n\r\nbody\r\n';
  await appendRaw(c, 'a', 'env', msg);
  await c.command('s', 'EXAMINE env');
  const from = '(("Real Name" NIL "user" "domain"))';
  expect(await c.command('f', 'FETCH 1 ENVELOPE')).toEqual([
    `* 1 FETCH (ENVELOPE ("Sat, 01 Feb 2007 01:02:03 +0200" NIL ${from} ${from} ${from} NIL NIL NIL NIL NIL))`,
    'f OK Fetch completed.',
  ]);
  c.close();
});

test('LIST (SUBSCRIBED RECURSIVEMATCH) lists a parent with CHILDINFO only for a subscribed child it does not list', async () => {
  const c = await login();
  for (const box of ['rm/test2/test1', 'rm/test8/test8', 'rm/test8/test9']) await c.command('c', `CREATE ${box}`);
  for (const box of ['rm/test2/test1', 'rm/test8/test8', 'rm/test8/test9']) await c.command('s', `SUBSCRIBE ${box}`);

  // The child is not matched: the parent stands in for it.
  expect(await c.command('a', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" (rm/test2)')).toEqual([
    '* LIST (\\Noselect \\HasChildren) "/" rm/test2 ("CHILDINFO" ("SUBSCRIBED"))',
    'a OK List completed.',
  ]);
  // The child is matched by the second pattern: the parent would be redundant (RFC 5258 §3.5).
  expect(await c.command('b', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" (rm/test2 rm/test2/test1)')).toEqual([
    '* LIST (\\HasNoChildren \\Subscribed) "/" rm/test2/test1',
    'b OK List completed.',
  ]);
  // One child listed (test8/test8), one not (test8/test9): the parent is listed for the latter.
  expect(await c.command('d', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" *test8')).toEqual([
    '* LIST (\\Noselect \\HasChildren) "/" rm/test8 ("CHILDINFO" ("SUBSCRIBED"))',
    '* LIST (\\HasNoChildren \\Subscribed) "/" rm/test8/test8',
    'd OK List completed.',
  ]);
  c.close();
});

test('a CONDSTORE-enabling FETCH MODSEQ in a selected mailbox first reports HIGHESTMODSEQ', async () => {
  const c = await login();
  await c.command('c', 'CREATE cs');
  await appendRaw(c, 'a', 'cs', 'Subject: x\r\n\r\nx\r\n');
  // Not opened by a CONDSTORE client yet: SELECT has no HIGHESTMODSEQ (Dovecot 2.3.19).
  const sel = await c.command('s', 'SELECT cs');
  expect(sel.some((l) => l.includes('HIGHESTMODSEQ'))).toBe(false);
  const highest = '* OK [HIGHESTMODSEQ 2] Highest';
  const first = await c.command('f', 'FETCH 1 MODSEQ');
  expect(first).toEqual([highest, expect.stringMatching(/^\* 1 FETCH \(MODSEQ \(\d+\)\)$/), 'f OK Fetch completed.']);
  // Once enabled it is not repeated.
  expect((await c.command('g', 'FETCH 1 MODSEQ')).length).toBe(2);
  c.close();
  // The mailbox tracks modseqs from now on: a session without CONDSTORE sees HIGHESTMODSEQ too.
  const other = await login();
  expect(await other.command('s', 'SELECT cs')).toContain('* OK [HIGHESTMODSEQ 2] Highest');
  other.close();
});

test('DELETE of the selected mailbox succeeds, then the server disconnects (Dovecot cmd-delete.c)', async () => {
  const c = await login();
  await c.command('c', 'CREATE doomed');
  await appendRaw(c, 'a', 'doomed', 'Subject: x\r\n\r\nbody\r\n');
  await c.command('s', 'SELECT doomed');
  expect((await c.command('d', 'DELETE doomed')).pop()).toMatch(/^d OK Delete completed\./);
  await c.waitClosed();
  expect(c.lines.at(-1)).toBe('* BYE Selected mailbox was deleted, have to disconnect.');
  const other = await login();
  expect((await other.command('l', 'LIST "" doomed'))).toEqual(['l OK List completed.']);
  other.close();
});

test('a mailbox renamed by another session stays selected under its new name', async () => {
  const a = await login();
  const b = await login();
  await a.command('c', 'CREATE before');
  await appendRaw(a, 'p', 'before', 'Subject: r\r\n\r\nbody\r\n');
  await a.command('s', 'SELECT before');
  expect((await b.command('r', 'RENAME before after')).pop()).toMatch(/^r OK /);
  // The selected mailbox is now "after": STATUS on it is refused as on any selected mailbox
  // (CLIENTBUG), and an APPEND to it shows up in the session at once.
  expect((await a.command('st', 'STATUS after (MESSAGES)')).join('\n')).toMatch(/CLIENTBUG/);
  const appended = await appendRaw(a, 'p2', 'after', 'Subject: r2\r\n\r\nbody\r\n');
  expect(appended).toContain('* 2 EXISTS');
  expect((await a.command('f', 'FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).join('\n')).toContain('Subject: r2');
  a.close();
  b.close();
});

test('a LIST/LSUB pattern that is not valid mUTF-7 is matched as given (Dovecot 2.3.19)', async () => {
  const c = await login();
  await c.command('c', 'CREATE "a&-b"');
  expect(await c.command('l1', 'LIST "" "!#$$&\'+,-.0123456789:;<=>?@^_`|[}%*"')).toEqual(['l1 OK List completed.']);
  expect(await c.command('l2', 'LIST "" "&Jjo"')).toEqual(['l2 OK List completed.']);
  expect(await c.command('l3', 'LSUB "" "&"')).toEqual(['l3 OK Lsub completed.']);
  // A valid pattern still decodes: `&-` is `&`.
  expect(await c.command('l4', 'LIST "" "a&-*"')).toEqual(['* LIST (\\HasNoChildren) "/" a&-b', 'l4 OK List completed.']);
  c.close();
});

test('STORE with NIL as the flag stores the keyword NIL, as Dovecot 2.3.19 does; the connection stays usable', async () => {
  const c = await login();
  await c.command('c', 'CREATE nilflags');
  await appendRaw(c, 'p', 'nilflags', 'Subject: n\r\n\r\nbody\r\n');
  await c.command('s', 'SELECT nilflags');
  expect(await c.command('s1', 'STORE 1 +FLAGS NIL')).toEqual([
    '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NIL)',
    '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NIL \\*)] Flags permitted.',
    '* 1 FETCH (FLAGS (NIL \\Recent))',
    's1 OK Store completed.',
  ]);
  expect(await c.command('s2', 'STORE 1 -FLAGS NIL')).toEqual(['* 1 FETCH (FLAGS (\\Recent))', 's2 OK Store completed.']);
  expect(await c.command('s3', 'STORE 1 +FLAGS.SILENT (NIL)')).toEqual(['s3 OK Store completed.']);
  // A malformed STORE is a BAD for that command only.
  expect(await c.command('s4', 'STORE 1 +FLAGS ("x")')).toEqual(['s4 BAD Error in IMAP command STORE: Invalid arguments.']);
  expect(await c.command('n', 'NOOP')).toEqual(['n OK NOOP completed.']);
  c.close();
});
