// LMTP benchmark: deliveries per second over real sockets, 4 concurrent connections, 1 KB and
// 100 KB messages, one and five recipients per message; every 250 is durable (the copy's WAL is
// fsynced in the threadpool before the reply: storage durability 'async-fsync', the default).
// Run: npm run build && node dist/bench/lmtp.js
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createServerContext } from '../src/cli/context.js';
import { defaultSettings } from '../src/config/index.js';
import { startLmtpServer } from '../src/lmtp/server.js';
import { logHub } from '../src/log/logger.js';

logHub.setDefaultOutput(false);
const CONNECTIONS = 4;
const USERS = 20;
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-lmtp-'));

function message(i: number, size: number): string {
  const head = `From: bench@remote.test\r\nTo: user@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <${i}@bench>\r\n\r\n`;
  const line = 'x'.repeat(76) + '\r\n';
  return head + line.repeat(Math.max(0, Math.ceil((size - head.length) / line.length)));
}

/** One LMTP connection that sends transactions back to back (pipelined envelope). */
class Sender {
  private buf = '';
  private want = 0;
  private got: string[] = [];
  private resolve: ((lines: string[]) => void) | null = null;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let nl: number;
      while ((nl = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        if (line[3] === '-') continue;
        this.got.push(line);
        if (this.got.length === this.want && this.resolve) {
          const r = this.resolve;
          this.resolve = null;
          r(this.got.splice(0));
        }
      }
    });
  }
  static async open(port: number): Promise<Sender> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((r) => socket.once('connect', r));
    const s = new Sender(socket);
    await s.expect(1, ''); // the greeting: smtp-server drops clients that talk before it
    await s.expect(1, 'LHLO bench.test\r\n');
    return s;
  }
  expect(n: number, data: string): Promise<string[]> {
    this.want = n;
    return new Promise((resolve) => {
      if (this.got.length >= n) return resolve(this.got.splice(0));
      this.resolve = resolve;
      if (data) this.socket.write(data);
    });
  }
  async deliver(rcpts: string[], msg: string): Promise<void> {
    const env = `MAIL FROM:<bench@remote.test>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`;
    await this.expect(2 + rcpts.length, env);
    const replies = await this.expect(rcpts.length, msg + '.\r\n');
    for (const r of replies) if (!r.startsWith('250 ')) throw new Error(`delivery failed: ${r}`);
  }
  close(): void {
    this.socket.destroy();
  }
}

async function main(): Promise<void> {
  const settings = defaultSettings();
  settings.data_dir = dir;
  settings.base_dir = join(dir, 'run');
  settings.mail_home = join(dir, 'home/%d/%n');
  settings.hostname = 'bench.test';
  const ctx = createServerContext(settings);
  const users = Array.from({ length: USERS }, (_, i) => `user${i}@example.org`);
  for (const u of users) ctx.serverDb.addUser({ username: u });
  const server = await startLmtpServer(ctx, { inet: [{ host: '127.0.0.1', port: 0 }], unix: [], spoolDir: join(dir, 'spool') });
  const port = (server.addresses[0] as { port: number }).port;
  const senders = await Promise.all(Array.from({ length: CONNECTIONS }, () => Sender.open(port)));

  const run = async (label: string, size: number, rcptCount: number, messages: number) => {
    const msg = message(0, size);
    let next = 0;
    const start = performance.now();
    await Promise.all(
      senders.map(async (s, c) => {
        while (next < messages) {
          const i = next++;
          const rcpts = Array.from({ length: rcptCount }, (_, k) => users[(i * rcptCount + k + c) % USERS]!);
          await s.deliver(rcpts, msg);
        }
      }),
    );
    const secs = (performance.now() - start) / 1000;
    const perMsg = messages / secs;
    console.log(
      `${label.padEnd(28)} ${Math.round(perMsg).toString().padStart(6)} messages/s  ` +
        `${Math.round(perMsg * rcptCount).toString().padStart(6)} stored copies/s  (${messages} in ${secs.toFixed(2)} s)`,
    );
  };
  // Warm up: opens every user's store once, JIT.
  await run('warm-up', 1024, 1, 200);
  await run('1 KB, 1 recipient', 1024, 1, 3000);
  await run('1 KB, 5 recipients', 1024, 5, 1000);
  await run('100 KB, 1 recipient', 100 * 1024, 1, 1000);
  await run('100 KB, 5 recipients', 100 * 1024, 5, 400);
  for (const s of senders) s.close();
  await server.close();
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
