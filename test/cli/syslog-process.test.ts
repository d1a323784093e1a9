// `log_path = syslog` with `syslog_facility`, from the real `roost serve` process: the lines
// arrive as syslog datagrams on the socket (a python3 listener plays syslogd on a private
// `syslog_socket`), with the facility and a severity per level and Dovecot's text.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../imap/server/helpers.js';
import { waitUntil } from '../poll.js';
import { buildCli, freePorts, MAIN, roost } from './built-roost.js';

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-syslog-'));
}, 180_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const SYSLOGD = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
while True:
    print(s.recv(65536).decode('utf-8', 'replace'), flush=True)
`;

test('log_path = syslog sends each line with the facility and severity', async () => {
  const [imapPort] = await freePorts(1);
  const sock = join(dir, 'log.sock');
  let datagrams = '';
  const syslogd = spawn('python3', ['-c', SYSLOGD, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(syslogd);
  syslogd.stdout!.on('data', (d: Buffer) => (datagrams += d.toString()));
  await waitUntil('the syslog listener', () => datagrams.startsWith('ready'));

  const conf = join(dir, 'roost.conf');
  writeFileSync(
    conf,
    `protocols = imap
listen = 127.0.0.1
data_dir = ${dir}/data
ssl = no
disable_plaintext_auth = no
log_path = syslog
syslog_facility = local3
syslog_socket = ${sock}
service imap-login {
  inet_listener imap {
    port = ${imapPort}
  }
}
`,
  );
  expect((await roost(['-c', conf, 'user', 'add', 'alice', '-p', 'pw'])).code).toBe(0);
  const server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(server);
  let out = '';
  let err = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  await waitUntil('the server', () => out.includes('data under'));

  const c = await RawClient.connect(imapPort!);
  expect((await c.command('a', 'LOGIN alice pw')).pop()).toMatch(/^a OK /);
  await c.command('z', 'LOGOUT');
  const bad = await RawClient.connect(imapPort!);
  expect((await bad.command('b', 'LOGIN alice wrong')).pop()).toMatch(/^b NO /);
  bad.socket.destroy();

  // local3 = 19: info is <158>, with Dovecot's text and no level label.
  await waitUntil('the login line', () => /<158>.*roost: imap-login: Login: user=<alice>, method=PLAIN/.test(datagrams));
  await waitUntil('the logout line', () => /<158>.*roost: imap\(alice\)<\d+><[^>]+>: Disconnected: Logged out in=/.test(datagrams));
  // Nothing on stderr: the lines went to syslog.
  expect(err).toBe('');

  // A configuration error on reload is an error: <155>, with its label.
  writeFileSync(conf, `bogus = 1\n`, { flag: 'a' });
  server.kill('SIGHUP');
  await waitUntil('the error line', () => /<155>.*roost: roost: Error: Error reading configuration: .* line 14: Unknown setting: bogus/.test(datagrams));
  expect(datagrams).toMatch(/<156>.*roost: roost: Warning: SIGHUP received - reloading configuration/);
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 120_000);

test('an unknown syslog_facility is a configuration error naming the line', async () => {
  const conf = join(dir, 'bad.conf');
  writeFileSync(conf, `data_dir = ${dir}/data2\nlog_path = syslog\nsyslog_facility = mailx\n`);
  const r = await roost(['-c', conf, 'config', '-n']);
  expect(r.code).toBe(78);
  expect(r.stderr).toContain(`${conf} line 3:`);
  expect(r.stderr).toContain('syslog_facility');
});
