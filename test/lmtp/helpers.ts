// Shared setup of the LMTP tests: a server context on a temp data_dir with a few users, the LMTP
// server on 127.0.0.1:0 and a unix socket, a raw line client, and store access for assertions.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { defaultSettings } from '../../src/config/index.js';
import { startLmtpServer, type LmtpServer, type LmtpServerOptions } from '../../src/lmtp/server.js';
import type { UserStore } from '../../src/storage/types.js';
import { logHub } from '../../src/log/logger.js';
import { dropMailLocation, freshMailLocation } from '../backend.js';

export type TestSettings = ReturnType<typeof defaultSettings>;

export interface LmtpEnv {
  dir: string;
  ctx: CreatedContext;
  server: LmtpServer;
  port: number;
  socketPath: string;
  /** Runs `fn` with the user's store open (a short mail-user session of its own). */
  withStore<T>(username: string, fn: (store: UserStore) => T | Promise<T>): Promise<T>;
  /** Every message of a mailbox as stored (bytes), in UID order. */
  messages(username: string, mailbox?: string): Promise<Buffer[]>;
  close(): Promise<void>;
}

export async function lmtpEnv(
  opts: {
    users?: { username: string; quotaRule?: string; fields?: Record<string, string> }[];
    configure?: (s: TestSettings) => void;
    server?: LmtpServerOptions;
  } = {},
): Promise<LmtpEnv> {
  logHub.setDefaultOutput(false);
  const dir = mkdtempSync(join(tmpdir(), 'roost-lmtp-'));
  const settings = defaultSettings();
  settings.data_dir = dir;
  settings.base_dir = join(dir, 'run');
  settings.mail_home = join(dir, 'home/%d/%n');
  settings.hostname = 'mx.test';
  const mailLocation = await freshMailLocation();
  if (mailLocation) settings.mail_location = mailLocation;
  opts.configure?.(settings);
  const ctx = createServerContext(settings);
  for (const u of opts.users ?? [{ username: 'alice@example.com' }, { username: 'bob@example.com' }]) {
    await ctx.serverDb.addUser({ username: u.username, quotaRule: u.quotaRule ?? null, fields: u.fields });
  }
  const socketPath = join(dir, 'run', 'lmtp');
  const server = await startLmtpServer(ctx, {
    inet: [{ host: '127.0.0.1', port: 0 }],
    unix: [socketPath],
    spoolDir: join(dir, 'spool'),
    ...opts.server,
  });
  const port = (server.addresses[0] as { port: number }).port;
  const withStore = async <T>(username: string, fn: (store: UserStore) => T | Promise<T>): Promise<T> => {
    const user = await ctx.mailUsers.createUser({ username, service: 'imap' });
    try {
      return await fn(user.getStore());
    } finally {
      await ctx.mailUsers.destroyUser(user);
    }
  };
  return {
    dir,
    ctx,
    server,
    port,
    socketPath,
    withStore,
    messages: (username, mailbox = 'INBOX') =>
      withStore(username, async (store) => {
        const box = await store.getMailbox(mailbox);
        if (!box) return [];
        const out: Buffer[] = [];
        for (const m of await store.listMessages(box.id)) {
          const body = await store.openBody(m.bodyId);
          out.push(await body.read(0, body.size));
        }
        return out;
      }),
    async close() {
      await server.close();
      await ctx.close();
      await dropMailLocation(mailLocation);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw LMTP client: send bytes, read complete replies (a multi-line reply counts once). */
export class RawClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(target: { port: number } | { path: string }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = 'port' in target ? net.connect(target.port, '127.0.0.1') : net.connect(target.path);
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next `count` complete replies, each as its final line (`250 2.0.0 ...`). */
  async replies(count: number, timeoutMs = 5000): Promise<string[]> {
    const out: string[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) {
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        if (line[3] !== '-') out.push(line);
        continue;
      }
      if (this.closed) throw new Error(`connection closed after ${JSON.stringify(out)}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for replies, got ${JSON.stringify(out)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return out;
  }

  /** Every line of the next reply (multi-line replies whole, e.g. LHLO). */
  async replyLines(): Promise<string[]> {
    const lines: string[] = [];
    while (true) {
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) {
        await this.replies(0);
        if (this.closed) throw new Error('connection closed');
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      lines.push(line);
      if (line[3] !== '-') return lines;
    }
  }

  /** Sends one command line and returns its reply. */
  async command(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return (await this.replies(1))[0]!;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Greeting + LHLO. */
export async function greet(c: RawClient): Promise<void> {
  await c.replies(1);
  await c.command('LHLO client.test');
}

/** Strips the headers Roost added (Return-Path, Delivered-To, Received) and returns them apart. */
export function splitAdded(stored: Buffer): { added: string; rest: Buffer } {
  const text = stored.toString('latin1');
  const m = /^Return-Path: <[^>]*>\r\n(?:Delivered-To: [^\r\n]*\r\n)?(?:Received: [^\r\n]*(?:\r\n\t[^\r\n]*)*\r\n)?/.exec(text);
  if (!m) throw new Error(`no added headers in ${JSON.stringify(text.slice(0, 200))}`);
  return { added: m[0], rest: stored.subarray(m[0].length) };
}
