// `roost serve` as a user runs it (the compiled command), with the services Postfix uses: the auth
// socket (Dovecot's auth client protocol), quota-status on TCP and LMTP on a unix socket, each unix
// listener with its configured mode. SIGTERM stops the server with exit code 0 and removes the
// socket files. Runs without Postfix (test/e2e/postfix.test.ts is the one with a real Postfix).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LineClient } from '../auth-server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { buildCli, freePorts, MAIN } from '../cli/built-roost.js';
import { waitFor } from './harness.js';

const run = promisify(execFile);
let dir: string;
let server: ChildProcess;
let out = '';

afterAll(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('roost serve: auth socket, quota-status and LMTP unix socket from the config; SIGTERM exits 0', async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-serve-postfix-'));
  const [imapPort, quotaPort] = await freePorts(2);
  const conf = join(dir, 'roost.conf');
  writeFileSync(conf, `listen = 127.0.0.1
data_dir = ${dir}/data
ssl = no
auth_mechanisms = plain login
service imap-login {
  inet_listener imap {
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    port = 0
  }
  unix_listener ${dir}/spool/private/dovecot-lmtp {
    mode = 0660
  }
}
service auth {
  unix_listener ${dir}/spool/private/auth {
    mode = 0666
  }
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    port = ${quotaPort}
  }
}
plugin {
  quota_rule = *:messages=1
  quota_status_success = DUNNO
}
`);
  await run(process.execPath, [MAIN, '-c', conf, 'user', 'add', 'bob@example.com', '-p', 'pw'], { timeout: 30_000 });
  server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('roost: data under') || server.exitCode !== null, 'roost serve to start', 30_000);
  expect(out).toContain(`roost: auth listening on unix:${dir}/spool/private/auth\n`);
  expect(out).toContain(`roost: quota-status listening on 127.0.0.1:${quotaPort}\n`);
  expect(out).toContain(`roost: LMTP listening on unix:${dir}/spool/private/dovecot-lmtp\n`);
  expect(statSync(`${dir}/spool/private/auth`).mode & 0o777).toBe(0o666);
  expect(statSync(`${dir}/spool/private/dovecot-lmtp`).mode & 0o777).toBe(0o660);

  // SMTP AUTH as Postfix's smtpd asks it.
  const auth = await LineClient.connect({ path: `${dir}/spool/private/auth` });
  const handshake = await auth.lines(7);
  expect(handshake.slice(0, 3)).toEqual(['VERSION\t1\t2', 'MECH\tPLAIN\tplaintext', 'MECH\tLOGIN\tplaintext']);
  // SPID is the serving process.
  expect(handshake.slice(3)).toEqual([`SPID\t${server.pid}`, 'CUID\t1', expect.stringMatching(/^COOKIE\t[0-9a-f]{32}$/), 'DONE']);
  auth.send(`VERSION\t1\t2\nCPID\t777\nAUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tresp=${Buffer.from('\0bob@example.com\0pw').toString('base64')}\n`);
  expect(await auth.lines(1)).toEqual(['OK\t1\tuser=bob@example.com']);
  auth.close();

  // quota-status before and after bob's one allowed message, delivered over the LMTP socket.
  const qs = await LineClient.connect({ port: quotaPort });
  const ask = 'request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=bob@example.com\nsize=100\n\n';
  qs.send(ask);
  expect(await qs.lines(2)).toEqual(['action=DUNNO', '']);
  const lmtp = await RawLmtp.connect({ path: `${dir}/spool/private/dovecot-lmtp` });
  await lmtp.replies(1);
  await lmtp.command('LHLO test');
  await lmtp.command('MAIL FROM:<a@example.net>');
  expect(await lmtp.command('RCPT TO:<bob@example.com>')).toMatch(/^250/);
  await lmtp.command('DATA');
  lmtp.send('Subject: one\r\n\r\nhi\r\n.\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 2\.0\.0 <bob@example\.com> \S+ Saved/);
  lmtp.close();
  qs.send(ask);
  expect(await qs.lines(2)).toEqual(['action=554 5.2.2 Quota exceeded (mailbox for user is full)', '']);
  qs.close();

  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(existsSync(`${dir}/spool/private/auth`)).toBe(false);
  expect(existsSync(`${dir}/spool/private/dovecot-lmtp`)).toBe(false);
}, 120_000);
