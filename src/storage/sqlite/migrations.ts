// Numbered SQL migrations (`migrations/<kind>/NNNN_name.sql`), applied on open, each in its own
// transaction, tracked by PRAGMA user_version plus a `schema_migrations` table for humans.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '../../log/logger.js';
import { openDb, type Db } from './sqlite.js';
import { StorageError } from '../types.js';
import { DEFAULT_SQLITE_SETTINGS } from './options.js';

export type MigrationKind = 'user' | 'server';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const log = new Logger('storage: ');

/**
 * <package root>/migrations. This file is src/storage/migrations.ts, compiled to
 * dist/src/storage/migrations.js: the root is two levels up from the source and three from dist, so
 * look for the first ancestor that holds migrations/user.
 */
export function defaultMigrationsDir(): string {
  for (const rel of ['../../../migrations/', '../../../../migrations/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'user'))) return dir;
  }
  throw new StorageError('SERVERBUG', 'Cannot find the migrations folder next to the package');
}

const FILE_NAME = /^(\d{4})_([A-Za-z0-9_-]+)\.sql$/;

export function loadMigrations(kind: MigrationKind, migrationsDir = defaultMigrationsDir()): Migration[] {
  const dir = join(migrationsDir, kind);
  const list: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_NAME.exec(file);
    if (!m) continue;
    list.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  list.forEach((mig, i) => {
    if (mig.version !== i + 1) {
      throw new StorageError('SERVERBUG', `Migrations in ${dir} must be numbered 0001, 0002, ... without gaps`);
    }
  });
  return list;
}

/**
 * Applies the migrations newer than the database's user_version. Safe to run concurrently from
 * several threads/processes: each step takes the write lock (BEGIN IMMEDIATE) and re-reads the version.
 * Returns the versions applied. A database newer than this code is refused.
 */
export function applyMigrations(db: Db, kind: MigrationKind, migrationsDir?: string): number[] {
  const migrations = loadMigrations(kind, migrationsDir);
  const latest = migrations.length;
  const current = () => db.pragma('user_version', { simple: true }) as number;
  if (current() > latest) {
    throw new StorageError(
      'SERVERBUG',
      `Database ${db.name} has schema version ${current()}, newer than this Roost (${latest})`,
    );
  }
  const applied: number[] = [];
  if (current() === latest) return applied;
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  for (const mig of migrations) {
    const step = db.transaction(() => {
      if (current() >= mig.version) return false;
      db.exec(mig.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        mig.version,
        mig.name,
        Date.now(),
      );
      db.pragma(`user_version = ${mig.version}`);
      return true;
    });
    if (step.immediate()) {
      applied.push(mig.version);
      log.info(`${kind} database ${db.name}: applied migration ${String(mig.version).padStart(4, '0')}_${mig.name}`);
    }
  }
  return applied;
}

function migrateFile(path: string, kind: MigrationKind, migrationsDir?: string): number[] {
  const db = openDb(path, {
    busyTimeoutMs: DEFAULT_SQLITE_SETTINGS.busyTimeoutMs,
    durability: 'full',
  });
  try {
    return applyMigrations(db, kind, migrationsDir);
  } finally {
    db.close();
  }
}

/** `roost migrate`: brings one user's store up to date; returns the versions applied. */
export function migrateUserStore(path: string, migrationsDir?: string): number[] {
  return migrateFile(path, 'user', migrationsDir);
}

/** `roost migrate`: brings the server database up to date; returns the versions applied. */
export function migrateServerDb(path: string, migrationsDir?: string): number[] {
  return migrateFile(path, 'server', migrationsDir);
}
