// driver = pgsql: a node-postgres Pool per connect string. The connect string is libpq's
// `key=value` list as Dovecot passes it on (lib-sql/driver-pgsql.c), plus Dovecot's own
// `maxconns` (lib-sql/driver-sqlpool.c, default 5 connections per host).
//
// A query on a connection the server closed (restart, failover, idle timeout) is retried once on
// a fresh connection, with a warning, as Dovecot's sqlpool does ("Query failed, retrying"). When
// no connection can be made the query fails at once (Dovecot queues it for up to 60 s): the
// client gets a temporary failure and the next request tries to connect again.
import pg from 'pg';
import type { Logger } from '../../../log/logger.js';
import { connectionLost, parsePgsqlConnect } from '../../../storage/pgsql/connect.js';
import { doubleQuotes, type SqlConnection, type SqlResult } from './connection.js';

// The connect string parser is shared with the pgsql storage backend.
export { DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_MAXCONNS, parsePgsqlConnect, type PgsqlConnectSettings } from '../../../storage/pgsql/connect.js';

const errorText = (err: unknown) => (err as Error).message || String(err);

export function openPgsql(connect: string, logger: Logger): SqlConnection {
  const { config, host, database } = parsePgsqlConnect(connect);
  const pool = new pg.Pool({
    ...config,
    // Values come back as the server's text, as Dovecot reads them (booleans 't'/'f', numbers as written).
    types: { getTypeParser: () => (value: string) => value },
    // Quotes are escaped by doubling them: that is only safe with standard_conforming_strings.
    options: '-c standard_conforming_strings=on',
  });
  const prefix = `pgsql(${host}): `;
  // An idle connection the server closed: log it; the pool replaces it on the next query.
  pool.on('error', (err) => logger.warning(`${prefix}Connection to database ${database} lost: ${errorText(err)} (reconnecting on the next query)`));

  const runOnce = async (sql: string): Promise<SqlResult> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      logger.error(`${prefix}Connect failed to database ${database}: ${errorText(err)}`);
      throw new Error('Not connected to database', { cause: err });
    }
    try {
      const res = await client.query<(string | null)[]>({ text: sql, rowMode: 'array' });
      client.release();
      return { columns: res.fields.map((f) => f.name), rows: res.rows };
    } catch (err) {
      // A broken connection must not go back to the pool.
      client.release(connectionLost(err) ? (err as Error) : undefined);
      throw err;
    }
  };

  return {
    escape: doubleQuotes,
    async query(sql) {
      try {
        return await runOnce(sql);
      } catch (err) {
        if (!connectionLost(err)) throw err;
        logger.warning(`sqlpool(pgsql): Query failed, retrying: ${errorText(err)}`);
        return runOnce(sql);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
