// `roost backup` / `roost restore` against a running `roost serve` (the built command in child
// processes): a backup taken while nodemailer's LMTP client keeps delivering holds every message
// acknowledged before it began; restored, the store serves it over IMAP, body files included. A
// restore while the server runs holds the user through the admin socket: open sessions end,
// logins and deliveries for that user get temporary failures until it is done.
import { jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import { RawClient } from '../imap/server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import nodemailer from 'nodemailer';
import { buildCli, roost } from './built-roost.js';
import { waitUntil } from '../poll.js';
import { startServeChild, type ServeChild } from './serve-child.js';

jest.setTimeout(240_000);

let dir: string;
let conf: string;
let roostServe: ServeChild | undefined;
let imapPort = 0;
let lmtpPort = 0;

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-backup-'));
  roostServe = await startServeChild(dir, ['alice', 'bob']);
  ({ conf, imapPort } = roostServe);
  lmtpPort = roostServe.lmtpPort;
}, 240_000);

afterAll(async () => {
  await roostServe?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function message(subject: string, bodyLine = 'Hello.'): string {
  return `From: sender@example.net\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.net>\r\n\r\n${bodyLine}\r\n`;
}

/** A body above the 32 KiB body-file threshold, so it is stored as a file under the home. */
const LARGE = message('large', 'x'.repeat(100).concat('\r\n').repeat(600).trimEnd());

async function inboxSubjects(user: string): Promise<Map<string, string>> {
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user, pass: 'secret' }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  const found = new Map<string, string>();
  const lock = await client.getMailboxLock('INBOX');
  try {
    for await (const m of client.fetch('1:*', { envelope: true, source: true })) found.set(m.envelope!.subject!, m.source!.toString());
  } finally {
    lock.release();
    await client.logout();
  }
  return found;
}

test('backup during concurrent LMTP delivery, then restore: nothing acknowledged before the backup is missing', async () => {
  const transport = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: lmtpPort, name: 'mta.test' });
  await transport.sendMail({ envelope: { from: 'sender@example.net', to: ['alice@example.com', 'bob@example.com'] }, raw: LARGE });

  const acked: string[] = [];
  let ackedBeforeBackup: string[] | null = null;
  let backupDone = false;
  let delivered = 0;
  const delivering = (async () => {
    // Bounded: stops 10 messages after the backup finished, at most 400 in all.
    for (let i = 0, after = 0; i < 400 && after < 10; i++) {
      const subject = `m${i}`;
      await transport.sendMail({ envelope: { from: 'sender@example.net', to: ['alice@example.com'] }, raw: message(subject) });
      acked.push(subject);
      delivered++;
      if (backupDone) after++;
    }
  })();
  await waitUntil('some deliveries', () => acked.length >= 10, 60_000);
  ackedBeforeBackup = [...acked];
  const dest = join(dir, 'backup-alice');
  const backup = await roost(['-c', conf, 'backup', '-u', 'alice', dest], { cwd: dir });
  backupDone = true;
  await delivering;
  transport.close();
  expect(backup.stderr).toBe('');
  expect(backup.code).toBe(0);
  expect(backup.stdout).toMatch(/^Backed up alice: \d+ message\(s\), 1 body file\(s\)\n$/);
  expect(existsSync(join(dest, 'mail.db'))).toBe(true);
  // Deliveries continued while it ran.
  expect(delivered).toBeGreaterThan(ackedBeforeBackup.length);

  // A second backup into the same folder is refused, the first one untouched.
  const again = await roost(['-c', conf, 'backup', '-u', 'alice', dest], { cwd: dir });
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/already holds a backup/);

  const before = await inboxSubjects('alice');
  expect(before.size).toBe(delivered + 1);

  const restore = await roost(['-c', conf, 'restore', '-u', 'alice', dest], { cwd: dir });
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  const restoredCount = Number(/Restored alice: (\d+) message/.exec(restore.stdout)![1]);

  const after = await inboxSubjects('alice');
  expect(after.size).toBe(restoredCount);
  // What came after the backup is gone again: the store really is the backup.
  expect(after.size).toBeLessThan(before.size);
  for (const s of ackedBeforeBackup) expect(after.has(s)).toBe(true);
  for (const s of after.keys()) expect(s === 'large' || acked.includes(s)).toBe(true);
  expect(after.get('large')!.endsWith(LARGE.slice(LARGE.indexOf('\r\n\r\n')))).toBe(true);
  // The restored store still takes deliveries.
  const t2 = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: lmtpPort, name: 'mta.test' });
  await t2.sendMail({ envelope: { from: 'sender@example.net', to: ['alice@example.com'] }, raw: message('after-restore') });
  t2.close();
  expect((await inboxSubjects('alice')).has('after-restore')).toBe(true);
});

