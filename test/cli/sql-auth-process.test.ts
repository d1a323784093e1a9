// The built `roost` with passdb/userdb driver = sql, as an operator runs it against an existing
// Dovecot SQL user table: `roost auth test` (doveadm auth test), `roost user` and `roost user '*'`
// (doveadm user), on SQLite and on a real PostgreSQL; the process exits by itself (the pool is
// closed), and a database that is down is an internal error (exit 75), not "unknown user" (67).
import { jest } from '@jest/globals';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usePostgres } from '../pg/harness.js';
import { buildCli, roost } from './built-roost.js';

jest.setTimeout(180_000);

const pgsql = usePostgres();

let dir: string;
beforeAll(() => {
  buildCli();
}, 120_000);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'roost-cli-sql-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const QUERIES = (dir: string) => `default_pass_scheme = PLAIN
password_query = SELECT username AS user, password FROM mailbox WHERE username = '%u' AND active = '1'
user_query = SELECT '${dir}/vmail/' || maildir AS home, quota_rule FROM mailbox WHERE username = '%u' AND active = '1'
iterate_query = SELECT username AS user FROM mailbox WHERE active = '1' ORDER BY username
`;

/** roost.conf with the sql passdb/userdb; returns its path. */
function roostConf(sqlConf: string): string {
  writeFileSync(join(dir, 'dovecot-sql.conf.ext'), sqlConf);
  const conf = join(dir, 'roost.conf');
  writeFileSync(
    conf,
    `data_dir = ${dir}/data\nssl = no\nauth_failure_delay = 0\n` +
      `passdb {\n  driver = sql\n  args = ${dir}/dovecot-sql.conf.ext\n}\nuserdb {\n  driver = sql\n  args = ${dir}/dovecot-sql.conf.ext\n}\n`,
  );
  return conf;
}

const ROWS: [string, string, string, string | null, boolean][] = [
  ['alice@example.com', '{PLAIN}secret', 'example.com/alice/', '*:storage=1G', true],
  ['carol@example.com', '{PLAIN}carols', 'example.com/carol/', null, true],
  ['bob@example.com', '{PLAIN}hunter2', 'example.com/bob/', null, false],
];

async function expectUsualAnswers(conf: string): Promise<void> {
  expect(await roost(['-c', conf, 'auth', 'test', 'alice@example.com', 'secret'])).toEqual({
    code: 0,
    stdout: 'passdb: alice@example.com auth succeeded\nextra fields:\n  user=alice@example.com\n',
    stderr: '',
  });
  const wrong = await roost(['-c', conf, 'auth', 'test', 'alice@example.com', 'wrong']);
  expect(wrong.code).toBe(77);
  expect(wrong.stdout).toBe('passdb: alice@example.com auth failed\nextra fields:\n  user=alice@example.com\n');
  expect(await roost(['-c', conf, 'user', '*'])).toEqual({ code: 0, stdout: 'alice@example.com\ncarol@example.com\n', stderr: '' });
  const alice = await roost(['-c', conf, 'user', 'alice@example.com']);
  expect(alice).toEqual({
    code: 0,
    stdout: `field\tvalue\nuser\talice@example.com\nhome\t${dir}/vmail/example.com/alice/\nquota_rule\t*:storage=1G\n`,
    stderr: '',
  });
  // NULL columns are not fields.
  const carol = await roost(['-c', conf, 'user', 'carol@example.com']);
  expect(carol.stdout).toBe(`field\tvalue\nuser\tcarol@example.com\nhome\t${dir}/vmail/example.com/carol/\n`);
  const bob = await roost(['-c', conf, 'user', 'bob@example.com']);
  expect(bob).toMatchObject({ code: 67, stderr: "userdb lookup: user bob@example.com doesn't exist\n" });
}

test('SQLite: auth test, user and user * through dovecot-sql.conf.ext', async () => {
  const db = new Database(join(dir, 'users.db'));
  db.exec('CREATE TABLE mailbox (username TEXT PRIMARY KEY, password TEXT, maildir TEXT, quota_rule TEXT, active INTEGER)');
  const add = db.prepare('INSERT INTO mailbox VALUES (?, ?, ?, ?, ?)');
  for (const [u, p, m, q, a] of ROWS) add.run(u, p, m, q, a ? 1 : 0);
  db.close();
  const conf = roostConf(`driver = sqlite\nconnect = ${dir}/users.db\n${QUERIES(dir)}`);
  await expectUsualAnswers(conf);
});

test('PostgreSQL: the same answers; with the server down, internal errors, not unknown users', async () => {
  const db = await pgsql.server.createDatabase();
  await db.query('CREATE TABLE mailbox (username text PRIMARY KEY, password text, maildir text, quota_rule text, active boolean)');
  for (const row of ROWS) await db.query('INSERT INTO mailbox VALUES ($1, $2, $3, $4, $5)', row);
  const conf = roostConf(`driver = pgsql\nconnect = ${db.connectString}\n${QUERIES(dir)}`);
  await expectUsualAnswers(conf);

  await pgsql.server.stop();
  try {
    const auth = await roost(['-c', conf, 'auth', 'test', 'alice@example.com', 'secret']);
    // As doveadm auth test: the reason is in the auth log (test/auth/sql-pgsql.test.ts), not here.
    expect(auth).toMatchObject({ code: 77, stdout: 'passdb: alice@example.com auth failed\nextra fields:\n  user=alice@example.com\n' });
    const user = await roost(['-c', conf, 'user', 'alice@example.com']);
    expect(user.code).toBe(75);
    expect(user.stderr).toMatch(/userdb lookup: user alice@example\.com failed: Internal error/);
    const all = await roost(['-c', conf, 'user', '*']);
    expect(all).toEqual({ code: 75, stdout: '', stderr: 'roost: Error: sql: Iterate query failed: Not connected to database\n' });
  } finally {
    await pgsql.server.start();
  }
  await db.drop();
});
