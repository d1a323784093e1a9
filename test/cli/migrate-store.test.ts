// `roost migrate-store -u USER --to LOCATION` as operators run it (the built command) next to a
// running `roost serve`: what an IMAP client sees of the user is the same before and after the
// move (mailboxes, UIDVALIDITY, UIDNEXT, UIDs, flags and keywords, internal dates, bodies,
// subscriptions, special-use, mailbox and server metadata), the server serves the new store at
// once (a delivery lands there with the next UID), a destination in use is refused, and the move
// back to the configured mail_location removes the per-user field again. The same between SQLite
// and PostgreSQL, there and back.
import { jest } from '@jest/globals';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { openUserStore, parseMailLocation, type UserStore } from '../../src/storage/index.js';
import { RawClient } from '../imap/server/helpers.js';
import { usePostgres } from '../pg/harness.js';
import { buildCli, ROOT, roost } from './built-roost.js';
import { mailboxSnapshot, type MailboxSnapshot } from './imap-snapshot.js';
import { startServeChild, type ServeChild } from './serve-child.js';

jest.setTimeout(240_000);

const FIXTURE = join(ROOT, 'test/fixtures/dovecot-maildir');
const pgsql = usePostgres();
let dir: string;
let conf: string;
let roostServe: ServeChild | undefined;
let imapPort = 0;
let lmtpPort = 0;

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-migrate-store-'));
  // A copy of the Dovecot Maildir fixture with the file times Dovecot gave it (git keeps none).
  cpSync(join(FIXTURE, 'Maildir'), join(dir, 'Maildir'), { recursive: true });
  for (const line of readFileSync(join(FIXTURE, 'mtimes.txt'), 'utf8').split('\n').filter(Boolean)) {
    const [rel, secs] = line.split('\t') as [string, string];
    utimesSync(join(dir, rel), Number(secs), Number(secs));
  }
  roostServe = await startServeChild(dir, ['alice', 'bob'], ['imap_metadata = yes']);
  ({ conf, imapPort, lmtpPort } = roostServe);
}, 240_000);

afterAll(async () => {
  await roostServe?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => roost(['-c', conf, ...args], { cwd: dir });

function message(subject: string, bodyLine = 'Hello.'): string {
  return `From: sender@example.net\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.net>\r\n\r\n${bodyLine}\r\n`;
}

async function deliver(user: string, raw: string): Promise<void> {
  const transport = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: lmtpPort, name: 'mta.test' });
  await transport.sendMail({ envelope: { from: 'sender@example.net', to: [`${user}@example.com`] }, raw });
  transport.close();
}

/** A raw IMAP session (the commands ImapFlow has no call for). */
async function rawSession<T>(user: string, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(imapPort);
  try {
    expect((await c.command('a', `LOGIN ${user} secret`)).at(-1)).toMatch(/^a OK/);
    return await fn(c);
  } finally {
    c.socket.destroy();
  }
}

/** The user's mail made richer than an import gives: a large body, special-use, metadata, an unsubscribe. */
async function enrich(user: string): Promise<void> {
  // Above the 32 KiB body-file threshold: SQLite keeps it as a file under the home.
  await deliver(user, message('large', 'x'.repeat(100).concat('\r\n').repeat(600).trimEnd()));
  await rawSession(user, async (c) => {
    expect((await c.command('b', 'CREATE Sent (USE (\\Sent))')).at(-1)).toMatch(/^b OK/);
    expect((await c.command('c', 'SETMETADATA INBOX (/private/comment "inbox note" /shared/vendor/acme/x "shared value")')).at(-1)).toMatch(/^c OK/);
    expect((await c.command('d', 'SETMETADATA "" (/private/vendor/acme/server "server value")')).at(-1)).toMatch(/^d OK/);
    expect((await c.command('e', 'UNSUBSCRIBE INBOX')).at(-1)).toMatch(/^e OK/);
    expect((await c.command('f', 'SUBSCRIBE Gone/Away')).at(-1)).toMatch(/^f OK/);
  });
}

interface Snapshot {
  subscribed: string[];
  specialUse: Record<string, string>;
  metadata: string[];
  mailboxes: Record<string, MailboxSnapshot>;
}

