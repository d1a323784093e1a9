// What the sql passdb/userdb need from a database: run one query, escape a value for a string
// literal. One connection (a pool for pgsql) per driver and connect string per process, shared
// by every passdb and userdb that names it, as Dovecot's db_sql_init shares one per config file.
import type { Logger } from '../../../log/logger.js';
import { openPgsql } from './pgsql.js';
import { openSqlite } from './sqlite.js';

/** A query's result as text, like Dovecot's sql_result: column names and rows, NULL as null. */
export interface SqlResult {
  columns: string[];
  rows: (string | null)[][];
}

export interface SqlConnection {
  /** Escapes a value for use inside a '...' string literal (Dovecot's sql_escape_string). */
  escape(value: string): string;
  /** Rejects with the database's message when the query (or the connection) fails. */
  query(sql: string): Promise<SqlResult>;
  close(): Promise<void>;
}

export type SqlDriverName = 'pgsql' | 'sqlite';

const shared = new Map<string, { conn: SqlConnection; refs: number }>();

/** The process's connection for `driver` + `connect`, opened on first use; release it with the returned function. */
export function acquireConnection(driver: SqlDriverName, connect: string, logger: Logger): { conn: SqlConnection; release: () => Promise<void> } {
  const key = `${driver}\0${connect}`;
  let entry = shared.get(key);
  if (!entry) {
    entry = { conn: driver === 'pgsql' ? openPgsql(connect, logger) : openSqlite(connect, logger), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    conn: held.conn,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.refs > 0) return;
      if (shared.get(key) === held) shared.delete(key);
      await held.conn.close();
    },
  };
}

/** Dovecot's escape for both drivers: a quote is doubled (driver-sqlite.c; PQescapeStringConn with standard_conforming_strings). */
export function doubleQuotes(value: string): string {
  return value.replaceAll("'", "''");
}
