// IMAP extension benchmark over real sockets (server in a child process, raw clients here).
// Prints, on a 10,000-message mailbox:
//   - SORT by ARRIVAL, DATE, SUBJECT and FROM, and THREAD REFERENCES (first and repeated run);
//   - the first SELECT with QRESYNC after 100 expunges by another session;
//   - FETCH BODY.PEEK[] of 1,000 messages (~10 KB each) with and without COMPRESS=DEFLATE;
//   - CONTEXT=SEARCH: the NOOP that reports one new and one flagged message to live UPDATE searches;
// and for each, the NOOP latency (median, max) on a second connection while it runs and the longest
// stall of the server's event loop (perf_hooks.monitorEventLoopDelay in the server process, which
// does not count time the client side waits for a CPU on a busy machine).
// Asserts nothing. Run: npm run build && node dist/bench/imap-extensions.js
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import zlib from 'node:zlib';
import type { AppendInput } from '../src/storage/types.js';

const MESSAGES = 10_000;
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
  process.on('message', (m: { type: string }) => {
    if (m.type === 'loop-reset') loop.reset();
    if (m.type === 'loop') process.send!({ type: 'loop', maxMs: loop.max / 1e6 });
    if (m.type === 'stop') void server.close().then(() => ctx.close()).then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready', port: server.port('imap') });
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

function askLoop(): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { type: string; maxMs?: number }) => {
      if (m.type !== 'loop') return;
      child.off('message', on);
      resolve(m.maxMs!);
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
  const loopMax = await askLoop();
  return {
    ms,
    result,
    noop: `NOOP on another connection: ${noops.length} done, median ${median(noops).toFixed(1)} ms, max ${Math.max(0, ...noops).toFixed(1)} ms; server event loop stalled ≤ ${loopMax.toFixed(1)} ms`,
  };
}

async function clientMain(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-bench-imapext-'));
  child = fork(fileURLToPath(import.meta.url), ['--server', dataDir], { stdio: 'inherit' });
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
