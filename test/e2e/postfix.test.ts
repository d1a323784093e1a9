// Roost next to a real Postfix (Debian's package), as in the README's "With Postfix": a private
// Postfix instance (its own config directory, queue and data directories in a temp folder, SMTP
// on a loopback port) and the compiled `roost serve` with
//   - the auth socket in Postfix's queue (private/auth, owned by postfix): SMTP AUTH PLAIN;
//   - quota-status on loopback TCP: a recipient over quota is refused at RCPT;
//   - LMTP on a unix socket (private/dovecot-lmtp): mail for a normal user is delivered through
//     `lmtp:unix:` and read back over IMAP.
// Postfix's master runs as root, so this test needs root (CI runs as root); without Postfix or
// root it is skipped, and its name says why.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { resolveOwner } from '../../src/listeners/unix.js';
import { LineClient } from '../auth-server/helpers.js';
import { buildCli, freePorts, MAIN } from '../cli/built-roost.js';
import { waitFor } from './harness.js';

const POSTFIX = '/usr/sbin/postfix';
const skipReason = !existsSync(POSTFIX)
  ? 'Postfix is not installed (DEBIAN_FRONTEND=noninteractive apt-get install -y postfix)'
  : process.getuid?.() !== 0
    ? 'Postfix needs root to start its master process'
    : '';
const run = promisify(execFile);

let dir = '';
let smtpPort = 0;
let imapPort = 0;
let roost: ChildProcess | undefined;
let roostOut = '';
let postfixStarted = false;

const maillog = () => (existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '');
const roostCli = (...args: string[]) => run(process.execPath, [MAIN, '-c', join(dir, 'roost.conf'), ...args], { timeout: 30_000 });

function mainCf(quotaStatusPort: number): string {
  return `compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.roost-test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
maillog_file_prefixes = ${dir}
maillog_file = ${dir}/maillog
virtual_mailbox_domains = example.com
virtual_mailbox_maps = static:ok
# --- the lines README's "With Postfix" shows ---
virtual_transport = lmtp:unix:private/dovecot-lmtp
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes
smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:${quotaStatusPort}, permit_sasl_authenticated, reject_unauth_destination
# Plaintext AUTH without TLS, on loopback only, for the test.
smtpd_tls_security_level = none
smtpd_sasl_security_options = noanonymous
`;
}

/** Postfix's services, none chrooted (the temp folder holds no copy of /etc). */
function masterCf(smtp: number): string {
  const unix = ['pickup 60 1', 'cleanup - 0', 'qmgr 300 1', 'rewrite - - trivial-rewrite', 'bounce - 0', 'defer - 0 bounce', 'trace - 0 bounce',
    'verify - 1', 'flush 1000? 0', 'proxymap - -', 'proxywrite - 1 proxymap', 'smtp - -', 'error - -', 'retry - - error', 'discard - -',
    'lmtp - -', 'anvil - 1', 'scache - 1'];
  const lines = [`127.0.0.1:${smtp} inet n - n - - smtpd`];
  for (const u of unix) {
    const [name, wakeup, limit, command = name] = u.split(' ') as [string, string, string, string?];
    const priv = ['pickup', 'cleanup', 'qmgr', 'flush'].includes(name) ? 'n' : '-';
    lines.push(`${name} unix ${priv} - n ${wakeup} ${limit} ${command}`);
  }
  lines.push('postlog unix-dgram n - n - 1 postlogd');
  return lines.join('\n') + '\n';
}

function roostConf(lmtpUnused: number, quotaStatusPort: number): string {
  return `protocols = imap lmtp
listen = 127.0.0.1
data_dir = ${dir}/roost
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
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
    port = ${lmtpUnused}
  }
  unix_listener ${dir}/queue/private/dovecot-lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
service auth {
  unix_listener ${dir}/queue/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    address = 127.0.0.1
    port = ${quotaStatusPort}
  }
}
`;
}

/** One SMTP reply (multi-line ones end with "NNN "). */
async function reply(c: LineClient): Promise<string> {
  for (;;) {
    const [line] = await c.lines(1);
    const text = line!.replace(/\r$/, '');
    if (/^\d{3} /.test(text)) return text;
  }
}

async function smtp(c: LineClient, line: string): Promise<string> {
  c.send(`${line}\r\n`);
  return reply(c);
}

