// IMAP extension benchmark over real sockets (server in a child process, raw clients here).
// Prints, on a 10,000-message mailbox:
//   - SORT by ARRIVAL, DATE, SUBJECT and FROM, and THREAD REFERENCES (first and repeated run);
//   - the first SELECT with QRESYNC after 100 expunges by another session;
//   - FETCH BODY.PEEK[] of 1,000 messages (~10 KB each) with and without COMPRESS=DEFLATE;
//   - CONTEXT=SEARCH: the NOOP that reports one new and one flagged message to live UPDATE searches;
// and for each, the NOOP latency (median, max) on a second connection while it runs and the longest
// stall of the server's event loop (perf_hooks.monitorEventLoopDelay in the server process, which
// does not count time the client side waits for a CPU on a busy machine). A 1 ms timer in the
// server also finds its longest event-loop turn by wall time and the turn that used the most CPU
// time (process.cpuUsage, GC threads included): on a loaded machine the first is mostly waiting for
// a CPU, the second is what the server's own slicing bounds. With --attribute, a CPU profile
// (sampled every 0.5 ms) names the functions that ran in the turn with the most CPU.
// Asserts nothing. Run: npm run build && node dist/bench/imap-extensions.js [--attribute]
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import zlib from 'node:zlib';
import inspector from 'node:inspector/promises';
import type { AppendInput } from '../src/storage/types.js';

const MESSAGES = 10_000;
const ATTRIBUTE = process.argv.includes('--attribute');
const BODIES = 1_000;

// ---------------------------------------------------------------- server side (child process)

async function serverMain(dataDir: string): Promise<void> {
  const { startBenchServer } = await import('./server-child.js');
  const { hashPassword } = await import('../src/auth/index.js');
  const { parseMessage } = await import('../src/mime/parser.js');
  const { ctx, server } = await startBenchServer(dataDir, undefined, async (ctx) => {
    ctx.serverDb.addUser({ username: 'big', password: await hashPassword('pw', 'PLAIN') });
    const user = await ctx.mailUsers.createUser({ username: 'big', service: 'bench' });
    const store = user.getStore();
    const names = ['Alice Archer', 'bob', 'Carol Chen', 'dave', 'Eve Evans', 'frank', 'Grace Green', 'heidi'];
    const topics = ['Quarterly report', 'Lunch', 'Release plan', 'Holiday schedule', 'Build failure', 'Budget', 'Offsite', 'Hiring'];
    {
      const batch: AppendInput[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        // Threads of up to 8 messages: each reply refers to the previous message of its topic round.
        const thread = Math.floor(i / 8);
        const inThread = i % 8;
        const refs = inThread === 0 ? '' : `References: ${Array.from({ length: inThread }, (_, k) => `<m${thread * 8 + k}@bench>`).join(' ')}\r\n`;
        const subject = `${inThread === 0 ? '' : 'Re: '}${topics[thread % topics.length]} ${thread}`;
        const day = 1 + ((i * 7) % 28);
        const content = Buffer.from(
          `From: ${names[i % names.length]} <u${i % 97}@example.org>\r\nTo: big@example.org\r\nSubject: ${subject}\r\n` +
            `Date: ${day} Mar 2025 ${String(i % 24).padStart(2, '0')}:15:00 +0100\r\nMessage-ID: <m${i}@bench>\r\n${refs}\r\nBody of message ${i}.\r\n`,
        );
        batch.push({ content, mimeStructure: parseMessage(content), internalDate: new Date(Date.UTC(2025, 2, 1) + ((i * 7919) % MESSAGES) * 60000) });
      }
      store.appendMany('INBOX', batch);
    }
    store.createMailbox('Bodies');
    {
      const batch: AppendInput[] = [];
      for (let i = 0; i < BODIES; i++) {
        const text = Array.from({ length: 160 }, (_, l) => `Line ${l} of message ${i}: the quick brown fox jumps over the lazy dog.`).join('\r\n');
        const content = Buffer.from(`From: a@example.org\r\nSubject: body ${i}\r\n\r\n${text}\r\n`);
        batch.push({ content, mimeStructure: parseMessage(content) });
      }
      store.appendMany('Bodies', batch);
    }
    await ctx.mailUsers.destroyUser(user);
  });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  // Every operation: its longest event-loop turns; with --attribute a CPU profile names what ran.
  const profiler = ATTRIBUTE ? new inspector.Session() : null;
  profiler?.connect();
  watchGaps();
  await profiler?.post('Profiler.enable');
  await profiler?.post('Profiler.setSamplingInterval', { interval: 500 });
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'loop-reset') {
      loop.reset();
      resetTurns();
      await profiler?.post('Profiler.start');
    }
    if (m.type === 'loop') {
      const stretch = describeTurns(profiler ? ((await profiler.post('Profiler.stop')) as { profile: CpuProfile & { startTime: number } }).profile : null);
      process.send!({ type: 'loop', maxMs: loop.max / 1e6, stretch });
    }
    if (m.type === 'stop') void server.close().then(() => ctx.close()).then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready', port: server.port('imap') });
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Turns of the event loop, found by a 1 ms timer (hrtime, µs): the longest by wall time, and the
 * longest by the process's CPU time (what slicing can shorten; the rest is waiting for a CPU).
 */
