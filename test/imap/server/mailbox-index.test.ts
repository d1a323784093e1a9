// SELECT, STATUS and FETCH answered from the listing shared by a user's sessions and from the
// counters the store keeps (src/storage/mailbox-index.ts, migrations/user/0004): whatever another
// session, another process or a store written before those existed did, a SELECT shows exactly the
// mailbox as it is. The truth each answer is checked against is read from the database itself.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteUserStore } from '../../../src/storage/sqlite/index.js';
import { compileStorage, REPO_ROOT, type CompiledStorage } from '../../storage/helpers/compile-storage.js';
import { LOGIN, RawClient, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
let compiled: CompiledStorage;

beforeAll(() => {
  compiled = compileStorage();
});
afterAll(() => compiled.cleanup());
beforeEach(async () => {
  srv = await startTestServer();
});
afterEach(async () => {
  await srv.stop();
});

function message(subject: string, extra = ''): string {
  return `From: a@example.org\r\nTo: alice@example.org\r\nSubject: ${subject}\r\n\r\nBody of ${subject}.${extra}\r\n`;
}

async function login(): Promise<RawClient> {
  const c = await RawClient.connect(srv.port);
  await c.command('a', LOGIN);
  return c;
}

async function append(c: RawClient, mailbox: string, flags: string, text: string): Promise<void> {
  c.send(`ap APPEND ${mailbox} (${flags}) {${Buffer.byteLength(text)}+}\r\n${text}\r\n`);
  const lines = await c.until((l) => l.startsWith('ap '));
  expect(lines[lines.length - 1]).toMatch(/^ap OK/);
}

function dbPathOf(user: string): string {
  const home = join(srv.dataDir, 'home');
  const hit = (readdirSync(home, { recursive: true }) as string[]).find((p) => p.endsWith(`${user}/mail.db`));
  if (!hit) throw new Error(`no mail.db of ${user}`);
  return join(home, hit);
}

interface Truth {
  exists: number;
  recent: number;
  unseen: number;
  firstUnseenSeq: number;
  uidNext: number;
  /** `* n FETCH (UID u FLAGS (...) RFC822.SIZE s)` without \Recent, in sequence order. */
  fetch: string[];
}

/** What the mailbox holds, read straight from the database (the way the store read it before the counters). */
function truth(dbPath: string, mailbox: string): Truth {
  const db = new Database(dbPath, { readonly: true });
  try {
    const box = db.prepare('SELECT id, uid_next FROM mailbox WHERE name = ?').get(mailbox) as { id: number; uid_next: number };
    const rows = db.prepare('SELECT uid, flags, keywords, size, recent FROM message WHERE mailbox_id = ? ORDER BY uid').all(box.id) as {
      uid: number;
      flags: number;
      keywords: string | null;
      size: number;
      recent: number;
    }[];
    const names = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
    const unseenAt = rows.findIndex((r) => (r.flags & 8) === 0);
    return {
      exists: rows.length,
      recent: rows.filter((r) => r.recent === 1).length,
      unseen: rows.filter((r) => (r.flags & 8) === 0).length,
      firstUnseenSeq: unseenAt + 1,
      uidNext: box.uid_next,
      fetch: rows.map((r, i) => {
        const flags = [...names.filter((_, b) => r.flags & (1 << b)), ...(r.keywords ? r.keywords.split(' ') : [])];
        return `* ${i + 1} FETCH (UID ${r.uid} FLAGS (${flags.join(' ')}) RFC822.SIZE ${r.size})`;
      }),
    };
  } finally {
    db.close();
  }
}

const withoutRecent = (lines: string[]) => lines.filter((l) => l.startsWith('* ')).map((l) => l.replace(/ ?\\Recent/, '').replace('( ', '('));

/** A new session's SELECT and FETCH 1:* against the truth; returns that session. */
async function expectSelectShows(dbPath: string, mailbox: string, before: Truth): Promise<RawClient> {
  const c = await login();
  const sel = await c.command('s', `SELECT ${mailbox}`);
  expect(sel[sel.length - 1]).toMatch(/^s OK \[READ-WRITE\]/);
  expect(sel).toContain(`* ${before.exists} EXISTS`);
  expect(sel).toContain(`* ${before.recent} RECENT`);
  if (before.firstUnseenSeq > 0) expect(sel).toContain(`* OK [UNSEEN ${before.firstUnseenSeq}] First unseen.`);
  else expect(sel.some((l) => l.includes('[UNSEEN '))).toBe(false);
  expect(sel).toContain(`* OK [UIDNEXT ${before.uidNext}] Predicted next UID`);
  const after = truth(dbPath, mailbox);
  expect(after.recent).toBe(0); // the SELECT took \Recent
  if (before.exists > 0) {
    const fetched = await c.command('f', 'FETCH 1:* (UID FLAGS RFC822.SIZE)');
    expect(withoutRecent(fetched)).toEqual(after.fetch);
    // \Recent on exactly as many messages as the SELECT announced.
    expect(fetched.filter((l) => l.includes('\\Recent')).length).toBe(before.recent);
  }
  return c;
}

/** Runs `body` in another node process on alice's store (the storage layer, compiled). */
async function inOtherProcess(dbPath: string, body: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'roost-other-'));
  const script = join(dir, 'change.mjs');
  writeFileSync(
    script,
    `import { openUserStore } from ${JSON.stringify(compiled.indexPath)};\n` +
      `const store = openUserStore({ username: 'alice', home: ${JSON.stringify(join(dbPath, '..'))}, location: ${JSON.stringify('sqlite:' + dbPath)}, separator: '/' });\n` +
      `const inbox = store.getMailbox('INBOX');\n` +
      `const msg = (s) => Buffer.from('From: x@example.org\\r\\nSubject: ' + s + '\\r\\n\\r\\nFrom elsewhere.\\r\\n');\n` +
      `${body}\nstore.close();\n`,
  );
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', resolve);
  });
  rmSync(dir, { recursive: true, force: true });
  expect(code).toBe(0);
}