/** Everything a client sees of the user's mail, over IMAP. */
async function snapshot(user: string): Promise<Snapshot> {
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user, pass: 'secret' }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  const snap: Snapshot = { subscribed: [], specialUse: {}, metadata: [], mailboxes: {} };
  try {
    const list = await client.list();
    for (const l of list) {
      // What the server announced (ImapFlow also guesses from names: not the store's).
      if (l.specialUse && (l as { specialUseSource?: string }).specialUseSource === 'extension') snap.specialUse[l.path] = l.specialUse;
      if (l.flags.has('\\Noselect')) continue;
      snap.mailboxes[l.path] = await mailboxSnapshot(client, l.path);
    }
  } finally {
    await client.logout();
  }
  await rawSession(user, async (c) => {
    // Subscriptions include names that do not exist (LSUB lists them all).
    snap.subscribed = (await c.command('l', 'LSUB "" "*"'))
      .filter((l) => l.startsWith('* LSUB'))
      .map((l) => /"([^"]*)"$|(\S+)$/.exec(l)!.slice(1).find((x) => x !== undefined)!)
      .sort();
    for (const box of ['INBOX', '""']) {
      const lines = await c.command('m', `GETMETADATA (DEPTH infinity) ${box} (/private /shared)`);
      snap.metadata.push(...lines.filter((l) => l.startsWith('* METADATA')));
    }
  });
  return snap;
}

