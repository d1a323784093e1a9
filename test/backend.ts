// Which storage backend the protocol suites run on. The same suites run twice (jest.config.js
// projects): `sqlite`, the default, and `pgsql`, whose globalSetup (test/pg/global-pgsql.ts)
// starts one private PostgreSQL server for the whole run and hands its superuser connection to
// the test processes in ROOST_TEST_PG. Test servers ask freshMailLocation() for their
// `mail_location`: nothing (SQLite under mail_home, the default) or a fresh PostgreSQL database.
import { randomBytes } from 'node:crypto';
import { databasesOn, type PgConnection, type PgDatabase } from './pg/harness.js';

export type TestBackend = 'sqlite' | 'pgsql';

/** The backend of this test file's project (jest `globals.ROOST_TEST_BACKEND`). */
export const testBackend: TestBackend = (globalThis as { ROOST_TEST_BACKEND?: string }).ROOST_TEST_BACKEND === 'pgsql' ? 'pgsql' : 'sqlite';

let databases: ReturnType<typeof databasesOn> | undefined;

/** The shared server of the pgsql project. */
function sharedDatabases(): ReturnType<typeof databasesOn> {
  if (!databases) {
    const env = process.env.ROOST_TEST_PG;
    if (!env) throw new Error('ROOST_TEST_PG is not set: the pgsql project starts PostgreSQL in its globalSetup (test/pg/global-pgsql.ts)');
    const admin = JSON.parse(env) as PgConnection;
    databases = databasesOn(() => admin);
  }
  return databases;
}

/** A `mail_location` for a new test server: undefined on SQLite (the default), a fresh database on PostgreSQL. */
export async function freshMailLocation(): Promise<string | undefined> {
  if (testBackend === 'sqlite') return undefined;
  const database = await freshPgDatabase();
  const location = `pgsql:${database.connectString}`;
  mailDatabases.set(location, database);
  return location;
}

/** The databases behind this file's freshMailLocation()s, until dropped. */
const mailDatabases = new Map<string, PgDatabase>();

/**
 * Drops the database of a freshMailLocation() once its server has closed (nothing on SQLite): a
 * database is a copy of template1, some 7 MB, and a run makes one per test server.
 */
export async function dropMailLocation(location: string | undefined): Promise<void> {
  const database = location === undefined ? undefined : mailDatabases.get(location);
  if (!database) return;
  mailDatabases.delete(location!);
  await database.drop();
}

/** A fresh database on the pgsql project's shared server (storage suites use it directly). */
export function freshPgDatabase(): Promise<PgDatabase> {
  // Named apart from every other test file's: with --runInBand the files share one process (one
  // pid) but each has its own module registry, so the harness's counter starts again per file.
  return sharedDatabases().create(`roost_test_${process.pid}_${randomBytes(4).toString('hex')}_${++databaseCounter}`);
}

let databaseCounter = 0;
