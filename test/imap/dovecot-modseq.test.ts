// Modseq counting and modseq tracking as Dovecot does them. Every expectation below was seen on a
// real Dovecot 2.3.19.1 (Debian, sdbox and maildir) running the same command sequence over IMAP:
// one modseq per committed transaction (a MULTIAPPEND's messages share one, as do a COPY's and a
// STORE's), none for a no-op STORE or for taking \Recent, one for every SETMETADATA (server
// metadata counts on INBOX); HIGHESTMODSEQ only once a CONDSTORE client has opened the mailbox.
import { message, startRoost, type Roost } from '../e2e/harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(async () => {
  await roost.stop();
});

const modseqOf = (lines: string[]) => Number(/HIGHESTMODSEQ (\d+)/.exec(lines.join('\n'))?.[1] ?? NaN);

test('modseqs are counted per transaction and tracked once a CONDSTORE client selected the mailbox', async () => {
  await roost.deliver(['alice'], message('one'));
  const c = await roost.raw({ username: 'alice' });
  try {
    // Never opened by a CONDSTORE client: no HIGHESTMODSEQ in SELECT (Dovecot's untracked index).
    const plain = await c.command('a1', 'SELECT INBOX');
    expect(plain.join('\n')).not.toMatch(/HIGHESTMODSEQ/);
    expect(modseqOf(await c.command('a2', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(2);
    await c.command('a3', 'UNSELECT');

    await c.command('b1', 'ENABLE CONDSTORE');
    expect(modseqOf(await c.command('b2', 'SELECT INBOX'))).toBe(2);
    expect((await c.command('b3', 'STORE 1 +FLAGS (\\Seen)')).join('\n')).toMatch(/MODSEQ \(3\)/);
    // A STORE that changes nothing takes no modseq.
    await c.command('b4', 'STORE 1 +FLAGS (\\Seen)');
    await c.command('b5', 'STORE 1 -FLAGS (\\Draft)');
    expect(modseqOf(await c.command('b6', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(3);
    await c.command('b7', 'APPEND INBOX {5+}\r\nhello');
    expect(modseqOf(await c.command('b8', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(4);
    // MULTIAPPEND: one transaction, one modseq for both messages.
    const multi = await c.command('b9', 'APPEND INBOX {5+}\r\nhell1 {5+}\r\nhell2');
    expect(multi.at(-1)).toMatch(/^b9 OK \[APPENDUID \d+ 3:4\]/);
    expect(modseqOf(await c.command('b10', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(5);
    const fetched = await c.command('b11', 'FETCH 1:* (UID MODSEQ)');
    expect(fetched.filter((l) => l.startsWith('* ')).map((l) => /MODSEQ \((\d+)\)/.exec(l)![1])).toEqual(['3', '4', '5', '5']);
    await c.command('b12', 'COPY 1:2 INBOX');
    expect(modseqOf(await c.command('b13', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(6);
    await c.command('b14', 'STORE 1 +FLAGS (kw1)');
    // .SILENT with CONDSTORE on: the MODSEQ still comes (Dovecot 2.3.19).
    expect(await c.command('b15', 'STORE 1:2 +FLAGS.SILENT (\\Deleted)')).toEqual(['* 1 FETCH (MODSEQ (8))', '* 2 FETCH (MODSEQ (8))', 'b15 OK Store completed.']);
    expect(modseqOf(await c.command('b16', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(8);
    await c.command('b17', 'EXPUNGE');
    expect(modseqOf(await c.command('b18', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(9);

    // Every SETMETADATA takes a modseq on its mailbox, even an unset of a missing entry;
    // server metadata ("") counts on INBOX.
    await c.command('c1', 'SETMETADATA INBOX (/private/comment "x")');
    await c.command('c2', 'SETMETADATA "" (/private/bar "z")');
    await c.command('c3', 'SETMETADATA INBOX (/shared/nonexistent NIL)');
    expect(modseqOf(await c.command('c4', 'STATUS INBOX (HIGHESTMODSEQ)'))).toBe(12);
    // The selected session takes the metadata modseqs in too, and its next change goes above them.
    await c.command('c5', 'NOOP');
    expect((await c.command('c6', 'STORE 1 +FLAGS (kw2)')).join('\n')).toMatch(/MODSEQ \(13\)/);
    await c.command('c7', 'LOGOUT');
  } finally {
    c.close();
  }

  // Tracking stays on for the mailbox: a plain SELECT in a later session reports it.
  const d = await roost.raw({ username: 'alice' });
  try {
    expect(modseqOf(await d.command('d1', 'SELECT INBOX'))).toBe(13);
    // A new mailbox starts at 1, untracked.
    await d.command('d2', 'CREATE Other');
    expect((await d.command('d3', 'SELECT Other')).join('\n')).not.toMatch(/HIGHESTMODSEQ/);
    // STATUS HIGHESTMODSEQ turns CONDSTORE on for the session (RFC 7162 §3.1), which announces the
    // selected mailbox's HIGHESTMODSEQ first, as Dovecot's client_enable() does.
    expect(await d.command('d4', 'STATUS Other (HIGHESTMODSEQ)')).toEqual([
      '* OK [HIGHESTMODSEQ 1] Highest',
      '* STATUS Other (HIGHESTMODSEQ 1)',
      'd4 OK [CLIENTBUG] Status on selected mailbox completed.',
    ]);
  } finally {
    d.close();
  }
});
