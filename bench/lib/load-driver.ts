// The load driver the server benches share (bench/lua-heavy.ts, bench/scale-out.ts): raw-socket
// LMTP and IMAP clients, the message they deliver, and the measuring helpers. Nothing here knows
// which server it drives: the same driver runs against Roost and Dovecot.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';

/** A line-oriented client connection; `exchange` sends and waits for `until` to accept a line. */
export class LineConn {
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let nl: number;
      while ((nl = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 2);
      }
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }
  static async open(port: number): Promise<LineConn> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new LineConn(socket);
  }
  /** Writes `data`, then collects lines until `done(line)` is true for `count` lines. */
  async exchange(data: string | Buffer, done: (line: string) => boolean, count = 1): Promise<string[]> {
    if (data.length) this.socket.write(data);
    const got: string[] = [];
    let seen = 0;
    for (;;) {
      while (this.lines.length) {
        const line = this.lines.shift()!;
        got.push(line);
        if (done(line) && ++seen === count) return got;
      }
      if (this.closed) throw new Error(`connection closed; last lines: ${got.slice(-3).join(' | ')}`);
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

/** A raw IMAP client: one command at a time, a tagged OK or an exception. */
export class Imap {
  private tag = 0;
  private constructor(readonly conn: LineConn) {}
  static async open(port: number): Promise<Imap> {
    const conn = await LineConn.open(port);
    await conn.exchange('', (l) => l.startsWith('* OK'));
    return new Imap(conn);
  }
  static async login(port: number, user: string, password = 'secret'): Promise<Imap> {
    const c = await Imap.open(port);
    await c.cmd(`LOGIN ${user} ${password}`);
    return c;
  }
  async cmd(command: string | Buffer): Promise<string[]> {
    const t = `a${++this.tag}`;
    const data = typeof command === 'string' ? `${t} ${command}\r\n` : Buffer.concat([Buffer.from(`${t} `), command]);
    const lines = await this.conn.exchange(data, (l) => l.startsWith(`${t} `));
    const last = lines[lines.length - 1]!;
    if (!last.startsWith(`${t} OK`)) throw new Error(`${String(command).slice(0, 60)}: ${last}`);
    return lines;
  }
  async logout(): Promise<void> {
    await this.cmd('LOGOUT').catch(() => undefined);
    this.conn.close();
  }
}

/** Message `i` of about `size` bytes; `words` go into the body (SEARCH TEXT finds them). */
export function benchMessage(i: number, size: number, words = ''): string {
  const head =
    `From: "Bench Sender" <bench@remote.test>\r\nTo: user@example.org\r\nSubject: bench message ${i}\r\n` +
    `Date: Sun, 6 Dec 2026 06:00:00 +0000\r\nMessage-ID: <${i}.${size}@bench.test>\r\n\r\n` +
    (words ? `${words}\r\n` : '');
  const line = 'x'.repeat(70) + '\r\n';
  return head + line.repeat(Math.max(1, Math.ceil((size - head.length) / line.length)));
}

const lmtpReply = (l: string) => /^\d{3} /.test(l);

/** An LMTP connection past its greeting and LHLO. */
export async function lmtpConnect(port: number): Promise<LineConn> {
  const c = await LineConn.open(port);
  await c.exchange('', lmtpReply);
  await c.exchange('LHLO bench.test\r\n', lmtpReply);
  return c;
}

/** One LMTP transaction to one recipient; throws unless the server answered 250. */
export async function lmtpDeliver(c: LineConn, rcpt: string, msg: string): Promise<void> {
  const env = await c.exchange(`MAIL FROM:<bench@remote.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`, lmtpReply, 3);
  if (!env[env.length - 1]!.startsWith('354')) throw new Error(`LMTP: ${env.join(' | ')}`);
  const r = await c.exchange(msg + '.\r\n', lmtpReply);
  if (!r[r.length - 1]!.startsWith('250 ')) throw new Error(`LMTP: ${r.join(' | ')}`);
}

export async function lmtpQuit(c: LineConn): Promise<void> {
  await c.exchange('QUIT\r\n', lmtpReply).catch(() => undefined);
  c.close();
}

/**
 * LMTP deliveries/s for `seconds`: `connections` connections, connection i on ports[i % n], each
 * delivering `msg` to `rcpt(k)` for the k-th delivery overall, back to back.
 */
export async function lmtpRate(opts: { ports: number[]; connections: number; seconds: number; msg: string; rcpt: (k: number) => string }): Promise<number> {
  let delivered = 0;
  let next = 0;
  const deadline = performance.now() + opts.seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: opts.connections }, async (_, i) => {
      const c = await lmtpConnect(opts.ports[i % opts.ports.length]!);
      while (performance.now() < deadline) {
        await lmtpDeliver(c, opts.rcpt(next++), opts.msg);
        delivered++;
      }
      await lmtpQuit(c);
    }),
  );
  return delivered / ((performance.now() - start) / 1000);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** Median ms of `command` on a session with `mailbox` selected, after `warmUp` unmeasured rounds. */
export async function commandMedian(port: number, user: string, command: string, rounds: number, warmUp = 3, mailbox = 'INBOX'): Promise<number> {
  const c = await Imap.login(port, user);
  await c.cmd(`SELECT ${mailbox}`);
  const times: number[] = [];
  for (let i = 0; i < rounds + warmUp; i++) {
    const ms = await timed(() => c.cmd(command));
    if (i >= warmUp) times.push(ms);
  }
  await c.logout();
  return median(times);
}

/** Fills `user`'s INBOX up to `count` messages with MULTIAPPEND (RFC 3502) batches; `make(i)` is message i. */
export async function fillInbox(port: number, user: string, count: number, make: (i: number) => string, flags = '(\\Seen)'): Promise<void> {
  const c = await Imap.login(port, user);
  const sel = await c.cmd('SELECT INBOX');
  const exists = Number(sel.find((l) => / EXISTS$/.test(l))?.split(' ')[1] ?? 0);
  const BATCH = 500;
  for (let have = exists; have < count; have += BATCH) {
    const n = Math.min(BATCH, count - have);
    const parts: string[] = ['APPEND INBOX'];
    for (let i = 0; i < n; i++) {
      const m = make(have + i);
      parts.push(` ${flags} {${Buffer.byteLength(m)}+}\r\n${m}`);
    }
    await c.cmd(parts.join('') + '\r\n');
  }
  await c.logout();
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Waits until something accepts connections on `port` (or `child` exits: an error). */
export async function waitForPort(port: number, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child && child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}
