// driver = sqlite: `connect = /path/to/users.db` (lib-sql/driver-sqlite.c). Roost opens the file
// read-only (auth only reads; Dovecot's update_query is not used) and waits up to a second on a
// locked database, as Dovecot's driver does (sqlite3_busy_timeout 1000 ms). A file that cannot be
// opened fails the lookup (a temporary failure) and is tried again on the next one.
import Database from 'better-sqlite3';
import type { Logger } from '../../../log/logger.js';
import { doubleQuotes, type SqlConnection, type SqlResult } from './connection.js';

const BUSY_TIMEOUT_MS = 1000;

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

export function openSqlite(path: string, logger: Logger): SqlConnection {
  let db: Database.Database | undefined;
  const open = () => {
    if (db) return db;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    } catch (err) {
      logger.error(`sqlite: open(${path}) failed: ${(err as Error).message}`);
      throw new Error(`open(${path}) failed: ${(err as Error).message}`);
    }
    return db;
  };
  return {
    escape: doubleQuotes,
    async query(sql): Promise<SqlResult> {
      const stmt = open().prepare(sql);
      if (!stmt.reader) throw new Error('Query does not return rows');
      const columns = stmt.columns().map((c) => c.name);
      const rows = (stmt.raw(true).all() as unknown[][]).map((row) => row.map(text));
      return { columns, rows };
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}
