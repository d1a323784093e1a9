// `roost import` / `roost export` as users run them (the built command), checked over IMAP
// against `roost serve`: a Maildir Dovecot 2.3.19 wrote (test/fixtures/dovecot-maildir) is
// imported with its UIDs, UIDVALIDITY, flags, keywords, internal dates and subscriptions; a second
// import duplicates nothing; export → import into another user gives the identical mailboxes. The
// same for an mbox tree Dovecot wrote (test/fixtures/dovecot-mbox): Roost serves what Dovecot
// served from it (served.txt), and exports an mbox tree that imports back identically.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { buildCli, ROOT, roost } from './built-roost.js';
import { mailboxSnapshot, type MailboxSnapshot } from './imap-snapshot.js';
import { startServeChild, type ServeChild } from './serve-child.js';

jest.setTimeout(240_000);

const FIXTURE = join(ROOT, 'test/fixtures/dovecot-maildir');
const MBOX_FIXTURE = join(ROOT, 'test/fixtures/dovecot-mbox');
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
  roostServe = await startServeChild(dir, ['alice', 'bob', 'carol', 'dave', 'erin']);
  cpSync(join(MBOX_FIXTURE, 'mail'), join(dir, 'mbox-tree'), { recursive: true });
  ({ conf, imapPort } = roostServe);
}, 240_000);

afterAll(async () => {
  await roostServe?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Snapshot {
  subscribed: string[];
  mailboxes: Record<string, MailboxSnapshot>;
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
      snap.mailboxes[l.path] = await mailboxSnapshot(client, l.path);
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

/** What Dovecot's imap served from the mbox tree (served.txt): per mailbox, its FETCH answers. */
function dovecotServed(text = readFileSync(join(MBOX_FIXTURE, 'served.txt'), 'latin1')): Record<string, { uid: number; flags: string[]; date: string; source: string }[]> {
  const out: Record<string, { uid: number; flags: string[]; date: string; source: string }[]> = {};
  // The commands are not in the recording: the mailbox is the one the last `OK [READ-ONLY]` opened.
  const examined: Record<string, string> = { a: 'INBOX', c: 'Work/Projects', e: 'Archive' };
  let box = '';
  const re = /^([ace]) OK \[READ-ONLY\]|^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) INTERNALDATE "([^"]+)" BODY\[\] \{(\d+)\}\r\n/gm;
  for (let m; (m = re.exec(text)); ) {
    if (m[1]) {
      box = examined[m[1]]!;
      out[box] = [];
      continue;
    }
    const start = m.index + m[0].length;
    const source = text.slice(start, start + Number(m[5]));
    const flags = m[3]!.split(' ').filter((f) => f && f !== '\\Recent').sort();
    const [d, mon, rest] = m[4]!.split('-') as [string, string, string];
    out[box]!.push({ uid: Number(m[2]), flags, date: new Date(`${mon} ${d} ${rest.replace(' ', ' GMT')}`).toISOString(), source });
  }
  return out;
}

