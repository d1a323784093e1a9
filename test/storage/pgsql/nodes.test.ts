// Two nodes as two OS processes on one PostgreSQL, appending to the same mailbox at the same
// moment: every UID is handed out once, each node sees its own UIDs increase, and a third node
// watching the user's change feed hears of the deliveries. The node processes run the compiled
// backend (dist/, built by the jest globalSetup).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureMailStore, insertMailbox } from '../../../src/storage/pgsql/allocation.js';
import { PgsqlChangeFeed } from '../../../src/storage/pgsql/change-feed.js';
import { changesSince } from '../../../src/storage/pgsql/changes.js';
import { migratePgsql } from '../../../src/storage/pgsql/migrations.js';
import { acquirePgsqlPool } from '../../../src/storage/pgsql/pool.js';
import { usePostgres } from '../../pg/harness.js';
import { waitUntil } from '../../poll.js';

const pgsql = usePostgres();
const BACKEND = pathToFileURL(join(process.cwd(), 'dist/src/storage/pgsql/index.js')).href;
const APPENDS_PER_NODE = 40;

/** A node process: waits for "go" on stdin, then appends one message per transaction; prints its UIDs. */
function startNode(connect: string, mailboxId: number, user: string) {
  const script = `
    const b = await import(${JSON.stringify(BACKEND)});
    const pool = b.acquirePgsqlPool(${JSON.stringify(connect)});
    await new Promise((r) => process.stdin.once('data', r));
    const uids = [];
    for (let i = 0; i < ${APPENDS_PER_NODE}; i++) {
      uids.push(await pool.transaction(async (c) => {
        const body = await b.writeBody(c, Buffer.from('Subject: from pid ' + process.pid + '\\r\\n\\r\\n' + i + '\\r\\n'));
        const { firstUid, modseq } = await b.allocateUids(c, ${mailboxId}, 1);
        await c.query("INSERT INTO message (mailbox_id, uid, modseq, created_modseq, flags, internal_date, save_date, size, guid, body_id, recent) VALUES ($1, $2, $3, $3, 0, 0, 0, 10, 'g', $4, true)", [${mailboxId}, firstUid, modseq, body]);
        await b.notifyChange(c, ${JSON.stringify(user)});
        return firstUid;
      }));
    }
    await pool.release();
    process.stdout.write(JSON.stringify(uids));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<number[]>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout) as number[]) : reject(new Error(`node exited ${code}: ${stderr}`)))),
  );
  return { go: () => child.stdin.end('go\n'), done };
}

test('two node processes appending to one mailbox at once: unique UIDs, increasing per node; a third node is told', async () => {
  const db = await pgsql.server.createDatabase();
  const pool = acquirePgsqlPool(db.connectString);
  const feed = new PgsqlChangeFeed(`${db.connectString} application_name=watcher`, 'ivy', { safetyPollMs: 0 });
  try {
    await migratePgsql(pool);
    const box = await pool.transaction(async (c) => (await insertMailbox(c, await ensureMailStore(c, 'ivy', '/'), 'INBOX')).id);
    let signals = 0;
    feed.watch(() => signals++);
    await feed.listener!.ready;
    const nodes = [startNode(`${db.connectString} application_name=node1`, box, 'ivy'), startNode(`${db.connectString} application_name=node2`, box, 'ivy')];
    for (const n of nodes) n.go();
    const [a, b] = await Promise.all(nodes.map((n) => n.done));
    const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
    expect(increasing(a!) && increasing(b!)).toBe(true);
    const all = [...a!, ...b!].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 2 * APPENDS_PER_NODE }, (_, i) => i + 1));
    const appended = await changesSince(pool, box, 1);
    expect(appended.map((c) => c.uid)).toEqual(all);
    expect(new Set(appended.map((c) => c.modseq)).size).toBe(all.length);
    await waitUntil('the watching node to be signalled', () => signals > 0);
  } finally {
    feed.close();
    await pool.release();
  }
});
