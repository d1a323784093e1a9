// passdb/userdb driver = sql with driver = pgsql against a real PostgreSQL (test/pg/harness.ts):
// postfixadmin's PostgreSQL `mailbox` table and its documented queries, IMAP logins with imapflow,
// the database going away (temporary failure, a clear log line, back without a restart), a query
// whose connection is killed (retried once), and maxconns capping the pool.
import { hashPassword } from '../../src/auth/index.js';
import { startRoost, type Roost } from '../e2e/harness.js';
import { type PgDatabase, usePostgres } from '../pg/harness.js';
import { waitUntil } from '../poll.js';

const pgsql = usePostgres();

// postfixadmin's PostgreSQL schema for mailbox (the columns the queries use).
const SCHEMA = `CREATE TABLE mailbox (
  username varchar(255) PRIMARY KEY, password varchar(255) NOT NULL DEFAULT '', name varchar(255) NOT NULL DEFAULT '',
  maildir varchar(255) NOT NULL DEFAULT '', quota bigint NOT NULL DEFAULT 0, local_part varchar(255) NOT NULL DEFAULT '',
  domain varchar(255) NOT NULL DEFAULT '', created timestamptz DEFAULT now(), modified timestamptz DEFAULT now(),
  active boolean NOT NULL DEFAULT true)`;

const AUTH = `passdb {
  driver = sql
  args = {DIR}/dovecot-sql.conf.ext
}
userdb {
  driver = sql
  args = {DIR}/dovecot-sql.conf.ext
}
`;

