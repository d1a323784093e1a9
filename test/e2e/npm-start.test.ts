// `npm start` smoke test: the compiled CLI (`node dist/src/cli/main.js -c <conf> serve`) with the
// shipped config/roost.conf (data_dir, ports and a mail_lua_script filled in) starts, a user added
// with `roost user add` logs in with imapflow, an LMTP delivery arrives, and
// SIGTERM stops the server with exit code 0.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { buildCli, freePorts, MAIN, ROOT } from '../cli/built-roost.js';

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
let npmGroup = 0;
let out = '';
let err = '';

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-e2e-cli-'));
}, 180_000);

afterAll(() => {
  // Only if a test failed before SIGTERM: never leave the child behind.
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  if (npmGroup) {
    try {
      process.kill(-npmGroup, 'SIGKILL');
    } catch {
      // the group is gone: npm and the server exited
    }
  }
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

  // Bounded by the test's timeout, not by a wall-clock figure (a busy machine is slow, not broken).
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(out).toContain('roost: shutting down');
}, 180_000);

test('npm start -- -c FILE: the global option after the verb reaches serve; SIGTERM through npm stops it', async () => {
  const [imapPort, lmtpPort] = await freePorts(2);
  const startConf = join(dir, 'npm-start.conf');
  writeFileSync(startConf, shippedConfig(imapPort!, lmtpPort!).replace(/^(\s*)mail_lua_script = .*$/m, ''));
  // npm runs `build-if-stale && exec node dist/src/cli/main.js serve -c FILE` in the package folder.
  // Its own process group, so that a failed test can stop npm's children too.
  server = spawn('npm', ['start', '--', '-c', startConf], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  npmGroup = server.pid!;
  out = '';
  err = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
  await waitForOutput(`IMAP listening on 127.0.0.1:${imapPort}`, 60000);
  // The configuration given after `--` is the one serve runs with.
  await waitForOutput(`data under ${dir}/data`, 60000);
  expect(err).not.toContain('Unknown option');
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(out).toContain('roost: shutting down');
}, 180_000);

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
    server = child; // killed by afterAll if it never exits
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(75);
    expect(stderr).toContain(`roost: Error: listen EADDRINUSE: address already in use 127.0.0.1:${lmtpPort}`);
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
}, 60_000);
