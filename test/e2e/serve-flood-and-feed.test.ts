// The real `roost serve` process (built, spawned as a user runs it): a flood of idle connections
// above its pre-login client_limit while fresh logins get in and a logged-in session in IDLE stays,
// and that session woken by `roost deliver` run as another process. Then SIGTERM ends it cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../imap/server/helpers.js';
import { buildCli, freePorts, MAIN, roost as runRoost } from '../cli/built-roost.js';

const LIMIT = 5;
let dir: string;
let conf: string;
let server: ChildProcess | null = null;
let out = '';
let err = '';

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-e2e-serve-'));
}, 60000);

afterAll(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const roost = (args: string[], input?: string) => runRoost(['-c', conf, ...args], { cwd: dir, input });

async function until(cond: () => boolean, what: string): Promise<void> {
  while (!cond()) {
    if (server?.exitCode !== null) throw new Error(`server exited (${server?.exitCode}) waiting for ${what}: ${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('flood above client_limit: probes log in, the IDLE session stays and is woken by `roost deliver`; SIGTERM exits 0', async () => {
  const [port] = (await freePorts(1)) as [number];
  conf = join(dir, 'roost.conf');
  writeFileSync(
    conf,
    [
      'protocols = imap',
      'listen = 127.0.0.1',
      `data_dir = ${dir}/data`,
      `mail_home = ${dir}/home/%n`,
      'ssl = no',
      'auth_failure_delay = 0',
      'passdb {',
      '  driver = roost',
      '}',
      'userdb {',
      '  driver = roost',
      '}',
      'service imap-login {',
      `  client_limit = ${LIMIT}`,
      '  inet_listener imap {',
      `    port = ${port}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  expect((await roost(['user', 'add', 'alice', '-p', 'pw'])).code).toBe(0);
  server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
  await until(() => out.includes(`IMAP listening on 127.0.0.1:${port}`), 'the listener');

  const idler = await RawClient.connect(port);
  expect((await idler.command('a', 'LOGIN alice pw')).at(-1)).toMatch(/^a OK /);
  expect(await idler.command('s', 'SELECT INBOX')).toContain('* 0 EXISTS');
  idler.send('i IDLE\r\n');
  expect(await idler.readLine()).toBe('+ idling');

  const flood: RawClient[] = [];
  let probesIn = 0;
  for (let i = 0; i < 6 * LIMIT; i++) {
    flood.push(await RawClient.connect(port));
    if (i % LIMIT === 2) {
      const probe = await RawClient.connect(port);
      const login = (await probe.command('l', 'LOGIN alice pw')).at(-1)!;
      const noop = (await probe.command('n', 'NOOP')).at(-1)!;
      if (login.startsWith('l OK') && noop.startsWith('n OK')) probesIn++;
      await probe.command('z', 'LOGOUT');
      probe.close();
    }
  }
  expect(probesIn).toBe(6);
  await flood[0]!.waitClosed();
  expect(flood[0]!.lines.at(-1)).toBe('* BYE Connection queue full');
  expect(err).toContain(`service(imap-login): client_limit (${LIMIT}) reached, client connections are being dropped`);

  // Another process delivers: the session idling since before the flood hears of it.
  const delivered = await roost(['deliver', '-u', 'alice'], 'Subject: from roost deliver\r\n\r\nhello\r\n');
  expect(delivered.code).toBe(0);
  expect(await idler.until((l) => l === '* 1 EXISTS')).toContain('* 1 EXISTS');
  idler.send('DONE\r\n');
  expect((await idler.until((l) => l.startsWith('i '))).at(-1)).toMatch(/^i OK Idle completed/);
  const fetched = await idler.command('f', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  expect(fetched.join('\n')).toContain('Subject: from roost deliver');

  for (const c of [...flood, idler]) c.close();
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 60000);
