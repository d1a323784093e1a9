// passdb/userdb driver = sql, `args = /etc/dovecot/dovecot-sql.conf.ext`: the users of an existing
// Dovecot SQL setup (postfixadmin and its kin), read the way Dovecot 2.3.19 reads them
// (src/auth/passdb-sql.c, userdb-sql.c; https://doc.dovecot.org/2.3/configuration_manual/authentication/sql/):
// - the queries' %-variables are expanded with every value escaped for a '...' literal;
// - each returned column becomes a passdb/userdb field; NULL columns are skipped;
// - `user`, `username` and `domain` columns change the username;
// - a password_query must return a `password` (or `password_noscheme`) column, NULL with a
//   `nopassword` column for users without one, and at most one row;
// - a query or connection error is an internal failure: logged, and the client gets a
//   temporary failure, never "wrong password".
import type { Logger } from '../../../log/logger.js';
import type { AuthDbRequest } from '../../request.js';
import type { AuthDriverModule, DriverContext, PassdbReply, UserdbReply } from '../types.js';
import { readSqlConf, type SqlConf } from './conf.js';
import { acquireConnection, type SqlConnection, type SqlResult } from './connection.js';

interface Db {
  conf: SqlConf;
  conn: SqlConnection;
  release: () => Promise<void>;
  logger: Logger;
  debug: boolean;
}

function openDb(args: string, ctx: DriverContext): Db {
  const path = args.trim();
  if (!path) throw new Error('sql: Missing configuration file path in args');
  const conf = readSqlConf(path);
  const { conn, release } = acquireConnection(conf.driver, conf.connect, ctx.logger);
  return { conf, conn, release, logger: ctx.logger, debug: ctx.authDebug ?? false };
}

type Query = { sql: string } | { error: string };

function expandQuery(db: Db, req: AuthDbRequest, setting: 'password_query' | 'user_query'): Query {
  const template = db.conf[setting];
  const q = req.expandEscaped(template, db.conn.escape);
  if (q.error !== undefined) return { error: `Failed to expand ${setting}=${template}: ${q.error}` };
  // auth_debug lets this one through whatever the process-wide debug level (as Lua's auth debug lines).
  if (db.debug) db.logger.log('Debug', `${req.logPrefix('sql')}query: ${q.value}`, { forced: 1 });
  return { sql: q.value };
}

const errorText = (err: unknown) => (err as Error).message || String(err);

/** auth-request.c get_updated_username: `user` replaces the name, `username` the local part, `domain` the domain. */
function updatedUsername(old: string, name: string, value: string): string | undefined {
  const at = old.indexOf('@');
  if (name === 'user') return value;
  if (name === 'username') return value.includes('@') || at < 0 ? value : value + old.slice(at);
  if (name === 'domain') return `${at < 0 ? old : old.slice(0, at)}@${value}`;
  return undefined;
}

const stripScheme = (password: string) => (password.startsWith('{') && password.includes('}') ? password.slice(password.indexOf('}') + 1) : password);

/** passdb-sql.c sql_query_get_result + auth_request_set_field for the one row. */
function passdbReply(db: Db, req: AuthDbRequest, res: SqlResult): PassdbReply {
  const row = res.rows[0]!;
  const prefix = req.logPrefix('sql');
  const fields: Record<string, string> = {};
  let user = req.user;
  let password: string | undefined;
  const isSet = (key: string) => Object.hasOwn(fields, key) || Object.hasOwn(req.passdbFields, key);
  for (let i = 0; i < res.columns.length; i++) {
    let name = res.columns[i]!;
    const value = row[i];
    if (name === '' || value === null || value === undefined) continue;
    // `field:protected` / `field:default`: set only if no earlier passdb (or column) set it.
    const suffix = /:(protected|default)$/.exec(name);
    if (suffix && name.length > suffix[0].length) {
      name = name.slice(0, -suffix[0].length);
      if (isSet(name)) continue;
    }
    if (name === 'password' || name === 'password_noscheme') {
      if (password !== undefined) {
        db.logger.error(`${prefix}Multiple password values not supported`);
        continue;
      }
      // password_noscheme: a '{' in the value is part of the password, not a scheme prefix.
      password = name === 'password_noscheme' && value !== '' ? `{${db.conf.default_pass_scheme}}${value}` : value;
      continue;
    }
    const renamed = updatedUsername(user, name, value);
    if (renamed !== undefined) {
      if (renamed === '') return { result: 'internal', error: 'username attempted to be changed to empty' };
      user = renamed;
      continue;
    }
    if (name === 'nopassword') {
      if (password !== undefined && stripScheme(password) !== '' && !isSet('noauthenticate')) {
        db.logger.error(`${prefix}nopassword set but password is non-empty`);
        continue;
      }
      password = undefined;
    }
    if (name === 'noauthenticate') fields.nopassword = '';
    fields[name] = value;
  }
  const out: Record<string, string> = user !== req.user ? { user, ...fields } : fields;
  if (password === undefined && !isSet('nopassword') && !req.skipPasswordCheck) {
    // auth_request_password_missing
    return { result: 'mismatch', error: 'Empty password returned without nopassword' };
  }
  return { result: 'ok', password, fields: out };
}

