// Crash safety: the LMTP server runs in a child process, three connections stream deliveries (one
// with two recipients per message, whose copies are stored concurrently and acknowledged after
// their WAL fsync in the threadpool), the child is SIGKILLed mid-stream, and every copy that got a
// 250 must be in the store, intact. Large messages are body files under the homes (hard links
// between the two recipients): acknowledged means the file is there, whole.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteUserStore as openSyncUserStore } from '../../src/storage/sqlite/index.js';
import { compileSrc, type CompiledSrc } from './compile-src.js';

let compiled: CompiledSrc;
let dataDir: string;
beforeAll(() => {
  compiled = compileSrc();
  dataDir = mkdtempSync(join(tmpdir(), 'roost-lmtp-crash-'));
});
afterAll(() => {
  compiled.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every third message is ~50 KB: a body file (hard-linked for the second recipient of connection 2). */
function body(conn: number, i: number): string {
  const repeat = i % 3 === 0 ? 4000 : 40;
  return `Subject: crash ${conn}-${i}\r\nMessage-ID: <${conn}-${i}@crash>\r\n\r\n${`payload ${conn}-${i} `.repeat(repeat)}\r\n`;
}

/** Delivers messages back to back on one connection; records each acknowledged one. */
async function stream(port: number, conn: number, acked: Set<string>, stop: () => boolean): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let buf = '';
  let waiting: { n: number; resolve: (l: string[]) => void } | null = null;
  const lines: string[] = [];
  const pump = () => {
    if (waiting && lines.length >= waiting.n) {
      const w = waiting;
      waiting = null;
      w.resolve(lines.splice(0, w.n));
    }
  };
  socket.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      if (line[3] !== '-') lines.push(line);
    }
    pump();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const expectN = (n: number, data?: string) =>
    Promise.race([
      new Promise<string[]>((resolve) => {
        waiting = { n, resolve };
        if (data) socket.write(data);
        pump();
      }),
      closed.then(() => null),
    ]);
  if (!(await expectN(1))) return;
  if (!(await expectN(1, 'LHLO crash.test\r\n'))) return;
  const rcpts = conn === 0 ? ['alice@example.com'] : conn === 1 ? ['bob@example.com'] : ['alice@example.com', 'bob@example.com'];
  const envelope = `MAIL FROM:<c@remote.test>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`;
  for (let i = 0; !stop(); i++) {
    if (!(await expectN(2 + rcpts.length, envelope))) return;
    const replies = await expectN(rcpts.length, body(conn, i) + '.\r\n');
    if (!replies) return;
    replies.forEach((reply, k) => {
      if (reply.startsWith('250 ')) acked.add(`${rcpts[k]} ${conn}-${i}`);
    });
  }
  socket.destroy();
}

test('every delivery acknowledged with 250 survives SIGKILL intact', async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/lmtp-child.mjs', import.meta.url)), compiled.srcRoot, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error(`child exited: ${stderr}`)));
  });
  const acked = new Set<string>();
  let killed = false;
  const streams = [0, 1, 2].map((c) => stream(port, c, acked, () => killed));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${acked.size} acks; ${stderr}`)), 20_000);
    const check = setInterval(() => {
      if (acked.size >= 150) {
        clearInterval(check);
        clearTimeout(timer);
        child.kill('SIGKILL');
        killed = true;
        resolve();
      }
    }, 5);
  });
  expect(await exited).toBe('SIGKILL');
  await Promise.all(streams);

  const stored = new Map<string, string>();
  for (const user of ['alice@example.com', 'bob@example.com']) {
    const [local, domain] = user.split('@');
    const home = join(dataDir, 'home', domain!, local!);
    const store = openSyncUserStore({ username: user, home, dbPath: join(home, 'mail.db'), separator: '/' });
    const inbox = store.getMailbox('INBOX')!;
    for (const m of store.listMessages(inbox.id)) {
      const b = store.openBody(m.bodyId);
      const text = b.read(0, b.size).toString();
      const id = /Subject: crash (\d+-\d+)\r\n/.exec(text)![1]!;
      stored.set(`${user} ${id}`, text);
    }
    store.close();
  }
  expect(acked.size).toBeGreaterThanOrEqual(150);
  expect([...acked].some((k) => k.endsWith(' 2-0'))).toBe(true); // the two-recipient connection was acknowledged
  // ... and a large one (a body file, hard-linked for the second recipient) was acknowledged too.
  expect([...acked].some((k) => k.includes(' 2-') && Number(k.split('-').pop()) % 3 === 0 && Number(k.split('-').pop()) > 0)).toBe(true);
  for (const key of acked) {
    const text = stored.get(key);
    expect(text).toBeDefined();
    const [conn, i] = key.split(' ')[1]!.split('-').map(Number);
    expect(text!.endsWith(body(conn!, i!))).toBe(true);
  }
});
