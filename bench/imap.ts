// IMAP server benchmark over real sockets. The server runs in a child process (so its resident
// memory is measured alone); raw-socket clients run here. Prints:
//   - LOGIN + SELECT + LOGOUT per second with 4 concurrent clients;
//   - `FETCH 1:* (UID FLAGS RFC822.SIZE)` and `SEARCH TEXT "word"` on a 10,000-message mailbox;
//   - NOOP latency on a second connection while the big FETCH runs;
//   - resident memory per idle connection (1,000 connections in IDLE).
// Asserts nothing. Run: npm run build && node dist/bench/imap.js
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { AppendInput } from '../src/storage/types.js';

const MESSAGES = 10_000;
const IDLE_CONNECTIONS = 1_000;
const LOGIN_SECONDS = 3;

type ServerMessage = { type: 'ready'; port: number } | { type: 'rss'; rss: number; heap: number };

// ---------------------------------------------------------------- server side (child process)

async function serverMain(dataDir: string): Promise<void> {
  const { defaultSettings } = await import('../src/config/index.js');
  const { createServerContext } = await import('../src/cli/context.js');
  const { hashPassword } = await import('../src/auth/index.js');
  const { logHub } = await import('../src/log/logger.js');
  const { startImapServer } = await import('../src/imap/server.js');
  const { parseMessage } = await import('../src/mime/parser.js');
  logHub.setDefaultOutput(false);
  const settings = defaultSettings();
  settings.data_dir = dataDir;
  settings.mail_home = `${dataDir}/home/%d/%n`;
  settings.auth_failure_delay = 0;
  settings.mail_max_userip_connections = 0;
  settings.ssl = 'no';
  const svc = settings.service['imap-login'];
  if (svc) svc.client_limit = IDLE_CONNECTIONS + 100;
  const ctx = createServerContext(settings);
  for (const username of ['big', 'small']) ctx.serverDb.addUser({ username, password: await hashPassword('pw', 'PLAIN') });
  // The same session with the password stored in Roost's default scheme (SHA512-CRYPT).
  ctx.serverDb.addUser({ username: 'crypt', password: await hashPassword('pw') });

  // Fill the big mailbox through the store (APPEND over IMAP would measure the client here).
  const user = await ctx.mailUsers.createUser({ username: 'big', service: 'bench' });
  const store = user.getStore();
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  {
    const batch: AppendInput[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const body = Array.from({ length: 30 }, (_, l) => `${words[(i + l) % 10]} line ${l} of message ${i}`).join('\r\n');
      const special = i % 1000 === 7 ? '\r\nthe needleword appears here' : '';
      const content = Buffer.from(`From: s${i}@example.org\r\nTo: big@example.org\r\nSubject: Bench ${i}\r\nDate: Mon, 3 Mar 2025 10:15:00 +0100\r\n\r\n${body}${special}\r\n`);
      batch.push({ content, mimeStructure: parseMessage(content), flags: i % 3 ? ['\\Seen'] : [] });
    }
    store.appendMany('INBOX', batch);
  }
  await ctx.mailUsers.destroyUser(user);

  const server = await startImapServer(ctx, { listeners: [{ name: 'imap', address: '127.0.0.1', port: 0, ssl: false }] });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'rss') {
      global.gc?.();
      const u = process.memoryUsage();
      process.send!({ type: 'rss', rss: u.rss, heap: u.heapUsed } satisfies ServerMessage);
    }
    if (m.type === 'stop') void server.close().then(() => ctx.close()).then(() => process.exit(0));
  });
  // The parent died (a crash, Ctrl-C): do not linger.
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready', port: server.port('imap') } satisfies ServerMessage);
}

// ---------------------------------------------------------------- client side