const turns = { last: 0, lastCpu: 0, wall: { start: 0, end: 0, cpu: 0 }, cpu: { start: 0, end: 0, cpu: 0 } };
function watchGaps(): void {
  const now = Number(process.hrtime.bigint() / 1000n);
  const usage = process.cpuUsage();
  const cpu = usage.user + usage.system;
  if (turns.last > 0) {
    const turn = { start: turns.last, end: now, cpu: cpu - turns.lastCpu };
    if (turn.end - turn.start > turns.wall.end - turns.wall.start) turns.wall = turn;
    if (turn.cpu > turns.cpu.cpu) turns.cpu = turn;
  }
  turns.last = now;
  turns.lastCpu = cpu;
  setTimeout(watchGaps, 1).unref();
}

function resetTurns(): void {
  Object.assign(turns, { last: 0, lastCpu: 0, wall: { start: 0, end: 0, cpu: 0 }, cpu: { start: 0, end: 0, cpu: 0 } });
}

/** The functions the profile sampled most in a turn (sample times are monotonic µs, as hrtime). */
function attributeTurn(profile: CpuProfile & { startTime: number }, gap: { start: number; end: number }): string {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < gap.start || t > gap.end) continue;
    const f = frames.get(profile.samples[i]!)!;
    if (f.functionName === '(idle)') continue;
    const name = `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}`.replace(' :1', '');
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([n, us]) => `${n} ${(us / 1000).toFixed(1)}`);
  return top.join(', ');
}

function describeTurns(profile: (CpuProfile & { startTime: number }) | null): string {
  const ms = (us: number) => (us / 1000).toFixed(1);
  const { wall, cpu } = turns;
  return (
    `longest event-loop turn ${ms(wall.end - wall.start)} ms (${ms(wall.cpu)} ms CPU); ` +
    `most CPU in one turn ${ms(cpu.cpu)} ms (${ms(cpu.end - cpu.start)} ms wall)${profile ? `: ${attributeTurn(profile, cpu)}` : ''}`
  );
}

// ---------------------------------------------------------------- client side

