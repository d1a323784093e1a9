// Cross-process change feed benchmark. The IMAP server runs in a child process (measured alone);
// raw-socket clients run here. Prints:
//   - the server's CPU use and wake-ups (context switches of all its threads, from /proc) per second
//     with no session, then with 1,000 sessions in IDLE: of 1,000 different users (1,000 watched
//     change files) and of one user (one watched file);
//   - latency from a commit in another process (a node process appending through the storage API,
//     timestamps on the same clock) to the `* n EXISTS` an IDLE-ing session receives;
//   - the same seen by a user: from starting the built `roost deliver` to EXISTS (includes node's
//     start-up of the command);
//   - what each side pays: a writer's touch of the change file after a commit, and the
//     PRAGMA data_version check an IMAP session makes on every command.
// Asserts nothing. Run: npm run build && node dist/bench/change-feed.js
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SESSIONS = 1_000;
const MEASURE_SECONDS = 10;
const LATENCY_ROUNDS = 20;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOST_MAIN = path.join(HERE, '../src/cli/main.js');
const STORAGE = pathToFileURL(path.join(HERE, '../src/storage/sqlite/index.js')).href;

// ---------------------------------------------------------------- server side (child process)

async function serverMain(dataDir: string): Promise<void> {
  const { startBenchServer } = await import('./server-child.js');
  const { hashPassword } = await import('../src/auth/index.js');
  const password = await hashPassword('pw', 'PLAIN');
  const { ctx, server } = await startBenchServer(
    dataDir,
    (s) => (s.service['imap-login']!.client_limit = SESSIONS + 100),
    (c) => {
      for (let i = 0; i < SESSIONS; i++) c.serverDb.addUser({ username: `u${i}`, password });
    },
  );
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void server.close().then(() => ctx.close()).then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready', port: server.port('imap') });
}

// ---------------------------------------------------------------- client side

/** A raw IMAP connection: waits for tagged replies and for untagged lines matching a pattern. */
class Client {
  private buf = '';
  private waiters: { test: (line: string) => boolean; resolve: (at: number) => void }[] = [];
  private readonly socket: net.Socket;
  private tag = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        const at = performance.timeOrigin + performance.now();
        this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(at), false) : true));
      }
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<Client> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const c = new Client(socket);
    await c.waitFor((l) => l.startsWith('* OK'));
    return c;
  }

  /** Resolves with the arrival time (ms since the epoch, sub-ms precision) of the first matching line. */
  waitFor(test: (line: string) => boolean): Promise<number> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  async command(text: string): Promise<void> {
    const tag = `t${++this.tag}`;
    const done = this.waitFor((l) => l.startsWith(`${tag} `));
    this.socket.write(`${tag} ${text}\r\n`);
    await done;
  }

  async idle(): Promise<void> {
    const go = this.waitFor((l) => l === '+ idling');
    this.socket.write('i IDLE\r\n');
    await go;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** CPU seconds (user + system) and context switches of every thread of `pid`, from /proc. */
function processCounters(pid: number): { cpu: number; switches: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  let switches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) switches += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { cpu: ticks / 100, switches }; // USER_HZ is 100 on Linux
}

async function measureIdle(label: string, pid: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 2000)); // let logins and their timers settle
  const a = processCounters(pid);
  const start = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_SECONDS * 1000));
  const b = processCounters(pid);
  const secs = (performance.now() - start) / 1000;
  const cpu = ((b.cpu - a.cpu) / secs) * 100;
  const wakeups = (b.switches - a.switches) / secs;
  console.log(`${label.padEnd(52)} CPU ${cpu.toFixed(2).padStart(5)} %   ${wakeups.toFixed(1).padStart(6)} context switches/s`);
}

async function idleSessions(port: number, users: (i: number) => string): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < SESSIONS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, SESSIONS - i) }, async (_, k) => {
        const c = await Client.connect(port);
        await c.command(`LOGIN ${users(i + k)} pw`);
        await c.command('SELECT INBOX');
        await c.idle();
        return c;
      }),
    );
    clients.push(...batch);
  }
  return clients;
}

function run(cmd: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] }); // roost deliver logs each save on stderr
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
    child.stdin.end(stdin);
  });
}

