// The pgsql backend's connections: one node-postgres Pool per process and connect string, shared
// by every user's store in the process (acquirePgsqlPool counts the holders; the last release
// ends it). Its size is Dovecot's `maxconns` in the connect string (lib-sql/driver-sqlpool.c);
// without one, STORAGE_DEFAULT_MAXCONNS, more than the sql passdb's 5 because every IMAP/LMTP
// session of the process draws from it.
//
// A connection the server closed (restart, failover, pg_terminate_backend) is not an error the
// session sees: the statement or transaction is retried once on a fresh connection, with a
// warning. A transaction whose COMMIT was sent when the connection died is NOT retried: its
// outcome is unknown, and running it again could apply it twice.
import pg from 'pg';
import { Logger } from '../../log/logger.js';
import { StorageError } from '../types.js';
import { connectionLost, parsePgsqlConnect, type PgsqlConnectSettings } from './connect.js';

/** Pool size when the connect string has no `maxconns=`. */
export const STORAGE_DEFAULT_MAXCONNS = 10;

export type PgsqlClient = pg.PoolClient;

export interface PgsqlPool {
  readonly settings: PgsqlConnectSettings;
  /**
   * One statement (autocommit), retried once on a fresh connection if the connection was lost.
   * For reads and idempotent writes only: a connection lost after the server committed the
   * statement looks the same as one lost before. Other writes go through transaction().
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * BEGIN, `fn`, COMMIT on one connection (ROLLBACK if `fn` throws). Retried once from the start
   * if the connection was lost before COMMIT was sent, so `fn` must only touch the database.
   */
  transaction<T>(fn: (client: PgsqlClient) => Promise<T>): Promise<T>;
  /** A connection of the pool for the caller's own use (tests, the migration runner); release it. */
  connect(): Promise<PgsqlClient>;
  /** Connections open right now (idle or busy). */
  readonly totalCount: number;
  /** Gives this holder's share back; the pool ends with its last holder. */
  release(): Promise<void>;
}

const errorText = (err: unknown) => (err as Error).message || String(err);

// bigint columns (uids, modseqs, sizes, ids) as JavaScript numbers: every value Roost stores is
// below 2^53. Everything else as node-postgres reads it (bytea as Buffer, booleans, text).
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

// A 250 or an APPENDUID goes out only after COMMIT has reached the disk (issue #15 Durability):
// synchronous_commit is set for every session, whatever the server's or database's default.
const SESSION_OPTIONS = '-c synchronous_commit=on';

/** Options for a pgsql pool or listener: how to reach and authenticate to the server. */
export function clientConfig(settings: PgsqlConnectSettings): pg.ClientConfig {
  // The pool-only keys (max, idleTimeoutMillis) are ignored by a Client.
  return { ...settings.config, types: typeParsers, options: SESSION_OPTIONS };
}

const watched = new WeakSet<pg.PoolClient>();

class SharedPool implements PgsqlPool {
  holders = 1;
  private readonly pool: pg.Pool;
  private readonly prefix: string;
  private readonly open = new Set<pg.PoolClient>();

  constructor(
    readonly settings: PgsqlConnectSettings,
    private readonly logger: Logger,
    private readonly onEnd: () => void,
  ) {
    this.pool = new pg.Pool({ ...settings.config, ...clientConfig(settings) });
    this.prefix = `pgsql(${settings.host}): `;
    // pool.end() resolves once the connections are told to close, not once they are closed:
    // release() waits for that too, so that nothing of the pool outlives it.
    this.pool.on('connect', (client) => this.open.add(client));
    this.pool.on('remove', (client) => this.open.delete(client));
    // An idle connection the server closed: the pool drops it and opens another on demand.
    this.pool.on('error', (err) => this.logger.warning(`${this.prefix}Connection to database ${settings.database} lost: ${errorText(err)} (reconnecting on the next query)`));
  }

  get totalCount(): number {
    return this.pool.totalCount;
  }

  async connect(): Promise<PgsqlClient> {
    try {
      const client = await this.pool.connect();
      // The server may end a checked-out connection between two statements: node-postgres then
      // emits 'error' on the client, which must not crash the process; the next statement on it
      // fails as a lost connection (and is retried).
      if (!watched.has(client)) {
        watched.add(client);
        client.on('error', (err) => this.logger.warning(`${this.prefix}Connection to database ${this.settings.database} lost: ${errorText(err)}`));
      }
      return client;
    } catch (err) {
      this.logger.error(`${this.prefix}Connect failed to database ${this.settings.database}: ${errorText(err)}`);
      throw new StorageError('UNAVAILABLE', `Not connected to database ${this.settings.database}: ${errorText(err)}`);
    }
  }

  async query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.retryOnce(async () => {
      const client = await this.connect();
      try {
        const res = await client.query<R>(text, params);
        client.release();
        return res;
      } catch (err) {
        // A broken connection must not go back to the pool.
        client.release(connectionLost(err) ? (err as Error) : undefined);
        throw err;
      }
    }, () => true);
  }

  async transaction<T>(fn: (client: PgsqlClient) => Promise<T>): Promise<T> {
    let committing = false;
    return this.retryOnce(async () => {
      committing = false;
      const client = await this.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        committing = true;
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        if (connectionLost(err)) client.release(err as Error);
        else {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release();
        }
        throw err;
      }
    }, () => !committing);
  }

  private async retryOnce<T>(run: () => Promise<T>, retryable: () => boolean): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!connectionLost(err) || !retryable()) throw err;
      this.logger.warning(`${this.prefix}Connection to database ${this.settings.database} lost: ${errorText(err)} (retrying on a new connection)`);
      try {
        return await run();
      } catch (again) {
        if (!connectionLost(again)) throw again;
        throw new StorageError('UNAVAILABLE', `Connection to database ${this.settings.database} lost: ${errorText(again)}`);
      }
    }
  }

  /** Whether `pid` is the server process of one of this pool's connections. */
  hasBackend(pid: number): boolean {
    for (const c of this.open) if ((c as unknown as { processID?: number }).processID === pid) return true;
    return false;
  }

  async release(): Promise<void> {
    if (--this.holders > 0) return;
    this.onEnd();
    const closing = [...this.open].map((c) => new Promise((resolve) => (c.once('end', resolve), (c as { _ended?: boolean })._ended && resolve(undefined))));
    await this.pool.end();
    await Promise.all(closing);
  }
}

const pools = new Map<string, SharedPool>();

/**
 * The process's pool for this connect string (the string as written is the key), created on
 * first use. Each call must be paired with one release().
 */
export function acquirePgsqlPool(connect: string, logger = new Logger('storage: ')): PgsqlPool {
  const existing = pools.get(connect);
  if (existing) {
    existing.holders++;
    return existing;
  }
  const pool = new SharedPool(parsePgsqlConnect(connect, STORAGE_DEFAULT_MAXCONNS), logger, () => pools.delete(connect));
  pools.set(connect, pool);
  return pool;
}

/**
 * Whether server process `pid` is a connection of this process's pool for `connect`: a NOTIFY it
 * sent announces a commit of this process, whose sessions were told at once (change-feed.ts).
 */
export function isOwnPgsqlBackend(connect: string, pid: number): boolean {
  return pools.get(connect)?.hasBackend(pid) ?? false;
}