/** A raw client that counts response bytes and lines; optionally through raw deflate. */
class Client {
  private buf = '';
  private waiting: { tag: string; resolve: (lines: string[]) => void; lines: string[]; keep: boolean } | null = null;
  private greeted: Promise<void>;
  private socket: net.Socket;
  private tagCounter = 0;
  private inflate: zlib.InflateRaw | null = null;
  private deflate: zlib.DeflateRaw | null = null;
  wireBytes = 0;
  /** Response bytes after inflating (the same as wireBytes without COMPRESS). */
  payloadBytes = 0;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    let onGreeted: () => void = () => undefined;
    this.greeted = new Promise((resolve) => (onGreeted = resolve));
    let greeted = false;
    this.socket.on('data', (d: Buffer) => {
      this.wireBytes += d.length;
      if (this.inflate) {
        this.inflate.write(d);
        return;
      }
      this.take(d);
      if (!greeted && this.buf.includes('\r\n')) {
        greeted = true;
        this.buf = this.buf.slice(this.buf.indexOf('\r\n') + 2);
        onGreeted();
      }
    });
    this.socket.on('error', () => undefined);
  }

  ready(): Promise<void> {
    return this.greeted;
  }

  private take(d: Buffer): void {
    this.payloadBytes += d.length;
    this.buf += d.toString('latin1');
    const w = this.waiting;
    if (!w) return;
    let start = 0;
    for (;;) {
      const i = this.buf.indexOf('\r\n', start);
      if (i < 0) break;
      if (this.buf.startsWith(w.tag + ' ', start)) {
        this.buf = this.buf.slice(i + 2);
        this.waiting = null;
        w.resolve(w.lines);
        return;
      }
      if (w.keep) w.lines.push(this.buf.slice(start, i));
      else w.lines.length++;
      start = i + 2;
    }
    this.buf = this.buf.slice(start);
  }

  /** Sends a command; resolves with its untagged lines (only counted unless `keep`). */
  command(text: string, keep = false): Promise<string[]> {
    const tag = `t${++this.tagCounter}`;
    return new Promise((resolve) => {
      this.waiting = { tag, resolve, lines: [], keep };
      const line = Buffer.from(`${tag} ${text}\r\n`);
      if (this.deflate) {
        this.deflate.write(line);
        this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
      } else this.socket.write(line);
    });
  }

  async compress(): Promise<void> {
    await this.command('COMPRESS DEFLATE');
    this.inflate = zlib.createInflateRaw();
    this.inflate.on('data', (d: Buffer) => this.take(d));
    this.deflate = zlib.createDeflateRaw();
    this.deflate.on('data', (d: Buffer) => this.socket.write(d));
  }

  close(): void {
    this.socket.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

let child: ChildProcess;

function askLoop(): Promise<{ maxMs: number; stretch: string }> {
  return new Promise((resolve) => {
    const on = (m: { type: string; maxMs?: number; stretch?: string }) => {
      if (m.type !== 'loop') return;
      child.off('message', on);
      resolve({ maxMs: m.maxMs!, stretch: m.stretch ?? '' });
    };
    child.on('message', on);
    child.send({ type: 'loop' });
  });
}

/** Runs `work` on one connection while `probe` sends NOOPs; returns its time and the NOOP latencies. */
async function withNoops<T>(probe: Client, work: () => Promise<T>): Promise<{ ms: number; result: T; noop: string }> {
  child.send({ type: 'loop-reset' });
  await probe.command('NOOP');
  const t = performance.now();
  let done = false;
  const running = work().finally(() => (done = true));
  const noops: number[] = [];
  while (!done) {
    const s = performance.now();
    await probe.command('NOOP');
    noops.push(performance.now() - s);
  }
  const result = await running;
  const ms = performance.now() - t;
  const loop = await askLoop();
  return {
    ms,
    result,
    noop: `NOOP on another connection: ${noops.length} done, median ${median(noops).toFixed(1)} ms, max ${Math.max(0, ...noops).toFixed(1)} ms; server event loop stalled ≤ ${loop.maxMs.toFixed(1)} ms${loop.stretch ? `\n    ${loop.stretch}` : ''}`,
  };
}

async function clientMain(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-bench-imapext-'));
  child = fork(fileURLToPath(import.meta.url), ['--server', dataDir, ...(ATTRIBUTE ? ['--attribute'] : [])], { stdio: 'inherit' });
  const setupStart = performance.now();
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  console.log(`setup: ${MESSAGES} + ${BODIES} messages ready in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);

  const connect = async () => {
    const c = new Client(port);
    await c.ready();
    await c.command('LOGIN big pw');
    return c;
  };
  const a = await connect();
  const probe = await connect();
  await probe.command('SELECT Bodies');

  // 1. SORT and THREAD on 10,000 messages.
  await a.command('SELECT INBOX');
  for (const cmd of ['SORT (ARRIVAL) UTF-8 ALL', 'SORT (DATE) UTF-8 ALL', 'SORT (SUBJECT) UTF-8 ALL', 'SORT (FROM) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL']) {
    for (const round of ['first', 'repeated']) {
      const r = await withNoops(probe, () => a.command(cmd));
      console.log(`${cmd} (${round}): ${r.ms.toFixed(0)} ms; ${r.noop}`);
    }
  }

  // 2. First SELECT with QRESYNC after another session expunged 100 messages.
  await a.command('ENABLE QRESYNC');
  const sel = (await a.command('SELECT INBOX', true)).join('\n');
  const uidValidity = /UIDVALIDITY (\d+)/.exec(sel)![1];
  const modseq = /HIGHESTMODSEQ (\d+)/.exec(sel)![1];
  await a.command('UNSELECT');
  const other = await connect();
  await other.command('SELECT INBOX');
  const spread = Array.from({ length: 100 }, (_, k) => 1 + k * 100).join(',');
  await other.command(`UID STORE ${spread} +FLAGS.SILENT (\\Deleted)`);
  await other.command('EXPUNGE');
  other.close();
  const q = await withNoops(probe, () => a.command(`SELECT INBOX (QRESYNC (${uidValidity} ${modseq}))`, true));
  const vanished = q.result.find((l) => l.startsWith('* VANISHED (EARLIER)')) ?? '';
  console.log(`SELECT INBOX (QRESYNC ...) after 100 expunges: ${q.ms.toFixed(1)} ms, VANISHED (EARLIER) of ${vanished.split(',').length} ranges; ${q.noop}`);
  a.close();

  // 3. FETCH BODY.PEEK[] of 1,000 messages, plain and compressed.
  for (const compressed of [false, true]) {
    for (let round = 1; round <= 2; round++) {
      const c = await connect();
      if (compressed) await c.compress();
      await c.command('SELECT Bodies');
      const before = c.wireBytes;
      const payloadBefore = c.payloadBytes;
      const r = await withNoops(probe, () => c.command('FETCH 1:* BODY.PEEK[]'));
      const wire = c.wireBytes - before;
      const payload = c.payloadBytes - payloadBefore;
      console.log(
        `FETCH 1:${BODIES} BODY.PEEK[] ${compressed ? 'with' : 'without'} COMPRESS, round ${round}: ${r.ms.toFixed(0)} ms, ` +
          `${(payload / 1048576).toFixed(1)} MB of responses (${(payload / 1048576 / (r.ms / 1000)).toFixed(1)} MB/s), ${(wire / 1048576).toFixed(2)} MB on the wire; ${r.noop}`,
      );
      c.close();
    }
  }
  // 4. CONTEXT=SEARCH: live `SEARCH RETURN (UPDATE)` searches over the 10,000 messages; another
  // session appends one message and flags another; the NOOP that reports the change is timed.
  const live = await connect();
  await live.command('SELECT INBOX');
  await live.command('SEARCH RETURN (COUNT UPDATE) BODY "message 77"');
  await live.command('SEARCH RETURN (COUNT UPDATE) UNFLAGGED SUBJECT Lunch');
  const changer = await connect();
  await changer.command('SELECT INBOX');
  for (let round = 1; round <= 5; round++) {
    const msg = `From: x@example.org\r\nSubject: Lunch ${round}\r\n\r\nBody of message 77${round}.\r\n`;
    await changer.command(`APPEND INBOX {${msg.length}+}\r\n${msg}`);
    await changer.command(`STORE ${round * 10} +FLAGS.SILENT (\\Flagged)`);
    const r = await withNoops(probe, () => live.command('NOOP', true));
    const updates = r.result.filter((l) => l.startsWith('* ESEARCH')).length;
    console.log(`NOOP with 2 live UPDATE searches (BODY, SUBJECT) after 1 APPEND + 1 STORE, round ${round}: ${r.ms.toFixed(1)} ms, ${updates} ESEARCH updates; ${r.noop}`);
  }
  live.close();
  changer.close();
  probe.close();
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}

if (process.argv[2] === '--server') await serverMain(process.argv[3]!);
else await clientMain();
