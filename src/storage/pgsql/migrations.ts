// The pgsql backend's schema: numbered SQL files in ./migrations (`NNNN-name.sql`), applied in
// order, each in its own transaction, recorded in `schema_migrations`. Several nodes may start at
// once: the runner holds a session advisory lock while it looks and applies, so one applies and
// the others then find nothing left to do. The lock goes with the session if the node dies.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '../../log/logger.js';
import { StorageError } from '../types.js';
import type { PgsqlPool } from './pool.js';

export interface PgsqlMigration {
  version: number;
  name: string;
  sql: string;
}

/** pg_advisory_lock key of the migration runner: "Roost" in ASCII. */
export const MIGRATION_LOCK_KEY = 0x526f6f7374;

const FILE_NAME = /^(\d{4})-([A-Za-z0-9_-]+)\.sql$/;

/**
 * The folder of the .sql files: beside this module, from the sources and from the compiled
 * dist/src/storage/pgsql/ alike (the build copies them there: scripts/copy-assets.ts), so an
 * installed `roost` needs no src/.
 */
export function pgsqlMigrationsDir(): string {
  const dir = fileURLToPath(new URL('./migrations/', import.meta.url));
  if (!existsSync(join(dir, '0001-init.sql'))) {
    throw new StorageError('SERVERBUG', `Cannot find the pgsql migrations in ${dir} (the build copies them there: npm run build)`);
  }
  return dir;
}

export function loadPgsqlMigrations(dir = pgsqlMigrationsDir()): PgsqlMigration[] {
  const list: PgsqlMigration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_NAME.exec(file);
    if (!m) continue;
    list.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  list.forEach((mig, i) => {
    if (mig.version !== i + 1) throw new StorageError('SERVERBUG', `Migrations in ${dir} must be numbered 0001, 0002, ... without gaps`);
  });
  return list;
}

/**
 * Brings the database's schema up to date; returns the versions this call applied (none when
 * another node did it first). A database newer than this code is refused.
 */
export async function migratePgsql(pool: PgsqlPool, dir?: string, logger = new Logger('storage: ')): Promise<number[]> {
  const migrations = loadPgsqlMigrations(dir);
  const client = await pool.connect();
  const applied: number[] = [];
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) {
      throw new StorageError('SERVERBUG', `Database ${pool.settings.database} has pgsql schema version ${current}, newer than this Roost (${migrations.length})`);
    }
    for (const mig of migrations.slice(current)) {
      try {
        await client.query('BEGIN');
        await client.query(mig.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [mig.version, mig.name, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new StorageError('SERVERBUG', `Database ${pool.settings.database}: migration ${String(mig.version).padStart(4, '0')}-${mig.name} failed: ${(err as Error).message}`);
      }
      applied.push(mig.version);
      logger.info(`pgsql database ${pool.settings.database}: applied migration ${String(mig.version).padStart(4, '0')}-${mig.name}`);
    }
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  } catch (err) {
    // The lock is a session's: a connection that goes back to the pool must not keep it.
    broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
  return applied;
}
