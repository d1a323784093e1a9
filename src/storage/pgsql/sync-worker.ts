// The pgsql helper thread of a thread that blocks (sync-client.ts): runs the requests on its own
// connection (the "one connection per worker thread for Lua": maxconns=1 here) and wakes
// the caller through the shared flag; the answer travels on the MessagePort. Same protocol as
// the Lua HTTP and hash helpers (src/lua/blocking-helper.ts): workerData = { port, flag }.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { StorageError } from '../types.js';
import { openBody } from './bodies.js';
import { acquirePgsqlPool, type PgsqlPool } from './pool.js';
import type { PgsqlSyncReply, PgsqlSyncRequest } from './sync-protocol.js';

if (!parentPort) throw new Error('pgsql sync-worker must run in a worker thread');
const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };

const pools = new Map<string, PgsqlPool>();
function poolFor(connect: string): PgsqlPool {
  let pool = pools.get(connect);
  if (!pool) {
    // A later maxconns= wins over one in the string: this thread serves one caller at a time.
    pool = acquirePgsqlPool(`${connect} maxconns=1`);
    pools.set(connect, pool);
  }
  return pool;
}

async function run(req: PgsqlSyncRequest): Promise<PgsqlSyncReply> {
  try {
    const pool = poolFor(req.connect);
    switch (req.op) {
      case 'query':
        return { id: req.id, ok: true, rows: (await pool.query(req.statement.sql, req.statement.params)).rows };
      case 'transaction': {
        const results = await pool.transaction(async (c) => {
          const out: Record<string, unknown>[][] = [];
          for (const s of req.statements) out.push((await c.query(s.sql, s.params)).rows);
          return out;
        });
        return { id: req.id, ok: true, results };
      }
      case 'readBody': {
        const body = await openBody(pool, req.bodyId);
        return { id: req.id, ok: true, data: await body.read(req.offset, req.length) };
      }
    }
  } catch (err) {
    const e = err as { message?: string; code?: string };
    return {
      id: req.id,
      ok: false,
      error: { message: e.message ?? String(err), ...(err instanceof StorageError ? { storageCode: err.code } : e.code ? { sqlState: e.code } : {}) },
    };
  }
}

port.on('message', (req: PgsqlSyncRequest) => {
  void run(req).then((reply) => {
    port.postMessage(reply);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
