// `roost import` / `roost export` as users run them (the built command), checked over IMAP
// against `roost serve`: a Maildir Dovecot 2.3.19 wrote (test/fixtures/dovecot-maildir) is
// imported with its UIDs, UIDVALIDITY, flags, keywords, internal dates and subscriptions; a second
// import duplicates nothing; export → import into another user gives the identical mailboxes.
import { jest } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { buildCli, ROOT, roost } from './built-roost.js';
import { startServeChild, type ServeChild } from './serve-child.js';

jest.setTimeout(240_000);

const FIXTURE = join(ROOT, 'test/fixtures/dovecot-maildir');
let dir: string;
let conf: string;
let maildir: string;
let roostServe: ServeChild | undefined;
let imapPort = 0;

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-import-'));
  // A copy of the fixture with the file times Dovecot gave it (git keeps none).
  cpSync(join(FIXTURE, 'Maildir'), join(dir, 'Maildir'), { recursive: true });
  maildir = join(dir, 'Maildir');
  for (const line of readFileSync(join(FIXTURE, 'mtimes.txt'), 'utf8').split('\n').filter(Boolean)) {
    const [rel, secs] = line.split('\t') as [string, string];
    utimesSync(join(dir, rel), Number(secs), Number(secs));
  }
  roostServe = await startServeChild(dir, ['alice', 'bob', 'carol']);
  ({ conf, imapPort } = roostServe);
}, 240_000);

afterAll(async () => {
  await roostServe?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Snapshot {
  subscribed: string[];
  mailboxes: Record<string, { uidValidity: string; uidNext: number; messages: { uid: number; flags: string[]; date: string; source: string }[] }>;
}

/** Everything a client sees of the user's mail, over IMAP. */
async function snapshot(user: string): Promise<Snapshot> {
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user, pass: 'secret' }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const list = await client.list();
    const snap: Snapshot = { subscribed: list.filter((l) => l.subscribed).map((l) => l.path).sort(), mailboxes: {} };
    for (const l of list) {
      if (l.flags.has('\\Noselect')) continue;
      const lock = await client.getMailboxLock(l.path);
      try {
        const mb = client.mailbox as { uidValidity: bigint; uidNext: number; exists: number };
        const messages: Snapshot['mailboxes'][string]['messages'] = [];
        if (mb.exists > 0) {
          for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
            messages.push({
              uid: m.uid,
              flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
              date: new Date(m.internalDate as Date).toISOString(),
              source: m.source!.toString(),
            });
          }
        }
        snap.mailboxes[l.path] = { uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, messages };
      } finally {
        lock.release();
      }
    }
    return snap;
  } finally {
    await client.logout();
  }
}

function fixtureUidlist(folder: string): { v: string; n: number } {
  const head = readFileSync(join(maildir, folder, 'dovecot-uidlist'), 'utf8').split('\n')[0]!;
  return { v: /V(\d+)/.exec(head)![1]!, n: Number(/N(\d+)/.exec(head)![1]) };
}

