// The admin channel and reload, against the real `roost serve` process over real sockets: who and
// kick on live IMAP sessions, SIGHUP with an IDLE client connected (it survives; the next login
// gets the changed setting), a broken configuration on reload (the server keeps serving and logs
// the file and line), `roost reload`, a moved listener, `roost log errors`, `roost log reopen` and
// SIGUSR1 after a log rotation, and `roost stop`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../imap/server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { waitUntil } from '../poll.js';
import { formatTable } from '../../src/cli/commands/admin.js';
import { buildCli, freePorts, MAIN, roost } from './built-roost.js';

let dir: string;
let conf: string;
let server: ChildProcess | null = null;
let out = '';
let err = '';
const clients: RawClient[] = [];

function config(imapPort: number, lmtpPort: number, extra = ''): string {
  return `protocols = imap lmtp
listen = 127.0.0.1
data_dir = ${dir}/data
ssl = no
disable_plaintext_auth = no
${extra}
plugin {
  mail_lua_script = ${dir}/user.lua
}
service imap-login {
  inet_listener imap {
    port = ${imapPort}
  }
}
service lmtp {
  inet_listener lmtp {
    port = ${lmtpPort}
  }
}
`;
}

async function login(port: number, user: string): Promise<{ client: RawClient; ok: string }> {
  const client = await RawClient.connect(port);
  clients.push(client);
  const r = await client.command('a', `LOGIN ${user} pw`);
  return { client, ok: r[r.length - 1]! };
}

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-admin-'));
}, 180_000);

