// Reload of the services beside IMAP and LMTP, against the real `roost serve` process: the auth
// service (Postfix SASL), quota-status and the stats listener take the new passdb, quota settings
// and addresses for new connections while the connections already open keep theirs; data_dir
// cannot change without a restart (the old one stays, with a warning); and SIGHUP never ends the
// process, not even while it is still starting.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineClient } from '../auth-server/helpers.js';
import { RawClient } from '../imap/server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { waitUntil } from '../poll.js';
import { buildCli, freePorts, MAIN } from './built-roost.js';

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-reload-services-'));
}, 180_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function spawnServe(conf: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');

/** One SASL PLAIN exchange on an auth-client connection (handshake already read). */
async function saslPlain(c: LineClient, id: number, user: string, pass: string): Promise<string> {
  c.send(`AUTH\t${id}\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tresp=${plain(user, pass)}\n`);
  return (await c.lines(1))[0]!;
}

async function authClient(path: string): Promise<LineClient> {
  const c = await LineClient.connect({ path });
  await c.lines(6); // VERSION, MECH PLAIN, SPID, CUID, COOKIE, DONE
  c.send('VERSION\t1\t2\nCPID\t4242\n');
  return c;
}

const policy = 'request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=bob@example.com\nsize=100\n\n';

async function scrape(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  await res.text();
  return res.status;
}

test('SIGHUP: auth, quota-status and stats take the new settings and addresses; open connections keep theirs', async () => {
  const [imapPort, lmtpPort, qs1, qs2, stats1, stats2] = (await freePorts(6)) as [number, number, number, number, number, number];
  writeFileSync(join(dir, 'passwd.v1'), 'bob@example.com:{PLAIN}first::::::\n');
  writeFileSync(join(dir, 'passwd.v2'), 'bob@example.com:{PLAIN}second::::::\n');
  const conf = join(dir, 'services.conf');
  const config = (v: 1 | 2, extra = '') => `protocols = imap lmtp
listen = 127.0.0.1
data_dir = ${dir}/data
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
${extra}
passdb {
  driver = passwd-file
  args = ${dir}/passwd.v${v}
}
userdb {
  driver = static
  args = uid=${process.getuid!()} gid=${process.getgid!()}
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
service auth {
  unix_listener ${dir}/spool/auth-v${v} {
    mode = 0600
  }
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    port = ${v === 1 ? qs1 : qs2}
  }
}
service stats {
  inet_listener http {
    port = ${v === 1 ? stats1 : stats2}
  }
}
plugin {
  quota_rule = *:messages=1
  quota_status_success = ${v === 1 ? 'DUNNO' : 'OK'}
}
`;
  writeFileSync(conf, config(1));
  const serve = spawnServe(conf);
  await waitUntil('roost serve to start', () => {
    if (serve.child.exitCode !== null) throw new Error(serve.output());
    return serve.output().includes('roost: data under');
  }, 60_000);

  // Connections opened under the first configuration, kept open across the reload.
  const oldAuth = await authClient(`${dir}/spool/auth-v1`);
  expect(await saslPlain(oldAuth, 1, 'bob@example.com', 'first')).toBe('OK\t1\tuser=bob@example.com');
  const oldQs = await LineClient.connect({ port: qs1 });
  oldQs.send(policy);
  expect(await oldQs.lines(2)).toEqual(['action=DUNNO', '']);
  expect(await scrape(stats1)).toBe(200);

  writeFileSync(conf, config(2));
  serve.child.kill('SIGHUP');
  await waitUntil('the new auth socket', () => existsSync(`${dir}/spool/auth-v2`), 60_000);
  await waitUntil('the new stats listener', () => scrape(stats2).then((s) => s === 200, () => false), 60_000);

  // New connections: the new passdb, the new quota-status answer, on the new addresses.
  const newAuth = await authClient(`${dir}/spool/auth-v2`);
  expect(await saslPlain(newAuth, 1, 'bob@example.com', 'second')).toBe('OK\t1\tuser=bob@example.com');
  expect(await saslPlain(newAuth, 2, 'bob@example.com', 'first')).toMatch(/^FAIL\t2\t/);
  const newQs = await LineClient.connect({ port: qs2 });
  newQs.send(policy);
  expect(await newQs.lines(2)).toEqual(['action=OK', '']);
  // The old addresses are given up.
  expect(existsSync(`${dir}/spool/auth-v1`)).toBe(false);
  await expect(LineClient.connect({ port: qs1 })).rejects.toThrow();
  await expect(scrape(stats1)).rejects.toThrow();

  // The connections that were open stay open, with the configuration they started with.
  expect(await saslPlain(oldAuth, 2, 'bob@example.com', 'first')).toBe('OK\t2\tuser=bob@example.com');
  oldQs.send(policy);
  expect(await oldQs.lines(2)).toEqual(['action=DUNNO', '']);

  // data_dir (and base_dir under it) need a restart: the reload keeps the old ones and says so.
  const lmtp = await RawLmtp.connect({ port: lmtpPort });
  await lmtp.replies(1);
  await lmtp.command('LHLO test');
  await lmtp.command('MAIL FROM:<a@example.net>');
  expect(await lmtp.command('RCPT TO:<bob@example.com>')).toMatch(/^250/);
  await lmtp.command('DATA');
  lmtp.send('Subject: one\r\n\r\nhi\r\n.\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 2\.0\.0 /);
  lmtp.close();
  writeFileSync(conf, config(2).replace(`data_dir = ${dir}/data`, `data_dir = ${dir}/elsewhere`).replace('ssl = no', 'ssl = no\nimap_capability = +XRELOADED'));
  serve.child.kill('SIGHUP');
  await waitUntil('the restart warning', () => serve.output().includes(`roost: Warning: base_dir changed`), 60_000);
  expect(serve.output()).toContain(`roost: Warning: data_dir changed from ${dir}/data to ${dir}/elsewhere: restart required; still using ${dir}/data\n`);
  expect(serve.output()).toContain(`roost: Warning: base_dir changed from ${dir}/data/run to ${dir}/elsewhere/run: restart required; still using ${dir}/data/run\n`);
  // The rest of the new configuration applies; the store is still the one under the old data_dir.
  await waitUntil('the reloaded capability', async () => {
    const c = await RawClient.connect(imapPort);
    const r = await c.command('a', 'LOGIN bob@example.com second');
    c.socket.destroy();
    return r.at(-1)!.includes('XRELOADED');
  }, 60_000);
  const qs = await LineClient.connect({ port: qs2 });
  qs.send(policy);
  expect(await qs.lines(2)).toEqual(['action=554 5.2.2 Quota exceeded (mailbox for user is full)', '']);
  expect(existsSync(`${dir}/elsewhere`)).toBe(false);
  expect(existsSync(`${dir}/data/run/roost-admin`)).toBe(true);

  for (const c of [oldAuth, newAuth, oldQs, newQs, qs]) c.close();
  serve.child.kill('SIGTERM');
  expect(await serve.exited).toBe(0);
  expect(serve.output()).not.toMatch(/Reloading the configuration failed|Error reading configuration/);
}, 240_000);

/** Whether the process has a handler for SIGHUP (bit 1 of SigCgt in /proc/PID/status). */
function catchesHangup(pid: number): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

test('SIGHUP from the first moment the process can catch it until it serves: never fatal, reloads once up', async () => {
  const [imapPort] = (await freePorts(1)) as [number];
  const conf = join(dir, 'early.conf');
  writeFileSync(conf, `protocols = imap
listen = 127.0.0.1
data_dir = ${dir}/early
ssl = no
disable_plaintext_auth = no
passdb {
  driver = static
  args = password=pw
}
userdb {
  driver = static
  args = uid=${process.getuid!()} gid=${process.getgid!()}
}
service imap-login {
  inet_listener imap {
    port = ${imapPort}
  }
}
`);
  const serve = spawnServe(conf);
  const pid = serve.child.pid!;
  // Poll as fast as the event loop turns: the handler is there before the start-up has done anything.
  while (!catchesHangup(pid)) {
    if (serve.child.exitCode !== null) throw new Error(`exited before catching SIGHUP: ${serve.output()}`);
    await new Promise((r) => setImmediate(r));
  }
  expect(serve.output()).not.toContain('listening');
  let sent = 0;
  let greeted = false;
  while (!greeted) {
    process.kill(pid, 'SIGHUP');
    sent++;
    expect(serve.child.exitCode).toBeNull();
    expect(serve.child.signalCode).toBeNull();
    greeted = await RawClient.connect(imapPort).then(
      async (c) => {
        c.socket.destroy();
        return true;
      },
      () => false,
    );
  }
  // And some more while it runs (they share reloads).
  for (let i = 0; i < 20; i++) process.kill(pid, 'SIGHUP');
  sent += 20;
  // The signals that came during the start-up became a reload once it was up.
  await waitUntil('a reload', () => serve.output().includes('SIGHUP received - reloading configuration'), 60_000);
  const c = await RawClient.connect(imapPort);
  expect((await c.command('a', 'LOGIN bob pw')).at(-1)).toMatch(/^a OK /);
  c.socket.destroy();
  expect(sent).toBeGreaterThan(20);
  expect(serve.child.signalCode).toBeNull();
  serve.child.kill('SIGTERM');
  expect(await serve.exited).toBe(0);
  expect(serve.output()).not.toMatch(/Reloading the configuration failed/);
}, 240_000);