async function homeOf(user: string): Promise<string> {
  const r = await cli('user', user, '-f', 'home');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

test('sqlite → another SQLite file and back: the client sees the same mail, the server serves the moved store', async () => {
  expect((await cli('import', '-u', 'alice', `maildir:${join(dir, 'Maildir')}`)).code).toBe(0);
  await enrich('alice');
  const before = await snapshot('alice');
  // The fixture and enrich() gave what the comparison is about.
  expect(Object.keys(before.mailboxes).sort()).toEqual(['Archive', 'INBOX', 'Sent', 'Work/Projects']);
  expect(before.mailboxes.INBOX!.messages.map((m) => m.uid)).toEqual([1, 3, 4, 5]);
  expect(before.specialUse).toEqual({ Sent: '\\Sent' });
  expect(before.subscribed).toEqual(['Gone/Away', 'Work/Projects']);
  expect(before.metadata.join('\n')).toMatch(/inbox note[\s\S]*shared value[\s\S]*server value/);

  const home = await homeOf('alice');
  const moved = await cli('migrate-store', '-u', 'alice', '--to', 'sqlite:~/moved/mail.db');
  expect(moved).toEqual({
    code: 0,
    stdout:
      'Archive: 0 message(s)\nINBOX: 4 message(s)\nSent: 0 message(s)\nWork/Projects: 2 message(s)\n' +
      'Copied alice: 6 message(s) in 4 mailbox(es) from sqlite:~/mail.db to sqlite:~/moved/mail.db\n' +
      'alice now uses sqlite:~/moved/mail.db (userdb field mail)\n' +
      'The old store (sqlite:~/mail.db) was left as it was: remove it once you no longer need it\n',
    stderr: '',
  });
  expect(existsSync(join(home, 'moved/mail.db'))).toBe(true);
  expect((await cli('user', 'show', 'alice')).stdout).toMatch(/^mail\s+: sqlite:~\/moved\/mail\.db$/m);
  expect(await snapshot('alice')).toEqual(before);

  // The running server serves the new store: a delivery gets the next UID there, the old store
  // does not change.
  await deliver('alice', message('after the move'));
  const after = await snapshot('alice');
  expect(after.mailboxes.INBOX!.messages.map((m) => m.uid)).toEqual([1, 3, 4, 5, 6]);
  const old = openUserStore({ username: 'alice', home, location: 'sqlite:~/mail.db', separator: '/' });
  expect((await old.status('INBOX')).messages).toBe(4);
  await old.close();

  // Back to the configured location: the old store there is in use, so it is refused...
  const refused = await cli('migrate-store', '-u', 'alice', '--to', 'sqlite:~/mail.db');
  expect(refused.code).toBe(75);
  expect(refused.stderr).toBe('roost: The destination is not empty\n');
  expect((await cli('user', 'show', 'alice')).stdout).toMatch(/^mail\s+: sqlite:~\/moved\/mail\.db$/m);
  // ...until the operator removed it.
  for (const f of ['mail.db', 'mail.db-wal', 'mail.db-shm']) rmSync(join(home, f), { force: true });
  const back = await cli('migrate-store', '-u', 'alice', '--to', 'sqlite:~/mail.db');
  expect(back.code).toBe(0);
  expect(back.stdout).toContain('alice now uses mail_location (userdb field mail removed)\n');
  expect((await cli('user', 'show', 'alice')).stdout).not.toMatch(/^mail\s/m);
  expect(await snapshot('alice')).toEqual(after);
});

test('refused: the same location, an unknown scheme, a missing --to', async () => {
  const same = await cli('migrate-store', '-u', 'bob', '--to', 'sqlite:~/mail.db');
  expect(same).toEqual({ code: 64, stdout: '', stderr: "roost: bob's mail is already at sqlite:~/mail.db\n" });
  const unknown = await cli('migrate-store', '-u', 'bob', '--to', 'maildir:~/Maildir');
  expect(unknown.code).toBe(64);
  expect(unknown.stderr).toMatch(/^roost: Invalid mail_location "maildir:~\/Maildir": expected one of sqlite:~\/mail\.db/);
  const missing = await cli('migrate-store', '-u', 'bob');
  expect(missing.code).toBe(64);
  expect(missing.stderr).toMatch(/^roost: Missing --to LOCATION\nusage: roost migrate-store/);
});

/** Whether this build serves `pgsql:` locations (the backend's entry in src/storage/backends.ts). */
function pgsqlServed(): boolean {
  try {
    parseMailLocation('pgsql:host=127.0.0.1 dbname=roost');
    return true;
  } catch {
    return false;
  }
}

/** The store's content through the storage contract (the test process opens it itself). */
async function storeView(location: string, home: string) {
  const store: UserStore = openUserStore({ username: 'bob', home, location, separator: '/' });
  try {
    const boxes = [];
    for (const b of await store.listMailboxes()) {
      if (b.noselect) continue;
      const messages = (await store.listMessages(b.id)).map((m) => ({ uid: m.uid, guid: m.guid, flags: [...m.flags].sort(), date: m.internalDate.toISOString(), size: m.size }));
      const metadata = [...(await store.listMetadata(b.name, '/private', 'infinity')), ...(await store.listMetadata(b.name, '/shared', 'infinity'))];
      boxes.push({ name: b.name, uidValidity: b.uidValidity, uidNext: b.uidNext, specialUse: b.specialUse, messages, metadata: metadata.map((e) => [e.entry, e.value.toString()]) });
    }
    return { boxes, subscriptions: await store.listSubscriptions() };
  } finally {
    await store.close();
  }
}

// Runs once the PostgreSQL backend is registered (src/storage/backends.ts); until then `pgsql:`
// is not a mail_location this build accepts, and there is nothing to move to. While bob's mail is
// in PostgreSQL it is compared through the storage contract; before and after, over IMAP (the way
// back can only give the client the same mail if PostgreSQL held all of it).
(pgsqlServed() ? test : test.skip)('sqlite → PostgreSQL → sqlite: the same mail after each move', async () => {
  const db = await pgsql.server.createDatabase();
  const location = `pgsql:${db.connectString}`;
  expect((await cli('import', '-u', 'bob', `maildir:${join(dir, 'Maildir')}`)).code).toBe(0);
  await enrich('bob');
  const before = await snapshot('bob');
  const home = await homeOf('bob');
  const sqliteView = await storeView('sqlite:~/mail.db', home);

  const there = await cli('migrate-store', '-u', 'bob', '--to', location);
  expect({ code: there.code, stderr: there.stderr }).toEqual({ code: 0, stderr: '' });
  expect(there.stdout).toContain('Copied bob: 6 message(s) in 4 mailbox(es) from sqlite:~/mail.db to pgsql:');
  expect(there.stdout).toContain('bob now uses pgsql:');
  // The connect string's password is not printed.
  expect(there.stdout).not.toContain(db.password);
  expect(await storeView(location, home)).toEqual(sqliteView);
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM message');
  expect(rows[0]!.n).toBe(6);

  const back = await cli('migrate-store', '-u', 'bob', '--to', 'sqlite:~/back.db');
  expect({ code: back.code, stderr: back.stderr }).toEqual({ code: 0, stderr: '' });
  expect(back.stdout).toContain('bob now uses sqlite:~/back.db (userdb field mail)\n');
  expect(await snapshot('bob')).toEqual(before);
  await db.drop();
});
