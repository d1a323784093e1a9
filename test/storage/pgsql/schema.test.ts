// The pgsql backend's foundations against a real PostgreSQL: the shared pool and its retry, the
// migration runner (two nodes at once), UID/modseq/UIDVALIDITY allocation under concurrent
// connections, the counters the schema keeps, and chunked bodies shared by several messages.
import pg from 'pg';
import { captureLogs } from '../../../src/log/logger.js';
import { allocateModseq, allocateUids, changeUidValidity, ensureMailStore, insertMailbox, lockMailboxes } from '../../../src/storage/pgsql/allocation.js';
import { quotaUsage } from '../../../src/storage/pgsql/quota.js';
import { BODY_CHUNK_SIZE, openBody, writeBody } from '../../../src/storage/pgsql/bodies.js';
import { checkPgsqlLocation } from '../../../src/storage/pgsql/index.js';
import { loadPgsqlMigrations, migratePgsql } from '../../../src/storage/pgsql/migrations.js';
import { acquirePgsqlPool, STORAGE_DEFAULT_MAXCONNS, type PgsqlClient, type PgsqlPool } from '../../../src/storage/pgsql/pool.js';
import { usePostgres, type PgDatabase } from '../../pg/harness.js';
import { waitUntil } from '../../poll.js';

const pgsql = usePostgres();

let db: PgDatabase;
let pool: PgsqlPool;
beforeAll(async () => {
  db = await pgsql.server.createDatabase();
  pool = acquirePgsqlPool(db.connectString);
  await migratePgsql(pool);
});
// The server (and every database) goes with the harness's afterAll.
afterAll(() => pool.release());

async function newMailbox(username: string, name = 'INBOX'): Promise<number> {
  return pool.transaction(async (c) => (await insertMailbox(c, await ensureMailStore(c, username, '/'), name)).id);
}

/** Appends `n` messages sharing one new body, as a delivery does. */
async function append(c: PgsqlClient, mailboxId: number, n: number, opts: { seen?: boolean; bodyId?: number; size?: number } = {}) {
  const range = await allocateUids(c, mailboxId, n);
  const bodyId = opts.bodyId ?? (await writeBody(c, Buffer.from('Subject: hi\r\n\r\nbody\r\n')));
  for (let i = 0; i < n; i++) {
    await c.query(
      `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, internal_date, save_date, size, guid, body_id, recent)
       VALUES ($1, $2, $3, $3, $4, 0, 0, $5, 'g', $6, true)`,
      [mailboxId, range.firstUid + i, range.modseq, opts.seen ? 8 : 0, opts.size ?? 100, bodyId],
    );
  }
  return { ...range, bodyId };
}

