// End-to-end harness: the whole server built from a configuration text exactly as `roost serve`
// builds it (server context, auth init, mail plugins, IMAP and LMTP listeners), but on loopback
// port 0 with a temp data_dir. Clients talk to it over real sockets; the log is captured.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { hashPassword } from '../../src/auth/index.js';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { installPlugins, type Plugins } from '../../src/cli/plugins.js';
import { parseConfigText } from '../../src/config/index.js';
import { startImapServer, type ImapServer } from '../../src/imap/server.js';
import { startLmtpServer, type LmtpServer } from '../../src/lmtp/server.js';
import { captureLogs, logHub, type LogRecord } from '../../src/log/logger.js';
import { RawClient as RawImap } from '../imap/server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { dropMailLocation, freshMailLocation } from '../backend.js';

export { RawImap, RawLmtp };
export type RawImapClient = RawImap;

export interface E2eUser {
  username: string;
  password?: string;
  /** Extra userdb fields of the roost account (e.g. a per-user `mail_lua_script`). */
  fields?: Record<string, string>;
}

export interface Roost {
  dir: string;
  ctx: CreatedContext;
  imapPort: number;
  lmtpPort: number;
  /** Every log line since start, `<prefix>Level: message`. */
  lines: string[];
  records: LogRecord[];
  /** Writes a file under the temp folder (scripts) and returns its path. */
  file(name: string, text: string): string;
  addUser(u: E2eUser): Promise<void>;
  imapflow(username: string, password?: string): Promise<ImapFlow>;
  /** A raw IMAP connection (greeting read); `login` also logs in and checks the tagged OK. */
  raw(login?: { username: string; password?: string }): Promise<RawImap>;
  /** One LMTP transaction: the RCPT replies and the DATA replies (one per accepted recipient). */
  deliver(rcpts: string[], message?: string): Promise<{ rcpt: string[]; data: string[] }>;
  /** Waits (bounded) until a log line matches; returns it. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export const PASSWORD = 'pw';

/** A small message; `subject` makes each delivery recognisable. */
export function message(subject: string): string {
  return [
    'From: Sender <sender@example.net>',
    'To: someone@example.com',
    `Subject: ${subject}`,
    'Date: Tue, 04 Mar 2025 10:00:00 +0000',
    'Message-ID: <' + subject.replace(/\W+/g, '.') + '@example.net>',
    '',
    'Hello.',
    '',
  ].join('\r\n');
}

/**
 * Starts the server. `config` is appended to a base configuration (data_dir etc. filled in, the
 * roost passdb/userdb, METADATA on, 1 s / 16 MiB Lua limits); `{DIR}` in it is the temp folder.
 */
export async function startRoost(
  opts: {
    config?: string;
    /** passdb/userdb blocks to use instead of the roost ones; `{DIR}` as in `config`. */
    auth?: string;
    users?: E2eUser[];
    /** Files written to the temp folder before the configuration is read; `{DIR}` as in `config`. */
    files?: Record<string, string>;
    authSleep?: (ms: number) => Promise<void>;
  } = {},
): Promise<Roost> {
  logHub.setDefaultOutput(false);
  const dir = mkdtempSync(join(tmpdir(), 'roost-e2e-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  for (const [name, text] of Object.entries(opts.files ?? {})) file(name, text.replaceAll('{DIR}', dir));
  const mailLocation = await freshMailLocation();
  const text = [
    'protocols = imap lmtp',
    'listen = 127.0.0.1',
    `data_dir = ${dir}/data`,
    `base_dir = ${dir}/run`,
    `mail_home = ${dir}/home/%d/%n`,
    ...(mailLocation ? [`mail_location = ${mailLocation}`] : []),
    'imap_metadata = yes',
    'auth_failure_delay = 0',
    'lua_workers = 2',
    'lua_call_timeout = 1s',
    'lua_memory_limit = 16M',
    opts.auth?.replaceAll('{DIR}', dir) ?? ['passdb {', '  driver = roost', '}', 'userdb {', '  driver = roost', '}'].join('\n'),
    (opts.config ?? '').replaceAll('{DIR}', dir),
    '',
  ].join('\n');
  const { settings } = parseConfigText(text, join(dir, 'roost.conf'));
  const cap = captureLogs();
  // What runServe does, in order: context, auth init, plugins, IMAP, LMTP.
  const ctx = createServerContext(settings, { authSleep: opts.authSleep });
  let plugins: Plugins | null = null;
  let imap: ImapServer | null = null;
  let lmtp: LmtpServer | null = null;
  const stop = async () => {
    await imap?.close();
    await lmtp?.close();
    await ctx.mailUsers.shutdown();
    await plugins?.close();
    await ctx.close();
    await dropMailLocation(mailLocation);
    cap.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ctx.auth.init();
    plugins = await installPlugins(ctx);
    imap = await startImapServer(ctx, { listeners: [{ name: 'imap', address: '127.0.0.1', port: 0, ssl: false }] });
    lmtp = await startLmtpServer(ctx, { inet: [{ host: '127.0.0.1', port: 0 }], unix: [], spoolDir: join(dir, 'spool') });
  } catch (e) {
    await stop();
    throw e;
  }
  const imapPort = imap.port('imap');
  const lmtpPort = (lmtp.addresses[0] as { port: number }).port;

  const addUser = async (u: E2eUser) => {
    await ctx.serverDb.addUser({ username: u.username, password: await hashPassword(u.password ?? PASSWORD, 'PLAIN'), fields: u.fields });
  };
  for (const u of opts.users ?? []) await addUser(u);

  const waitForLine = async (re: RegExp, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = cap.lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`no log line matching ${re}; last lines:\n${cap.lines.slice(-15).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  return {
    dir,
    ctx,
    imapPort,
    lmtpPort,
    lines: cap.lines,
    records: cap.records,
    file,
    addUser,
    async imapflow(username, password = PASSWORD) {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: imapPort,
        secure: false,
        auth: { user: username, pass: password },
        logger: false,
        // Roost offers STARTTLS with a self-signed certificate when none is configured.
        tls: { rejectUnauthorized: false },
        disableAutoIdle: true,
        connectionTimeout: 5000,
        greetingTimeout: 5000,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    async raw(login) {
      const c = await RawImap.connect(imapPort);
      if (login) {
        const r = await c.command('L1', `LOGIN "${login.username}" "${login.password ?? PASSWORD}"`);
        if (!r.at(-1)!.startsWith('L1 OK')) throw new Error(`login failed: ${r.join(' | ')}`);
      }
      return c;
    },
    async deliver(rcpts, msg = message('e2e')) {
      const c = await RawLmtp.connect({ port: lmtpPort });
      try {
        await c.replies(1);
        await c.command('LHLO client.test');
        const mail = await c.command('MAIL FROM:<sender@example.net>');
        if (!mail.startsWith('250')) throw new Error(`MAIL FROM: ${mail}`);
        const rcpt: string[] = [];
        for (const r of rcpts) rcpt.push(await c.command(`RCPT TO:<${r}>`));
        const accepted = rcpt.filter((r) => r.startsWith('250')).length;
        if (accepted === 0) return { rcpt, data: [] };
        const go = await c.command('DATA');
        if (!go.startsWith('354')) throw new Error(`DATA: ${go}`);
        c.send(msg.replace(/\r\n\./g, '\r\n..') + '.\r\n');
        const data = await c.replies(accepted, 10000);
        c.send('QUIT\r\n');
        return { rcpt, data };
      } finally {
        c.close();
      }
    },
    waitForLine,
    stop,
  };
}

/** Waits (bounded) until `fn` returns a value other than undefined/false. */
export async function waitFor<T>(fn: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Escapes text for use inside a RegExp. */
export function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