test("sessions of one user: each SELECT shows exactly what the others and another process did", async () => {
  const a = await login();
  for (let i = 1; i <= 8; i++) await append(a, 'INBOX', i % 3 === 0 ? '' : '\\Seen', message(`m${i}`, 'x'.repeat(i * 10)));
  await a.command('s', 'SELECT INBOX'); // the listing is read once here, then shared
  const dbPath = dbPathOf('alice');

  // Another session: flags, a keyword, an expunge, an APPEND of its own.
  const b = await expectSelectShows(dbPath, 'INBOX', truth(dbPath, 'INBOX'));
  await b.command('1', 'STORE 3 +FLAGS (\\Seen)');
  await b.command('2', 'STORE 1 -FLAGS (\\Seen)');
  await b.command('3', 'STORE 2 +FLAGS ($Work)');
  await b.command('4', 'STORE 5 +FLAGS (\\Deleted)');
  await b.command('5', 'EXPUNGE');
  await append(b, 'INBOX', '\\Flagged', message('from b'));

  // Another process: a delivery, a flag change, an expunge.
  await inOtherProcess(
    dbPath,
    `store.append('INBOX', { content: msg('delivered') });\n` +
      `store.storeFlags(inbox.id, { uids: [4], operation: 'add', flags: ['$Other', '\\\\Answered'] });\n` +
      `store.expunge(inbox.id, [7]);`,
  );
  const c = await expectSelectShows(dbPath, 'INBOX', truth(dbPath, 'INBOX'));
  const sel = await c.command('s2', 'SELECT INBOX');
  expect(sel.find((l) => l.startsWith('* FLAGS'))).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work $Other)');

  // The first session, still on its view from before, is brought up to date by a NOOP and then
  // answers FETCH like the new ones.
  const noop = await a.command('n', 'NOOP');
  expect(noop.filter((l) => / EXPUNGE$/.test(l))).toEqual(['* 7 EXPUNGE', '* 5 EXPUNGE']);
  expect(noop).toContain(`* ${truth(dbPath, 'INBOX').exists} EXISTS`);
  const fetched = await a.command('f', 'FETCH 1:* (UID FLAGS RFC822.SIZE)');
  expect(withoutRecent(fetched)).toEqual(truth(dbPath, 'INBOX').fetch);

  // STATUS from a session that has another mailbox selected: the maintained counters.
  await c.command('cr', 'CREATE Other');
  await c.command('so', 'SELECT Other');
  const status = await c.command('st', 'STATUS INBOX (MESSAGES RECENT UNSEEN UIDNEXT SIZE)');
  const t = truth(dbPath, 'INBOX');
  const db = new Database(dbPath, { readonly: true });
  const size = (db.prepare("SELECT sum(size) AS s FROM message WHERE mailbox_id = (SELECT id FROM mailbox WHERE name = 'INBOX')").get() as { s: number }).s;
  db.close();
  expect(status[0]).toBe(`* STATUS INBOX (MESSAGES ${t.exists} RECENT ${t.recent} UIDNEXT ${t.uidNext} UNSEEN ${t.unseen} SIZE ${size})`);
  for (const s of [a, b, c]) s.close();
});

