// Every entry point of the real `roost` process with each Lua driver configured: the command
// prints its result and exits 0 only once its work is done (a Lua call in flight keeps the
// process alive), `serve` keeps serving, and a command whose event loop drains while its work is
// still pending exits non-zero with a message instead of a silent 0.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { buildCli, freePorts, MAIN, ROOT, roost as runRoost, run } from './built-roost.js';

let dir: string;

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-lua-cli-'));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MESSAGE = 'From: bob@example.net\r\nSubject: hello\r\n\r\nhi\r\n';

/** A config file under the temp folder; its data_dir is a folder of its own. */
function config(name: string, lines: string[]): string {
  const path = join(dir, `${name}.conf`);
  writeFileSync(path, [`data_dir = ${join(dir, name)}`, 'lua_workers = 2', ...lines, ''].join('\n'));
  return path;
}

const roost = (conf: string, args: string[], stdin?: string) => runRoost(['-c', conf, ...args], { cwd: dir, input: stdin });

describe('mail_lua_script', () => {
  let conf: string;
  let receiver: http.Server;
  const seen: string[] = [];
  beforeAll(async () => {
    receiver = await bodyReceiver(seen);
    // Each mail_user session (deliver, mailbox, metadata) reports itself to the test's receiver.
    writeFileSync(
      join(dir, 'report.lua'),
      `local client = dovecot.http.client({ request_timeout_msecs = 10000 })
function mail_user_created(user)
  local req = client:request({ url = '${urlOf(receiver)}', method = 'POST' })
  req:set_payload(user.username .. ' ' .. user.service)
  req:submit()
end
`,
    );
    conf = config('mail-lua', ['mail_plugins = mail_lua', 'plugin {', `  mail_lua_script = ${join(dir, 'report.lua')}`, '}']);
    expect(await roost(conf, ['user', 'add', 'alice', '-p', 'secret'])).toMatchObject({ code: 0 });
  }, 60_000);
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  test('deliver stores the message before exiting 0; mailbox status, list, metadata get print', async () => {
    expect(await roost(conf, ['deliver', '-u', 'alice'], MESSAGE)).toMatchObject({ code: 0, stderr: expect.stringContaining('saved mail to INBOX') });
    expect(await roost(conf, ['mailbox', 'status', '-u', 'alice', 'messages', 'INBOX'])).toMatchObject({ code: 0, stdout: 'INBOX messages=1\n' });
    const list = await roost(conf, ['mailbox', 'list', '-u', 'alice']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')).toContain('INBOX');
    expect(await roost(conf, ['metadata', 'set', '-u', 'alice', 'INBOX', '/private/comment', 'mine'])).toMatchObject({ code: 0 });
    expect(await roost(conf, ['metadata', 'get', '-u', 'alice', 'INBOX', '/private/comment'])).toMatchObject({ code: 0, stdout: 'mine\n' });
    // The hook ran, to its end, in every one of those processes.
    expect(seen).toHaveLength(5);
    expect(seen[0]).toBe('alice lda');
  }, 60_000);
});

describe('push_notification_driver = lua', () => {
  let receiver: http.Server;
  const bodies: string[] = [];
  beforeAll(async () => {
    receiver = await bodyReceiver(bodies);
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  test('deliver stores the message and the script posts it before the process exits', async () => {
    const url = urlOf(receiver);
    const conf = config('push-lua', [
      'mail_plugins = notify push_notification push_notification_lua',
      'plugin {',
      `  push_notification_driver = lua:file=${join(ROOT, 'config/examples/push-new-mail.lua')}`,
      `  push_notification_url = ${url}`,
      '}',
    ]);
    expect(await roost(conf, ['user', 'add', 'alice', '-p', 'secret'])).toMatchObject({ code: 0 });
    expect(await roost(conf, ['deliver', '-u', 'alice'], MESSAGE)).toMatchObject({ code: 0, stderr: expect.stringContaining('saved mail to INBOX') });
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0]!)).toMatchObject({ user: 'alice', mailbox: 'INBOX', subject: 'hello' });
    expect(await roost(conf, ['mailbox', 'status', '-u', 'alice', 'messages', 'INBOX'])).toMatchObject({ code: 0, stdout: 'INBOX messages=1\n' });
  }, 60_000);

  test('with mail_lua_script as well (the push state is created in mail-lua\'s round trip), both scripts run before the process exits', async () => {
    bodies.length = 0;
    const url = urlOf(receiver);
    const hooks = join(dir, 'hooks-and-push.lua');
    writeFileSync(hooks, `function mail_user_created(user) dovecot.i_info("mail-lua created " .. user.username) return 0 end\n`);
    const conf = config('push-and-mail-lua', [
      'mail_plugins = mail_lua notify push_notification push_notification_lua',
      'plugin {',
      `  mail_lua_script = ${hooks}`,
      `  push_notification_driver = lua:file=${join(ROOT, 'config/examples/push-new-mail.lua')}`,
      `  push_notification_url = ${url}`,
      '}',
    ]);
    expect(await roost(conf, ['user', 'add', 'alice', '-p', 'secret'])).toMatchObject({ code: 0 });
    const r = await roost(conf, ['deliver', '-u', 'alice'], MESSAGE);
    expect(r).toMatchObject({ code: 0 });
    // mail-lua's hook ran before the delivery was saved; the push script saw the new message.
    expect(r.stderr.indexOf('mail-lua created alice')).toBeGreaterThanOrEqual(0);
    expect(r.stderr.indexOf('mail-lua created alice')).toBeLessThan(r.stderr.indexOf('saved mail to INBOX'));
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0]!)).toMatchObject({ user: 'alice', mailbox: 'INBOX', subject: 'hello' });
  }, 60_000);
});

