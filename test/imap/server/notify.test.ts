// NOTIFY (RFC 5465) over real sockets with raw protocol lines (no client library speaks NOTIFY):
// events from another IMAP session, from an LMTP delivery and from a `roost deliver` process (the
// built command, spawned) reach a session between commands, in IDLE and before a tagged reply;
// mailbox create/rename/delete and subscriptions arrive as LIST; the selected mailbox's events
// follow its filter (MessageNew FETCH attributes, CONDSTORE MODSEQ, QRESYNC VANISHED, expunges
// held by selected-delayed and never sent inside FETCH); NOTIFY NONE stops them; the limit on
// mailbox names is a setting; bad syntax is BAD and the connection lives on.
// test/imap/server/notify-dovecot.test.ts compares answers with Dovecot's.
import { buildCli, ROOT, roost as roostCommand } from '../../cli/built-roost.js';
import { message, startRoost, type RawImapClient, type Roost } from '../../e2e/harness.js';

let roost: Roost;
let conf: string;

beforeAll(async () => {
  buildCli();
  roost = await startRoost({ users: [{ username: 'alice' }, { username: 'bob' }], config: 'imap_notify_max_mailbox_names = 3' });
  conf = roost.file(
    'roost.conf',
    [`data_dir = ${roost.dir}/data`, `mail_location = ${roost.ctx.settings.mail_location}`, `mail_home = ${roost.dir}/home/%d/%n`, 'passdb {', '  driver = roost', '}', 'userdb {', '  driver = roost', '}', ''].join('\n'),
  );
}, 60000);
afterAll(() => roost?.stop());

const login = (username = 'alice') => roost.raw({ username });

async function append(c: RawImapClient, tag: string, mailbox: string, subject: string, flags = ''): Promise<void> {
  const body = message(subject);
  c.send(`${tag} APPEND ${mailbox} (${flags}) {${body.length}+}\r\n${body}\r\n`);
  expect((await c.until((l) => l.startsWith(`${tag} `))).pop()).toMatch(new RegExp(`^${tag} OK`));
}

/** Untagged lines of a command, without the tagged reply. */
async function untagged(c: RawImapClient, tag: string, command: string): Promise<string[]> {
  const lines = await c.command(tag, command);
  expect(lines.pop()).toMatch(new RegExp(`^${tag} OK`));
  return lines;
}

test('other mailboxes: STATUS between commands, in IDLE and before a tagged reply; NOTIFY NONE stops it', async () => {
  const a = await login();
  const b = await login();
  await untagged(b, 'c', 'CREATE t1');
  const set = await a.command('n', 'NOTIFY SET STATUS (mailboxes t1 (MessageNew MessageExpunge FlagChange))');
  expect(set).toEqual([expect.stringMatching(/^\* STATUS t1 \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 HIGHESTMODSEQ 1\)$/), 'n OK NOTIFY completed.']);

  // Between commands: the client sends nothing and hears of the append.
  await append(b, 'a1', 't1', 'one');
  expect(await a.readLine()).toMatch(/^\* STATUS t1 \(MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ \d+\)$/);

  // In IDLE (authenticated state: nothing selected).
  a.send('i IDLE\r\n');
  expect(await a.readLine()).toBe('+ idling');
  await untagged(b, 's', 'SELECT t1');
  await untagged(b, 'f', 'STORE 1 +FLAGS.SILENT (\\Seen)');
  expect(await a.readLine()).toMatch(/^\* STATUS t1 \(UNSEEN 0 HIGHESTMODSEQ \d+\)$/);
  a.send('DONE\r\n');
  expect(await a.readLine()).toBe('i OK Idle completed.');

  // Before the tagged reply of the session's next command: a burst makes one STATUS.
  await untagged(b, 'd', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  await untagged(b, 'e', 'EXPUNGE');
  expect(await untagged(a, 'p', 'NOOP')).toEqual([expect.stringMatching(/^\* STATUS t1 \(MESSAGES 0 UIDNEXT 2 UNSEEN 0 HIGHESTMODSEQ \d+\)$/)]);

  // Another user's changes are not this user's events.
  const bob = await login('bob');
  await untagged(bob, 'c', 'CREATE t1');
  await append(bob, 'a', 't1', 'bob');

  expect(await a.command('x', 'NOTIFY NONE')).toEqual(['x OK NOTIFY completed.']);
  await append(b, 'a2', 't1', 'two');
  await untagged(b, 'c2', 'CREATE t1/child');
  expect(await untagged(a, 'q', 'NOOP')).toEqual([]);
  for (const c of [a, b, bob]) c.close();
});