function stats(values: number[]): string {
  const s = [...values].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms (${s.length} rounds)`;
}

async function perCallCosts(dir: string): Promise<void> {
  const { FileChangeFeed } = await import('../src/storage/sqlite/file-change-feed.js');
  const { openSqliteUserStore: openSyncUserStore } = await import('../src/storage/sqlite/index.js');
  const { logHub } = await import('../src/log/logger.js');
  logHub.setDefaultOutput(false);
  const home = path.join(dir, 'costs');
  const store = openSyncUserStore({ username: 'costs', home, dbPath: path.join(home, 'mail.db'), separator: '/' });
  const feed = new FileChangeFeed(path.join(home, 'x-changes'), 30_000);
  const N = 20_000;
  let t = performance.now();
  for (let i = 0; i < N; i++) feed.announce();
  const announce = ((performance.now() - t) / N) * 1000;
  t = performance.now();
  for (let i = 0; i < N; i++) store.refreshChanges();
  const check = ((performance.now() - t) / N) * 1000;
  console.log(`writer's touch of the change file: ${announce.toFixed(1)} µs per commit; data_version check: ${check.toFixed(1)} µs per command`);
  feed.close();
  store.close();
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-bench-feed-'));
  await perCallCosts(dataDir);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--server', dataDir], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const pid = child.pid!;
  try {
    console.log(`server pid ${pid}; ${MEASURE_SECONDS} s per figure`);
    await measureIdle('no session', pid);
    let clients = await idleSessions(port, (i) => `u${i}`);
    await measureIdle(`${SESSIONS} sessions in IDLE, ${SESSIONS} users`, pid);

    // Latency: another process appends; the time it takes just before append() (which commits and
    // fsyncs) is compared with the arrival of EXISTS at the IDLE-ing session of that user.
    const home = path.join(dataDir, 'home', 'u0');
    const writer = path.join(dataDir, 'writer.mjs');
    writeFileSync(
      writer,
      `import { openSqliteUserStore as openSyncUserStore } from ${JSON.stringify(STORAGE)};\n` +
        `const store = openSyncUserStore({ username: 'u0', home: ${JSON.stringify(home)}, dbPath: ${JSON.stringify(path.join(home, 'mail.db'))}, separator: '/' });\n` +
        `const started = performance.timeOrigin + performance.now();\n` +
        `store.append('INBOX', { content: Buffer.from('Subject: feed\\r\\n\\r\\nx\\r\\n') });\n` +
        `process.stdout.write(String(started));\nstore.close();\n`,
    );
    const latencies: number[] = [];
    for (let i = 1; i <= LATENCY_ROUNDS; i++) {
      const exists = clients[0]!.waitFor((l) => l === `* ${i} EXISTS`);
      const committed = Number(await run(process.execPath, [writer], ''));
      latencies.push((await exists) - committed);
    }
    console.log(`${'append in another process → EXISTS in IDLE'.padEnd(52)} ${stats(latencies)}`);

    const conf = path.join(dataDir, 'roost.conf');
    writeFileSync(conf, `data_dir = ${dataDir}\nmail_home = ${dataDir}/home/%n\npassdb {\n  driver = roost\n}\nuserdb {\n  driver = roost\n}\n`);
    const endToEnd: number[] = [];
    for (let i = LATENCY_ROUNDS + 1; i <= LATENCY_ROUNDS + 5; i++) {
      const exists = clients[0]!.waitFor((l) => l === `* ${i} EXISTS`);
      const started = performance.timeOrigin + performance.now();
      await run(process.execPath, [ROOST_MAIN, '-c', conf, 'deliver', '-u', 'u0'], 'Subject: deliver\r\n\r\nx\r\n');
      endToEnd.push((await exists) - started);
    }
    console.log(`${'`roost deliver` started → EXISTS in IDLE'.padEnd(52)} ${stats(endToEnd)}`);

    for (const c of clients) c.close();
    await new Promise((r) => setTimeout(r, 1000));
    clients = await idleSessions(port, () => 'u1');
    await measureIdle(`${SESSIONS} sessions in IDLE, one user`, pid);
    for (const c of clients) c.close();
    await measureIdle('no session (again, after all logged out)', pid);
  } finally {
    child.send({ type: 'stop' });
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--server') await serverMain(process.argv[3]!);
else await main();