describe('passdb and userdb driver = lua', () => {
  let conf: string;
  beforeAll(() => {
    writeFileSync(
      join(dir, 'auth.lua'),
      `local homes = { alice = '${join(dir, 'auth-lua', 'alice')}', bob = '${join(dir, 'auth-lua', 'bob')}' }
function auth_passdb_lookup(req)
  if req.user == 'alice' then return dovecot.auth.PASSDB_RESULT_OK, 'password=secret' end
  return dovecot.auth.PASSDB_RESULT_USER_UNKNOWN, 'no such user'
end
function auth_userdb_lookup(req)
  if homes[req.user] then return dovecot.auth.USERDB_RESULT_OK, { home = homes[req.user] } end
  return dovecot.auth.USERDB_RESULT_USER_UNKNOWN, 'no such user'
end
function auth_userdb_iterate() return { 'alice', 'bob' } end
`,
    );
    conf = config('auth-lua', [
      'passdb {',
      `  driver = lua`,
      `  args = file=${join(dir, 'auth.lua')}`,
      '}',
      'userdb {',
      `  driver = lua`,
      `  args = file=${join(dir, 'auth.lua')}`,
      '}',
    ]);
  });

  test('auth test prints the passdb result', async () => {
    const ok = await roost(conf, ['auth', 'test', 'alice', 'secret']);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toMatch(/^passdb: alice auth succeeded\n/);
    const bad = await roost(conf, ['auth', 'test', 'alice', 'wrong']);
    expect(bad).toMatchObject({ code: 77, stdout: expect.stringMatching(/^passdb: alice auth failed\n/) });
  }, 60_000);

  test("user '*' iterates and user USER looks up through the Lua userdb", async () => {
    expect(await roost(conf, ['user', '*'])).toMatchObject({ code: 0, stdout: 'alice\nbob\n' });
    const one = await roost(conf, ['user', 'bob']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`home`);
    expect(one.stdout).toContain(join(dir, 'auth-lua', 'bob'));
  }, 60_000);

  test('deliver to a Lua userdb user stores the message', async () => {
    expect(await roost(conf, ['deliver', '-u', 'alice'], MESSAGE)).toMatchObject({ code: 0, stderr: expect.stringContaining('saved mail to INBOX') });
    expect(await roost(conf, ['mailbox', 'status', '-u', 'alice', 'messages', 'INBOX'])).toMatchObject({ code: 0, stdout: 'INBOX messages=1\n' });
  }, 60_000);

  test('serve starts, logs alice in through the Lua passdb, and stops on SIGTERM', async () => {
    const [port] = (await freePorts(1)) as [number];
    const serveConf = config('auth-lua-serve', [
      'protocols = imap',
      'listen = 127.0.0.1',
      'ssl = no',
      'disable_plaintext_auth = no',
      `service imap-login {`,
      `  inet_listener imap {`,
      `    port = ${port}`,
      `  }`,
      `}`,
      'passdb {',
      '  driver = lua',
      `  args = file=${join(dir, 'auth.lua')}`,
      '}',
      'userdb {',
      '  driver = lua',
      `  args = file=${join(dir, 'auth.lua')}`,
      '}',
    ]);
    let out = '';
    let err = '';
    const server: ChildProcess = spawn(process.execPath, [MAIN, '-c', serveConf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    try {
      for (const deadline = Date.now() + 30_000; !out.includes(`IMAP listening on 127.0.0.1:${port}`); ) {
        if (server.exitCode !== null) throw new Error(`serve exited with ${server.exitCode}:\n${out}\n${err}`);
        if (Date.now() > deadline) throw new Error(`serve did not listen:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: 'alice', pass: 'secret' }, logger: false, disableAutoIdle: true });
      client.on('error', () => undefined);
      await client.connect();
      expect(client.authenticated).toBeTruthy();
      await client.logout();
    } finally {
      if (server.exitCode === null) server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});

test('a command whose event loop drains with its work pending exits non-zero with a message', async () => {
  // runAsProcess with a verb that never settles and holds nothing open: exactly what the lost
  // deliveries looked like (a Lua worker that did not keep the process alive).
  const script = `import(${JSON.stringify(join(dirname(MAIN), 'cli.js'))}).then((m) => m.runAsProcess(process.argv.slice(1), () => new Promise(() => {})));`;
  const deliver = await run(process.execPath, ['--input-type=module', '-e', script, '--', '-c', 'x.conf', 'deliver', '-u', 'alice'], { cwd: dir });
  expect(deliver.code).toBe(75); // EX_TEMPFAIL: the MTA keeps the message and retries
  expect(deliver.stderr).toMatch(/stopped before finishing its work/);
  const other = await run(process.execPath, ['--input-type=module', '-e', script, '--', 'mailbox', 'list', '-u', 'alice'], { cwd: dir });
  expect(other.code).toBe(70);
  expect(other.stderr).toMatch(/stopped before finishing its work/);
}, 60_000);

/** An HTTP server that records each request body. */
async function bodyReceiver(bodies: string[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const urlOf = (server: http.Server) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