test('mailbox names and subscriptions arrive as LIST', async () => {
  const a = await login();
  const b = await login();
  await untagged(a, 'n', 'NOTIFY SET (personal (MailboxName SubscriptionChange))');
  await untagged(b, 'c', 'CREATE lists');
  expect(await a.readLine()).toBe('* LIST () "/" lists');
  await untagged(b, 'r', 'RENAME lists listed');
  expect(await a.readLine()).toBe('* LIST () "/" listed ("OLDNAME" (lists))');
  await untagged(b, 's', 'SUBSCRIBE listed');
  expect(await a.readLine()).toBe('* LIST (\\Subscribed) "/" listed');
  await untagged(b, 'u', 'UNSUBSCRIBE listed');
  expect(await a.readLine()).toBe('* LIST () "/" listed');
  await untagged(b, 'd', 'DELETE listed');
  expect(await a.readLine()).toBe('* LIST (\\NonExistent) "/" listed');
  // The session's own changes are events too, after the tagged reply of the command that made
  // them (as in Dovecot 2.3.19).
  expect(await a.command('c2', 'CREATE "own box"')).toEqual([expect.stringMatching(/^c2 OK .*Create completed\.$/)]);
  expect(await a.readLine()).toBe('* LIST () "/" "own box"');
  // Only the filter's mailboxes: a subtree.
  await untagged(a, 'n2', 'NOTIFY SET (subtree "own box" (MailboxName))');
  await untagged(b, 'c3', 'CREATE elsewhere');
  await untagged(b, 'c4', 'CREATE "own box/inner"');
  expect(await untagged(a, 'p', 'NOOP')).toEqual(['* LIST () "/" "own box/inner"']);
  a.close();
  b.close();
});

test('metadata: a change is a HIGHESTMODSEQ change; metadata events are refused as Dovecot refuses them', async () => {
  const a = await login();
  const b = await login();
  await untagged(b, 'c', 'CREATE meta');
  expect(await a.command('n1', 'NOTIFY SET (personal (MailboxMetadataChange ServerMetadataChange))')).toEqual([
    'n1 NO [BADEVENT MailboxMetadataChange ServerMetadataChange] Unsupported NOTIFY events.',
  ]);
  expect(await a.command('n2', 'NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))')).toEqual(['n2 NO [BADEVENT AnnotationChange] Unsupported NOTIFY events.']);
  await untagged(a, 'n3', 'NOTIFY SET (mailboxes meta (FlagChange))');
  await untagged(b, 'm', 'SETMETADATA meta (/private/comment "hello")');
  expect(await a.readLine()).toMatch(/^\* STATUS meta \(HIGHESTMODSEQ \d+\)$/);
  a.close();
  b.close();
});

test('an LMTP delivery and a `roost deliver` process reach a NOTIFY session without a command', async () => {
  const a = await login();
  const status = await untagged(a, 'n', 'NOTIFY SET STATUS (inboxes (MessageNew MessageExpunge))');
  const before = Number(/MESSAGES (\d+)/.exec(status.find((l) => l.startsWith('* STATUS INBOX'))!)![1]);
  const r = await roost.deliver(['alice'], message('over lmtp'));
  expect(r.data[0]).toMatch(/^250/);
  expect(await a.readLine()).toMatch(new RegExp(`^\\* STATUS INBOX \\(MESSAGES ${before + 1} UIDNEXT \\d+ UNSEEN \\d+ HIGHESTMODSEQ \\d+\\)$`));
  // Another process: the change feed brings it.
  const run = await roostCommand(['-c', conf, 'deliver', '-u', 'alice'], { cwd: ROOT, input: message('from roost deliver') });
  expect(run.code).toBe(0);
  expect(await a.readLine(10_000)).toMatch(new RegExp(`^\\* STATUS INBOX \\(MESSAGES ${before + 2} UIDNEXT \\d+ UNSEEN \\d+ HIGHESTMODSEQ \\d+\\)$`));
  // In IDLE as well.
  a.send('i IDLE\r\n');
  expect(await a.readLine()).toBe('+ idling');
  expect((await roostCommand(['-c', conf, 'deliver', '-u', 'alice'], { cwd: ROOT, input: message('while idling') })).code).toBe(0);
  expect(await a.readLine(10_000)).toMatch(new RegExp(`^\\* STATUS INBOX \\(MESSAGES ${before + 3} `));
  a.send('DONE\r\n');
  expect(await a.readLine()).toBe('i OK Idle completed.');
  a.close();
});