test('a SELECT after every session of the user ended sees what another process changed meanwhile, and a mailbox made again', async () => {
  const a = await login();
  await a.command('c', 'CREATE Box');
  for (let i = 1; i <= 6; i++) await append(a, 'INBOX', i < 4 ? '\\Seen' : '', message(`m${i}`));
  await append(a, 'Box', '', message('in box'));
  await a.command('s1', 'SELECT Box');
  await a.command('s2', 'SELECT INBOX');
  const dbPath = dbPathOf('alice');
  const oldValidity = (await a.command('s3', 'SELECT Box')).find((l) => l.includes('UIDVALIDITY'))!;
  await a.command('l', 'LOGOUT');
  a.close();

  // Nobody of alice's is logged in: the listings are kept, the database moves on without them.
  await inOtherProcess(
    dbPath,
    `store.expunge(inbox.id, [2, 5]);\n` +
      `store.storeFlags(inbox.id, { uids: [1, 6], operation: 'set', flags: ['\\\\Draft'] });\n` +
      `for (let i = 0; i < 3; i++) store.append('INBOX', { content: msg('new ' + i), flags: i === 1 ? ['\\\\Seen'] : [] });\n` +
      `store.deleteMailbox('Box');\nstore.createMailbox('Box');\nstore.append('Box', { content: msg('the only one') });`,
  );
  const b = await expectSelectShows(dbPath, 'INBOX', truth(dbPath, 'INBOX'));
  const box = await b.command('sb', 'SELECT Box');
  expect(box).toContain('* 1 EXISTS');
  expect(box.find((l) => l.includes('UIDVALIDITY'))).not.toBe(oldValidity);
  expect(withoutRecent(await b.command('fb', 'FETCH 1:* (UID FLAGS RFC822.SIZE)'))).toEqual(truth(dbPath, 'Box').fetch);
  b.close();
});

test('a store written before the counters existed is migrated on open and serves SELECT and STATUS', async () => {
  // Make alice's store with the first three migrations only (the schema before 0004), where the
  // server will look for it (mail_home = <data_dir>/home/%d/%n).
  const dbPath = join(srv.dataDir, 'home', 'alice', 'mail.db');
  mkdirSync(join(dbPath, '..'), { recursive: true });
  const oldMigrations = mkdtempSync(join(tmpdir(), 'roost-migrations-'));
  mkdirSync(join(oldMigrations, 'user'));
  for (const f of ['0001_init.sql', '0002_body_files.sql', '0003_modseq_tracking.sql']) copyFileSync(join(REPO_ROOT, 'migrations/user', f), join(oldMigrations, 'user', f));
  const old = openSqliteUserStore({ username: 'alice', home: join(dbPath, '..'), dbPath, separator: '/', migrationsDir: oldMigrations });
  old.createMailbox('Work');
  for (let i = 1; i <= 12; i++) old.append(i % 2 ? 'INBOX' : 'Work', { content: Buffer.from(message(`old ${i}`)), flags: i % 4 === 2 ? ['\\Seen', '$Tag'] : [] });
  const inbox = old.getMailbox('INBOX')!;
  old.claimRecent(inbox.id); // some \Recent taken, some not
  old.append('INBOX', { content: Buffer.from(message('still recent')) });
  old.close();
  rmSync(oldMigrations, { recursive: true, force: true });
  expect(new Database(dbPath, { readonly: true }).pragma('user_version', { simple: true })).toBe(3);

  const before = truth(dbPath, 'INBOX');
  expect(before.recent).toBe(1);
  const status = await login();
  expect(dbPathOf('alice')).toBe(dbPath);
  const st = await status.command('st', 'STATUS Work (MESSAGES RECENT UNSEEN)');
  expect(st[0]).toBe('* STATUS Work (MESSAGES 6 RECENT 6 UNSEEN 3)');
  expect(new Database(dbPath, { readonly: true }).pragma('user_version', { simple: true })).toBe(4);
  const c = await expectSelectShows(dbPath, 'INBOX', before);
  // The counters go on from the migrated figures.
  await append(c, 'Work', '\\Seen', message('one more'));
  await c.command('ex', 'STORE 1:2 +FLAGS (\\Seen)');
  expect((await status.command('st2', 'STATUS INBOX (MESSAGES RECENT UNSEEN)'))[0]).toBe('* STATUS INBOX (MESSAGES 7 RECENT 0 UNSEEN 5)');
  expect((await status.command('st3', 'STATUS Work (MESSAGES RECENT UNSEEN)'))[0]).toBe('* STATUS Work (MESSAGES 7 RECENT 7 UNSEEN 3)');
  const sel = await c.command('s', 'EXAMINE Work');
  expect(sel).toContain('* 7 EXISTS');
  expect(sel).toContain('* 7 RECENT');
  expect(sel).toContain('* OK [UNSEEN 2] First unseen.');
  expect(sel.find((l) => l.startsWith('* FLAGS'))).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Tag)');
  status.close();
  c.close();
});
