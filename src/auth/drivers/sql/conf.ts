// dovecot-sql.conf.ext, read as Dovecot 2.3 reads it (src/auth/db-sql.c with lib-settings'
// settings_read_nosection): `key = value` lines, `#` comments, values optionally in quotes, a
// trailing `\` continues the line. Unset queries get Dovecot's built-in defaults.
// https://doc.dovecot.org/2.3/configuration_manual/authentication/sql/
import { readFileSync } from 'node:fs';

export interface SqlConf {
  /** The file it was read from (error messages, the connection cache key). */
  path: string;
  driver: 'pgsql' | 'sqlite';
  connect: string;
  password_query: string;
  user_query: string;
  iterate_query: string;
  default_pass_scheme: string;
  /** The query is Dovecot's built-in default (logged with a query failure, as Dovecot does). */
  defaultPasswordQuery: boolean;
  defaultUserQuery: boolean;
}

// db-sql.c default_sql_settings.
export const SQL_DEFAULTS = {
  password_query: "SELECT username, domain, password FROM users WHERE username = '%n' AND domain = '%d'",
  user_query: "SELECT home, uid, gid FROM users WHERE username = '%n' AND domain = '%d'",
  iterate_query: 'SELECT username, domain FROM users',
  default_pass_scheme: 'MD5',
} as const;

const KNOWN = new Set(['driver', 'connect', 'password_query', 'user_query', 'update_query', 'iterate_query', 'default_pass_scheme', 'userdb_warning_disable']);
const DRIVERS = ['pgsql', 'sqlite'] as const;

/** `key = value` pairs in file order (lib-settings/settings.c settings_read_i). */
export function parseSettingsText(text: string, path: string): [string, string][] {
  const out: [string, string][] = [];
  let pending = '';
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!.replace(/\r$/, '').replace(/^[ \t]+/, '');
    // Comment and empty lines are skipped, even inside a continued line.
    if (line.startsWith('#') || line === '') continue;
    // Strip a comment: a '#' outside quotes.
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (c === "'" || c === '"') {
        for (i++; i < line.length && line[i] !== c; i++) if (line[i] === '\\' && i + 1 < line.length) i++;
      } else if (c === '#') {
        line = line.slice(0, i);
        break;
      }
    }
    line = line.replace(/[ \t]+$/, '');
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1).replace(/[ \t]+$/, '') + ' ';
      continue;
    }
    if (pending !== '') {
      line = pending + line;
      pending = '';
    }
    if (line === '') continue;
    const m = /^([^\s=]+)[ \t]*=[ \t]*(.*)$/.exec(line);
    if (!m) throw new Error(`Error in configuration file ${path} line ${n + 1}: Expecting '='`);
    let value = m[2]!;
    if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) {
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    out.push([m[1]!, value]);
  }
  return out;
}

/** Reads and checks the file; throws with Dovecot's wording on errors (the auth process would not start). */
export function readSqlConf(path: string): SqlConf {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`sql: Error reading configuration file ${path}: ${(err as Error).message}`);
  }
  const set = new Map<string, string>();
  for (const [key, value] of parseSettingsText(text, path)) {
    if (!KNOWN.has(key)) throw new Error(`sql: Error in configuration file ${path}: Unknown setting: ${key}`);
    set.set(key, value);
  }
  const driver = set.get('driver');
  if (!driver) throw new Error(`sql: driver not set in configuration file ${path}`);
  if (!(DRIVERS as readonly string[]).includes(driver)) throw new Error(`sql: Unknown database driver '${driver}' (supported: ${DRIVERS.join(', ')})`);
  const connect = set.get('connect');
  if (!connect) throw new Error(`sql: connect string not set in configuration file ${path}`);
  return {
    path,
    driver: driver as SqlConf['driver'],
    connect,
    password_query: set.get('password_query') || SQL_DEFAULTS.password_query,
    user_query: set.get('user_query') || SQL_DEFAULTS.user_query,
    iterate_query: set.get('iterate_query') || SQL_DEFAULTS.iterate_query,
    default_pass_scheme: (set.get('default_pass_scheme') || SQL_DEFAULTS.default_pass_scheme).toUpperCase(),
    defaultPasswordQuery: !set.get('password_query'),
    defaultUserQuery: !set.get('user_query'),
  };
}
