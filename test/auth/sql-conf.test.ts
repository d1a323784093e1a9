// dovecot-sql.conf.ext as Dovecot 2.3 reads it (lib-settings: comments, quotes, `\` continuation;
// db-sql.c defaults and errors) and the pgsql connect string (libpq keys plus Dovecot's maxconns).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSettingsText, readSqlConf, SQL_DEFAULTS } from '../../src/auth/drivers/sql/conf.js';
import { DEFAULT_MAXCONNS, parsePgsqlConnect } from '../../src/auth/drivers/sql/pgsql.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'roost-sqlconf-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (text: string) => {
  const p = join(dir, 'dovecot-sql.conf.ext');
  writeFileSync(p, text);
  return p;
};

test('Dovecot example file shapes: comments, continued lines, quoted values', () => {
  const text = [
    '# Database driver: mysql, pgsql, sqlite',
    'driver = pgsql',
    '',
    'connect = "host=db.example dbname=mail user=dovecot password=a#b"   # trailing comment',
    'default_pass_scheme = sha512-crypt',
    'password_query = \\',
    "  SELECT username, domain, password \\",
    '  # a comment inside a continued query is skipped',
    "  FROM users WHERE username = '%n' AND domain = '%d'",
  ].join('\n');
  expect(parseSettingsText(text, 'x')).toEqual([
    ['driver', 'pgsql'],
    ['connect', 'host=db.example dbname=mail user=dovecot password=a#b'],
    ['default_pass_scheme', 'sha512-crypt'],
    ['password_query', "SELECT username, domain, password FROM users WHERE username = '%n' AND domain = '%d'"],
  ]);
  const conf = readSqlConf(write(text));
  expect(conf).toMatchObject({
    driver: 'pgsql',
    default_pass_scheme: 'SHA512-CRYPT',
    user_query: SQL_DEFAULTS.user_query,
    iterate_query: SQL_DEFAULTS.iterate_query,
    defaultPasswordQuery: false,
    defaultUserQuery: true,
  });
});

test('configuration errors name the file, as the auth process would refuse to start', () => {
  expect(() => readSqlConf(join(dir, 'missing.conf'))).toThrow(/^sql: Error reading configuration file .*missing\.conf: ENOENT/);
  expect(() => readSqlConf(write('driver = pgsql\nconnect = host=x\npasword_query = SELECT 1\n'))).toThrow(/Unknown setting: pasword_query/);
  expect(() => readSqlConf(write('connect = host=x\n'))).toThrow(/^sql: driver not set in configuration file /);
  expect(() => readSqlConf(write('driver = mysql\nconnect = host=x\n'))).toThrow("sql: Unknown database driver 'mysql' (supported: pgsql, sqlite)");
  expect(() => readSqlConf(write('driver = sqlite\n'))).toThrow(/^sql: connect string not set/);
  expect(readSqlConf(write('driver = sqlite\nconnect = /var/lib/users.db\n')).default_pass_scheme).toBe(SQL_DEFAULTS.default_pass_scheme);
});

test('pgsql connect string: libpq keys, maxconns (default 5, as Dovecot), timeouts and TLS', () => {
  const s = parsePgsqlConnect('host=127.0.0.1 port=5433 dbname=mail user=dovecot password=s3cret');
  expect(s).toMatchObject({ host: '127.0.0.1', database: 'mail' });
  expect(s.config).toMatchObject({ host: '127.0.0.1', port: 5433, database: 'mail', user: 'dovecot', password: 's3cret', max: DEFAULT_MAXCONNS, connectionTimeoutMillis: 5000 });
  expect(DEFAULT_MAXCONNS).toBe(5);
  expect(parsePgsqlConnect('host=db maxconns=20 connect_timeout=2').config).toMatchObject({ max: 20, connectionTimeoutMillis: 2000 });
  expect(parsePgsqlConnect('host=db sslmode=require').config.ssl).toEqual({ rejectUnauthorized: false });
  expect(parsePgsqlConnect('host=db sslmode=disable').config.ssl).toBeUndefined();
  expect(() => parsePgsqlConnect('host=db maxconns=0')).toThrow('pgsql: Invalid maxconns value: 0');
  expect(() => parsePgsqlConnect('host=db frobnicate=1')).toThrow('pgsql: invalid connection option "frobnicate"');
  expect(() => parsePgsqlConnect('host=a host=b')).toThrow(/more than one host= .* not supported/);
});
