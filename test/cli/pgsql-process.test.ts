// The built `roost` with `mail_location = pgsql:...` (issue #15), run as operators run it: the
// schema ships inside dist/ (an installed roost has no src/), `roost migrate` applies it and says
// so once, and the built-in user database lives in that PostgreSQL database: a `roost user add`
// through one node's configuration is seen at once by another node's (another data_dir, no
// <data_dir>/roost.db anywhere), through `roost user list`, `roost auth test` and the `roost`
// userdb.
import { jest } from '@jest/globals';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyAssets } from '../../scripts/copy-assets.js';
import { parseMailLocation } from '../../src/storage/index.js';
import { usePostgres, type PgDatabase } from '../pg/harness.js';
import { buildCli, ROOT, roost, run } from './built-roost.js';

jest.setTimeout(180_000);

const pgsql = usePostgres();
let dir: string;

beforeAll(() => {
  buildCli();
}, 120_000);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'roost-pgsql-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('npm run build copies the non-TypeScript files next to the compiled modules', () => {
  // A package root with the asset folders only, as the build sees src/.
  for (const rel of ['src/lua/chunks', 'src/storage/pgsql/migrations']) cpSync(join(ROOT, rel), join(dir, rel), { recursive: true });
  copyAssets(dir);
  expect(readdirSync(join(dir, 'dist/src/storage/pgsql/migrations')).sort()).toEqual(readdirSync(join(ROOT, 'src/storage/pgsql/migrations')).sort());
  expect(readdirSync(join(dir, 'dist/src/lua/chunks')).sort()).toEqual(readdirSync(join(ROOT, 'src/lua/chunks')).sort());
});

test('the compiled backend reads its migrations from beside itself, not from src/', async () => {
  const module = join(ROOT, 'dist/src/storage/pgsql/migrations.js');
  const script = `const m = await import(${JSON.stringify(module)}); console.log(m.pgsqlMigrationsDir()); console.log(m.loadPgsqlMigrations().map((x) => x.version).join(','));`;
  const r = await run(process.execPath, ['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const [where, versions] = r.stdout.trim().split('\n');
  expect(where).toBe(join(ROOT, 'dist/src/storage/pgsql/migrations/'));
  expect(versions).toBe(readdirSync(join(ROOT, 'src/storage/pgsql/migrations')).map((f) => String(Number(f.slice(0, 4)))).join(','));
});

/** Whether this build serves `pgsql:` locations (the backend's entry in src/storage/backends.ts). */
function pgsqlServed(): boolean {
  try {
    parseMailLocation('pgsql:host=127.0.0.1 dbname=roost');
    return true;
  } catch {
    return false;
  }
}

/** A node's configuration: its own data_dir, the shared database as mail_location. */
function nodeConf(name: string, db: PgDatabase): string {
  const nodeDir = join(dir, name);
  mkdirSync(nodeDir, { recursive: true });
  const conf = join(nodeDir, 'roost.conf');
  writeFileSync(
    conf,
    [`data_dir = ${nodeDir}/data`, 'ssl = no', `mail_location = pgsql:${db.connectString}`, 'passdb {\n  driver = roost\n}', 'userdb {\n  driver = roost\n}', ''].join('\n'),
  );
  return conf;
}

// Needs the pgsql backend registered (src/storage/backends.ts): until then the configuration
// refuses `mail_location = pgsql:...`.
const withPgsql = pgsqlServed() ? test : test.skip;

withPgsql('roost migrate applies the PostgreSQL schema once and reports the database', async () => {
  const db = await pgsql.server.createDatabase();
  const conf = nodeConf('a', db);
  const where = `pgsql database ${db.database} on ${db.host}:${db.port}`;
  const first = await roost(['-c', conf, 'migrate']);
  expect(first).toEqual({ code: 0, stdout: `${where}: applied 1\n`, stderr: '' });
  const again = await roost(['-c', conf, 'migrate']);
  expect(again).toEqual({ code: 0, stdout: `${where}: up to date\n`, stderr: '' });
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  expect(rows.map((r) => r.version)).toEqual([1]);
  await db.drop();
});

withPgsql('a user added through one node is seen at once by another: user list, auth, userdb', async () => {
  const db = await pgsql.server.createDatabase();
  const a = nodeConf('a', db);
  const b = nodeConf('b', db);
  expect(await roost(['-c', b, 'user', 'list'])).toEqual({ code: 0, stdout: '', stderr: '' });
  expect(await roost(['-c', a, 'user', 'add', 'alice', '-p', 'secret'])).toEqual({ code: 0, stdout: 'Added user alice\n', stderr: '' });
  expect(await roost(['-c', b, 'user', 'list'])).toEqual({ code: 0, stdout: 'alice\n', stderr: '' });
  const auth = await roost(['-c', b, 'auth', 'test', 'alice', 'secret']);
  expect(auth.code).toBe(0);
  expect(auth.stdout).toMatch(/auth succeeded/);
  expect((await roost(['-c', b, 'auth', 'test', 'alice', 'wrong'])).code).not.toBe(0);
  // Changes through b are seen by a.
  expect((await roost(['-c', b, 'user', 'set', 'alice', 'home=/srv/mail/alice'])).code).toBe(0);
  expect((await roost(['-c', a, 'user', 'alice', '-f', 'home'])).stdout).toBe('/srv/mail/alice\n');
  expect((await roost(['-c', a, 'user', 'del', 'alice'])).code).toBe(0);
  expect(await roost(['-c', b, 'user', 'list'])).toEqual({ code: 0, stdout: '', stderr: '' });
  // The users were in PostgreSQL, never in a node's <data_dir>/roost.db.
  for (const node of ['a', 'b']) expect(existsSync(join(dir, node, 'data/roost.db'))).toBe(false);
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  expect(rows[0]!.n).toBe(0);
  await db.drop();
});