beforeAll(async () => {
  if (skipReason) return;
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-postfix-'));
  chmodSync(dir, 0o755); // Postfix's daemons run as the postfix user
  let lmtpUnused: number;
  let quotaStatusPort: number;
  [smtpPort, imapPort, lmtpUnused, quotaStatusPort] = await freePorts(4);
  mkdirSync(join(dir, 'etc'));
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  chownSync(join(dir, 'data'), resolveOwner('user', 'postfix'), -1);
  writeFileSync(join(dir, 'etc/main.cf'), mainCf(quotaStatusPort));
  writeFileSync(join(dir, 'etc/master.cf'), masterCf(smtpPort));
  // `postfix check` creates the queue directories with their owners; then start.
  await run(POSTFIX, ['-c', join(dir, 'etc'), 'check'], { timeout: 60_000 });
  await run(POSTFIX, ['-c', join(dir, 'etc'), 'start'], { timeout: 60_000 });
  postfixStarted = true;

  writeFileSync(join(dir, 'roost.conf'), roostConf(lmtpUnused, quotaStatusPort));
  await roostCli('user', 'add', 'alice@example.com', '-p', 'secret');
  await roostCli('user', 'add', 'full@example.com', '-p', 'secret');
  await roostCli('user', 'set', 'full@example.com', 'quota_rule=*:messages=1');
  // full@ holds its one message: the next one is over quota.
  await new Promise<void>((resolve, reject) => {
    const child = execFile(process.execPath, [MAIN, '-c', join(dir, 'roost.conf'), 'deliver', '-u', 'full@example.com'], (err) => (err ? reject(err) : resolve()));
    child.stdin!.end('Subject: filler\r\n\r\nfills the quota\r\n');
  });
  roost = spawn(process.execPath, [MAIN, '-c', join(dir, 'roost.conf'), 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  roost.stdout!.on('data', (d: Buffer) => (roostOut += d.toString()));
  roost.stderr!.on('data', (d: Buffer) => (roostOut += d.toString()));
  await waitFor(() => roostOut.includes('quota-status listening') || roost!.exitCode !== null, 'roost serve to start', 30_000);
  if (!roostOut.includes('quota-status listening')) throw new Error(`roost serve did not start:\n${roostOut}`);
  await waitFor(() => maillog().includes('daemon started'), 'Postfix to start', 30_000);
}, 180_000);

afterAll(async () => {
  if (skipReason || !dir) return;
  if (postfixStarted) await run(POSTFIX, ['-c', join(dir, 'etc'), 'stop'], { timeout: 60_000 }).catch(() => undefined);
  if (roost && roost.exitCode === null) {
    const exited = new Promise((resolve) => roost!.once('exit', resolve));
    roost.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title);
const maybe = skipReason ? test.skip : test;

maybe(name('Postfix: SMTP AUTH PLAIN against Roost, quota-status refuses at RCPT, LMTP delivers, IMAP reads'), async () => {
  try {
    // The sockets Postfix reaches inside its queue directory, owned as configured.
    for (const socket of ['private/auth', 'private/dovecot-lmtp']) {
      const out = await run('stat', ['-c', '%U:%G %a', join(dir, 'queue', socket)]);
      expect(out.stdout.trim()).toBe(socket.endsWith('auth') ? 'postfix:postfix 660' : 'postfix:postfix 600');
    }
    const c = await LineClient.connect({ port: smtpPort });
    expect(await reply(c)).toMatch(/^220 /);
    const ehlo = await smtp(c, 'EHLO client.example.net');
    expect(ehlo).toMatch(/^250 /);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(await smtp(c, `AUTH PLAIN ${b64('\0alice@example.com\0secret')}`)).toBe('235 2.7.0 Authentication successful');
    expect(await smtp(c, 'MAIL FROM:<sender@example.net>')).toMatch(/^250 /);
    // quota-status answered Dovecot's default 554 5.2.2 text; Postfix wraps it.
    expect(await smtp(c, 'RCPT TO:<full@example.com>')).toBe(
      '554 5.2.2 <full@example.com>: Recipient address rejected: Quota exceeded (mailbox for user is full)',
    );
    // An unknown user: quota-status's "REJECT Unknown user".
    expect(await smtp(c, 'RCPT TO:<nobody@example.com>')).toMatch(/^5\d\d 5\.\d\.\d <nobody@example\.com>: Recipient address rejected: Unknown user$/);
    expect(await smtp(c, 'RCPT TO:<alice@example.com>')).toMatch(/^250 /);
    expect(await smtp(c, 'DATA')).toMatch(/^354 /);
    c.send('From: sender@example.net\r\nTo: alice@example.com\r\nSubject: through Postfix\r\n\r\nHello via lmtp:unix.\r\n.\r\n');
    expect(await reply(c)).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(await smtp(c, 'QUIT')).toMatch(/^221 /);
    c.close();

    // A wrong password is refused by the same passdb.
    const bad = await LineClient.connect({ port: smtpPort });
    await reply(bad);
    await smtp(bad, 'EHLO client.example.net');
    expect(await smtp(bad, `AUTH PLAIN ${b64('\0alice@example.com\0wrong')}`)).toMatch(/^535 5\.7\.8 Error: authentication failed/);
    bad.close();

    // Postfix hands the message to Roost's LMTP socket; it shows up in alice's INBOX.
    await waitFor(() => /status=sent \(250 2\.0\.0 <alice@example\.com> \S+ Saved\)/.test(maillog()), 'the LMTP delivery', 60_000);
    const imap = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'alice@example.com', pass: 'secret' }, logger: false });
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const subjects: string[] = [];
      for await (const m of imap.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
      expect(subjects).toEqual(['through Postfix']);
    } finally {
      await imap.logout();
    }
    // full@ still holds only its one message.
    const show = await roostCli('mailbox', 'status', '-u', 'full@example.com', 'messages', 'INBOX');
    expect(show.stdout.trim()).toBe('INBOX messages=1');
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- Postfix maillog ---\n${maillog().slice(-4000)}\n--- roost ---\n${roostOut.slice(-4000)}`);
  }
}, 180_000);