test('the selected mailbox: MessageNew FETCH attributes, flag changes with MODSEQ, expunges at once or delayed', async () => {
  const a = await login();
  const b = await login();
  await untagged(b, 'c', 'CREATE sel');
  await append(b, 'a0', 'sel', 'first');
  await untagged(a, 'en', 'ENABLE CONDSTORE');
  await untagged(a, 's', 'SELECT sel');
  await untagged(b, 's', 'SELECT sel');
  await untagged(a, 'n', 'NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange))');
  // A new message: EXISTS, then its FETCH, with no command from the client.
  await append(b, 'a1', 'sel', 'second');
  expect(await a.readLine()).toBe('* 2 EXISTS');
  const subject = 'Subject: second\r\n\r\n';
  expect(await a.readLine()).toBe(`* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {${subject.length}}`);
  expect(await a.readLine()).toBe('Subject: second');
  expect(await a.readLine()).toBe('');
  expect(await a.readLine()).toBe(')');
  // Flags: MODSEQ, CONDSTORE being on.
  await untagged(b, 'f', 'STORE 1 +FLAGS.SILENT (\\Flagged)');
  expect(await a.readLine()).toMatch(/^\* 1 FETCH \(MODSEQ \(\d+\) FLAGS \(\\Flagged \\Recent\)\)$/);
  // `selected`: an expunge goes out at once.
  await untagged(b, 'd', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  await untagged(b, 'e', 'EXPUNGE');
  expect(await a.readLine()).toBe('* 1 EXPUNGE');
  // The message was \Recent here: the count goes down with it (as Dovecot 2.3.19 reports it).
  expect(await a.readLine()).toBe('* 0 RECENT');
  expect(await untagged(a, 'p', 'NOOP')).toEqual([]);

  // `selected-delayed`: new messages still come unasked; the expunge waits for a command that may
  // announce it, and FETCH is not one (RFC 3501 §7.4.1).
  await untagged(a, 'n2', 'NOTIFY SET (selected-delayed (MessageNew MessageExpunge))');
  await append(b, 'a2', 'sel', 'third');
  expect(await a.readLine()).toBe('* 2 EXISTS');
  await untagged(b, 'n', 'NOOP');
  await untagged(b, 'd2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  await untagged(b, 'e2', 'EXPUNGE');
  expect(await a.command('f2', 'FETCH 1:* (UID)')).toEqual(['* 1 FETCH (UID 2)', '* 2 FETCH (UID 3)', expect.stringMatching(/^f2 OK/)]);
  expect((await untagged(a, 'p3', 'NOOP'))[0]).toBe('* 1 EXPUNGE');

  // No selected filter: no EXISTS or flag FETCH unasked (RFC 5465 §5.1); EXPUNGE still comes.
  await untagged(a, 'n3', 'NOTIFY SET (personal (MessageNew MessageExpunge))');
  await append(b, 'a4', 'sel', 'fifth');
  expect(await untagged(a, 'p4', 'NOOP')).toEqual([]);
  // Closed, the mailbox is one of the others: what happened while it was selected is not news.
  expect(await untagged(a, 'u', 'UNSELECT')).toEqual([]);
  expect(await untagged(a, 'p5', 'NOOP')).toEqual([]);
  await append(b, 'a5', 'sel', 'sixth');
  expect(await a.readLine()).toMatch(/^\* STATUS sel \(MESSAGES 3 UIDNEXT 6 UNSEEN 3 HIGHESTMODSEQ \d+\)$/);
  a.close();
  b.close();
});

test('QRESYNC: expunges in the selected mailbox are VANISHED', async () => {
  const a = await login();
  const b = await login();
  await untagged(b, 'c', 'CREATE qr');
  for (let i = 1; i <= 3; i++) await append(b, `a${i}`, 'qr', `m${i}`);
  await untagged(a, 'en', 'ENABLE QRESYNC');
  await untagged(a, 's', 'SELECT qr');
  await untagged(a, 'n', 'NOTIFY SET (selected (MessageNew MessageExpunge))');
  await untagged(b, 's', 'SELECT qr');
  await untagged(b, 'd', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
  await untagged(b, 'e', 'EXPUNGE');
  expect(await a.readLine()).toBe('* VANISHED 2');
  a.close();
  b.close();
});

test('errors: BAD for syntax with the connection kept, NO for too many names (imap_notify_max_mailbox_names)', async () => {
  const a = await login();
  expect(await a.command('b1', 'NOTIFY')).toEqual(['b1 BAD Error in IMAP command NOTIFY: Invalid arguments.']);
  expect(await a.command('b2', 'NOTIFY SET (personal (Bogus))')).toEqual(['b2 BAD Error in IMAP command NOTIFY: Invalid arguments.']);
  expect(await a.command('b3', 'NOTIFY SET (selected (MessageNew))')).toEqual(['b3 BAD Error in IMAP command NOTIFY: MessageNew and MessageExpunge must be together.']);
  expect(await a.command('b4', 'NOTIFY SET (selected (FlagChange))')).toEqual(['b4 BAD Error in IMAP command NOTIFY: FlagChange requires MessageNew and MessageExpunge.']);
  expect(await a.command('b5', 'NOTIFY SET (selected NONE) (selected-delayed NONE)')).toEqual(['b5 BAD Error in IMAP command NOTIFY: Duplicate selected filter.']);
  expect(await a.command('b6', 'NOTIFY SET (selected (MessageNew (UID BOGUS) MessageExpunge))')).toEqual([
    'b6 BAD Error in IMAP command NOTIFY: Invalid fetch-att list: Unknown parameter: BOGUS.',
  ]);
  expect(await a.command('b7', 'NOTIFY SET (subtree (MessageNew))')).toEqual(['b7 BAD Error in IMAP command NOTIFY: Invalid arguments.']);
  expect(await a.command('o1', 'NOTIFY SET (mailboxes (m1 m2 m3) (MessageNew))')).toEqual(['o1 OK NOTIFY completed.']);
  expect(await a.command('o2', 'NOTIFY SET (mailboxes (m1 m2 m3 m4) (MessageNew))')).toEqual(['o2 NO [NOTIFICATIONOVERFLOW] Too many mailbox names.']);
  // Groups count apart, as in Dovecot: 3 names for MessageNew and 3 for MessageExpunge.
  expect(await a.command('o3', 'NOTIFY SET (mailboxes (m1 m2 m3) (MessageNew)) (mailboxes (m4 m5 m6) (MessageExpunge))')).toEqual(['o3 OK NOTIFY completed.']);
  // Not before login.
  const fresh = await roost.raw();
  expect((await fresh.command('p', 'NOTIFY NONE'))[0]).toMatch(/^p BAD/);
  fresh.close();
  expect(await a.command('ok', 'NOOP')).toEqual(['ok OK NOOP completed.']);
  a.close();
});

test('UNAUTHENTICATE (RFC 8437) forgets NOTIFY', async () => {
  const a = await login();
  const b = await login();
  await untagged(a, 'n', 'NOTIFY SET (personal (MailboxName))');
  expect((await a.command('u', 'UNAUTHENTICATE')).pop()).toMatch(/^u OK/);
  expect((await a.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK/);
  await untagged(b, 'c', 'CREATE after-unauth');
  expect(await untagged(a, 'p', 'NOOP')).toEqual([]);
  a.close();
  b.close();
});
