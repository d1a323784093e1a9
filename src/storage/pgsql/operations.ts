// The pgsql backend's operations besides the user store, for its StorageBackend entry: the
// built-in user database on the mail's own connection (issue #15: every node sees a `roost user
// add` at once) and `roost migrate`. One schema serves every user of a database, so "migrating a
// user's store" is migrating that database; `roost migrate` prints each database once.
import type { MigrationReport, ServerDbSite } from '../backend.js';
import type { NewUser, ServerDb, ServerDbOptions, UserFieldChanges, UserRecord, UserStoreOptions } from '../types.js';
import { migratePgsql } from './migrations.js';
import { acquirePgsqlPool, type PgsqlPool } from './pool.js';
import { PgsqlUserDb } from './user-db.js';

/** The connect string of a `pgsql:<connect>` location. */
export function pgsqlConnectOf(location: string): string {
  return location.trim().replace(/^pgsql:/, '');
}

/** How `roost migrate` names a database: server and database, never the password. */
function describeDatabase(pool: PgsqlPool): string {
  const { host, database } = pool.settings;
  const port = pool.settings.config.port;
  return `pgsql database ${database} on ${host}${port ? `:${port}` : ''}`;
}

/** Applies the pending migrations of the database `connect` names. */
async function migrateDatabase(connect: string): Promise<MigrationReport> {
  const pool = acquirePgsqlPool(connect);
  try {
    return { where: describeDatabase(pool), applied: await migratePgsql(pool) };
  } finally {
    await pool.release();
  }
}

/** StorageBackend.migrateServerDb: the users live in the mail's database; its schema is brought up to date. */
export function migratePgsqlServerDb(site: ServerDbSite): Promise<MigrationReport> {
  return migrateDatabase(site.rest);
}

/** StorageBackend.migrateUserStore: the schema of the database holding the user's store. */
export function migratePgsqlUserStore(opts: UserStoreOptions): Promise<MigrationReport> {
  return migrateDatabase(pgsqlConnectOf(opts.location));
}

/**
 * StorageBackend.openServerDb: PgsqlUserDb on the process's pool for this connect string. The
 * schema is migrated first (under the runner's advisory lock: nodes starting together apply it
 * once); every call waits for that, so opening stays synchronous as SQLite's is. close() gives the
 * pool share back.
 */
export function openPgsqlServerDb(site: ServerDbSite, opts: ServerDbOptions = {}): ServerDb {
  return new PgsqlServerDb(site.rest, opts);
}

class PgsqlServerDb implements ServerDb {
  private readonly pool: PgsqlPool;
  private readonly users: PgsqlUserDb;
  private readonly ready: Promise<void>;
  private closed: Promise<void> | undefined;

  constructor(connect: string, opts: ServerDbOptions) {
    this.pool = acquirePgsqlPool(connect);
    this.users = new PgsqlUserDb(this.pool, { maxUsernameBytes: opts.maxUsernameBytes });
    this.ready = migratePgsql(this.pool).then(() => undefined);
    // A failed migration is reported by the first call that needs the database, not as an
    // unhandled rejection of a database nobody asked anything yet.
    this.ready.catch(() => undefined);
  }

  private async run<T>(fn: (users: PgsqlUserDb) => Promise<T>): Promise<T> {
    await this.ready;
    return fn(this.users);
  }

  addUser(user: NewUser): Promise<UserRecord> {
    return this.run((u) => u.addUser(user));
  }

  deleteUser(username: string): Promise<void> {
    return this.run((u) => u.deleteUser(username));
  }

  getUser(username: string): Promise<UserRecord | undefined> {
    return this.run((u) => u.getUser(username));
  }

  listUsers(): Promise<UserRecord[]> {
    return this.run((u) => u.listUsers());
  }

  setPassword(username: string, passwordHash: string | null): Promise<void> {
    return this.run((u) => u.setPassword(username, passwordHash));
  }

  setFields(username: string, changes: UserFieldChanges): Promise<UserRecord> {
    return this.run((u) => u.setFields(username, changes));
  }

  close(): Promise<void> {
    this.closed ??= this.ready.catch(() => undefined).then(() => this.pool.release());
    return this.closed;
  }
}