describe('pool', () => {
  test('mail_location = pgsql:<connect string>: checked as Dovecot\'s connect string, and usable as it is', async () => {
    const location = `pgsql:${db.connectString}`;
    const rest = location.slice('pgsql:'.length);
    expect(checkPgsqlLocation(rest)).toBeUndefined();
    expect(checkPgsqlLocation('')).toMatch(/expected a connect string after pgsql:/);
    expect(checkPgsqlLocation('host=db frobnicate=1')).toBe('pgsql: invalid connection option "frobnicate"');
    expect(checkPgsqlLocation('host=db maxconns=0')).toBe('pgsql: Invalid maxconns value: 0');
    const p = acquirePgsqlPool(rest);
    expect((await p.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db).toBe(db.database);
    await p.release();
  });

  test('one pool per process and connect string, sized by maxconns (default STORAGE_DEFAULT_MAXCONNS)', async () => {
    expect(acquirePgsqlPool(db.connectString)).toBe(pool);
    await pool.release();
    expect(pool.settings.config.max).toBe(STORAGE_DEFAULT_MAXCONNS);
    const small = acquirePgsqlPool(`${db.connectString} maxconns=2`);
    expect(small).not.toBe(pool);
    expect(small.settings.config.max).toBe(2);
    // Five statements at once on a pool of two: never more than two connections.
    await Promise.all(Array.from({ length: 5 }, () => small.query('SELECT pg_sleep(0.05)')));
    expect(small.totalCount).toBeLessThanOrEqual(2);
    const { rows } = await small.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND usename = current_user AND application_name = ''");
    expect(rows[0]!.n).toBeGreaterThan(0);
    // The last holder's release closes the connections before it resolves.
    const tagged = acquirePgsqlPool(`${db.connectString} application_name=tagged`);
    await Promise.all(Array.from({ length: 3 }, () => tagged.query('SELECT pg_sleep(0.02)')));
    await tagged.release();
    await small.release();
    const left = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tagged'");
    expect(left.rows[0]!.n).toBe(0);
  });

  test('a connection the server ended is retried on a new one, with a log line', async () => {
    const p = acquirePgsqlPool(`${db.connectString} maxconns=1`);
    const pid = (await p.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    const logs = captureLogs();
    try {
      const { rows } = await p.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(rows[0]!.pid).not.toBe(pid);
      // A transaction whose connection goes in the middle runs again from BEGIN.
      let runs = 0;
      const v = await p.transaction(async (c) => {
        runs++;
        if (runs === 1) await db.query('SELECT pg_terminate_backend(pg_backend_pid) FROM (SELECT $1::int AS pg_backend_pid) x', [(await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid]);
        return (await c.query<{ v: number }>('SELECT 7 AS v')).rows[0]!.v;
      });
      expect([v, runs]).toEqual([7, 2]);
    } finally {
      logs.stop();
    }
    expect(logs.lines.filter((l) => /pgsql\(127\.0\.0\.1\): .*Connection to database \S+ lost: .*(retrying on a new connection|reconnecting)/.test(l)).length).toBeGreaterThan(0);
    await p.release();
  });

  test('synchronous_commit is on for the store\'s sessions even where the database default is off', async () => {
    const other = await pgsql.server.createDatabase();
    await other.query(`ALTER DATABASE ${other.database} SET synchronous_commit = off`);
    const plain = new pg.Client({ host: other.host, port: other.port, database: other.database, user: other.user, password: other.password });
    await plain.connect();
    expect((await plain.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('off');
    await plain.end();
    const p = acquirePgsqlPool(other.connectString);
    expect((await p.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit).toBe('on');
    expect(await p.transaction(async (c) => (await c.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit)).toBe('on');
    await p.release();
  });

  test('a database that is down fails the query with a clear error, and works again when it is back', async () => {
    const other = await pgsql.server.createDatabase();
    const p = acquirePgsqlPool(other.connectString);
    await p.query('SELECT 1');
    const logs = captureLogs();
    await pgsql.server.stop('immediate');
    try {
      await expect(p.query('SELECT 1')).rejects.toThrow(/Not connected to database|Connection terminated|ECONNREFUSED/);
    } finally {
      await pgsql.server.start();
      logs.stop();
    }
    expect(logs.lines.some((l) => /pgsql\(127\.0\.0\.1\): (Connection to database .* lost|Connect failed)/.test(l))).toBe(true);
    expect((await p.query<{ v: number }>('SELECT 1 AS v')).rows[0]!.v).toBe(1);
    await p.release();
    await other.drop();
  });
});

describe('migrations', () => {
  test('two nodes migrating one database at once: applied once, in order; again is a no-op', async () => {
    const fresh = await pgsql.server.createDatabase();
    const a = acquirePgsqlPool(fresh.connectString);
    const b = acquirePgsqlPool(`${fresh.connectString} application_name=node-b`);
    const [ra, rb] = await Promise.all([migratePgsql(a), migratePgsql(b)]);
    const all = loadPgsqlMigrations().map((m) => m.version);
    expect([...ra, ...rb].sort()).toEqual(all);
    expect(ra.length === 0 || rb.length === 0).toBe(true);
    expect(await migratePgsql(a)).toEqual([]);
    const { rows } = await fresh.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(all);
    // The tables the backend needs.
    const tables = (await fresh.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    expect(tables).toEqual(expect.arrayContaining(['users', 'user_fields', 'mail_store', 'mailbox', 'mailbox_keyword', 'message', 'body', 'body_chunk', 'expunged', 'subscription', 'metadata']));
    await a.release();
    await b.release();
    await fresh.drop();
  });

  test('a database with a newer schema is refused', async () => {
    const fresh = await pgsql.server.createDatabase();
    const p = acquirePgsqlPool(fresh.connectString);
    await migratePgsql(p);
    await fresh.query("INSERT INTO schema_migrations VALUES (999, 'future', 0)");
    await expect(migratePgsql(p)).rejects.toThrow(/schema version 999, newer than this Roost/);
    await p.release();
    await fresh.drop();
  });
});

describe('allocation across connections', () => {
  test('concurrent appends to one mailbox from many connections get unique, increasing UIDs and modseqs', async () => {
    const box = await newMailbox('race');
    const nodes = Array.from({ length: 4 }, (_, i) => acquirePgsqlPool(`${db.connectString} application_name=node${i}`));
    // Each "node" runs 10 transactions of 1-3 messages; all 40 at once.
    const commits: { firstUid: number; n: number; modseq: number }[] = [];
    await Promise.all(
      nodes.flatMap((node, i) =>
        Array.from({ length: 10 }, (_, j) =>
          node.transaction(async (c) => {
            const n = ((i + j) % 3) + 1;
            const r = await append(c, box, n);
            return { firstUid: r.firstUid, n, modseq: r.modseq };
          }).then((r) => commits.push(r)),
        ),
      ),
    );
    const uids = commits.flatMap((r) => Array.from({ length: r.n }, (_, k) => r.firstUid + k)).sort((x, y) => x - y);
    expect(uids).toEqual(Array.from({ length: uids.length }, (_, k) => k + 1));
    // Commit order is allocation order: modseq and UIDs grow together.
    const byUid = [...commits].sort((x, y) => x.firstUid - y.firstUid);
    expect(byUid.map((r) => r.modseq)).toEqual([...byUid.map((r) => r.modseq)].sort((x, y) => x - y));
    expect(new Set(commits.map((r) => r.modseq)).size).toBe(commits.length);
    const { rows } = await pool.query<{ uid_next: number; highest_modseq: number; messages: number }>('SELECT uid_next, highest_modseq, messages FROM mailbox WHERE id = $1', [box]);
    expect(rows[0]).toEqual({ uid_next: uids.length + 1, highest_modseq: 1 + commits.length, messages: uids.length });
    await Promise.all(nodes.map((n) => n.release()));
  });

  test('a second appender waits for the first to commit: what it sees, it sees in UID order', async () => {
    const box = await newMailbox('order');
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const first = await append(a, box, 1);
      const bPid = (await b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      let bDone = false;
      const second = append(b, box, 1).then((r) => ((bDone = true), r));
      // b waits on the mailbox row until a commits.
      await waitUntil('the second appender to wait on a lock', async () => {
        const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = $1", [bPid]);
        return rows[0]!.n > 0;
      });
      expect(bDone).toBe(false);
      await a.query('COMMIT');
      const r2 = await second;
      await b.query('COMMIT');
      expect(r2.firstUid).toBe(first.firstUid + 1);
      expect(r2.modseq).toBe(first.modseq + 1);
    } finally {
      a.release();
      b.release();
    }
  });

  test('a rolled-back append gives its UIDs back; UIDNEXT and HIGHESTMODSEQ never go down', async () => {
    const box = await newMailbox('rollback');
    await expect(
      pool.transaction(async (c) => {
        await append(c, box, 3);
        throw new Error('delivery failed');
      }),
    ).rejects.toThrow('delivery failed');
    const r = await pool.transaction((c) => append(c, box, 1));
    expect(r.firstUid).toBe(1);
    await expect(pool.query('UPDATE mailbox SET uid_next = 1 WHERE id = $1', [box])).rejects.toThrow(/uid_next of mailbox \d+ may not go down/);
    await expect(pool.query('UPDATE mailbox SET highest_modseq = 1 WHERE id = $1', [box])).rejects.toThrow(/highest_modseq of mailbox \d+ may not go down/);
    expect(await pool.transaction((c) => allocateModseq(c, box))).toBe(r.modseq + 1);
  });

  test('UIDVALIDITY: unique per creation in a store even within one second, and never changes by accident', async () => {
    const storeBoxes = await pool.transaction(async (c) => {
      const store = await ensureMailStore(c, 'uv', '/');
      return [await insertMailbox(c, store, 'a'), await insertMailbox(c, store, 'b'), await insertMailbox(c, store, 'c')];
    });
    const values = storeBoxes.map((b) => b.uidValidity);
    expect(values[1]).toBe(values[0]! + 1);
    expect(values[2]).toBe(values[1]! + 1);
    expect(Math.abs(values[0]! - Math.floor(Date.now() / 1000))).toBeLessThan(3600);
    await expect(pool.query('UPDATE mailbox SET uid_validity = uid_validity + 1 WHERE id = $1', [storeBoxes[0]!.id])).rejects.toThrow(/UIDVALIDITY of mailbox \d+ may not change/);
    // Deliberately (an import keeping another server's UIDs): allowed, for that statement only.
    await pool.transaction(async (c) => {
      await changeUidValidity(c, storeBoxes[0]!.id, 12345);
      await expect(c.query('SAVEPOINT s; UPDATE mailbox SET uid_validity = 1 WHERE id = ' + storeBoxes[1]!.id)).rejects.toThrow(/may not change/);
      await c.query('ROLLBACK TO SAVEPOINT s');
    });
    const { rows } = await pool.query<{ uid_validity: number }>('SELECT uid_validity FROM mailbox WHERE id = ANY($1) ORDER BY id', [storeBoxes.map((b) => b.id)]);
    expect(rows.map((r) => r.uid_validity)).toEqual([12345, values[1], values[2]]);
    await expect(pool.transaction(async (c) => insertMailbox(c, await ensureMailStore(c, 'uv', '/'), 'a'))).rejects.toMatchObject({ code: 'ALREADYEXISTS' });
  });
  test('two moves in opposite directions at once: lockMailboxes orders the locks, both complete', async () => {
    const a = await newMailbox('moves', 'A');
    const b = await newMailbox('moves', 'B');
    await pool.transaction(async (c) => {
      await append(c, a, 5);
      await append(c, b, 5);
    });
    const move = (from: number, to: number) =>
      pool.transaction(async (c) => {
        await lockMailboxes(c, [to, from]);
        const { rows } = await c.query<{ uid: number; body_id: number }>('SELECT uid, body_id FROM message WHERE mailbox_id = $1 ORDER BY uid LIMIT 2', [from]);
        const range = await allocateUids(c, to, rows.length);
        for (const [i, r] of rows.entries()) {
          await c.query(
            `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, internal_date, save_date, size, guid, body_id, recent)
             VALUES ($1, $2, $3, $3, 0, 0, 0, 100, 'g', $4, true)`,
            [to, range.firstUid + i, range.modseq, r.body_id],
          );
        }
        await allocateModseq(c, from);
        await c.query('DELETE FROM message WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [from, rows.map((r) => r.uid)]);
      });
    await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? move(a, b) : move(b, a))));
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM message WHERE mailbox_id = ANY($1::bigint[])', [[a, b]]);
    expect(rows[0]!.n).toBe(10);
    await expect(pool.transaction((c) => lockMailboxes(c, [a, 987654]))).rejects.toMatchObject({ code: 'NONEXISTENT' });
  });
});

describe('counters kept by the schema', () => {
  test('mailbox MESSAGES/UNSEEN/RECENT/SIZE and the store quota follow inserts, flag changes and expunges', async () => {
    const box = await newMailbox('counts');
    const other = await newMailbox('counts', 'Archive');
    await pool.transaction(async (c) => {
      await append(c, box, 3, { size: 100 });
      await append(c, box, 2, { seen: true, size: 50 });
      await append(c, other, 1, { size: 7 });
    });
    const counts = async () =>
      (await pool.query<{ name: string; messages: number; unseen: number; recent: number; size: number }>(
        "SELECT b.name, b.messages, b.unseen, b.recent, b.size FROM mailbox b JOIN mail_store s ON s.id = b.store_id WHERE s.username = 'counts' ORDER BY b.name",
      )).rows;
    const storeId = (await pool.query<{ id: number }>("SELECT id FROM mail_store WHERE username = 'counts'")).rows[0]!.id;
    const quota = () => quotaUsage(pool, storeId);
    expect(await counts()).toEqual([
      { name: 'Archive', messages: 1, unseen: 1, recent: 1, size: 7 },
      { name: 'INBOX', messages: 5, unseen: 3, recent: 5, size: 400 },
    ]);
    expect(await quota()).toEqual({ storageBytes: 407, messages: 6 });
    await pool.query('UPDATE message SET flags = flags | 8, recent = false WHERE mailbox_id = $1 AND uid <= 2', [box]);
    await pool.query('UPDATE message SET flags = flags & ~8 WHERE mailbox_id = $1 AND uid = 5', [box]);
    expect((await counts())[1]).toEqual({ name: 'INBOX', messages: 5, unseen: 2, recent: 3, size: 400 });
    await pool.query('DELETE FROM message WHERE mailbox_id = $1 AND uid IN (1, 4)', [box]);
    expect((await counts())[1]).toEqual({ name: 'INBOX', messages: 3, unseen: 2, recent: 2, size: 250 });
    expect(await quota()).toEqual({ storageBytes: 257, messages: 4 });
    // Deleting a mailbox: its messages first (no cascade behind the code's back).
    await expect(pool.query('DELETE FROM mailbox WHERE id = $1', [other])).rejects.toThrow(/foreign key/);
    await pool.transaction(async (c) => {
      await c.query('DELETE FROM message WHERE mailbox_id = $1', [other]);
      await c.query('DELETE FROM mailbox WHERE id = $1', [other]);
    });
    expect(await quota()).toEqual({ storageBytes: 250, messages: 3 });
  });
});

describe('bodies', () => {
  test('a body of more chunks than one statement carries, and an empty body, read back whole', async () => {
    const data = Buffer.from(Array.from({ length: 400 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''));
    const box = await newMailbox('many-chunks');
    const ids = await pool.transaction(async (c) => {
      const many = await writeBody(c, data, { chunkSize: 10 }); // 40 chunks
      const empty = await writeBody(c, Buffer.alloc(0));
      await append(c, box, 1, { bodyId: many });
      await append(c, box, 2, { bodyId: empty });
      return { many, empty };
    });
    const seqs = await pool.query<{ seq: number }>('SELECT seq FROM body_chunk WHERE body_id = $1 ORDER BY seq', [ids.many]);
    expect(seqs.rows.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect((await (await openBody(pool, ids.many)).read(0, 1000)).equals(data)).toBe(true);
    const empty = await openBody(pool, ids.empty);
    expect(empty.size).toBe(0);
    expect((await empty.read(0, 10)).length).toBe(0);
  });

  test('a large body is chunked; a partial read fetches only the chunks of its range', async () => {
    const size = BODY_CHUNK_SIZE * 3 + 1000;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
    const box = await newMailbox('bodies');
    const { bodyId } = await pool.transaction(async (c) => {
      const id = await writeBody(c, data, { mimeStructure: { type: 'text/plain' } });
      return append(c, box, 1, { bodyId: id });
    });
    const chunks = await pool.query<{ seq: number; len: number }>('SELECT seq, length(data) AS len FROM body_chunk WHERE body_id = $1 ORDER BY seq', [bodyId]);
    expect(chunks.rows).toEqual([
      { seq: 0, len: BODY_CHUNK_SIZE },
      { seq: 1, len: BODY_CHUNK_SIZE },
      { seq: 2, len: BODY_CHUNK_SIZE },
      { seq: 3, len: 1000 },
    ]);
    const body = await openBody(pool, bodyId);
    expect(body.size).toBe(size);
    expect(body.mimeStructure).toEqual({ type: 'text/plain' });
    expect((await body.read(0, size)).equals(data)).toBe(true);
    const across = BODY_CHUNK_SIZE - 10;
    expect((await body.read(across, 30)).equals(data.subarray(across, across + 30))).toBe(true);
    expect((await body.read(size - 5, 100)).equals(data.subarray(size - 5))).toBe(true);
    expect((await body.read(size + 5, 100)).length).toBe(0);
    const sliced: Buffer[] = [];
    for await (const s of body.slices(100, BODY_CHUNK_SIZE * 2)) sliced.push(s);
    expect(sliced.map((s) => s.length)).toEqual([BODY_CHUNK_SIZE - 100, BODY_CHUNK_SIZE, 100]);
    expect(Buffer.concat(sliced).equals(data.subarray(100, 100 + BODY_CHUNK_SIZE * 2))).toBe(true);
    // Proof that only the covered chunks are read: without chunk 2, ranges in chunks 0-1 and 3 still read.
    await pool.query('DELETE FROM body_chunk WHERE body_id = $1 AND seq = 2', [bodyId]);
    expect((await body.read(10, BODY_CHUNK_SIZE)).equals(data.subarray(10, 10 + BODY_CHUNK_SIZE))).toBe(true);
    expect((await body.read(BODY_CHUNK_SIZE * 3 + 1, 10)).equals(data.subarray(BODY_CHUNK_SIZE * 3 + 1, BODY_CHUNK_SIZE * 3 + 11))).toBe(true);
    await expect(body.read(BODY_CHUNK_SIZE * 2, 10)).rejects.toMatchObject({ code: 'EXPUNGEISSUED' });
  });

  test('one body for several recipients: deleted with its last message; an unused body goes at COMMIT', async () => {
    const boxes = [await newMailbox('rcpt1'), await newMailbox('rcpt2'), await newMailbox('rcpt3')];
    const bodyId = await pool.transaction(async (c) => {
      const id = await writeBody(c, Buffer.from('shared delivery\r\n'));
      for (const box of boxes) await append(c, box, 1, { bodyId: id });
      return id;
    });
    const refcount = async () => (await pool.query<{ refcount: number }>('SELECT refcount FROM body WHERE id = $1', [bodyId])).rows[0]?.refcount;
    expect(await refcount()).toBe(3);
    expect((await pool.query('SELECT 1 FROM body_chunk WHERE body_id = $1', [bodyId])).rows).toHaveLength(1);
    await pool.query('DELETE FROM message WHERE mailbox_id = $1', [boxes[0]]);
    expect(await refcount()).toBe(2);
    const reader = await openBody(pool, bodyId);
    await pool.query('DELETE FROM message WHERE mailbox_id = ANY($1)', [boxes.slice(1)]);
    expect(await refcount()).toBeUndefined();
    expect((await pool.query('SELECT 1 FROM body_chunk WHERE body_id = $1', [bodyId])).rows).toHaveLength(0);
    await expect(reader.read(0, 5)).rejects.toMatchObject({ code: 'EXPUNGEISSUED' });
    await expect(openBody(pool, bodyId)).rejects.toMatchObject({ code: 'EXPUNGEISSUED' });

    const orphan = await pool.transaction((c) => writeBody(c, Buffer.from('never delivered')));
    expect((await pool.query('SELECT 1 FROM body WHERE id = $1', [orphan])).rows).toHaveLength(0);
  });
});

test('two users expunging the same deliveries at once: the shared bodies go with the last of them', async () => {
  const boxes = [await newMailbox('share-a'), await newMailbox('share-b')];
  const bodies = await pool.transaction(async (c) => {
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = await writeBody(c, Buffer.from(`delivery ${i}\r\n`));
      for (const box of boxes) await append(c, box, 1, { bodyId: id });
      ids.push(id);
    }
    return ids;
  });
  // Both users expunge everything at the same moment, one statement each (as an EXPUNGE does).
  const expungeAll = (box: number) =>
    pool.transaction(async (c) => {
      await allocateModseq(c, box);
      await c.query('DELETE FROM message WHERE mailbox_id = $1', [box]);
    });
  await Promise.all([expungeAll(boxes[0]!), expungeAll(boxes[1]!)]);
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM body WHERE id = ANY($1::bigint[])', [bodies]);
  expect(rows[0]!.n).toBe(0);
});