test('-A backs up and restores every user into DEST/<user>; bad sources get a clear error', async () => {
  const dest = join(dir, 'backup-all');
  const all = await roost(['-c', conf, 'backup', '-A', dest], { cwd: dir });
  expect(all.stderr).toBe('');
  expect(all.code).toBe(0);
  expect(all.stdout).toMatch(/Backed up alice: .*\nBacked up bob: 1 message\(s\), 1 body file\(s\)\n/);
  expect(existsSync(join(dest, 'bob', 'mail.db'))).toBe(true);
  const restored = await roost(['-c', conf, 'restore', '-A', dest], { cwd: dir });
  expect(restored.code).toBe(0);
  expect(restored.stdout).toMatch(/Restored bob: 1 message\(s\), 1 body file\(s\)\n/);
  expect([...(await inboxSubjects('bob')).keys()]).toEqual(['large']);

  const missing = await roost(['-c', conf, 'restore', '-u', 'bob', join(dir, 'nothing-here')], { cwd: dir });
  expect(missing.code).toBe(68);
  expect(missing.stderr).toMatch(/^roost: No backup at .*nothing-here/);
  const notStore = join(dir, 'not-a-store');
  mkdirSync(notStore);
  writeFileSync(join(notStore, 'mail.db'), 'garbage');
  const bad = await roost(['-c', conf, 'restore', '-u', 'bob', notStore], { cwd: dir });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/^roost: /);
  expect([...(await inboxSubjects('bob')).keys()]).toEqual(['large']);
  const usage = await roost(['-c', conf, 'backup', dest], { cwd: dir });
  expect(usage.code).toBe(64);
});

/** A raw client of the admin socket: one request line, one reply line, the connection kept. */
async function adminHold(cmd: string, args: string[]): Promise<{ reply: unknown; release(): void }> {
  const socket = net.connect(join(dir, 'data/run/roost-admin'));
  let data = '';
  socket.setEncoding('utf8');
  const reply = await new Promise<unknown>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (d: string) => {
      data += d;
      if (data.includes('\n')) resolve(JSON.parse(data.slice(0, data.indexOf('\n'))));
    });
    socket.write(JSON.stringify({ cmd, args }) + '\n');
  });
  return { reply, release: () => socket.end() };
}

