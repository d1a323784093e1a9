// The PostgreSQL test harness itself: a real server, databases that do not see each other, and a
// stop/start that keeps the data (what the "database went away" tests rely on).
import pg from 'pg';
import { usePostgres } from './harness.js';

const pgsql = usePostgres();

test('each database has its own owner role and its own tables', async () => {
  const a = await pgsql.server.createDatabase();
  const b = await pgsql.server.createDatabase();
  await a.query('CREATE TABLE t (v text)');
  await a.query("INSERT INTO t VALUES ('in a')");
  expect((await a.query('SELECT v FROM t')).rows).toEqual([{ v: 'in a' }]);
  await expect(b.query('SELECT v FROM t')).rejects.toThrow(/relation "t" does not exist/);
  // b's role cannot log in to a's database.
  const intruder = new pg.Client({ host: a.host, port: a.port, database: a.database, user: b.user, password: b.password });
  await intruder.connect();
  await expect(intruder.query('SELECT v FROM t')).rejects.toThrow(/permission denied/);
  await intruder.end();
  await a.drop();
  await b.drop();
});

test('listens on loopback TCP and reports a server version', async () => {
  const db = await pgsql.server.createDatabase();
  expect(db.host).toBe('127.0.0.1');
  expect(db.connectString).toBe(`host=127.0.0.1 port=${db.port} dbname=${db.database} user=${db.user} password=${db.password}`);
  const { rows } = await db.query<{ server_version_num: string }>('SHOW server_version_num');
  expect(Number(rows[0]!.server_version_num)).toBeGreaterThanOrEqual(150000);
  await db.drop();
});

test('stop() loses the connection, start() brings the same data back', async () => {
  const db = await pgsql.server.createDatabase();
  await db.query('CREATE TABLE t (v int)');
  await db.query('INSERT INTO t VALUES (42)');
  const client = new pg.Client({ host: db.host, port: db.port, database: db.database, user: db.user, password: db.password });
  client.on('error', () => undefined);
  await client.connect();
  await pgsql.server.stop();
  expect(pgsql.server.running).toBe(false);
  await expect(client.query('SELECT 1')).rejects.toThrow();
  await pgsql.server.start();
  expect((await db.query('SELECT v FROM t')).rows).toEqual([{ v: 42 }]);
  await db.drop();
});

test('stop("immediate") is a crash for the data: what was committed is there after recovery', async () => {
  const db = await pgsql.server.createDatabase();
  await db.query('CREATE TABLE t (v int)');
  await db.query('INSERT INTO t VALUES (7)');
  await pgsql.server.stop('immediate');
  await pgsql.server.start();
  expect((await db.query('SELECT v FROM t')).rows).toEqual([{ v: 7 }]);
  expect(pgsql.server.log().some((l) => /database system was interrupted|automatic recovery/.test(l))).toBe(true);
  await db.drop();
});
