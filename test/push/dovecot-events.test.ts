// Push-notification events where Roost must do what a real Dovecot 2.3.19.1 did with the same
// push_notification_driver = lua script (Debian packages, sdbox and maildir, LMTP and IMAP):
// - INBOX is created when it is first opened (the first LMTP delivery, SELECT or STATUS), and that
//   creation is a transaction of its own with a MailboxCreate event, before the delivery's;
// - RENAME of a subscribed mailbox (with a subscribed child) raises MailboxRename only: no
//   MailboxUnsubscribe or MailboxSubscribe for the moved subscriptions.
import { message, startRoost, type Roost } from '../e2e/harness.js';
import { waitUntil } from '../poll.js';
import { RECORDER_LUA } from './helpers.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({
    users: [{ username: 'alice' }, { username: 'bob' }, { username: 'carol' }],
    files: { 'rec.lua': RECORDER_LUA },
    config: [
      'mail_plugins = notify push_notification push_notification_lua',
      'plugin {',
      '  push_notification_driver = lua:file={DIR}/rec.lua',
      '}',
    ].join('\n'),
  });
});
afterAll(async () => {
  await roost.stop();
});

/** The recorder's calls for one user, `MailboxCreate mailbox="INBOX"` etc. */
function calls(prefix: string): string[] {
  return roost.records
    .filter((r) => r.prefix.startsWith(prefix) && r.level === 'Info' && /^(begin|end|[A-Z]\w+ \{)/.test(r.message))
    .map((r) => r.message.replace(/ \{.*?(mailbox="[^"]*").*/, ' $1'));
}

async function waitForCalls(prefix: string, count: number): Promise<string[]> {
  await waitUntil(`${count} push calls for ${prefix}`, () => calls(prefix).length >= count);
  return calls(prefix);
}

test('the first LMTP delivery creates INBOX in a transaction of its own, before the delivery', async () => {
  const r = await roost.deliver(['alice'], message('first'));
  expect(r.data[0]).toMatch(/^250/);
  expect(await waitForCalls('lmtp(alice)', 6)).toEqual([
    'begin alice', 'MailboxCreate mailbox="INBOX"', 'end true 1',
    'begin alice', 'MessageNew mailbox="INBOX"', 'end true 1',
  ]);
  await roost.deliver(['alice'], message('second'));
  expect((await waitForCalls('lmtp(alice)', 9)).slice(6)).toEqual(['begin alice', 'MessageNew mailbox="INBOX"', 'end true 1']);
});

test('GETMETADATA on INBOX creates it too (Dovecot 2.3.19 opens INBOX for it)', async () => {
  await roost.addUser({ username: 'erin' });
  const c = await roost.raw({ username: 'erin' });
  try {
    await c.command('g', 'GETMETADATA INBOX /private/comment');
  } finally {
    c.close();
  }
  expect(await waitForCalls('imap(erin)', 3)).toEqual(['begin erin', 'MailboxCreate mailbox="INBOX"', 'end true 1']);
});

test('the first SELECT of a new user creates INBOX; LIST does not', async () => {
  const c = await roost.raw({ username: 'bob' });
  try {
    await c.command('l', 'LIST "" *');
    await c.command('s', 'SELECT INBOX');
    await c.command('s2', 'SELECT INBOX');
  } finally {
    c.close();
  }
  expect(await waitForCalls('imap(bob)', 3)).toEqual(['begin bob', 'MailboxCreate mailbox="INBOX"', 'end true 1']);
});

test('RENAME of subscribed mailboxes raises MailboxRename only', async () => {
  const c = await roost.raw({ username: 'carol' });
  try {
    for (const [tag, cmd] of [['c1', 'CREATE P'], ['c2', 'CREATE P/C'], ['s1', 'SUBSCRIBE P/C'], ['s2', 'SUBSCRIBE P'], ['r', 'RENAME P Q']]) {
      expect((await c.command(tag!, cmd!)).at(-1)).toMatch(new RegExp(`^${tag} OK`));
    }
  } finally {
    c.close();
  }
  const got = (await waitForCalls('imap(carol)', 15)).filter((l) => !l.startsWith('begin') && !l.startsWith('end'));
  expect(got).toEqual([
    'MailboxCreate mailbox="P"', 'MailboxCreate mailbox="P/C"', 'MailboxSubscribe mailbox="P/C"', 'MailboxSubscribe mailbox="P"',
    'MailboxRename mailbox="Q"',
  ]);
  const listed = await roost.raw({ username: 'carol' });
  try {
    // The subscriptions moved with the mailboxes.
    expect(await listed.command('l', 'LSUB "" *')).toEqual(['* LSUB () "/" Q', '* LSUB () "/" Q/C', 'l OK Lsub completed.']);
  } finally {
    listed.close();
  }
});
