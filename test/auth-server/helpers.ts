// Roost with the auth client service on a unix socket in a temp folder, configured like the
// Dovecot that made test/fixtures/postfix/auth-protocol.json (same passwd files, master passdb and
// Lua passdb), and a raw line client for the socket.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAuthServer, type AuthServer } from '../../src/auth-server/server.js';
import { AuthService, type AuthServiceOptions } from '../../src/auth/index.js';
import { accountStoreFor, authSettingsFrom, createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { parseConfigText } from '../../src/config/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/postfix', import.meta.url));

export interface AuthRecording {
  dovecot: string;
  passwd: string;
  masters: string;
  auth_lua: string;
  denied: string;
  scenarios: AuthScenario[];
  /** Recorded against the second instance: a deny passdb, and a master passdb with pass = yes. */
  scenarios_deny_and_master_pass: AuthScenario[];
}

export interface AuthScenario {
  name: string;
  steps: ({ server: string[]; client?: string } | { closed: boolean })[];
}

export function authRecording(): AuthRecording {
  return JSON.parse(readFileSync(join(FIXTURES, 'auth-protocol.json'), 'utf8')) as AuthRecording;
}

export interface AuthRoost {
  dir: string;
  socketPath: string;
  ctx: CreatedContext;
  /** The auth service the socket uses (ctx.auth unless `auth` options were given). */
  auth: AuthService;
  server: AuthServer;
  lines: string[];
  stop(): Promise<void>;
}

/**
 * The recording's configuration in Roost's (= Dovecot's) syntax; `extra` is appended. The
 * `deny-and-master-pass` variant is the recorder's second instance.
 */
export async function startAuthRoost(
  extra = '',
  authOptions?: Pick<AuthServiceOptions, 'sleep' | 'penalty'>,
  variant: 'main' | 'deny-and-master-pass' = 'main',
): Promise<AuthRoost> {
  logHub.setDefaultOutput(false);
  const rec = authRecording();
  const dir = mkdtempSync(join(tmpdir(), 'roost-auth-server-'));
  writeFileSync(join(dir, 'passwd'), rec.passwd);
  writeFileSync(join(dir, 'masters'), rec.masters);
  writeFileSync(join(dir, 'auth.lua'), rec.auth_lua);
  writeFileSync(join(dir, 'denied'), rec.denied);
  const socketPath = join(dir, 'auth-client');
  const passdbs =
    variant === 'main'
      ? `passdb {
  driver = passwd-file
  args = ${dir}/masters
  master = yes
}
passdb {
  driver = lua
  args = file=${dir}/auth.lua blocking=yes
}`
      : `auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = ${dir}/denied
  deny = yes
}
passdb {
  driver = passwd-file
  args = ${dir}/masters
  master = yes
  pass = yes
}`;
  const text = `
data_dir = ${dir}/data
base_dir = ${dir}/run
listen = 127.0.0.1
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 oauthbearer xoauth2
auth_master_user_separator = *
auth_failure_delay = 0
lua_workers = 1
${passdbs}
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
  default_fields = home=${dir}/home/%u
}
service auth {
  unix_listener ${socketPath} {
    mode = 0660
  }
}
${extra}
`;
  const { settings } = parseConfigText(text, join(dir, 'roost.conf'));
  const cap = captureLogs();
  const ctx = createServerContext(settings);
  // Injected sleep/penalty: the same chain with a clock the test controls.
  const auth = authOptions
    ? new AuthService(authSettingsFrom(settings), { accounts: accountStoreFor(ctx.serverDb), lua: ctx.luaPool(), ...authOptions })
    : ctx.auth;
  let server: AuthServer;
  try {
    await auth.init();
    server = await startAuthServer({ ...ctx, auth });
  } catch (err) {
    if (auth !== ctx.auth) await auth.close();
    await ctx.close();
    cap.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    socketPath,
    ctx,
    auth,
    server,
    lines: cap.lines,
    async stop() {
      await server.close();
      if (auth !== ctx.auth) await auth.close();
      await ctx.close();
      cap.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw line client: `lines(n)` waits for the next n LF-terminated lines. */
export class LineClient {
  private buffer = '';
  private readonly received: string[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.received.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(opts: { path: string } | { port: number; host?: string }): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = 'path' in opts ? net.createConnection(opts.path) : net.createConnection(opts.port, opts.host ?? '127.0.0.1');
      s.once('connect', () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const timer = setTimeout(() => this.wake(), timeoutMs);
    const deadline = Date.now() + timeoutMs;
    try {
      while (!cond()) {
        if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received)}`);
        await new Promise<void>((r) => this.waiters.push(r));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  send(text: string): void {
    this.socket.write(text);
  }

  async lines(n: number): Promise<string[]> {
    await this.until(() => this.received.length >= n || this.closed, `${n} lines`);
    if (this.received.length < n) throw new Error(`connection closed after ${JSON.stringify(this.received)}`);
    return this.received.splice(0, n);
  }

  async waitClosed(): Promise<void> {
    await this.until(() => this.closed, 'the server to close the connection');
  }

  close(): void {
    this.socket.destroy();
  }
}
