// passdb/userdb driver = sql with driver = sqlite: a postfixadmin-style `mailbox` table and the
// queries postfixadmin's DOVECOT.txt gives, IMAP logins over real sockets (imapflow, raw lines),
// and Dovecot 2.3.19's failure modes (checked against dovecot-auth with dovecot-sqlite):
// several rows, no password column, NULL password with and without nopassword, escaping, an
// unknown variable, a missing database file.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/index.js';
import { startRoost, type Roost } from '../e2e/harness.js';

/** postfixadmin's mailbox table (the columns the queries use). */
const SCHEMA = `CREATE TABLE mailbox (
  username TEXT PRIMARY KEY, password TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '',
  maildir TEXT NOT NULL DEFAULT '', quota INTEGER NOT NULL DEFAULT 0, local_part TEXT NOT NULL DEFAULT '',
  domain TEXT NOT NULL DEFAULT '', active INTEGER NOT NULL DEFAULT 1, nopassword TEXT, allow_nets TEXT)`;

const SQL_CONF = (dir: string, overrides: Record<string, string> = {}) => {
  const settings: Record<string, string> = {
    driver: 'sqlite',
    connect: `${dir}/postfixadmin.db`,
    default_pass_scheme: 'MD5-CRYPT',
    // One query split over lines with trailing backslashes, as in Dovecot's example file.
    password_query: `SELECT username AS user, password, nopassword, allow_nets, \\\n  '${dir}/vmail/' || maildir AS userdb_home \\\n  FROM mailbox WHERE username = '%u' AND active = '1'`,
    user_query: `SELECT '${dir}/vmail/' || maildir AS home, CASE WHEN quota > 0 THEN '*:bytes=' || quota END AS quota_rule FROM mailbox WHERE username = '%u' AND active = '1'`,
    iterate_query: "SELECT username AS user FROM mailbox WHERE active = '1'",
    ...overrides,
  };
  return ['# dovecot-sql.conf.ext', ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`), ''].join('\n');
};

const AUTH = `passdb {
  driver = sql
  args = {DIR}/dovecot-sql.conf.ext
}
userdb {
  driver = sql
  args = {DIR}/dovecot-sql.conf.ext
}
`;

/** postfixadmin stores MD5-CRYPT hashes without a {SCHEME} prefix. */
const md5crypt = async (pw: string) => (await hashPassword(pw, 'MD5-CRYPT')).replace(/^\{MD5-CRYPT\}/, '');

async function fixture(dir: string): Promise<void> {
  const db = new Database(join(dir, 'postfixadmin.db'));
  db.exec(SCHEMA);
  const add = db.prepare('INSERT INTO mailbox (username, password, maildir, quota, local_part, domain, active, nopassword) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  add.run('alice@example.com', await md5crypt('secret'), 'example.com/alice/', 10485760, 'alice', 'example.com', 1, null);
  add.run('bob@example.com', await md5crypt('hunter2'), 'example.com/bob/', 0, 'bob', 'example.com', 0, null);
  add.run("o'brien@example.com", await md5crypt("it's"), 'example.com/obrien/', 0, "o'brien", 'example.com', 1, null);
  add.run('nopw@example.com', '', 'example.com/nopw/', 0, 'nopw', 'example.com', 1, 'Y');
  add.run('netsonly@example.com', await md5crypt('secret'), 'example.com/netsonly/', 0, 'netsonly', 'example.com', 1, null);
  db.prepare("UPDATE mailbox SET allow_nets = '192.0.2.0/24' WHERE username = 'netsonly@example.com'").run();
  db.close();
}

async function start(confOverrides: Record<string, string> = {}, config = ''): Promise<Roost> {
  // The auth penalty's waits end at once: failed logins follow each other here.
  const roost = await startRoost({ auth: AUTH, config, authSleep: async () => undefined, files: { 'dovecot-sql.conf.ext': SQL_CONF('{DIR}', confOverrides) } });
  await fixture(roost.dir);
  return roost;
}

/** Whether auth logged `<level>: sql(<user>,127.0.0.1,<session>): <message>`. */
function logged(roost: Roost, level: 'Info' | 'Error', user: string, message: string): boolean {
  return roost.lines.some((l) => l.startsWith(`auth: ${level}: sql(${user},127.0.0.1,`) && l.endsWith(`): ${message}`));
}

/** The tagged reply to a LOGIN over a raw connection. */
async function login(roost: Roost, user: string, pass: string): Promise<string> {
  const c = await roost.raw();
  try {
    const quote = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;
    return (await c.command('L1', `LOGIN ${quote(user)} ${quote(pass)}`)).at(-1)!;
  } finally {
    c.close();
  }
}

describe('postfixadmin schema on SQLite', () => {
  let roost: Roost;
  beforeAll(async () => {
    // Usernames with a quote reach the query (Dovecot's default auth_username_chars refuses them).
    roost = await start({}, 'auth_username_chars =\nauth_debug = yes');
  });
  afterAll(() => roost.stop());

  test('imapflow logs in with the MD5-CRYPT password; the userdb home is the maildir path', async () => {
    const client = await roost.imapflow('alice@example.com', 'secret');
    const mailbox = await client.mailboxOpen('INBOX');
    expect(mailbox.exists).toBe(0);
    await client.logout();
    expect(existsSync(join(roost.dir, 'vmail/example.com/alice'))).toBe(true);
  });

  test('LMTP delivers through the sql userdb (user_query home) and IMAP sees the message', async () => {
    const { rcpt, data } = await roost.deliver(['alice@example.com', 'bob@example.com']);
    expect(rcpt[0]).toMatch(/^250 /);
    // bob is inactive: user_query finds no row.
    expect(rcpt[1]).toMatch(/^550 5\.1\.1 /);
    expect(data).toEqual([expect.stringMatching(/^250 /)]);
    const client = await roost.imapflow('alice@example.com', 'secret');
    expect((await client.mailboxOpen('INBOX')).exists).toBe(1);
    await client.logout();
  });

  test('a wrong password, an inactive and an unknown user fail as authentication failures', async () => {
    expect(await login(roost, 'alice@example.com', 'wrong')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\] Authentication failed\./);
    expect(await login(roost, 'bob@example.com', 'hunter2')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
    expect(await login(roost, 'nobody@example.com', 'x')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
    expect(logged(roost, 'Info', 'alice@example.com', 'Password mismatch')).toBe(true);
    expect(logged(roost, 'Info', 'nobody@example.com', 'unknown user')).toBe(true);
  });

  test('quotes in the username and the password are escaped, not executed', async () => {
    const client = await roost.imapflow("o'brien@example.com", "it's");
    await client.logout();
    // Unescaped, this would match every active row.
    expect(await login(roost, "x' or '1'='1", 'secret')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
    expect(logged(roost, 'Info', "x' or '1'='1", "unknown user")).toBe(true);
  });

  test('each query is logged with auth_debug, values escaped as Dovecot does', async () => {
    await login(roost, "o'brien@example.com", "it's");
    const query = `query: SELECT username AS user, password, nopassword, allow_nets, '${roost.dir}/vmail/' || maildir AS userdb_home FROM mailbox WHERE username = 'o''brien@example.com' AND active = '1'`;
    expect(roost.lines.some((l) => l.startsWith("auth: Debug: sql(o'brien@example.com,127.0.0.1,") && l.endsWith(`): ${query}`))).toBe(true);
  });

  test('an allow_nets column restricts the user; NULL means no restriction', async () => {
    expect(await login(roost, 'netsonly@example.com', 'secret')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
    expect(logged(roost, 'Info', 'netsonly@example.com', 'allow_nets check failed: IP not in allowed networks')).toBe(true);
    // alice's allow_nets is NULL: no field, no restriction.
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(/^L1 OK /);
  });

  test('a NULL password with a nopassword column lets any password in', async () => {
    const client = await roost.imapflow('nopw@example.com', 'anything');
    await client.logout();
  });
});

describe('Dovecot failure modes', () => {
  const roosts: Roost[] = [];
  afterEach(async () => {
    await Promise.all(roosts.splice(0).map((r) => r.stop()));
  });
  const startFor = async (overrides: Record<string, string>) => {
    const r = await start(overrides);
    roosts.push(r);
    return r;
  };
  const TEMPFAIL = /^L1 NO \[UNAVAILABLE\] Temporary authentication failure\./;

  test('several rows for password_query: internal error, the client sees a temporary failure', async () => {
    const roost = await startFor({ password_query: "SELECT username AS user, password FROM mailbox WHERE domain = '%d'" });
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(TEMPFAIL);
    expect(logged(roost, 'Error', 'alice@example.com', 'Password query returned multiple matches')).toBe(true);
  });

  test('a password_query without a password column is an error, even for a correct password', async () => {
    const roost = await startFor({ password_query: "SELECT username AS user FROM mailbox WHERE username = '%u'" });
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(TEMPFAIL);
    expect(logged(roost, 'Error', "alice@example.com", "Password query must return a field named 'password'")).toBe(true);
  });

  test('a NULL password without nopassword is a failed login, not an error', async () => {
    const roost = await startFor({ password_query: "SELECT username AS user, NULL AS password FROM mailbox WHERE username = '%u'" });
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
    expect(logged(roost, 'Info', 'alice@example.com', 'Empty password returned without nopassword')).toBe(true);
  });

  test('an unknown %-variable fails the lookup with the query in the log', async () => {
    const roost = await startFor({ password_query: "SELECT password FROM mailbox WHERE username = '%{nosuch}'" });
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(TEMPFAIL);
    expect(logged(roost, 'Error', "alice@example.com", "Failed to expand password_query=SELECT password FROM mailbox WHERE username = '%{nosuch}': Unknown variable '%nosuch'")).toBe(true);
  });

  test('a database file that cannot be opened is a temporary failure; SQL errors are logged', async () => {
    const roost = await startFor({ connect: '/nonexistent/users.db' });
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(TEMPFAIL);
    expect(roost.lines.some((l) => /^auth: Error: sql\(alice@example\.com,127\.0\.0\.1,[^)]*\): Password query failed: open\(\/nonexistent\/users\.db\) failed:/.test(l))).toBe(true);
    const bad = await startFor({ password_query: "SELECT password FROM no_such_table WHERE username = '%u'" });
    expect(await login(bad, 'alice@example.com', 'secret')).toMatch(TEMPFAIL);
    expect(logged(bad, 'Error', 'alice@example.com', 'Password query failed: no such table: no_such_table')).toBe(true);
  });
});
