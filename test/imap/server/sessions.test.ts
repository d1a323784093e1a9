// Two sessions of one user: each sees the other's flag changes and expunges, announced only where
// RFC 3501 §7.4.1 allows (never EXPUNGE after FETCH/STORE/SEARCH, yes after NOOP and during IDLE).
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.imap_metadata_max_value_size = 1024;
  });
});
afterAll(async () => t.stop());

const msg = (n: number) => `Subject: m${n}\r\n\r\nbody ${n}\r\n`;

async function appendRaw(c: RawClient, tag: string, box: string, body: string, flags = ''): Promise<string[]> {
  c.send(`${tag} APPEND ${box} ${flags ? `(${flags}) ` : ''}{${Buffer.byteLength(body)}}\r\n`);
  expect(await c.readLine()).toBe('+ OK');
  c.send(body + '\r\n');
  return c.until((l) => l.startsWith(`${tag} `));
}

test('flag changes and expunges travel between sessions', async () => {
  const a = await RawClient.connect(t.port);
  const b = await RawClient.connect(t.port);
  await a.command('l', 'LOGIN alice pw');
  await b.command('l', 'LOGIN alice pw');
  for (let i = 1; i <= 3; i++) expect((await appendRaw(a, `p${i}`, 'INBOX', msg(i))).pop()).toMatch(new RegExp(`^p${i} OK \\[APPENDUID \\d+ ${i}\\] Append completed.$`));

  const selA = await a.command('s', 'SELECT INBOX');
  expect(selA).toContain('* 3 EXISTS');
  expect(selA).toContain('* 3 RECENT');
  expect(selA.pop()).toBe('s OK [READ-WRITE] Select completed.');
  const selB = await b.command('s', 'SELECT INBOX');
  expect(selB).toContain('* 0 RECENT'); // \Recent belongs to the first session

  // Session A flags message 2; B learns it on NOOP.
  expect(await a.command('f', 'STORE 2 +FLAGS (\\Flagged)')).toEqual(['* 2 FETCH (FLAGS (\\Flagged \\Recent))', 'f OK Store completed.']);
  expect(await b.command('n', 'NOOP')).toEqual(['* 2 FETCH (FLAGS (\\Flagged))', 'n OK NOOP completed.']);

  // A expunges message 1: B must not see EXPUNGE after FETCH (sequence numbers stay), but after NOOP.
  await a.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  // Dovecot 2.3.19 follows the EXPUNGE with the lower \Recent count.
  expect(await a.command('e', 'EXPUNGE')).toEqual(['* 1 EXPUNGE', '* 2 RECENT', 'e OK Expunge completed.']);
  const fetchB = await b.command('x', 'FETCH 1:3 (UID)');
  expect(fetchB.filter((l) => l.includes('EXPUNGE'))).toEqual([]);
  expect(fetchB).toEqual(expect.arrayContaining(['* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)']));
  expect(await b.command('n2', 'NOOP')).toEqual(['* 1 EXPUNGE', 'n2 OK NOOP completed.']);
  expect(await b.command('x2', 'FETCH 1 (UID)')).toEqual(['* 1 FETCH (UID 2)', 'x2 OK Fetch completed.']);

  // IDLE in B wakes on A's change at once.
  b.send('i IDLE\r\n');
  expect(await b.readLine()).toBe('+ idling');
  await a.command('f2', 'STORE 1 +FLAGS (\\Answered)');
  expect(await b.readLine()).toBe('* 1 FETCH (FLAGS (\\Answered \\Flagged))');
  b.send('DONE\r\n');
  expect(await b.readLine()).toBe('i OK Idle completed.');
  a.close();
  b.close();
});