test('Dovecot mbox tree → import (twice) → export mbox → import again: what Dovecot served, then identical', async () => {
  const tree = join(dir, 'mbox-tree');
  const first = await roost(['-c', conf, 'import', '-u', 'dave', `mbox:${tree}`], { cwd: dir });
  expect(first).toEqual({ code: 0, stdout: 'Imported 5 message(s), skipped 0 already present\n', stderr: '' });
  const again = await roost(['-c', conf, 'import', '-u', 'dave', `mbox:${tree}`], { cwd: dir });
  expect(again).toEqual({ code: 0, stdout: 'Imported 0 message(s), skipped 5 already present\n', stderr: '' });

  const dave = await snapshot('dave');
  expect(dave.subscribed).toEqual(['INBOX', 'Work/Projects']);
  // `Work` is a directory only (\Noselect); `.imap/` and `.subscriptions` are not mailboxes.
  expect(Object.keys(dave.mailboxes).sort()).toEqual(['Archive', 'INBOX', 'Work/Projects']);
  // UIDVALIDITY and UIDNEXT from X-IMAPbase, UIDs from X-UID (Dovecot expunged UID 2).
  expect([dave.mailboxes.INBOX!.uidValidity, dave.mailboxes.INBOX!.uidNext]).toEqual(['1796537446', 5]);
  expect(dave.mailboxes['Work/Projects']!.uidValidity).toBe('1796537444');
  // Messages, flags, keywords, dates and bytes exactly as Dovecot served them from these files
  // (its bookkeeping headers X-IMAPbase, X-UID, Status, X-Status, X-Keywords, Content-Length hidden).
  const served = dovecotServed();
  expect(dave.mailboxes.INBOX!.messages).toEqual(served.INBOX);
  expect(dave.mailboxes['Work/Projects']!.messages).toEqual(served['Work/Projects']);
  expect(dave.mailboxes.INBOX!.messages[0]!.source).toMatch(/\nFrom the start of a line\.\r?\n/);
  expect(dave.mailboxes.Archive!.messages).toEqual([]);

  const exported = join(dir, 'dave-mbox');
  const exp = await roost(['-c', conf, 'export', '-u', 'dave', `mbox:${exported}`], { cwd: dir });
  expect(exp).toEqual({ code: 0, stdout: 'Exported 5 message(s) from 3 mailbox(es)\n', stderr: '' });
  expect(readdirSync(exported).sort()).toEqual(['.subscriptions', 'Archive', 'Work', 'inbox']);
  expect(readFileSync(join(exported, '.subscriptions'), 'utf8')).toBe(readFileSync(join(tree, '.subscriptions'), 'utf8'));
  // Dovecot's headers, in Dovecot's order, and no quoting of body lines (Content-Length tells).
  const inbox = readFileSync(join(exported, 'inbox'), 'latin1');
  expect(inbox).toMatch(/^From MAILER-DAEMON {2}Thu Feb 01 09:30:00 2024\n/);
  expect(inbox).toContain('X-IMAPbase: 1796537446 0000000004 $Forwarded\nX-UID: 1\nStatus: RO\nX-Keywords: \nContent-Length: 31\n\nOne.\nFrom the start of a line.\n\nFrom ');

  // Back into the same user: the UIDs under the same UIDVALIDITY are these messages, nothing doubles.
  const back = await roost(['-c', conf, 'import', '-u', 'dave', `mbox:${exported}`], { cwd: dir });
  expect(back.stdout).toBe('Imported 0 message(s), skipped 5 already present\n');
  const erinImport = await roost(['-c', conf, 'import', '-u', 'erin', `mbox:${exported}`], { cwd: dir });
  expect(erinImport.stdout).toBe('Imported 5 message(s), skipped 0 already present\n');
  // Identical, the empty Archive's UIDVALIDITY included (UW-IMAP's folder-data message keeps it).
  expect(await snapshot('erin')).toEqual(dave);

  // Dovecot itself reads the exported tree: same UIDs, UIDVALIDITY, flags, dates and bytes (where
  // Debian's Dovecot is installed and the test runs as root, as make-fixture.py does; else skipped).
  const imapBinary = '/usr/lib/dovecot/imap';
  if (existsSync(imapBinary) && process.getuid?.() === 0) {
    const home = mkdtempSync(join(tmpdir(), 'roost-mbox-dovecot-'));
    try {
      cpSync(exported, join(home, 'mail'), { recursive: true });
      mkdirSync(join(home, 'run'));
      const dconf = join(home, 'dovecot.conf');
      writeFileSync(dconf, `base_dir = ${home}/run\nlog_path = ${home}/dovecot.log\nprotocols = imap\nssl = no\n` +
        `mail_location = mbox:${home}/mail:INBOX=${home}/mail/inbox\nnamespace inbox {\n  inbox = yes\n  separator = /\n}\n` +
        `passdb {\n  driver = static\n  args = password=pw\n}\nuserdb {\n  driver = static\n  args = home=${home}\n}\n`);
      chmodSync(home, 0o755);
      execFileSync('chown', ['-R', 'nobody:nogroup', home]);
      const script = 'a EXAMINE INBOX\r\nb UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])\r\nc EXAMINE "Work/Projects"\r\n' +
        'd UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])\r\ne EXAMINE Archive\r\nz LOGOUT\r\n';
      const served = execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', 'USER=dave', `HOME=${home}`, imapBinary, '-c', dconf], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
      const r = { stdout: served.toString('latin1') };
      const byDovecot = dovecotServed(r.stdout);
      expect(byDovecot.INBOX).toEqual(dave.mailboxes.INBOX!.messages);
      expect(byDovecot['Work/Projects']).toEqual(dave.mailboxes['Work/Projects']!.messages);
      for (const mb of Object.values(dave.mailboxes)) {
        expect(r.stdout).toContain(`* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid\r\n* OK [UIDNEXT ${mb.uidNext}] Predicted next UID`);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }

  // A tree takes no -m; a file in it that is not an mbox is named and skipped.
  const withM = await roost(['-c', conf, 'import', '-u', 'erin', '-m', 'X', `mbox:${exported}`], { cwd: dir });
  expect(withM.code).toBe(64);
  writeFileSync(join(exported, 'notes.txt'), 'not mail\n');
  const skipped = await roost(['-c', conf, 'import', '-u', 'erin', `mbox:${exported}`], { cwd: dir });
  expect(skipped).toEqual({
    code: 0,
    stdout: 'Imported 0 message(s), skipped 5 already present\n',
    stderr: `roost: Warning: ${join(exported, 'notes.txt')}: not an mbox file (no From_ line first), skipped\n`,
  });
});
