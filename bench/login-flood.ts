// Pre-login connections: what one costs, and logins during a flood. The IMAP server runs in a child
// process (its memory measured alone, after a forced GC); raw-socket clients run here. Prints:
//   - resident and heap memory per idle connection that has not logged in (2,000 of them);
//   - a flood of 2,000 idle connections against the default `service imap-login { client_limit }`
//     (1,000): how many fresh LOGIN + NOOP probes got in, their latency, how many flood
//     connections were pushed out, and whether the sessions logged in before the flood survived.
// Asserts nothing. Run: npm run build && node dist/bench/login-flood.js
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const FLOOD = 2_000;
const PROBE_EVERY = 100;
const LOGGED_IN = 20;

type ServerMessage = { type: 'ready'; port: number; limit: number } | { type: 'memory'; rss: number; heap: number };

// ---------------------------------------------------------------- server side (child process)

async function serverMain(dataDir: string, limit: string): Promise<void> {
  const { startBenchServer } = await import('./server-child.js');
  const { hashPassword } = await import('../src/auth/index.js');
  const password = await hashPassword('pw', 'PLAIN');
  let configured = 0;
  const { server, ctx } = await startBenchServer(
    dataDir,
    (s) => {
      if (limit !== 'default') s.service['imap-login']!.client_limit = Number(limit);
      configured = s.service['imap-login']!.client_limit;
    },
    (c) => void c.serverDb.addUser({ username: 'alice', password }),
  );
  process.on('message', (m: { type: string }) => {
    if (m.type === 'memory') {
      global.gc?.();
      const u = process.memoryUsage();
      process.send!({ type: 'memory', rss: u.rss, heap: u.heapUsed + u.external + u.arrayBuffers } satisfies ServerMessage);
    }
    if (m.type === 'stop') void server.close().then(() => ctx.close()).then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready', port: server.port('imap'), limit: configured } satisfies ServerMessage);
}

// ---------------------------------------------------------------- client side

class Client {
  lines: string[] = [];
  closed = false;
  private buf = '';
  private waiters: (() => void)[] = [];
  private readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async until(test: (line: string) => boolean): Promise<string | null> {
    for (;;) {
      const hit = this.lines.find(test);
      if (hit !== undefined) return hit;
      if (this.closed) return null;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async command(tag: string, text: string): Promise<string | null> {
    this.socket.write(`${tag} ${text}\r\n`);
    return this.until((l) => l.startsWith(`${tag} `));
  }

  close(): void {
    this.socket.destroy();
  }
}

function startServer(dataDir: string, limit: string): Promise<{ child: ChildProcess; port: number; limit: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', path.join(dataDir, limit), limit], { execArgv: ['--expose-gc'], stdio: 'inherit' });
  return new Promise((resolve) =>
    child.once('message', (m: ServerMessage) => {
      if (m.type === 'ready') resolve({ child, port: m.port, limit: m.limit });
    }),
  );
}

function memory(child: ChildProcess): Promise<{ rss: number; heap: number }> {
  return new Promise((resolve) => {
    const on = (m: ServerMessage) => {
      if (m.type !== 'memory') return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send({ type: 'memory' });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
}

async function connectMany(port: number, n: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => new Client(port));
    await Promise.all(batch.map((c) => c.until((l) => l.startsWith('* '))));
    out.push(...batch);
  }
  return out;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-bench-flood-'));
  try {
    // 1. Cost of one pre-login connection.
    {
      const { child, port } = await startServer(dataDir, String(FLOOD + 100));
      const warm = await connectMany(port, 50); // first connections load code paths
      for (const c of warm) c.close();
      await new Promise((r) => setTimeout(r, 500));
      const before = await memory(child);
      const clients = await connectMany(port, FLOOD);
      await new Promise((r) => setTimeout(r, 500));
      const after = await memory(child);
      const kib = (b: number) => (b / FLOOD / 1024).toFixed(1);
      console.log(`${FLOOD} idle connections not logged in: ${kib(after.rss - before.rss)} KiB RSS, ${kib(after.heap - before.heap)} KiB JS heap+buffers each`);
      for (const c of clients) c.close();
      await stop(child);
    }
    // 2. A flood against the default limit, with fresh logins probing through it.
    {
      const { child, port, limit } = await startServer(dataDir, 'default');
      const loggedIn: Client[] = [];
      for (let i = 0; i < LOGGED_IN; i++) {
        const c = new Client(port);
        await c.until((l) => l.startsWith('* OK'));
        await c.command('a', 'LOGIN alice pw');
        loggedIn.push(c);
      }
      const flood: Client[] = [];
      const probeMs: number[] = [];
      let probesOk = 0;
      for (let i = 0; i < FLOOD; i += PROBE_EVERY) {
        flood.push(...(await connectMany(port, PROBE_EVERY)));
        const started = performance.now();
        const probe = new Client(port);
        const greeting = await probe.until((l) => l.startsWith('* '));
        const login = greeting?.startsWith('* OK') ? await probe.command('l', 'LOGIN alice pw') : null;
        const noop = login?.startsWith('l OK') ? await probe.command('n', 'NOOP') : null;
        probeMs.push(performance.now() - started);
        if (noop?.startsWith('n OK')) probesOk++;
        probe.close();
      }
      await new Promise((r) => setTimeout(r, 500));
      const pushedOut = flood.filter((c) => c.closed && c.lines.at(-1) === '* BYE Connection queue full').length;
      let survivors = 0;
      for (const [i, c] of loggedIn.entries()) if ((await c.command(`n${i}`, 'NOOP'))?.startsWith(`n${i} OK`)) survivors++;
      probeMs.sort((a, b) => a - b);
      console.log(
        `flood of ${FLOOD} idle connections, client_limit ${limit}: ${probesOk}/${probeMs.length} LOGIN+NOOP probes got in ` +
          `(median ${probeMs[probeMs.length >> 1]!.toFixed(1)} ms, max ${probeMs[probeMs.length - 1]!.toFixed(1)} ms), ` +
          `${pushedOut} flood connections pushed out, ${survivors}/${LOGGED_IN} logged-in sessions still answer`,
      );
      for (const c of [...flood, ...loggedIn]) c.close();
      await stop(child);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--server') await serverMain(process.argv[3]!, process.argv[4]!);
else await main();
