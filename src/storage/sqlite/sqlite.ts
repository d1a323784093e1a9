// Opening a SQLite connection with Roost's pragmas, and a per-connection prepared-statement cache.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StorageError } from '../types.js';
import type { SqliteDurability } from './options.js';

export type Db = Database.Database;
export type Statement = Database.Statement;

export interface OpenDbOptions {
  busyTimeoutMs: number;
  durability: SqliteDurability;
}

/**
 * Opens (creating if needed) a database in WAL mode. With WAL, `synchronous=FULL` fsyncs the WAL on
 * every commit, so a committed append survives power loss; `NORMAL` would only lose durability, not
 * consistency (https://www.sqlite.org/pragma.html#pragma_synchronous). `async-fsync` commits with
 * NORMAL and the store syncs the WAL itself after each commit (wal-sync.ts).
 */
export function openDb(path: string, opts: OpenDbOptions): Db {
  mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path, { timeout: opts.busyTimeoutMs });
  } catch (e) {
    throw new StorageError('SERVERBUG', `Cannot open database ${path}: ${(e as Error).message}`);
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`); // async-fsync: NORMAL + wal-sync.ts
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
  db.pragma('foreign_keys = ON');
  return db;
}

/** Prepared statements cached by SQL text for one connection (preparing costs more than running). */
export class StatementCache {
  private readonly cache = new Map<string, Statement>();
  constructor(private readonly db: Db) {}

  get(sql: string): Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }
}
