// Changes made by another process reach IMAP sessions: `roost deliver` (the built command,
// spawned) and a separate node process changing flags and expunging, while the server runs.
// A NOOP announces them (RFC 3501 §6.1.2), IDLE wakes up with them (RFC 2177), SEARCH and STATUS
// agree; one watcher per user serves all of that user's sessions.
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { watchedChangeFiles } from '../../src/storage/sqlite/file-change-feed.js';
import { buildCli, ROOT, roost as roostCommand } from '../cli/built-roost.js';
import { message, startRoost, type RawImapClient, type Roost } from './harness.js';

let roost: Roost;
let conf: string;
let dbPath: string;

beforeAll(async () => {
  buildCli();
  roost = await startRoost({ users: [{ username: 'alice' }] });
  // The same data folder as the running server, for the roost command of "another process".
  conf = roost.file(
    'roost.conf',
    [`data_dir = ${roost.dir}/data`, `mail_home = ${roost.dir}/home/%d/%n`, 'passdb {', '  driver = roost', '}', 'userdb {', '  driver = roost', '}', ''].join('\n'),
  );
}, 60000);
afterAll(() => roost?.stop());

/** The built `roost` with this server's configuration, `stdin` as its input. */
function runRoost(args: string[], stdin: string) {
  return roostCommand(['-c', conf, ...args], { cwd: ROOT, input: stdin });
}

/** Another node process opens alice's store with the storage API and runs `body` (JS) on it. */
async function inOtherProcess(body: string): Promise<void> {
  const storage = pathToFileURL(join(ROOT, 'dist/src/storage/index.js')).href;
  const script = roost.file(
    `change-${Date.now()}-${Math.random().toString(36).slice(2)}.mjs`,
    `import { openUserStore } from ${JSON.stringify(storage)};\n` +
      `const store = openUserStore({ username: 'alice', home: ${JSON.stringify(join(dbPath, '..'))}, location: ${JSON.stringify('sqlite:' + dbPath)}, separator: '/' });\n` +
      `const inbox = store.getMailbox('INBOX');\n${body}\nstore.close();\n`,
  );
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', resolve);
  });
  expect(code).toBe(0);
}

function findFile(dir: string, name: string): string {
  const hit = (readdirSync(dir, { recursive: true }) as string[]).find((p) => p.endsWith(`/${name}`) || p === name);
  if (!hit) throw new Error(`no ${name} under ${dir}`);
  return join(dir, hit);
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

test('a delivery by `roost deliver` reaches NOOP, SEARCH, STATUS and IDLE; flag changes and expunges by another process too', async () => {
  const s = await roost.raw({ username: 'alice' });
  const other = await roost.raw({ username: 'alice' });
  expect((await s.command('s', 'SELECT INBOX')).join('\n')).toContain('* 0 EXISTS');
  await other.command('s', 'SELECT INBOX');
  dbPath = findFile(join(roost.dir, 'home'), 'mail.db');

  const first = await runRoost(['deliver', '-u', 'alice'], message('from another process'));
  expect(first.code).toBe(0);
  // After log_timestamp, as dovecot-lda 2.3.19 writes it to stderr.
  expect(first.stderr).toMatch(/^\w{3} \d\d \d\d:\d\d:\d\d lda\(alice\)<\d+><[^>]+>: Info: msgid=<from\.another\.process@example\.net>: saved mail to INBOX\n$/);
  expect(await s.command('n', 'NOOP')).toContain('* 1 EXISTS');
  expect(await s.command('f', 'SEARCH ALL')).toContain('* SEARCH 1');
  expect(await s.command('t', 'STATUS INBOX (MESSAGES)')).toContain('* STATUS INBOX (MESSAGES 1)');

  // IDLE: woken by the other process's change, with no command from the client.
  s.send('i IDLE\r\n');
  expect(await s.readLine()).toBe('+ idling');
  expect((await runRoost(['deliver', '-u', 'alice'], message('second'))).code).toBe(0);
  expect(await s.until((l) => l === '* 2 EXISTS')).toContain('* 2 EXISTS');

  await inOtherProcess(`store.storeFlags(inbox.id, { uids: [1], operation: 'add', flags: ['\\\\Flagged'] });`);
  const flagged = await s.until((l) => /^\* 1 FETCH \(FLAGS \(/.test(l));
  expect(flagged.at(-1)).toMatch(/^\* 1 FETCH \(FLAGS \(.*\\Flagged.*\)\)$/);

  await inOtherProcess(`store.expunge(inbox.id, [2]);`);
  expect(await s.until((l) => l === '* 2 EXPUNGE')).toContain('* 2 EXPUNGE');
  s.send('DONE\r\n');
  expect((await s.until((l) => l.startsWith('i '))).at(-1)).toMatch(/^i OK Idle completed/);

  // The session that did not IDLE hears all of it on its next NOOP.
  const noop = await other.command('n', 'NOOP');
  expect(noop).toContain('* 1 EXISTS');
  expect(noop).not.toContain('* 2 EXISTS');
  expect((await other.command('g', 'FETCH 1 (FLAGS)')).some((l) => /^\* 1 FETCH \(FLAGS \(.*\\Flagged/.test(l))).toBe(true);
  expect(await other.command('f', 'SEARCH ALL')).toContain('* SEARCH 1');
  s.close();
  other.close();
});

test('a mailbox created and a message appended elsewhere: the selected view is unaffected, STATUS sees them', async () => {
  const s = await roost.raw({ username: 'alice' });
  await s.command('s', 'SELECT INBOX');
  await inOtherProcess(`store.createMailbox('Elsewhere');\nstore.append('Elsewhere', { content: Buffer.from('Subject: x\\r\\n\\r\\nx\\r\\n') });`);
  const noop = await s.command('n', 'NOOP');
  expect(noop.filter((l) => l.startsWith('* '))).toEqual([]);
  expect(await s.command('t', 'STATUS Elsewhere (MESSAGES)')).toContain('* STATUS Elsewhere (MESSAGES 1)');
  s.close();
});

test('one change watcher per user, shared by all of its sessions, gone when they log out', async () => {
  // The sessions of the tests before have gone (their sockets were closed).
  await waitFor(() => watchedChangeFiles() === 0);
  const before = 0;
  const sessions: RawImapClient[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await roost.raw({ username: 'alice' });
    await c.command('s', 'SELECT INBOX');
    sessions.push(c);
  }
  expect(watchedChangeFiles()).toBe(before + 1);
  for (const c of sessions) await c.command('z', 'LOGOUT');
  await waitFor(() => watchedChangeFiles() === before);
});

test('`roost mailbox delete` of the selected mailbox from another process: the next command gets BYE', async () => {
  const s = await roost.raw({ username: 'alice' });
  expect((await s.command('c', 'CREATE Doomed')).at(-1)).toMatch(/^c OK/);
  expect((await s.command('s', 'SELECT Doomed')).at(-1)).toMatch(/^s OK/);
  const deleted = await runRoost(['mailbox', 'delete', '-u', 'alice', 'Doomed'], '');
  expect(deleted).toMatchObject({ code: 0, stderr: '' });
  s.send('n NOOP\r\n');
  expect(await s.until((l) => l.startsWith('* BYE'))).toContain('* BYE Selected mailbox was deleted, have to disconnect.');
  await s.waitClosed();
});
