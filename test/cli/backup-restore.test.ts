// `roost backup` / `roost restore` against a running `roost serve` (the built command in child
// processes): a backup taken while nodemailer's LMTP client keeps delivering holds every message
// acknowledged before it began; restored, the store serves it over IMAP, body files included.
import { jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
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