class Client {
  private buf = '';
  private waiting: { tag: string; resolve: (lines: number) => void; lines: number } | null = null;
  private greeted: Promise<void>;
  private socket: net.Socket;
  private tagCounter = 0;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setEncoding('latin1');
    let greeted = false;
    let onGreeted: () => void = () => undefined;
    this.greeted = new Promise((resolve) => (onGreeted = resolve));
    this.socket.on('data', (d: string) => {
      this.buf += d;
      if (!greeted) {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) return;
        greeted = true;
        this.buf = this.buf.slice(i + 2);
        onGreeted();
      }
      this.onData();
    });
    this.socket.on('error', () => undefined);
  }

  ready(): Promise<void> {
    return this.greeted;
  }

  private onData(): void {
    const w = this.waiting;
    if (!w) return;
    // Count lines and look for the tagged reply at a line start; keep only the unfinished tail.
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
      w.lines++;
      start = i + 2;
    }
    this.buf = this.buf.slice(start);
  }

  /** Sends a command; resolves with the number of untagged lines once the tagged reply came. */
  command(text: string): Promise<number> {
    const tag = `t${++this.tagCounter}`;
    return new Promise((resolve) => {
      this.waiting = { tag, resolve, lines: 0 };
      this.socket.write(`${tag} ${text}\r\n`);
    });
  }

  /** IDLE: resolves once `+ idling` arrived. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.buf.includes('+ idling')) {
          this.socket.off('data', check);
          resolve();
        }
      };
      this.socket.on('data', check);
      this.socket.write('i IDLE\r\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function clientMain(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-bench-imap-'));
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--server', dataDir], { execArgv: ['--expose-gc'], stdio: 'inherit' });
  const inbox: ServerMessage[] = [];
  let notify: (() => void) | null = null;
  child.on('message', (m: ServerMessage) => {
    inbox.push(m);
    notify?.();
  });
  const next = async <T extends ServerMessage['type']>(type: T): Promise<Extract<ServerMessage, { type: T }>> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return inbox.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>;
      await new Promise<void>((r) => (notify = r));
    }
  };
  const setupStart = performance.now();
  const { port } = await next('ready');
  console.log(`setup: server with ${MESSAGES} messages ready in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);

  // 1. Resident memory per idle connection (first, before big commands leave garbage behind).
  let t = performance.now();
  child.send({ type: 'rss' });
  const before = await next('rss');
  const idlers: Client[] = [];
  t = performance.now();
  for (let i = 0; i < IDLE_CONNECTIONS; i += 50) {
    const batch = Array.from({ length: Math.min(50, IDLE_CONNECTIONS - i) }, () => new Client(port));
    await Promise.all(
      batch.map(async (c) => {
        await c.ready();
        await c.command('LOGIN small pw');
        await c.command('SELECT INBOX');
        await c.idle();
      }),
    );
    idlers.push(...batch);
  }
  const setupMs = performance.now() - t;
  await new Promise((r) => setTimeout(r, 500));
  child.send({ type: 'rss' });
  const after = await next('rss');
  console.log(
    `${IDLE_CONNECTIONS} connections in IDLE (set up in ${(setupMs / 1000).toFixed(1)} s): server RSS ${(before.rss / 1048576).toFixed(1)} → ${(after.rss / 1048576).toFixed(1)} MB, ` +
      `${((after.rss - before.rss) / IDLE_CONNECTIONS / 1024).toFixed(1)} KB RSS and ${((after.heap - before.heap) / IDLE_CONNECTIONS / 1024).toFixed(1)} KB JS heap per connection`,
  );
  for (const c of idlers) c.close();

  // 2. LOGIN + SELECT + LOGOUT, 4 concurrent clients: with a PLAIN-stored password (the server's
  // own cost) and with the default SHA512-CRYPT (what a real account costs, mostly hashing).
  for (const [user, label] of [['small', '{PLAIN} password'], ['crypt', 'SHA512-CRYPT password']] as const) {
    let sessions = 0;
    const until = performance.now() + LOGIN_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < until) {
          const c = new Client(port);
          await c.ready();
          await c.command(`LOGIN ${user} pw`);
          await c.command('SELECT INBOX');
          await c.command('LOGOUT');
          c.close();
          sessions++;
        }
      }),
    );
    console.log(`LOGIN+SELECT+LOGOUT, ${label}: ${(sessions / LOGIN_SECONDS).toFixed(0)} sessions/s (4 concurrent clients, ${sessions} in ${LOGIN_SECONDS} s)`);
  }

  // 3. Big FETCH and SEARCH, with NOOP latency on a second connection during the FETCH.
  const a = new Client(port);
  const b = new Client(port);
  await Promise.all([a.ready(), b.ready()]);
  await a.command('LOGIN big pw');
  await b.command('LOGIN big pw');
  t = performance.now();
  await a.command('SELECT INBOX');
  console.log(`SELECT of ${MESSAGES} messages: ${(performance.now() - t).toFixed(1)} ms`);
  await b.command('SELECT INBOX');
  for (let round = 1; round <= 3; round++) {
    t = performance.now();
    const fetching = a.command('FETCH 1:* (UID FLAGS RFC822.SIZE)');
    let done = false;
    void fetching.then(() => (done = true));
    const noops: number[] = [];
    while (!done) {
      const s = performance.now();
      await b.command('NOOP');
      noops.push(performance.now() - s);
    }
    const lines = await fetching;
    console.log(
      `FETCH 1:* (UID FLAGS RFC822.SIZE) round ${round}: ${(performance.now() - t).toFixed(1)} ms, ${lines} responses; ` +
        `NOOP meanwhile: ${noops.length} done, median ${median(noops).toFixed(2)} ms, max ${Math.max(0, ...noops).toFixed(2)} ms`,
    );
  }
  for (let round = 1; round <= 3; round++) {
    t = performance.now();
    await a.command('SEARCH TEXT "needleword"');
    console.log(`SEARCH TEXT "needleword" round ${round}: ${(performance.now() - t).toFixed(1)} ms`);
  }
  a.close();
  b.close();

  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}

if (process.argv[2] === '--server') await serverMain(process.argv[3]!);
else await clientMain();
