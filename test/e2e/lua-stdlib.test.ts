// The real `roost serve` (node dist/src/cli/main.js) running a mail_lua_script that uses the
// standard library as Dovecot scripts do: it requires a pure-Lua module from package.path, reads
// its environment, appends JSON lines (cjson) to a log file with io.open on each LMTP delivery,
// and is refused what lua_write_paths does not allow. The files are checked from here.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { buildCli, freePorts, MAIN, ROOT } from '../cli/built-roost.js';

const MODULES = join(ROOT, 'test/fixtures/lua-modules');

let dir: string;
let server: ChildProcess | null = null;
let out = '';
let err = '';

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-e2e-lua-stdlib-'));
}, 60000);

afterAll(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (server?.exitCode !== null) throw new Error(`server exited (${server?.exitCode}): ${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function deliver(port: number, rcpt: string, subject: string): Promise<void> {
  const lmtp = await RawLmtp.connect({ port });
  await lmtp.replies(1);
  expect(await lmtp.command('LHLO e2e.test')).toMatch(/^250 /);
  expect(await lmtp.command('MAIL FROM:<bob@example.net>')).toMatch(/^250 /);
  expect(await lmtp.command(`RCPT TO:<${rcpt}>`)).toMatch(/^250 /);
  expect(await lmtp.command('DATA')).toMatch(/^354 /);
  lmtp.send(`From: bob@example.net\r\nSubject: ${subject}\r\n\r\nhi\r\n.\r\n`);
  expect(await lmtp.replies(1)).toEqual([expect.stringMatching(/^250 2\.0\.0 /)]);
  lmtp.close();
}

test('a hook script appends to a log file with io.open, requires a module, reads its environment', async () => {
  const [lmtpPort] = await freePorts(1);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const hookLog = join(logs, 'hooks.log');
  const forbidden = join(dir, 'not-allowed.log');
  writeFileSync(join(dir, 'user.lua'), [
    `package.path = "${MODULES}/?.lua;" .. package.path`,
    'local json = require("minijson")',
    'local cjson = require("cjson")',
    'function mail_user_created(user)',
    `  local f = assert(io.open("${hookLog}", "a"))`,
    '  f:write(cjson.encode({ user = user.username, service = user.service, tag = os.getenv("ROOST_E2E_TAG") }), "\\n")',
    '  f:close()',
    `  local denied, msg, errno = io.open("${forbidden}", "a")`,
    '  dovecot.i_info("forbidden: " .. tostring(msg) .. " " .. tostring(errno) .. " module: " .. json.name)',
    '  return 0',
    'end',
    '',
  ].join('\n'));
  const conf = join(dir, 'roost.conf');
  writeFileSync(conf, [
    'protocols = lmtp',
    'listen = 127.0.0.1',
    `data_dir = ${dir}/data`,
    `mail_home = ${dir}/home/%n`,
    'auth_username_format = %Ln',
    `lua_write_paths = ${logs}`,
    'mail_plugins = $mail_plugins mail_lua',
    'plugin {',
    `  mail_lua_script = ${dir}/user.lua`,
    '}',
    'service lmtp {',
    '  inet_listener lmtp {',
    `    port = ${lmtpPort}`,
    '  }',
    '}',
    'passdb {',
    '  driver = roost',
    '}',
    'userdb {',
    '  driver = roost',
    '}',
    '',
  ].join('\n'));
  const add = await promisify(execFile)(process.execPath, [MAIN, '-c', conf, 'user', 'add', 'alice', '-p', 'secret'], { cwd: dir, timeout: 15000 });
  expect(add.stdout).toBe('Added user alice\n');

  server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOST_E2E_TAG: 'set for roost' },
  });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
  await waitFor('LMTP listener', () => out.includes(`LMTP listening on 127.0.0.1:${lmtpPort}`));

  await deliver(lmtpPort!, 'alice@example.com', 'one');
  await deliver(lmtpPort!, 'alice@example.com', 'two');
  await waitFor('two hook lines', () => existsSync(hookLog) && readFileSync(hookLog, 'utf8').split('\n').length >= 3);
  const lines = readFileSync(hookLog, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
  expect(lines).toEqual([
    { user: 'alice', service: 'lmtp', tag: 'set for roost' },
    { user: 'alice', service: 'lmtp', tag: 'set for roost' },
  ]);
  await waitFor('the refusal in the log', () => err.includes('forbidden: '));
  expect(err).toMatch(new RegExp(`lmtp\\(alice\\)<\\d+><[^>]+>: Info: forbidden: ${forbidden}: Permission denied \\(lua_write_paths\\) 13 module: minijson`));
  expect(existsSync(forbidden)).toBe(false);

  server.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 60000);
