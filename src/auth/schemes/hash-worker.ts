// Hash helper thread (see hash-protocol.ts). Requests come from the parent (async clients, main
// thread) or from a MessagePort handed over in workerData (a blocked Lua worker, which sleeps in
// Atomics.wait on `flag` until the answer is posted).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { hashPasswordHere, verifyPasswordHere } from './registry.js';
import type { HashWorkerReply, HashWorkerRequest } from './hash-protocol.js';

if (!parentPort) throw new Error('hash-worker must run in a worker thread');
const data = (workerData ?? {}) as { port?: MessagePort; flag?: Int32Array };

async function run(req: HashWorkerRequest): Promise<HashWorkerReply> {
  try {
    const plain = Buffer.from(req.plain.buffer, req.plain.byteOffset, req.plain.byteLength);
    const ctx = { user: req.user, rounds: req.rounds, memoryKiB: req.memoryKiB };
    if (req.op === 'verify') {
      return { id: req.id, op: 'verify', result: await verifyPasswordHere(plain, req.stored, { ...ctx, defaultScheme: req.defaultScheme }) };
    }
    return { id: req.id, op: 'hash', hashed: await hashPasswordHere(plain, req.scheme, ctx) };
  } catch (e) {
    return { id: req.id, op: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

parentPort.on('message', (req: HashWorkerRequest) => {
  void run(req).then((reply) => parentPort!.postMessage(reply));
});

const { port, flag } = data;
if (port && flag) {
  port.on('message', (req: HashWorkerRequest) => {
    void run(req).then((reply) => {
      port.postMessage(reply);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
  });
}
