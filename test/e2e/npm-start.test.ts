// `npm start` smoke test: the compiled CLI (`node dist/src/cli/main.js -c <conf> serve`) with the
// shipped config/roost.conf (data_dir, ports and a mail_lua_script filled in) starts, a user added
// with `roost user add` logs in with imapflow, an LMTP delivery arrives, and
// SIGTERM stops the server with exit code 0.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { ImapFlow } from 'imapflow';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'dist/src/cli/main.js');

/**
 * Compiles src/cli/main.ts and what it imports to dist/, like `npm run build` (the jest
 * globalSetup only builds the worker entries). Unchanged files are not rewritten and changed ones
 * are replaced atomically, so tests running at the same time never see a half-written worker file.
 */
function buildCli(): void {
  const read = ts.readConfigFile(join(ROOT, 'tsconfig.build.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  const program = ts.createProgram([join(ROOT, 'src/cli/main.ts')], { ...parsed.options, noEmitOnError: false });
  const result = program.emit(undefined, (file, text) => {
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  });
  if (result.emitSkipped) throw new Error('compiling src/cli/main.ts failed');
}

/** `n` distinct free loopback ports (all held open while choosing, so they differ). */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer());
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** config/roost.conf with data_dir, the listener ports and a mail_lua_script filled in. */
function shippedConfig(imapPort: number, lmtpPort: number): string {
  const shipped = readFileSync(join(ROOT, 'config/roost.conf'), 'utf8');
  const text = shipped
    .replace(/^data_dir = .*$/m, `data_dir = ${dir}/data`)
    .replace(/^(\s*)port = 1143$/m, `$1port = ${imapPort}`)
    .replace(/^(\s*)port = 1993$/m, '$1port = 0')
    .replace(/^(\s*)port = 2424$/m, `$1port = ${lmtpPort}`)
    .replace(/^(\s*)#mail_lua_script = .*$/m, `$1mail_lua_script = ${dir}/user.lua`)
    // Dovecot's way to serve domainless accounts: user@domain logs in / receives as "user".
    .replace(/^(auth_mechanisms = .*)$/m, '$1\nauth_username_format = %Ln');
  // The shipped file still has the lines this test relies on.
  expect(text).toContain(`port = ${imapPort}\n`);
  expect(text).toContain(`port = ${lmtpPort}\n`);
  expect(text).toContain(`mail_lua_script = ${dir}/user.lua`);
  expect(text).toContain('auth_username_format = %Ln');
  return text;
}

let dir: string;
let conf: string;
let server: ChildProcess | null = null;
let out = '';
let err = '';

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-e2e-cli-'));
}, 60000);

afterAll(() => {
  // Only if a test failed before SIGTERM: never leave the child behind.
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until `text` appears in the server's stdout (bounded). */
async function waitForOutput(text: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!out.includes(text)) {
    if (server?.exitCode !== null) throw new Error(`server exited (${server?.exitCode}): ${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('serve, user add, IMAP login, LMTP delivery, fetch, SIGTERM', async () => {
  const [imapPort, lmtpPort] = await freePorts(2);
  writeFileSync(join(dir, 'user.lua'), "function mail_user_created(user) dovecot.i_info('smoke script for ' .. user.username .. ' ' .. user.service) return 0 end\n");
  const text = shippedConfig(imapPort!, lmtpPort!);
  conf = join(dir, 'roost.conf');
  writeFileSync(conf, text);

  server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
  await waitForOutput(`IMAP listening on 127.0.0.1:${imapPort}`);
  await waitForOutput(`LMTP listening on 127.0.0.1:${lmtpPort}`);

  const add = await promisify(execFile)(process.execPath, [MAIN, '-c', conf, 'user', 'add', 'alice', '-p', 'secret'], { cwd: dir, timeout: 15000 });
  expect(add.stdout).toBe('Added user alice\n');

  const client = new ImapFlow({
    host: '127.0.0.1',
    port: imapPort,
    secure: false,
    tls: { rejectUnauthorized: false }, // the generated self-signed certificate (STARTTLS)
    auth: { user: 'alice', pass: 'secret' },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 5000,
  });
  client.on('error', () => undefined);
  await client.connect();
  // The account is "alice"; an MTA hands LMTP a full address. Dovecot would also take a bare
  // RCPT TO:<alice> (rcpt_domain_optional), which smtp-server refuses (see lmtp-localpart.test.ts).
  const lmtp = await RawLmtp.connect({ port: lmtpPort });
  await lmtp.replies(1);
  expect(await lmtp.command('LHLO smoke.test')).toMatch(/^250 /);
  expect(await lmtp.command('MAIL FROM:<bob@example.net>')).toMatch(/^250 /);
  expect(await lmtp.command('RCPT TO:<alice@example.com>')).toMatch(/^250 /);
  expect(await lmtp.command('DATA')).toMatch(/^354 /);
  lmtp.send('From: Bob <bob@example.net>\r\nTo: alice@example.com\r\nSubject: smoke test\r\n\r\nIt works.\r\n.\r\n');
  expect(await lmtp.replies(1)).toEqual([expect.stringMatching(/^250 2\.0\.0 <alice@example.com> \S+ Saved$/)]);
  expect(await lmtp.command('QUIT')).toMatch(/^221 /);
  lmtp.close();

  const lock = await client.getMailboxLock('INBOX');
  try {
    const msg = await client.fetchOne('*', { envelope: true, source: true });
    expect(msg && msg.envelope?.subject).toBe('smoke test');
    expect(msg && msg.source?.toString()).toMatch(/\r\n\r\nIt works\.\r\n$/);
  } finally {
    lock.release();
  }
  await client.logout();
  // The configured mail_lua_script ran in the server process for both sessions.
  expect(err).toMatch(/lmtp\(alice\)<\d+><[^>]+>: Info: smoke script for alice lmtp/);
  expect(err).toMatch(/imap\(alice\)<\d+><[^>]+>: Info: smoke script for alice imap/);

  const t0 = Date.now();
  server.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 5000)))]);
  clearTimeout(timer);
  expect(code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(out).toContain('roost: shutting down');
}, 60000);

test('a listener that cannot bind makes serve exit with an error instead of running half a server', async () => {
  const [imapPort, lmtpPort] = await freePorts(2);
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(lmtpPort, '127.0.0.1', resolve));
  try {
    const busyConf = join(dir, 'busy.conf');
    writeFileSync(busyConf, shippedConfig(imapPort!, lmtpPort!));
    const child = spawn(process.execPath, [MAIN, '-c', busyConf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
      new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), 8000))),
    ]);
    clearTimeout(timer);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(75);
    expect(stderr).toContain(`roost: Error: listen EADDRINUSE: address already in use 127.0.0.1:${lmtpPort}`);
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
}, 20000);
