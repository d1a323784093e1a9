// The built-in user database (ServerDb) as storage/index.ts opens it, on both backends: SQLite's
// <data_dir>/roost.db and the pgsql backend's users tables in the mail's own database. The same
// behaviour through the same contract; on PostgreSQL a second handle (another node) sees a user
// the first one added at once.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../src/log/logger.js';
import { openServerDb, type ServerDb } from '../../src/storage/index.js';
import { openPgsqlServerDb } from '../../src/storage/pgsql/operations.js';
import { usePostgres, type PgDatabase } from '../pg/harness.js';

const pgsql = usePostgres();

const code = async (p: () => unknown) => {
  try {
    await p();
    return 'no error';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

interface Backend {
  name: string;
  /** A fresh, empty user database each test. */
  create(dir: string): Promise<void>;
  /** Another handle on the same database (a second process or node). */
  open(dir: string): ServerDb;
}

let pgDb: PgDatabase | undefined;
const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    create: async () => undefined,
    open: (dir) => openServerDb({ dataDir: dir, mailLocation: 'sqlite:~/mail.db' }),
  },
  {
    name: 'pgsql',
    create: async () => {
      pgDb = await pgsql.server.createDatabase();
    },
    // The backend's own entry point: openServerDb reaches it once `pgsql:` is a registered scheme.
    open: (dir) => openPgsqlServerDb({ rest: pgDb!.connectString, dataDir: dir }),
  },
];

describe.each(BACKENDS)('server database on $name', (backend) => {
  let dir: string;
  let db: ServerDb;
  const others: ServerDb[] = [];
  beforeAll(() => logHub.setDefaultOutput(false));
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roost-serverdb-'));
    await backend.create(dir);
    db = backend.open(dir);
  });
  afterEach(async () => {
    await db.close();
    for (const o of others.splice(0)) await o.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await pgDb?.drop();
  });

  test('add, get, list, delete users', async () => {
    const u = await db.addUser({ username: 'Alice', password: '{PLAIN}secret', uid: 1000, gid: 1000, fields: { mail_plugins: 'quota' } });
    expect(u).toMatchObject({ username: 'Alice', password: '{PLAIN}secret', uid: 1000, home: null, fields: { mail_plugins: 'quota' } });
    expect(u.createdAt).toBeInstanceOf(Date);
    await db.addUser({ username: 'bob' });
    expect((await db.listUsers()).map((x) => x.username)).toEqual(['Alice', 'bob']);
    expect(await db.getUser('alice')).toBeUndefined(); // case as given
    expect(await code(() => db.addUser({ username: 'Alice' }))).toBe('ALREADYEXISTS');
    await db.deleteUser('bob');
    expect(await db.getUser('bob')).toBeUndefined();
    expect(await code(() => db.deleteUser('bob'))).toBe('NONEXISTENT');
  });

  test('passwords must carry a {SCHEME}; fields can be changed and cleared', async () => {
    expect(await code(() => db.addUser({ username: 'c', password: 'plaintext' }))).toBe('PARAMETERS');
    expect(await code(() => db.addUser({ username: 'with space' }))).toBe('PARAMETERS');
    expect(await code(() => db.addUser({ username: '' }))).toBe('PARAMETERS');
    await db.addUser({ username: 'c' });
    await db.setPassword('c', '{SHA512-CRYPT}$6$abc');
    expect((await db.getUser('c'))!.password).toBe('{SHA512-CRYPT}$6$abc');
    expect(await code(() => db.setPassword('nobody', '{PLAIN}x'))).toBe('NONEXISTENT');
    const r = await db.setFields('c', { home: '/home/c', quotaRule: '*:storage=1G', fields: { a: '1', b: '2' } });
    expect(r).toMatchObject({ home: '/home/c', quotaRule: '*:storage=1G', fields: { a: '1', b: '2' } });
    const r2 = await db.setFields('c', { home: null, fields: { a: null } });
    expect(r2).toMatchObject({ home: null, quotaRule: '*:storage=1G', fields: { b: '2' } });
    expect(await code(() => db.setFields('c', { uid: -1 }))).toBe('PARAMETERS');
  });

  test('data survives reopen, and another handle sees a new user at once', async () => {
    await db.addUser({ username: 'persist', password: '{PLAIN}x' });
    const other = backend.open(dir);
    others.push(other);
    expect((await other.getUser('persist'))?.password).toBe('{PLAIN}x');
    await other.addUser({ username: 'second' });
    expect((await db.listUsers()).map((u) => u.username)).toEqual(['persist', 'second']);
    await db.close();
    db = backend.open(dir);
    expect((await db.getUser('persist'))?.password).toBe('{PLAIN}x');
  });

  test('the users are where the mail location says: <data_dir>/roost.db only for SQLite', async () => {
    await db.addUser({ username: 'where' });
    expect(existsSync(join(dir, 'roost.db'))).toBe(backend.name === 'sqlite');
  });
});
