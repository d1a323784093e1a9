// Dovecot's SQL `connect` string for PostgreSQL, shared by the sql passdb/userdb
// (src/auth/drivers/sql) and the pgsql mail storage backend (mail_location = pgsql:<connect>).
// The string is libpq's `key=value` list as Dovecot passes it on (lib-sql/driver-pgsql.c), plus
// Dovecot's own `maxconns` (lib-sql/driver-sqlpool.c, default 5 connections per host).
import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** Dovecot's SQL_DEFAULT_CONNECTION_LIMIT. */
export const DEFAULT_MAXCONNS = 5;
/** Dovecot's SQL_CONNECT_TIMEOUT_SECS. */
export const DEFAULT_CONNECT_TIMEOUT_SECS = 5;

export interface PgsqlConnectSettings {
  config: pg.PoolConfig;
  /** For log lines: `pgsql(<host>)`, `database <name>`. */
  host: string;
  database: string;
}

/**
 * Parses `host=... port=... dbname=... user=... password=... [maxconns=N] [sslmode=...]`.
 * `defaultMaxconns`: the pool size when the string has no `maxconns=` (Dovecot's 5 by default).
 */
export function parsePgsqlConnect(connect: string, defaultMaxconns = DEFAULT_MAXCONNS): PgsqlConnectSettings {
  const config: pg.PoolConfig = { max: defaultMaxconns, connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_SECS * 1000 };
  let sslmode = 'prefer';
  const ssl: { ca?: string; cert?: string; key?: string } = {};
  const hosts: string[] = [];
  const positive = (key: string, v: string) => {
    if (!/^\d+$/.test(v) || Number(v) <= 0) throw new Error(`pgsql: Invalid ${key} value: ${v}`);
    return Number(v);
  };
  // Dovecot splits the string on spaces (t_strsplit_spaces): values cannot contain spaces.
  for (const tok of connect.split(/\s+/).filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new Error(`pgsql: Invalid connect string part: ${tok}`);
    const key = tok.slice(0, eq);
    const value = tok.slice(eq + 1);
    switch (key) {
      case 'host':
      case 'hostaddr':
        hosts.push(value);
        break;
      case 'port':
        config.port = positive(key, value);
        break;
      case 'dbname':
        config.database = value;
        break;
      case 'user':
        config.user = value;
        break;
      case 'password':
        config.password = value;
        break;
      case 'maxconns':
        config.max = positive(key, value);
        break;
      case 'connect_timeout':
        config.connectionTimeoutMillis = positive(key, value) * 1000;
        break;
      case 'application_name':
        config.application_name = value;
        break;
      case 'sslmode':
        if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(value)) throw new Error(`pgsql: Invalid sslmode value: ${value}`);
        sslmode = value;
        break;
      case 'sslrootcert':
        ssl.ca = readFileSync(value, 'utf8');
        break;
      case 'sslcert':
        ssl.cert = readFileSync(value, 'utf8');
        break;
      case 'sslkey':
        ssl.key = readFileSync(value, 'utf8');
        break;
      default:
        throw new Error(`pgsql: invalid connection option "${key}"`);
    }
  }
  // Dovecot's sqlpool balances over several `host=` entries; Roost uses one server per connect string.
  if (hosts.length > 1) throw new Error('pgsql: more than one host= in a connect string is not supported (use one host, e.g. a load balancer or a libpq service address)');
  if (hosts.length === 1) config.host = hosts[0];
  // node-postgres has no "try TLS, fall back to plain": prefer/allow connect without TLS.
  if (sslmode === 'require') config.ssl = { ...ssl, rejectUnauthorized: false };
  else if (sslmode === 'verify-ca' || sslmode === 'verify-full') {
    config.ssl = { ...ssl, rejectUnauthorized: true };
    if (sslmode === 'verify-ca') config.ssl.checkServerIdentity = () => undefined;
  }
  return { config, host: config.host ?? 'localhost', database: config.database ?? config.user ?? 'postgres' };
}

/** Errors that mean the connection itself is gone, not that the query was wrong: worth one retry. */
export const CONNECTION_LOST_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE']);
export function connectionLost(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code !== undefined && CONNECTION_LOST_CODES.has(e.code)) || /Connection terminated|Client has encountered a connection error/i.test(e.message ?? '');
}
