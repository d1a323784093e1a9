// PostgreSQL for a thread that blocks (Lua workers): statements run on a helper thread while the
// caller sleeps in Atomics.wait; answers come back synchronously, errors keep their meaning, the
// helper's own connection survives being killed.
import { BlockingHelperThread } from '../../../src/threads/blocking-helper.js';
import { compiledModuleUrl } from '../../../src/threads/compiled-module.js';
import { BODY_CHUNK_SIZE, writeBody } from '../../../src/storage/pgsql/bodies.js';
import { allocateUids, ensureMailStore, insertMailbox } from '../../../src/storage/pgsql/allocation.js';
import { migratePgsql } from '../../../src/storage/pgsql/migrations.js';
import { acquirePgsqlPool, type PgsqlPool } from '../../../src/storage/pgsql/pool.js';
import { PgsqlBlockingClient } from '../../../src/storage/pgsql/sync-client.js';
import type { PgsqlSyncReply, PgsqlSyncRequest } from '../../../src/storage/pgsql/sync-protocol.js';
import { StorageError } from '../../../src/storage/types.js';
import { usePostgres, type PgDatabase } from '../../pg/harness.js';

const pgsql = usePostgres();
let db: PgDatabase;
let pool: PgsqlPool;
let client: PgsqlBlockingClient;
beforeAll(async () => {
  db = await pgsql.server.createDatabase();
  pool = acquirePgsqlPool(db.connectString);
  await migratePgsql(pool);
  const helper = new BlockingHelperThread<PgsqlSyncRequest, PgsqlSyncReply>(compiledModuleUrl('storage/pgsql/sync-worker.js'));
  client = new PgsqlBlockingClient(db.connectString, helper);
});
afterAll(async () => {
  client.close();
  await pool.release();
});

test('answers come back synchronously: the caller\'s event loop does not turn meanwhile', () => {
  let turned = false;
  setImmediate(() => (turned = true));
  const rows = client.query<{ v: number; s: string }>('SELECT $1::int AS v, $2::text AS s', [42, 'x']);
  const again = client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_sleep(0.02)');
  expect(rows).toEqual([{ v: 42, s: 'x' }]);
  expect(again).toEqual([{ n: 1 }]);
  expect(turned).toBe(false);
});

test('a transaction is all or nothing, and a PostgreSQL error keeps its SQLSTATE', () => {
  client.query('CREATE TABLE t (v int PRIMARY KEY)');
  const results = client.transaction([{ sql: 'INSERT INTO t VALUES (1)' }, { sql: 'INSERT INTO t VALUES (2) RETURNING v' }]);
  expect(results).toEqual([[], [{ v: 2 }]]);
  let err: unknown;
  try {
    client.transaction([{ sql: 'INSERT INTO t VALUES (3)' }, { sql: 'INSERT INTO t VALUES (1)' }]);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ name: 'PgsqlSyncError', code: '23505', message: expect.stringMatching(/duplicate key/) });
  expect(client.query('SELECT v FROM t ORDER BY v')).toEqual([{ v: 1 }, { v: 2 }]);
});

test('reads a range of a stored body; a body that is gone is EXPUNGEISSUED', async () => {
  const data = Buffer.alloc(BODY_CHUNK_SIZE + 500, 'abcdefghij');
  const bodyId = await pool.transaction(async (c) => {
    const box = await insertMailbox(c, await ensureMailStore(c, 'sync', '/'), 'INBOX');
    const id = await writeBody(c, data);
    const { firstUid, modseq } = await allocateUids(c, box.id, 1);
    await c.query(
      `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, internal_date, save_date, size, guid, body_id, recent)
       VALUES ($1, $2, $3, $3, 0, 0, 0, $4, 'g', $5, true)`,
      [box.id, firstUid, modseq, data.length, id],
    );
    return id;
  });
  const part = client.readBody(bodyId, BODY_CHUNK_SIZE - 3, 10);
  expect(part.equals(data.subarray(BODY_CHUNK_SIZE - 3, BODY_CHUNK_SIZE + 7))).toBe(true);
  let err: unknown;
  try {
    client.readBody(bodyId + 1000, 0, 10);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StorageError);
  expect((err as StorageError).code).toBe('EXPUNGEISSUED');
});

test('the helper thread\'s connection killed: the next call still answers, on a new connection', async () => {
  const pid = client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')[0]!.pid;
  // One connection per helper thread.
  const mine = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid = $1", [pid]);
  expect(mine.rows[0]!.n).toBe(1);
  await db.query('SELECT pg_terminate_backend($1)', [pid]);
  const next = client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')[0]!.pid;
  expect(next).not.toBe(pid);
});
