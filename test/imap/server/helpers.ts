// Test harness: a Roost IMAP server on loopback port 0 with a temp data_dir and two users, plus a
// raw-line client for exact protocol assertions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { AuthService, hashPassword } from '../../../src/auth/index.js';
import { accountStoreFor, authSettingsFrom, createServerContext, type CreatedContext, type ServerContextOptions } from '../../../src/cli/context.js';
import { defaultSettings, type Settings } from '../../../src/config/index.js';
import { logHub } from '../../../src/log/logger.js';
import { startImapServer, type ImapServer, type ImapServerOptions } from '../../../src/imap/server.js';
import { dropMailLocation, freshMailLocation } from '../../backend.js';

export interface TestServer {
  server: ImapServer;
  ctx: CreatedContext;
  dataDir: string;
  port: number;
  tlsPort: number;
  stop(): Promise<void>;
}

export async function startTestServer(
  tweak: (s: Settings) => void = () => undefined,
  opts: Omit<ImapServerOptions, 'listeners'> = {},
  contextOptions: ServerContextOptions = {},
): Promise<TestServer> {
  logHub.setDefaultOutput(false);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-imap-'));
  const settings = defaultSettings();
  settings.data_dir = dataDir;
  settings.mail_home = `${dataDir}/home/%d/%n`;
  settings.base_dir = `${dataDir}/run`;
  settings.state_dir = `${dataDir}/state`;
  settings.auth_failure_delay = 0;
  settings.imap_metadata = true;
  settings.login_greeting = 'Roost ready.';
  // This project's backend (test/backend.ts): SQLite under mail_home, or a fresh PostgreSQL database.
  const mailLocation = await freshMailLocation();
  if (mailLocation) settings.mail_location = mailLocation;
  tweak(settings);
  const base = createServerContext(settings, contextOptions);
  // The brute-force penalty would slow every test after a deliberate wrong password.
  const auth = new AuthService(authSettingsFrom(settings), { accounts: accountStoreFor(base.serverDb), sleep: async () => undefined });
  const ctx: CreatedContext = { ...base, auth };
  for (const username of ['alice', 'bob']) await ctx.serverDb.addUser({ username, password: await hashPassword('pw', 'PLAIN') });
  const server = await startImapServer(ctx, {
    ...opts,
    listeners: [
      { name: 'imap', address: '127.0.0.1', port: 0, ssl: false },
      { name: 'imaps', address: '127.0.0.1', port: 0, ssl: true },
    ],
  });
  return {
    server,
    ctx,
    dataDir,
    port: server.port('imap'),
    tlsPort: server.port('imaps'),
    async stop() {
      await server.close();
      await ctx.close();
      await dropMailLocation(mailLocation);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw IMAP client: send lines, collect responses up to the tagged reply. */
export class RawClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;
  readonly lines: string[] = [];
  private consumed = 0;

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number, useTls = false): Promise<RawClient> {
    const socket = useTls
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(useTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new RawClient(socket);
    await c.readLine(); // greeting
    return c;
  }

  get greeting(): string {
    return this.lines[0] ?? '';
  }

  /**
   * The next line not yet read, with Dovecot's command timing (`completed (0.001 + 0.000 secs).`)
   * cut back to `completed.` so tests compare texts; `rawLines` keeps the original.
   */
  async readLine(timeoutMs = 5000): Promise<string> {
    return (await this.readRawLine(timeoutMs)).replace(TIMING, '.');
  }

  async readRawLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.consumed >= this.lines.length) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error(`timeout waiting for a line; got ${JSON.stringify(this.lines.slice(-5))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.lines[this.consumed++]!;
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Sends `tag command` and returns every line up to and including the tagged reply. */
  async command(tag: string, command: string): Promise<string[]> {
    this.send(`${tag} ${command}\r\n`);
    return this.until((l) => l.startsWith(`${tag} `));
  }

  async until(pred: (line: string) => boolean): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine();
      out.push(line);
      if (pred(line)) return out;
    }
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** RFC 3501 STARTTLS from the client side. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}

export const LOGIN = 'LOGIN alice pw';
export const TIMING = / \(\d+\.\d{3}(?: \+ \d+\.\d{3})+ secs\)\.$/;
