// The pgsql backend's append primitive (allocation.ts + bodies.ts, one message per transaction,
// as an LMTP delivery commits): appends per second with 8 concurrent appenders,
//   - one node, one mailbox;
//   - two nodes (two pools with their own connections), one mailbox: the mailbox row lock
//     serialises them, the price of UIDs that are unique and visible in increasing order;
//   - two nodes, 8 different users' mailboxes: no shared row.
// On the test harness's private PostgreSQL (fsync off: the figures show the locking and round
// trips, not a disk's commit latency). Alternating rounds; prints the range per case.
import { startPostgres } from '../test/pg/harness.js';
import { allocateUids, ensureMailStore, insertMailbox } from '../src/storage/pgsql/allocation.js';
import { writeBody } from '../src/storage/pgsql/bodies.js';
import { migratePgsql } from '../src/storage/pgsql/migrations.js';
import { acquirePgsqlPool, type PgsqlPool } from '../src/storage/pgsql/pool.js';

const APPENDERS = 8;
const APPENDS_PER_ROUND = 2_000;
const ROUNDS = 3;
const MESSAGE = Buffer.from(`Subject: bench\r\nFrom: a@example.com\r\n\r\n${'x'.repeat(2000)}\r\n`);

async function append(pool: PgsqlPool, mailboxId: number): Promise<void> {
  await pool.transaction(async (c) => {
    const body = await writeBody(c, MESSAGE);
    const { firstUid, modseq } = await allocateUids(c, mailboxId, 1);
    await c.query(
      `INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, internal_date, save_date, size, guid, body_id, recent)
       VALUES ($1, $2, $3, $3, 0, $4, $4, $5, 'g', $6, true)`,
      [mailboxId, firstUid, modseq, Date.now(), MESSAGE.length, body],
    );
  });
}

/** Appends per second: APPENDERS loops sharing APPENDS_PER_ROUND, appender i on nodes[i % n] into boxes[i % m]. */
async function round(nodes: PgsqlPool[], boxes: number[]): Promise<number> {
  let left = APPENDS_PER_ROUND;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: APPENDERS }, async (_, i) => {
      while (left-- > 0) await append(nodes[i % nodes.length]!, boxes[i % boxes.length]!);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return APPENDS_PER_ROUND / seconds;
}

async function main(): Promise<void> {
  const server = await startPostgres();
  try {
    const db = await server.createDatabase();
    const nodeA = acquirePgsqlPool(`${db.connectString} application_name=nodeA maxconns=${APPENDERS}`);
    const nodeB = acquirePgsqlPool(`${db.connectString} application_name=nodeB maxconns=${APPENDERS}`);
    await migratePgsql(nodeA);
    const mailbox = async (user: string) => nodeA.transaction(async (c) => (await insertMailbox(c, await ensureMailStore(c, user, '/'), 'INBOX')).id);
    const shared = await mailbox('shared');
    const own = await Promise.all(Array.from({ length: APPENDERS }, (_, i) => mailbox(`user${i}`)));
    const cases: [string, PgsqlPool[], number[]][] = [
      ['1 node, 1 mailbox', [nodeA], [shared]],
      ['2 nodes, 1 mailbox', [nodeA, nodeB], [shared]],
      ['2 nodes, 8 users', [nodeA, nodeB], own],
    ];
    const figures = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    await round([nodeA], [shared]); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, nodes, boxes] of cases) figures.get(name)!.push(await round(nodes, boxes));
    }
    console.log(`pgsql appends/s (${APPENDERS} concurrent appenders, ${APPENDS_PER_ROUND} per round, ${ROUNDS} rounds, ${MESSAGE.length}-byte messages; fsync off)`);
    for (const [name, values] of figures) {
      console.log(`  ${name.padEnd(20)} ${Math.round(Math.min(...values))}-${Math.round(Math.max(...values))}`);
    }
    await nodeA.release();
    await nodeB.release();
  } finally {
    await server.destroy();
  }
}

await main();
