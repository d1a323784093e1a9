// The pgsql change feed across nodes: LISTEN/NOTIFY between separate connections (a node is a
// connect string here: its own pool and its own listening connection) and a separate OS process;
// the listener reconnects after its connection is killed or the server restarts, says so in the
// log, and signals every watcher so that the stores catch up on what NOTIFY did not replay.
import { spawn } from 'node:child_process';
import { captureLogs } from '../../../src/log/logger.js';
import { allocateUids, ensureMailStore, insertMailbox } from '../../../src/storage/pgsql/allocation.js';
import { writeBody } from '../../../src/storage/pgsql/bodies.js';
import { changesSince, expungeUids } from '../../../src/storage/pgsql/changes.js';
import { migratePgsql } from '../../../src/storage/pgsql/migrations.js';
import { CHANGE_CHANNEL, changePayload, notifyChange, PgsqlChangeFeed } from '../../../src/storage/pgsql/change-feed.js';
import { acquirePgsqlPool } from '../../../src/storage/pgsql/pool.js';
import { usePostgres, type PgDatabase } from '../../pg/harness.js';
import { waitUntil } from '../../poll.js';

const pgsql = usePostgres();
let db: PgDatabase;
beforeAll(async () => {
  db = await pgsql.server.createDatabase();
});

const open: PgsqlChangeFeed[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.close();
});

/** A user's feed on "node" `node` (its own pool and listener), safety poll off. */
function feed(node: string, user: string): PgsqlChangeFeed {
  const f = new PgsqlChangeFeed(`${db.connectString} application_name=${node}`, user, { safetyPollMs: 0 });
  open.push(f);
  return f;
}

function counter(f: PgsqlChangeFeed) {
  const c = { n: 0 };
  f.watch(() => c.n++);
  return c;
}

test('a change announced on node A signals the watchers of that user on node B, not others', async () => {
  const aliceB = counter(feed('nodeB', 'alice'));
  const bobB = counter(feed('nodeB', 'bob'));
  const carolB = counter(feed('nodeB', 'carol'));
  await feed('nodeB', 'alice').listener!.ready;
  feed('nodeA', 'alice').announce();
  await waitUntil('alice on node B to be signalled', () => aliceB.n > 0);
  // A later announcement for carol arrives after anything for bob would have.
  feed('nodeA', 'carol').announce();
  await waitUntil('carol on node B to be signalled', () => carolB.n > 0);
  expect(bobB.n).toBe(0);
  // One listening connection per node, whatever the number of users watched.
  expect(feed('nodeB', 'x').listener!.watchedUsers).toBe(3);
  const listening = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'nodeB' AND query LIKE 'LISTEN%'");
  expect(listening.rows[0]!.n).toBe(1);
});