test('FETCH BODY[] sets \\Seen, BODY.PEEK[] does not; EXAMINE changes nothing', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN bob pw');
  await appendRaw(c, 'p', 'INBOX', msg(9));
  await c.command('s', 'SELECT INBOX');
  const peek = await c.command('f1', 'FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  expect(peek[0]).toBe('* 1 FETCH (FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {15}');
  const full = await c.command('f2', 'FETCH 1 BODY[TEXT]');
  expect(full[0]).toBe('* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT] {8}');
  await c.command('ex', 'EXAMINE INBOX');
  expect((await c.command('st', 'STORE 1 +FLAGS (\\Flagged)')).pop()).toBe('st NO [READ-ONLY] Mailbox is read-only.');
  c.close();
});

test('CONDSTORE: HIGHESTMODSEQ, CHANGEDSINCE, UNCHANGEDSINCE → MODIFIED', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE Cond');
  await appendRaw(c, 'p1', 'Cond', msg(1));
  await appendRaw(c, 'p2', 'Cond', msg(2));
  const sel = await c.command('s', 'SELECT Cond (CONDSTORE)');
  const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'))![1]);
  const st = await c.command('f', 'STORE 1 +FLAGS (\\Seen)');
  const modseq = Number(/MODSEQ \((\d+)\)/.exec(st[0]!)![1]);
  expect(modseq).toBeGreaterThan(hms);
  expect(await c.command('g', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms})`)).toEqual([`* 1 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${modseq}))`, 'g OK Fetch completed.']);
  const cond = await c.command('u', `STORE 1:2 (UNCHANGEDSINCE ${hms}) +FLAGS (\\Flagged)`);
  expect(cond.pop()).toBe('u OK [MODIFIED 1] Conditional store failed.');
  // Dovecot's order in STORE replies: MODSEQ before FLAGS.
  expect(cond.some((l) => /^\* 2 FETCH \(MODSEQ \(\d+\) FLAGS \(\\Flagged \\Recent\)\)$/.test(l))).toBe(true);
  const status = await c.command('t', 'STATUS Cond (MESSAGES HIGHESTMODSEQ SIZE)');
  expect(status[0]).toMatch(/^\* STATUS Cond \(MESSAGES 2 HIGHESTMODSEQ \d+ SIZE \d+\)$/);
  c.close();
});

test('METADATA: server and mailbox entries, MAXSIZE, limits', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  expect(await c.command('s1', 'SETMETADATA "" (/private/comment "hello")')).toEqual(['s1 OK Setmetadata completed.']);
  expect(await c.command('g1', 'GETMETADATA "" /private/comment')).toEqual(['* METADATA "" (/private/comment "hello")', 'g1 OK Getmetadata completed.']);
  expect(await c.command('g2', 'GETMETADATA (MAXSIZE 2) "" /private/comment')).toEqual(['g2 OK [METADATA LONGENTRIES 5] Getmetadata completed.']);
  await c.command('s2', 'SETMETADATA INBOX (/shared/vendor/x "1" /shared/vendor/y "2")');
  expect(await c.command('g3', 'GETMETADATA (DEPTH 1) INBOX /shared/vendor')).toEqual(['* METADATA INBOX (/shared/vendor/x "1" /shared/vendor/y "2")', 'g3 OK Getmetadata completed.']);
  const big = 'x'.repeat(2000);
  c.send(`s3 SETMETADATA "" (/private/big {${big.length}}\r\n`);
  expect(await c.readLine()).toBe('+ OK');
  c.send(`${big})\r\n`);
  expect(await c.until((l) => l.startsWith('s3 '))).toEqual(['s3 NO [METADATA MAXSIZE 1024] Metadata entry value too large.']);
  expect((await c.command('s4', 'SETMETADATA Nope (/private/a "1")')).pop()).toBe("s4 NO [NONEXISTENT] Mailbox doesn't exist: Nope.");
  c.close();
});

test('the selected mailbox deleted by another session ends the session as in Dovecot', async () => {
  const a = await RawClient.connect(t.port);
  const b = await RawClient.connect(t.port);
  await a.command('l', 'LOGIN bob pw');
  await b.command('l', 'LOGIN bob pw');
  await a.command('c', 'CREATE Gone');
  await a.command('s', 'SELECT Gone');
  expect(await b.command('d', 'DELETE Gone')).toEqual(['d OK Delete completed.']);
  a.send('n NOOP\r\n');
  expect(await a.readLine()).toBe('* BYE Selected mailbox was deleted, have to disconnect.');
  await a.waitClosed();
  b.close();
});