afterAll(() => {
  for (const c of clients) c.socket.destroy();
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('who, kick, SIGHUP with IDLE, broken reload, roost reload, log errors, log reopen and SIGUSR1, stop', async () => {
  const [imapPort, lmtpPort, movedPort] = await freePorts(3);
  conf = join(dir, 'roost.conf');
  writeFileSync(conf, config(imapPort!, lmtpPort!));
  const script = (version: string) =>
    writeFileSync(join(dir, 'user.lua'), `function mail_user_created(user) dovecot.i_info('script ${version} for ' .. user.username) return 0 end\n`);
  script('v1');
  for (const u of ['alice', 'alice2', 'bob']) expect((await roost(['-c', conf, 'user', 'add', u, '-p', 'pw'])).code).toBe(0);

  server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
  await waitUntil('the server to listen', () => out.includes('data under'));

  // The admin socket: under base_dir (<data_dir>/run), only for the server's user.
  expect(statSync(join(dir, 'data/run/roost-admin')).mode & 0o777).toBe(0o600);

  // --- who ---
  const a1 = await login(imapPort!, 'alice');
  const a2 = await login(imapPort!, 'alice');
  const b = await login(imapPort!, 'bob');
  await login(imapPort!, 'alice2');
  const anon = await RawClient.connect(imapPort!); // not logged in: not listed
  clients.push(anon);
  const pid = server.pid!;
  const who = await roost(['-c', conf, 'who']);
  expect(who.code).toBe(0);
  // doveadm who's table (test/cli/who-format.test.ts checks the layout against Dovecot's).
  const headers = [{ title: 'username' }, { title: '#', right: true }, { title: 'proto' }, { title: '(pids)' }, { title: '(ips)' }];
  expect(who.stdout).toBe(
    formatTable(headers, [
      ['alice', '2', 'imap', `(${pid})`, '(127.0.0.1)'],
      ['bob', '1', 'imap', `(${pid})`, '(127.0.0.1)'],
      ['alice2', '1', 'imap', `(${pid})`, '(127.0.0.1)'],
    ]),
  );
  const whoAlice = await roost(['-c', conf, 'who', '-1', 'alice']);
  const rows = whoAlice.stdout.trim().split('\n');
  expect(rows[0]).toMatch(/^username +proto +pid +ip +session +connected *$/);
  expect(rows.slice(1)).toHaveLength(2);
  for (const r of rows.slice(1)) expect(r).toMatch(new RegExp(`^alice +imap +${pid} +127\\.0\\.0\\.1 +[A-Za-z0-9+/]{16,24} +\\d+s *$`));
  expect((await roost(['-c', conf, 'who', '-1', 'alice*', '127.0.0.0/8'])).stdout.trim().split('\n')).toHaveLength(4);
  expect((await roost(['-c', conf, 'who', '-1', '10.0.0.1'])).stdout.trim().split('\n')).toHaveLength(1);

  // --- kick: Dovecot's BYE and doveadm's output ---
  const kicked = await roost(['-c', conf, 'kick', 'alice']);
  expect(kicked).toEqual({ code: 0, stdout: 'alice kicked connections from the following users:\n\n', stderr: '' });
  for (const c of [a1.client, a2.client]) {
    expect(await c.readLine()).toBe('* BYE Server shutting down.');
    await c.waitClosed();
  }
  await waitUntil('the kick logged', () => err.includes('Disconnected: Server shutting down. in='));
  expect(b.client.closed).toBe(false);
  const none = await roost(['-c', conf, 'kick', 'nobody*']);
  expect(none).toEqual({ code: 68, stdout: '', stderr: 'no users kicked\n' });

  // --- SIGHUP with an IDLE client ---
  expect(b.ok).not.toContain('XROOSTTEST');
  await b.client.command('s', 'SELECT INBOX');
  b.client.send('i IDLE\r\n');
  expect(await b.client.readLine()).toBe('+ idling');
  await waitUntil('the v1 script', () => err.includes('script v1 for bob'));
  writeFileSync(conf, config(imapPort!, lmtpPort!, 'imap_capability = +XROOSTTEST'));
  script('v2');
  server.kill('SIGHUP');
  await waitUntil('the reload', async () => {
    if (!err.includes('roost: Warning: SIGHUP received - reloading configuration')) return false;
    const probe = await login(imapPort!, 'bob');
    probe.client.socket.destroy();
    return probe.ok.includes('XROOSTTEST');
  });
  // The Lua script was loaded again.
  await waitUntil('the v2 script', () => err.includes('script v2 for bob'));
  // The IDLE client is still there and answers.
  b.client.send('DONE\r\n');
  expect((await b.client.until((l) => l.startsWith('i '))).pop()).toMatch(/^i OK Idle completed/);
  expect((await b.client.command('n', 'NOOP')).pop()).toMatch(/^n OK NOOP completed/);

  // --- a broken configuration: logged with file:line, the old one keeps serving ---
  writeFileSync(conf, config(imapPort!, lmtpPort!, 'imap_capability = +XROOSTTEST\nbogus_setting = 1'));
  const before = err.length;
  server.kill('SIGHUP');
  await waitUntil('the reload error', () => err.includes('Error reading configuration'));
  expect(err.slice(before)).toContain(`roost: Error: Error reading configuration: ${conf} line 7: Unknown setting: bogus_setting`);
  const still = await login(imapPort!, 'bob');
  expect(still.ok).toContain('XROOSTTEST');
  expect((await b.client.command('n2', 'NOOP')).pop()).toMatch(/^n2 OK/);
  // `roost log errors` shows it, as doveadm log errors does (the CLI needs a readable config too).
  writeFileSync(conf, config(imapPort!, lmtpPort!, 'imap_capability = +XROOSTTEST'));
  const errors = await roost(['-c', conf, 'log', 'errors']);
  expect(errors.code).toBe(0);
  expect(errors.stdout).toMatch(/^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d Error: roost: Error reading configuration: .* line 7: Unknown setting: bogus_setting$/m);

  // --- roost reload moves the IMAP listener; open sessions stay ---
  writeFileSync(conf, config(movedPort!, lmtpPort!));
  expect(await roost(['-c', conf, 'reload'])).toEqual({ code: 0, stdout: '', stderr: '' });
  const moved = await login(movedPort!, 'bob');
  expect(moved.ok).toMatch(/^a OK /);
  expect(moved.ok).not.toContain('XROOSTTEST');
  await expect(RawClient.connect(imapPort!)).rejects.toThrow();
  expect((await b.client.command('n3', 'NOOP')).pop()).toMatch(/^n3 OK/);
  // LMTP, reloaded in place, still delivers; the IDLE-era session sees it.
  const lmtp = await RawLmtp.connect({ port: lmtpPort! });
  await lmtp.replies(1);
  lmtp.send('LHLO test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<bob>\r\nDATA\r\n');
  expect(await lmtp.replies(4)).toEqual([expect.stringMatching(/^250 /), expect.stringMatching(/^250 /), expect.stringMatching(/^250 /), expect.stringMatching(/^354 /)]);
  lmtp.send('Subject: after reload\r\n\r\nhello\r\n.\r\nQUIT\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 2\.0\.0 <bob> /);
  expect(await b.client.command('n4', 'NOOP')).toContain('* 1 EXISTS');

  // --- log files stay open: `roost log reopen` and SIGUSR1 after a rotation (doveadm log reopen) ---
  const infoLog = join(dir, 'info.log');
  writeFileSync(conf, config(movedPort!, lmtpPort!, `info_log_path = ${infoLog}\nlog_timestamp = ""`));
  expect(await roost(['-c', conf, 'reload'])).toEqual({ code: 0, stdout: '', stderr: '' });
  const deliverTagged = async (subject: string) => {
    const c = await RawLmtp.connect({ port: lmtpPort! });
    await c.replies(1);
    c.send(`LHLO test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<bob>\r\nDATA\r\n`);
    await c.replies(4);
    c.send(`Message-ID: <${subject}@test>\r\nSubject: ${subject}\r\n\r\nhello\r\n.\r\nQUIT\r\n`);
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 <bob> /);
  };
  const saved = (file: string) => (readFileSync(file, 'utf8').match(/msgid=<(\w+)@test>: saved mail to INBOX/g) ?? []).join(' ');
  await deliverTagged('first');
  renameSync(infoLog, `${infoLog}.1`);
  await deliverTagged('second'); // into the renamed file: it is still open
  expect(await roost(['-c', conf, 'log', 'reopen'])).toEqual({ code: 0, stdout: '', stderr: '' });
  await deliverTagged('third');
  renameSync(infoLog, `${infoLog}.2`);
  server.kill('SIGUSR1');
  // The signal is handled between events: wait until a delivery's line lands in a new file.
  await waitUntil('SIGUSR1 to reopen the log', async () => {
    await deliverTagged('fourth');
    return existsSync(infoLog);
  });
  expect(saved(`${infoLog}.1`)).toBe('msgid=<first@test>: saved mail to INBOX msgid=<second@test>: saved mail to INBOX');
  expect(saved(`${infoLog}.2`)).toMatch(/^msgid=<third@test>: saved mail to INBOX( msgid=<fourth@test>: saved mail to INBOX)*$/);
  expect(saved(infoLog)).toBe('msgid=<fourth@test>: saved mail to INBOX');
  expect(server.exitCode).toBeNull();

  // --- stop: graceful, as SIGTERM ---
  expect(await roost(['-c', conf, 'stop'])).toEqual({ code: 0, stdout: '', stderr: '' });
  expect(await exited).toBe(0);
  expect(await b.client.readLine()).toBe('* BYE Server shutting down.');
  expect(out).toContain('roost: shutting down');
  // No server: the admin verbs say so.
  const gone = await roost(['-c', conf, 'who']);
  expect(gone.code).toBe(75);
  expect(gone.stderr).toContain('is roost serve running?');
}, 180_000);