function sqlConf(dir: string, db: PgDatabase, extraConnect = '', overrides: Record<string, string> = {}): string {
  const settings: Record<string, string> = {
    driver: 'pgsql',
    connect: `${db.connectString}${extraConnect}`,
    default_pass_scheme: 'MD5-CRYPT',
    // postfixadmin DOVECOT.txt: the password_query also returns the userdb fields (prefetch).
    password_query: `SELECT username AS user, password, '${dir}/vmail/' || maildir AS userdb_home, CASE WHEN quota > 0 THEN '*:bytes=' || quota END AS userdb_quota_rule FROM mailbox WHERE username = '%u' AND active = '1'`,
    user_query: `SELECT '${dir}/vmail/' || maildir AS home, CASE WHEN quota > 0 THEN '*:bytes=' || quota END AS quota_rule FROM mailbox WHERE username = '%u' AND active = '1'`,
    iterate_query: "SELECT username AS user FROM mailbox WHERE active = '1'",
    ...overrides,
  };
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}\n`)
    .join('');
}

async function postfixadminDb(): Promise<PgDatabase> {
  const db = await pgsql.server.createDatabase();
  await db.query(SCHEMA);
  const md5crypt = async (pw: string) => (await hashPassword(pw, 'MD5-CRYPT')).replace(/^\{MD5-CRYPT\}/, '');
  const add = 'INSERT INTO mailbox (username, password, maildir, quota, local_part, domain, active) VALUES ($1, $2, $3, $4, $5, $6, $7)';
  await db.query(add, ['alice@example.com', await md5crypt('secret'), 'example.com/alice/', 10485760, 'alice', 'example.com', true]);
  await db.query(add, ['bob@example.com', await md5crypt('hunter2'), 'example.com/bob/', 0, 'bob', 'example.com', false]);
  await db.query(add, ["o'brien@example.com", await md5crypt("it's"), 'example.com/obrien/', 0, "o'brien", 'example.com', true]);
  return db;
}

const roosts: Roost[] = [];
const dbs: PgDatabase[] = [];
afterEach(async () => {
  await Promise.all(roosts.splice(0).map((r) => r.stop()));
  await Promise.all(dbs.splice(0).map((d) => d.drop()));
});

async function start(opts: { extraConnect?: string; overrides?: Record<string, string>; config?: string } = {}): Promise<{ roost: Roost; db: PgDatabase }> {
  const db = await postfixadminDb();
  dbs.push(db);
  const files = { 'dovecot-sql.conf.ext': sqlConf('{DIR}', db, opts.extraConnect, opts.overrides) };
  const roost = await startRoost({ auth: AUTH, config: opts.config, authSleep: async () => undefined, files });
  roosts.push(roost);
  return { roost, db };
}

async function login(roost: Roost, user: string, pass: string): Promise<string> {
  const c = await roost.raw();
  try {
    return (await c.command('L1', `LOGIN "${user}" "${pass}"`)).at(-1)!;
  } finally {
    c.close();
  }
}

const TEMPFAIL = /^L1 NO \[UNAVAILABLE\] Temporary authentication failure\./;
const authLine = (roost: Roost, level: string, message: RegExp) => roost.lines.some((l) => l.startsWith(`auth: ${level}: `) && message.test(l));

test('imapflow logs in against postfixadmin on PostgreSQL; prefetched userdb fields apply', async () => {
  // Usernames with a quote reach the query (Dovecot's default auth_username_chars refuses them).
  const { roost } = await start({ config: 'auth_username_chars =' });
  const client = await roost.imapflow('alice@example.com', 'secret');
  await client.mailboxOpen('INBOX');
  await client.logout();
  const o = await roost.imapflow("o'brien@example.com", "it's");
  await o.logout();
  expect(await login(roost, 'alice@example.com', 'wrong')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
  // active = false
  expect(await login(roost, 'bob@example.com', 'hunter2')).toMatch(/^L1 NO \[AUTHENTICATIONFAILED\]/);
  // The userdb lookup of the same user (LMTP, doveadm user) runs user_query.
  const found = await roost.ctx.auth.lookupUser('alice@example.com', 'lmtp');
  expect(found).toEqual({ found: true, user: 'alice@example.com', fields: { home: `${roost.dir}/vmail/example.com/alice/`, quota_rule: '*:bytes=10485760' } });
  const users: string[] = [];
  for await (const u of roost.ctx.auth.iterateUsers()) users.push(u);
  expect(users.sort()).toEqual(['alice@example.com', "o'brien@example.com"]);
});

test('the database going away is a temporary failure (IMAP and LMTP) with a clear log line; logins work again when it is back', async () => {
  const { roost, db } = await start();
  (await roost.imapflow('alice@example.com', 'secret')).close();
  await pgsql.server.stop();
  try {
    // The idle pooled connection's loss is logged when it happens.
    await waitUntil('the lost connection logged', () => authLine(roost, 'Warning', /^auth: Warning: pgsql\(127\.0\.0\.1\): Connection to database \S+ lost: /));
    expect(await login(roost, 'alice@example.com', 'secret')).toMatch(TEMPFAIL);
    expect(authLine(roost, 'Error', new RegExp(`^auth: Error: pgsql\\(127\\.0\\.0\\.1\\): Connect failed to database ${db.database}: .*ECONNREFUSED`))).toBe(true);
    expect(authLine(roost, 'Error', /^auth: Error: sql\(alice@example\.com,127\.0\.0\.1,[^)]*\): Password query failed: Not connected to database$/)).toBe(true);
    // Not a wrong password: the IP's penalty is not raised.
    expect(roost.ctx.auth.penalty.lookup('127.0.0.1')).toBe(0);
    // LMTP: the userdb lookup fails temporarily, so the MTA keeps the message and retries.
    const { rcpt } = await roost.deliver(['alice@example.com']);
    expect(rcpt).toEqual([expect.stringMatching(/^451 4\.3\.0 /)]);
  } finally {
    await pgsql.server.start();
  }
  const client = await roost.imapflow('alice@example.com', 'secret');
  await client.logout();
});

test('a query whose connection is killed is retried once on a new connection, with a warning', async () => {
  // The query sleeps so that the test can kill its backend while it runs.
  const { roost, db } = await start({
    extraConnect: ' application_name=roost-retry',
    overrides: {
      password_query: "SELECT username AS user, password FROM mailbox, (SELECT pg_sleep(0.5)) AS slow WHERE username = '%u' AND active = '1'",
    },
  });
  const reply = login(roost, 'alice@example.com', 'secret');
  const active = "SELECT pid FROM pg_stat_activity WHERE application_name = 'roost-retry' AND state = 'active' AND query LIKE '%pg_sleep%'";
  let pid: number | undefined;
  await waitUntil('the slow query running', async () => {
    pid = (await db.query<{ pid: number }>(active)).rows[0]?.pid;
    return pid !== undefined;
  });
  // The database owner may terminate its own role's backends.
  await db.query('SELECT pg_terminate_backend($1)', [pid]);
  expect(await reply).toMatch(/^L1 OK /);
  expect(authLine(roost, 'Warning', /^auth: Warning: sqlpool\(pgsql\): Query failed, retrying: terminating connection due to administrator command$/)).toBe(true);
});

test('maxconns caps the connections of the pool', async () => {
  const { roost, db } = await start({
    extraConnect: ' maxconns=2 application_name=roost-maxconns',
    overrides: {
      password_query: "SELECT username AS user, password FROM mailbox, (SELECT pg_sleep(0.2)) AS slow WHERE username = '%u' AND active = '1'",
    },
  });
  let most = 0;
  let done = false;
  const count = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'roost-maxconns'";
  const watcher = (async () => {
    while (!done) {
      most = Math.max(most, (await db.query<{ n: number }>(count)).rows[0]!.n);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const replies = await Promise.all(Array.from({ length: 6 }, () => login(roost, 'alice@example.com', 'secret')));
  done = true;
  await watcher;
  expect(replies.every((r) => r.startsWith('L1 OK '))).toBe(true);
  expect(most).toBe(2);
});