/** userdb-sql.c sql_query_get_result: the first row; NULL columns skipped. */
function userdbReply(req: AuthDbRequest, res: SqlResult): UserdbReply {
  const row = res.rows[0]!;
  const fields: Record<string, string> = {};
  let user = req.user;
  for (let i = 0; i < res.columns.length; i++) {
    const name = res.columns[i]!;
    const value = row[i];
    if (name === '' || value === null || value === undefined) continue;
    const renamed = updatedUsername(user, name, value);
    if (renamed === '') return { result: 'internal', error: 'username attempted to be changed to empty' };
    if (renamed !== undefined) user = renamed;
    else fields[name] = value;
  }
  return { result: 'ok', fields: user !== req.user ? { user, ...fields } : fields };
}

const builtIn = (isDefault: boolean, what: string, query: string) => (isDefault ? ` (using built-in default ${what}: ${query})` : '');

export const sqlDriver: AuthDriverModule = {
  name: 'sql',
  passdb: (args, ctx) => {
    const db = openDb(args, ctx);
    return {
      driver: 'sql',
      defaultScheme: db.conf.default_pass_scheme,
      lookup: async (req): Promise<PassdbReply> => {
        const q = expandQuery(db, req, 'password_query');
        if ('error' in q) return { result: 'internal', error: q.error };
        let res: SqlResult;
        try {
          res = await db.conn.query(q.sql);
        } catch (err) {
          return { result: 'internal', error: `Password query failed: ${errorText(err)}${builtIn(db.conf.defaultPasswordQuery, 'password_query', db.conf.password_query)}` };
        }
        if (res.rows.length === 0) return { result: 'unknown' };
        // Dovecot checks that the column exists: NULL is a valid password value (with nopassword).
        if (!res.columns.includes('password') && !res.columns.includes('password_noscheme')) {
          return { result: 'internal', error: "Password query must return a field named 'password'" };
        }
        if (res.rows.length > 1) return { result: 'internal', error: 'Password query returned multiple matches' };
        return passdbReply(db, req, res);
      },
      close: () => db.release(),
    };
  },
  userdb: (args, ctx) => {
    const db = openDb(args, ctx);
    return {
      driver: 'sql',
      lookup: async (req): Promise<UserdbReply> => {
        const q = expandQuery(db, req, 'user_query');
        if ('error' in q) return { result: 'internal', error: q.error };
        let res: SqlResult;
        try {
          res = await db.conn.query(q.sql);
        } catch (err) {
          return { result: 'internal', error: `User query failed: ${errorText(err)}${builtIn(db.conf.defaultUserQuery, 'user_query', db.conf.user_query)}` };
        }
        if (res.rows.length === 0) return { result: 'unknown' };
        return userdbReply(req, res);
      },
      // userdb-sql.c iterate: a `user` column, or `username` plus an optional `domain`.
      async *iterate() {
        let res: SqlResult;
        try {
          res = await db.conn.query(db.conf.iterate_query);
        } catch (err) {
          db.logger.error(`sql: Iterate query failed: ${errorText(err)}`);
          throw new Error(`sql: Iterate query failed: ${errorText(err)}`);
        }
        const userCol = res.columns.indexOf('user');
        const usernameCol = res.columns.indexOf('username');
        const domainCol = res.columns.indexOf('domain');
        if (userCol < 0 && usernameCol < 0) {
          db.logger.error("sql: Iterate query didn't return 'user' field");
          throw new Error("sql: Iterate query didn't return 'user' field");
        }
        for (const row of res.rows) {
          let user = row[userCol >= 0 ? userCol : usernameCol];
          if (userCol < 0 && user && domainCol >= 0 && row[domainCol]) user = `${user}@${row[domainCol]}`;
          if (!user) {
            db.logger.error('sql: Iterate query returned NULL user');
            throw new Error('sql: Iterate query returned NULL user');
          }
          yield user;
        }
      },
      close: () => db.release(),
    };
  },
};