test('while a restore holds the user: logins get NO [UNAVAILABLE], RCPT and DATA get 451 4.3.0; released, both work again', async () => {
  const lmtp = await RawLmtp.connect({ port: lmtpPort });
  await lmtp.replies(1);
  await lmtp.command('LHLO mta.test');
  await lmtp.command('MAIL FROM:<sender@example.net>');
  // Accepted before the lock: its DATA comes after.
  expect(await lmtp.command('RCPT TO:<alice@example.com>')).toMatch(/^250 /);
  const bobSession = await RawClient.connect(imapPort);
  expect((await bobSession.command('b', 'LOGIN bob secret')).at(-1)).toMatch(/^b OK /);

  const held = await adminHold('restore-lock', ['alice']);
  expect(held.reply).toEqual({ ok: true, result: { user: 'alice', kicked: 0 } });
  expect(await lmtp.command('DATA')).toMatch(/^354 /);
  lmtp.send(message('during-lock'));
  lmtp.send('.\r\n');
  expect((await lmtp.replies(1))[0]).toBe('451 4.3.0 <alice@example.com> Temporary internal error');
  await lmtp.command('MAIL FROM:<sender@example.net>');
  expect(await lmtp.command('RCPT TO:<alice@example.com>')).toBe('451 4.3.0 <alice@example.com> Temporary internal error');
  // Other users are not held.
  expect(await lmtp.command('RCPT TO:<bob@example.com>')).toMatch(/^250 /);
  await lmtp.command('RSET');
  const refused = await RawClient.connect(imapPort);
  expect((await refused.command('a', 'LOGIN alice secret')).at(-1)).toBe('a NO [UNAVAILABLE] Mail store is being restored, try again later.');
  // The connection stays usable: after the release the same client logs in.
  expect((await bobSession.command('b2', 'NOOP')).at(-1)).toMatch(/^b2 OK/);

  held.release();
  await waitUntil('the release', async () => (await refused.command('a2', 'LOGIN alice secret')).at(-1)!.startsWith('a2 OK'));
  await lmtp.command('MAIL FROM:<sender@example.net>');
  expect(await lmtp.command('RCPT TO:<alice@example.com>')).toMatch(/^250 /);
  await lmtp.command('DATA');
  lmtp.send(message('after-lock') + '.\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 2\.0\.0 <alice@example\.com> /);
  lmtp.send('QUIT\r\n');
  refused.socket.destroy();
  bobSession.socket.destroy();
  const subjects = await inboxSubjects('alice');
  expect(subjects.has('after-lock')).toBe(true);
  expect(subjects.has('during-lock')).toBe(false);
});

test('restore while the user has an IMAP session and LMTP keeps delivering: the session is ended, no delivery is lost', async () => {
  const dest = join(dir, 'backup-alice-2');
  expect((await roost(['-c', conf, 'backup', '-u', 'alice', dest], { cwd: dir })).code).toBe(0);
  const inBackup = new Set((await inboxSubjects('alice')).keys());

  // A session that has the mailbox open, with its view of the current store.
  const session = await RawClient.connect(imapPort);
  expect((await session.command('a', 'LOGIN alice secret')).at(-1)).toMatch(/^a OK /);
  expect((await session.command('s', 'SELECT INBOX')).at(-1)).toMatch(/^s OK /);
  // Mail that is not in the backup: the restore takes it away again.
  const transport = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: lmtpPort, name: 'mta.test' });
  await transport.sendMail({ envelope: { from: 'sender@example.net', to: ['alice@example.com'] }, raw: message('not-in-backup') });

  // Deliveries go on, one after the other, through the restore and a few after it.
  const acked: { subject: string; afterRestore: boolean }[] = [];
  const refused: string[] = [];
  let restoreDone = false;
  const delivering = (async () => {
    for (let i = 0, after = 0; i < 400 && after < 5; i++) {
      const subject = `r${i}`;
      const finishedBefore = restoreDone;
      try {
        await transport.sendMail({ envelope: { from: 'sender@example.net', to: ['alice@example.com'] }, raw: message(subject) });
        acked.push({ subject, afterRestore: finishedBefore });
      } catch (e) {
        // A refusal must be temporary, so that the MTA retries.
        expect(String((e as { response?: string }).response)).toMatch(/^451 4\.3\.0 /);
        refused.push(subject);
      }
      if (restoreDone) after++;
    }
  })();
  await waitUntil('some deliveries', () => acked.length >= 3, 60_000);
  const restore = await roost(['-c', conf, 'restore', '-u', 'alice', dest], { cwd: dir });
  restoreDone = true;
  await delivering;
  transport.close();
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  expect(restore.stdout).toMatch(/^alice: ended 1 open session\(s\) for the restore\nRestored alice: \d+ message\(s\), \d+ body file\(s\)\n$/);

  // The open session was ended before the store was replaced: it never saw a mix.
  const lines = await session.until((l) => l.startsWith('* BYE'));
  expect(lines.at(-1)).toBe('* BYE Server shutting down.');
  await session.waitClosed();

  const after = await inboxSubjects('alice');
  expect(after.has('not-in-backup')).toBe(false);
  for (const s of inBackup) expect(after.has(s)).toBe(true);
  // Everything acknowledged after the restore is there; nothing refused was stored (the MTA's
  // retry will not make a duplicate); everything else in the store came from the backup.
  for (const a of acked.filter((x) => x.afterRestore)) expect(after.has(a.subject)).toBe(true);
  for (const s of refused) expect(after.has(s)).toBe(false);
  for (const s of after.keys()) expect(inBackup.has(s) || acked.some((a) => a.subject === s)).toBe(true);
});