test('Dovecot Maildir → import (twice) → export → import again: identical messages, flags, dates, UIDs', async () => {
  const first = await roost(['-c', conf, 'import', '-u', 'alice', `maildir:${maildir}`], { cwd: dir });
  expect(first).toEqual({ code: 0, stdout: 'Imported 5 message(s), skipped 0 already present\n', stderr: '' });
  const again = await roost(['-c', conf, 'import', '-u', 'alice', `maildir:${maildir}`], { cwd: dir });
  expect(again).toEqual({ code: 0, stdout: 'Imported 0 message(s), skipped 5 already present\n', stderr: '' });

  const alice = await snapshot('alice');
  expect(alice.subscribed).toEqual(['INBOX', 'Work/Projects']);
  expect(Object.keys(alice.mailboxes).sort()).toEqual(['Archive', 'INBOX', 'Work/Projects']);
  const inbox = alice.mailboxes.INBOX!;
  expect(inbox.uidValidity).toBe(fixtureUidlist('.').v);
  expect(inbox.uidNext).toBe(5);
  // Dovecot expunged UID 2: the gap is kept.
  expect(inbox.messages.map((m) => [m.uid, m.flags, m.date])).toEqual([
    [1, ['\\Seen'], '2024-02-01T09:30:00.000Z'],
    [3, ['$Forwarded', '\\Answered', '\\Flagged'], '2024-02-03T10:15:00.000Z'],
    [4, [], '2024-02-04T12:00:00.000Z'],
  ]);
  expect(inbox.messages[2]!.source.replace(/\r\n/g, '\n')).toBe(
    readFileSync(join(maildir, 'cur', readdirSync(join(maildir, 'cur')).find((f) => f.endsWith(':2,'))!), 'utf8'),
  );
  const work = alice.mailboxes['Work/Projects']!;
  expect(work.uidValidity).toBe(fixtureUidlist('.Work.Projects').v);
  expect(work.messages.map((m) => [m.uid, m.flags])).toEqual([
    [1, ['$Label1', 'Project', '\\Seen']],
    [2, ['\\Deleted', '\\Draft', '\\Seen']],
  ]);
  expect(alice.mailboxes.Archive!.uidValidity).toBe(fixtureUidlist('.Archive').v);

  const exported = join(dir, 'exported');
  const exp = await roost(['-c', conf, 'export', '-u', 'alice', `maildir:${exported}`], { cwd: dir });
  expect(exp).toEqual({ code: 0, stdout: 'Exported 5 message(s) from 3 mailbox(es)\n', stderr: '' });
  // The files keep Dovecot's names and flag letters.
  expect(readdirSync(join(exported, '.Work.Projects', 'cur')).sort()).toEqual(readdirSync(join(maildir, '.Work.Projects', 'cur')).sort());
  expect(readdirSync(join(exported, 'cur')).sort()).toEqual(readdirSync(join(maildir, 'cur')).sort());

  const bobImport = await roost(['-c', conf, 'import', '-u', 'bob', `maildir:${exported}`], { cwd: dir });
  expect(bobImport.stdout).toBe('Imported 5 message(s), skipped 0 already present\n');
  expect(await snapshot('bob')).toEqual(alice);

  // Exporting into a folder that is not empty is refused.
  const refused = await roost(['-c', conf, 'export', '-u', 'alice', `maildir:${exported}`], { cwd: dir });
  expect(refused.code).toBe(73);
  expect(refused.stderr).toMatch(/is not empty/);
});

test('mbox import: From_ dates, Status/X-Status/X-Keywords flags, >From unquoted, safe twice', async () => {
  const mbox = join(dir, 'old.mbox');
  writeFileSync(
    mbox,
    [
      'From alice@example.net Thu Feb  1 09:30:00 2024',
      'From: alice@example.net',
      'Subject: one',
      'Status: RO',
      'X-Status: AF',
      'X-Keywords: $Label2 Todo',
      '',
      '>From the start.',
      '',
      'From bob@example.net Fri Mar  8 17:05:09 2024',
      'From: bob@example.net',
      'Subject: two',
      '',
      'Second.',
      '',
    ].join('\n'),
  );
  const first = await roost(['-c', conf, 'import', '-u', 'carol', '-m', 'Old', `mbox:${mbox}`], { cwd: dir });
  expect(first).toEqual({ code: 0, stdout: 'Imported 2 message(s), skipped 0 already present\n', stderr: '' });
  const again = await roost(['-c', conf, 'import', '-u', 'carol', '-m', 'Old', `mbox:${mbox}`], { cwd: dir });
  expect(again.stdout).toBe('Imported 0 message(s), skipped 2 already present\n');
  const old = (await snapshot('carol')).mailboxes.Old!;
  expect(old.messages.map((m) => [m.uid, m.flags, m.date])).toEqual([
    [1, ['$Label2', 'Todo', '\\Answered', '\\Flagged', '\\Seen'], '2024-02-01T09:30:00.000Z'],
    [2, [], '2024-03-08T17:05:09.000Z'],
  ]);
  expect(old.messages[0]!.source).toMatch(/\r?\n\r?\nFrom the start\.\r?\n?$/);
  expect(old.messages[1]!.source).toMatch(/^From: bob@example.net\r?\nSubject: two\r?\n\r?\nSecond\.\r?\n$/);

  // Exported and imported back into the same user: Roost's own GUIDs are recognised, nothing doubles.
  const exported = join(dir, 'carol-exported');
  expect((await roost(['-c', conf, 'export', '-u', 'carol', `maildir:${exported}`], { cwd: dir })).code).toBe(0);
  const back = await roost(['-c', conf, 'import', '-u', 'carol', `maildir:${exported}`], { cwd: dir });
  expect(back.stdout).toBe('Imported 0 message(s), skipped 2 already present\n');

  const bad = await roost(['-c', conf, 'import', '-u', 'carol', `mbox:${conf}`], { cwd: dir });
  expect(bad.code).toBe(65);
  expect(bad.stderr).toMatch(/not an mbox file/);
  const usage = await roost(['-c', conf, 'import', '-u', 'carol', join(dir, 'Maildir')], { cwd: dir });
  expect(usage.code).toBe(64);
});