test('notifyChange in a transaction: sent at COMMIT, never for a rollback', async () => {
  const alice = counter(feed('nodeB', 'alice'));
  const carol = counter(feed('nodeB', 'carol'));
  await feed('nodeB', 'alice').listener!.ready;
  const pool = acquirePgsqlPool(`${db.connectString} application_name=nodeA`);
  try {
    await expect(
      pool.transaction(async (c) => {
        await notifyChange(c, 'alice');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await pool.transaction((c) => notifyChange(c, 'carol'));
    await waitUntil('carol to be signalled', () => carol.n > 0);
    expect(alice.n).toBe(0);
  } finally {
    await pool.release();
  }
});

test('a user name too long for a payload travels as its hash', async () => {
  const long = `${'u'.repeat(5000)}@example.com`;
  expect(changePayload(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(changePayload('alice@example.com')).toBe('alice@example.com');
  const w = counter(feed('nodeB', long));
  await feed('nodeB', long).listener!.ready;
  feed('nodeA', long).announce();
  await waitUntil('the long-named user to be signalled', () => w.n > 0);
});

test('a NOTIFY from another process (a plain pg client) signals the watcher', async () => {
  const w = counter(feed('nodeB', 'dave'));
  await feed('nodeB', 'dave').listener!.ready;
  const script = `
    import pg from 'pg';
    const c = new pg.Client(${JSON.stringify({ host: db.host, port: db.port, database: db.database, user: db.user, password: db.password })});
    await c.connect();
    await c.query('BEGIN');
    await c.query('SELECT pg_notify($1, $2)', [${JSON.stringify(CHANGE_CHANNEL)}, 'dave']);
    await c.query('COMMIT');
    await c.end();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect([code, stderr]).toEqual([0, '']);
  await waitUntil('dave to be signalled', () => w.n > 0);
});

test('the listening connection killed: reconnects with a log line, signals every watcher, and hears announcements again', async () => {
  const f = feed('nodeB', 'erin');
  const erin = counter(f);
  const frank = counter(feed('nodeB', 'frank'));
  const listener = f.listener!;
  await listener.ready;
  const connects = listener.connects;
  const logs = captureLogs();
  try {
    const pid = await listener.backendPid();
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitUntil('the listener to reconnect', () => listener.connects > connects);
    // The catch-up signal: no announcement was made, every watcher looks again.
    await waitUntil('the watchers to be signalled after the reconnect', () => erin.n > 0 && frank.n > 0);
    expect(await listener.backendPid()).not.toBe(pid);
  } finally {
    logs.stop();
  }
  expect(logs.lines).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^storage: Warning: pgsql\(127\.0\.0\.1\): Change feed connection to database \S+ lost: terminating connection due to administrator command \(reconnecting in \d+ ms\)$/),
      expect.stringMatching(/^storage: Info: pgsql\(127\.0\.0\.1\): Change feed reconnected to database \S+; every watcher catches up$/),
    ]),
  );
  const before = erin.n;
  feed('nodeA', 'erin').announce();
  await waitUntil('erin to be signalled by an announcement after the reconnect', () => erin.n > before);
});

test('the server restarts: the listener retries until it is back, then signals', async () => {
  const f = feed('nodeB', 'gina');
  const gina = counter(f);
  const listener = f.listener!;
  await listener.ready;
  const connects = listener.connects;
  const logs = captureLogs();
  try {
    await pgsql.server.stop('fast');
    // At least one failed attempt while it is down.
    await waitUntil('a failed reconnect', () => logs.lines.filter((l) => /Change feed connection .* lost/.test(l)).length >= 2);
    await pgsql.server.start();
    await waitUntil('the listener to reconnect', () => listener.connects > connects);
    await waitUntil('gina to be signalled', () => gina.n > 0);
  } finally {
    logs.stop();
    if (!pgsql.server.running) await pgsql.server.start();
  }
  const before = gina.n;
  feed('nodeA', 'gina').announce();
  await waitUntil('gina to be signalled by an announcement after the restart', () => gina.n > before);
});

test('an expunge on node A reaches a session on node B: signal, then the catch-up by modseq (flags, appends, VANISHED)', async () => {
  const nodeA = acquirePgsqlPool(`${db.connectString} application_name=nodeA`);
  const nodeB = acquirePgsqlPool(`${db.connectString} application_name=nodeB`);
  try {
    await migratePgsql(nodeA);
    const append = (box: number) =>
      nodeA.transaction(async (c) => {
        const { firstUid, modseq } = await allocateUids(c, box, 1);
        await c.query(
          `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, internal_date, save_date, size, guid, body_id, recent)
           VALUES ($1, $2, $3, $3, 0, 0, 0, 1, 'g', $4, true)`,
          [box, firstUid, modseq, await writeBody(c, Buffer.from('x'))],
        );
        await notifyChange(c, 'hank');
        return firstUid;
      });
    const box = await nodeA.transaction(async (c) => (await insertMailbox(c, await ensureMailStore(c, 'hank', '/'), 'INBOX')).id);
    for (let i = 0; i < 3; i++) await append(box);
    // Node B's session: selected at the current HIGHESTMODSEQ, watching.
    const since = (await nodeB.query<{ m: number }>('SELECT highest_modseq AS m FROM mailbox WHERE id = $1', [box])).rows[0]!.m;
    const session = counter(feed('nodeB', 'hank'));
    await feed('nodeB', 'hank').listener!.ready;
    await nodeA.transaction(async (c) => {
      const r = await expungeUids(c, box, [2, 99]);
      expect(r.uids).toEqual([2]);
      await c.query('UPDATE message SET flags = 8, modseq = $2 WHERE mailbox_id = $1 AND uid = 3', [box, r.modseq]);
      await notifyChange(c, 'hank');
    });
    const newUid = await append(box);
    await waitUntil('node B to be signalled', () => session.n > 0);
    const changes = await changesSince(nodeB, box, since);
    expect(changes.map((c) => [c.kind, c.uid, c.kind === 'expunge' ? [] : c.flags])).toEqual([
      ['expunge', 2, []],
      ['flags', 3, ['\\Seen']],
      ['append', newUid, []],
    ]);
    expect(changes[0]!.modseq).toBe(changes[1]!.modseq);
    expect(await changesSince(nodeB, box, changes[2]!.modseq)).toEqual([]);
    // Expunging what another node already expunged: nothing expunged, nothing logged.
    expect(await nodeA.transaction((c) => expungeUids(c, box, [2]))).toEqual({ modseq: 0, uids: [] });
    expect((await nodeB.query('SELECT uid, modseq FROM expunged WHERE mailbox_id = $1', [box])).rows).toEqual([{ uid: 2, modseq: changes[0]!.modseq }]);
  } finally {
    await nodeA.release();
    await nodeB.release();
  }
});

test('the listening connection goes with the last feed that watched', async () => {
  const f1 = new PgsqlChangeFeed(`${db.connectString} application_name=nodeC`, 'ian', { safetyPollMs: 0 });
  const f2 = new PgsqlChangeFeed(`${db.connectString} application_name=nodeC`, 'joe', { safetyPollMs: 0 });
  f1.watch(() => undefined);
  f2.watch(() => undefined);
  expect(f1.listener).toBe(f2.listener);
  await f1.listener!.ready;
  const listening = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'nodeC' AND query LIKE 'LISTEN%'")).rows[0]!.n;
  expect(await listening()).toBe(1);
  f1.close();
  expect(await listening()).toBe(1);
  f2.close();
  await waitUntil('the listening connection to close', async () => (await listening()) === 0);
});
