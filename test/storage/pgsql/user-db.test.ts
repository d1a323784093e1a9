// The built-in user database on PostgreSQL: the same behaviour as the SQLite server database
// (test/storage/server-db.test.ts), and a user added through one node is seen at once by another.
import { acquirePgsqlPool, type PgsqlPool } from '../../../src/storage/pgsql/pool.js';
import { migratePgsql } from '../../../src/storage/pgsql/migrations.js';
import { PgsqlUserDb } from '../../../src/storage/pgsql/user-db.js';
import { usePostgres, type PgDatabase } from '../../pg/harness.js';

const pgsql = usePostgres();
let db: PgDatabase;
let pool: PgsqlPool;
let users: PgsqlUserDb;
beforeAll(async () => {
  db = await pgsql.server.createDatabase();
  pool = acquirePgsqlPool(db.connectString);
  await migratePgsql(pool);
  users = new PgsqlUserDb(pool);
});
afterAll(() => pool.release());

const code = async (p: Promise<unknown>) => p.then(() => undefined, (e: { code?: string }) => e.code);

test('add, get, list, delete users', async () => {
  const u = await users.addUser({ username: 'Alice', password: '{PLAIN}secret', uid: 1000, gid: 1000, fields: { mail_plugins: 'quota' } });
  expect(u).toMatchObject({ username: 'Alice', password: '{PLAIN}secret', uid: 1000, gid: 1000, home: null, quotaRule: null, fields: { mail_plugins: 'quota' } });
  expect(u.createdAt).toBeInstanceOf(Date);
  await users.addUser({ username: 'bob' });
  await users.addUser({ username: 'Zed' });
  // Bytewise, as SQLite sorts: upper case first.
  expect((await users.listUsers()).map((x) => x.username)).toEqual(['Alice', 'Zed', 'bob']);
  expect((await users.listUsers())[0]!.fields).toEqual({ mail_plugins: 'quota' });
  expect(await users.getUser('alice')).toBeUndefined(); // case as given
  expect(await code(users.addUser({ username: 'Alice' }))).toBe('ALREADYEXISTS');
  await users.deleteUser('bob');
  expect(await users.getUser('bob')).toBeUndefined();
  expect(await code(users.deleteUser('bob'))).toBe('NONEXISTENT');
});

test('passwords must carry a {SCHEME}; fields can be changed and cleared', async () => {
  expect(await code(users.addUser({ username: 'c', password: 'plaintext' }))).toBe('PARAMETERS');
  expect(await code(users.addUser({ username: 'with space' }))).toBe('PARAMETERS');
  expect(await code(users.addUser({ username: '' }))).toBe('PARAMETERS');
  expect(await code(users.addUser({ username: 'x'.repeat(256) }))).toBe('PARAMETERS');
  await users.addUser({ username: 'c' });
  await users.setPassword('c', '{SHA512-CRYPT}$6$abc');
  expect((await users.getUser('c'))!.password).toBe('{SHA512-CRYPT}$6$abc');
  expect(await code(users.setPassword('nobody', '{PLAIN}x'))).toBe('NONEXISTENT');
  const r = await users.setFields('c', { home: '/home/c', quotaRule: '*:storage=1G', fields: { a: '1', b: '2' } });
  expect(r).toMatchObject({ home: '/home/c', quotaRule: '*:storage=1G', fields: { a: '1', b: '2' } });
  const r2 = await users.setFields('c', { home: null, fields: { a: null, b: '3' } });
  expect(r2).toMatchObject({ home: null, quotaRule: '*:storage=1G', fields: { b: '3' } });
  expect(await code(users.setFields('c', { uid: -1 }))).toBe('PARAMETERS');
  expect(await code(users.setFields('nobody', { home: '/x' }))).toBe('NONEXISTENT');
  // A rejected field leaves the user as it was (one transaction): the home is not changed either.
  expect(await code(users.setFields('c', { home: '/new', fields: { ok: '1', 'bad key': '1' } }))).toBe('PARAMETERS');
  expect(await users.getUser('c')).toMatchObject({ home: null, fields: { b: '3' } });
});

test('a user added on one node is seen at once on another', async () => {
  const nodeB = acquirePgsqlPool(`${db.connectString} application_name=nodeB`);
  try {
    await users.addUser({ username: 'shared@example.com', password: '{PLAIN}x' });
    expect(await new PgsqlUserDb(nodeB).getUser('shared@example.com')).toMatchObject({ username: 'shared@example.com', password: '{PLAIN}x' });
  } finally {
    await nodeB.release();
  }
});
