// The stats HTTP listener (`service stats { inet_listener http { port } unix_listener http { } }`)
// of the real `roost serve` process: /metrics is scraped over TCP and over the unix socket before
// and after an IMAP login (imapflow), a failed login, logins through the auth socket as Postfix
// makes them (Dovecot's auth client protocol, raw lines) and LMTP deliveries (nodemailer's LMTP
// client), two of them failing in a mail_lua_script that loops or exhausts lua_memory_limit, and
// the counters and gauges moved (auth penalty and storage commit/fsync histograms included); any
// other path is 404.
import { jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { ImapFlow } from 'imapflow';
import { LineClient } from '../auth-server/helpers.js';
import nodemailer from 'nodemailer';
import { waitUntil } from '../poll.js';
import { buildCli, freePorts, MAIN, roost } from './built-roost.js';

jest.setTimeout(240_000);

let dir: string;
let server: ChildProcess | null = null;
let out = '';

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-metrics-'));
}, 180_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** The value of one sample line (`name{labels} value`), 0 when absent (a labelled series not seen yet). */
function sample(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1).split(' ')[0]);
  }
  return 0;
}

/** GET /metrics over a unix socket. */
function scrapeUnix(socketPath: string): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    }).on('error', reject);
  });
}

async function scrape(port: number, path = '/metrics'): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

test('GET /metrics: OpenMetrics text whose counters follow IMAP logins, commands, LMTP deliveries and Lua failures', async () => {
  const [imapPort, lmtpPort, statsPort] = (await freePorts(3)) as [number, number, number];
  const conf = join(dir, 'roost.conf');
  writeFileSync(
    conf,
    [
      'protocols = imap lmtp',
      'listen = 127.0.0.1',
      `data_dir = ${dir}/data`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_username_format = %Ln',
      'lua_call_timeout = 1000 ms',
      'lua_memory_limit = 8M',
      'mail_max_message_size = 10k',
      `plugin {\n  mail_lua_script = ${dir}/user.lua\n}`,
      `service imap-login {\n  inet_listener imap {\n    port = ${imapPort}\n  }\n}`,
      `service lmtp {\n  inet_listener lmtp {\n    port = ${lmtpPort}\n  }\n}`,
      `service auth {\n  unix_listener ${dir}/auth {\n    mode = 0600\n  }\n}`,
      // The second HTTP listener is the unix socket `<base_dir>/http`; stats-writer is Dovecot's own protocol.
      `service stats {\n  inet_listener http {\n    port = ${statsPort}\n  }\n  unix_listener http {\n    mode = 0600\n  }\n  unix_listener stats-writer {\n  }\n}`,
      '',
    ].join('\n'),
  );
  // looper's sessions run into lua_call_timeout, hog's into lua_memory_limit.
  writeFileSync(
    join(dir, 'user.lua'),
    `function mail_user_created(user)
  if user.username == 'looper' then while true do end end
  if user.username == 'hog' then local t = {} for i = 1, 1000 do t[i] = string.rep('x', 1000000) .. i end end
  return 0
end
`,
  );
  for (const u of ['alice', 'looper', 'hog']) expect((await roost(['-c', conf, 'user', 'add', u, '-p', 'secret'])).code).toBe(0);
  server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitUntil('the listeners', () => {
    if (server!.exitCode !== null) throw new Error(`roost serve exited (${server!.exitCode}): ${out}`);
    return out.includes('data under');
  }, 60_000);
  expect(out).toContain(`roost: stats (OpenMetrics) listening on http://127.0.0.1:${statsPort}/metrics`);
  const statsSocket = join(dir, 'data/run/http');
  expect(out).toContain(`roost: stats (OpenMetrics) listening on unix:${statsSocket} (GET /metrics)`);
  expect(statSync(statsSocket).mode & 0o777).toBe(0o600);
  expect(out).toContain('roost: Warning: service stats unix_listener stats-writer: only listeners named http serve /metrics (ignored)');
  const script = join(dir, 'user.lua');

  const before = await scrape(statsPort);
  expect(before.status).toBe(200);
  expect(before.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
  expect(before.text.trimEnd().endsWith('# EOF')).toBe(true);
  // prom-client's process metrics: memory and event-loop lag.
  expect(before.text).toMatch(/^process_resident_memory_bytes \d+/m);
  expect(before.text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e-]+/m);
  const okLogins = 'roost_logins_total{result="success",mechanism="PLAIN",service="imap"}';
  const failedLogins = 'roost_logins_total{result="failure",mechanism="PLAIN",service="imap"}';
  const selects = 'roost_imap_command_duration_seconds_count{command="SELECT",status="OK"}';
  const userCreated = `roost_lua_calls_total{script="${script}",function="mail_user_created"}`;
  const delivered = 'roost_lmtp_deliveries_total{result="ok"}';
  const rejected = 'roost_lmtp_deliveries_total{result="rejected"}';

  // A failed login, then one that succeeds and stays logged in.
  const wrong = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'alice', pass: 'wrong' }, logger: false });
  await expect(wrong.connect()).rejects.toThrow();
  wrong.close();
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'alice', pass: 'secret' }, logger: false });
  await client.connect();
  await client.mailboxOpen('INBOX');
  // An LMTP client that connected and waits (the greeting shows the server accepted it).
  const lmtpSocket = net.connect(lmtpPort, '127.0.0.1');
  let greeting = '';
  lmtpSocket.on('data', (d: Buffer) => (greeting += d.toString()));
  await waitUntil('the LMTP greeting', () => greeting.startsWith('220 '));
  const during = await scrape(statsPort);
  expect(sample(during.text, 'roost_connections{service="lmtp"}')).toBe(1);
  lmtpSocket.destroy();
  expect(sample(during.text, okLogins)).toBe(sample(before.text, okLogins) + 1);
  expect(sample(during.text, failedLogins)).toBe(sample(before.text, failedLogins) + 1);
  expect(sample(during.text, 'roost_imap_sessions')).toBe(1);
  expect(sample(during.text, 'roost_mail_user_sessions{service="imap"}')).toBe(1);
  expect(sample(during.text, 'roost_connections{service="imap"}')).toBe(1);
  expect(sample(during.text, selects)).toBe(sample(before.text, selects) + 1);
  expect(sample(during.text, userCreated)).toBe(sample(before.text, userCreated) + 1);
  // The failure raised 127.0.0.1's auth penalty: the next attempt waited (Dovecot's auth-penalty.c).
  const penalties = 'roost_auth_penalty_delay_seconds_count';
  expect(sample(during.text, penalties)).toBe(sample(before.text, penalties) + 1);
  expect(during.text).toMatch(/^roost_imap_command_duration_seconds_bucket\{le="0.001",command="SELECT",status="OK"\} \d+/m);

  // One delivered recipient and one unknown one.
  const message = 'From: a@example.net\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n';
  const transport = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: lmtpPort, name: 'mta.test' });
  const info = await transport.sendMail({ envelope: { from: 'a@example.net', to: ['alice@example.com', 'nobody@example.com'] }, raw: message });
  expect(info.accepted).toEqual(['alice@example.com']);
  // Their scripts fail: a temporary failure each, counted as Lua timeout and memory error.
  for (const to of ['looper@example.com', 'hog@example.com']) {
    const failed = await transport.sendMail({ envelope: { from: 'a@example.net', to: [to] }, raw: message });
    expect(failed.rejected).toEqual([to]);
    expect(failed.response).toMatch(/^451 4\.3\.0 /);
  }
  // Above mail_max_message_size (no SIZE= on MAIL FROM, so it is refused after DATA): 552, rejected.
  const raw = net.connect(lmtpPort, '127.0.0.1');
  let replies = '';
  raw.on('data', (d: Buffer) => (replies += d.toString()));
  const step = async (line: string, code: string) => {
    replies = '';
    raw.write(`${line}\r\n`);
    await waitUntil(`the reply to ${line}`, () => new RegExp(`^${code} .*\r\n`, 'm').test(replies));
  };
  await waitUntil('the LMTP greeting', () => /^220 /m.test(replies));
  await step('LHLO mta.test', '250');
  await step('MAIL FROM:<a@example.net>', '250');
  await step('RCPT TO:<alice@example.com>', '250');
  await step('DATA', '354');
  replies = '';
  raw.write(`Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(200) + '.\r\nQUIT\r\n');
  await waitUntil('the QUIT reply', () => /^221 /m.test(replies));
  expect(replies).toMatch(/^552 /m);
  raw.destroy();
  transport.close();
  await client.logout();
  // The IMAP session ends on the server a moment after the client's LOGOUT.
  let after = await scrape(statsPort);
  await waitUntil('the IMAP session to end', async () => {
    after = await scrape(statsPort);
    return (
      sample(after.text, 'roost_imap_sessions') === 0 &&
      sample(after.text, 'roost_connections{service="imap"}') === 0 &&
      sample(after.text, 'roost_connections{service="lmtp"}') === 0
    );
  });
  expect(sample(after.text, delivered)).toBe(sample(before.text, delivered) + 1);
  // The unknown user is refused at RCPT, before any delivery: not counted. The big message is.
  expect(sample(after.text, rejected)).toBe(sample(before.text, rejected) + 1);
  expect(sample(after.text, 'roost_lmtp_deliveries_total{result="tempfail"}')).toBe(sample(before.text, 'roost_lmtp_deliveries_total{result="tempfail"}') + 2);
  // Counted under the script that failed.
  expect(sample(after.text, `roost_lua_timeouts_total{script="${script}"}`)).toBe(1);
  expect(sample(after.text, `roost_lua_memory_errors_total{script="${script}"}`)).toBe(1);
  expect(sample(after.text, 'roost_mail_user_sessions{service="imap"}')).toBe(0);
  expect(sample(after.text, 'roost_mail_user_sessions{service="lmtp"}')).toBe(0);
  expect(sample(after.text, userCreated)).toBe(sample(before.text, userCreated) + 4);
  expect(after.text).toMatch(/^roost_lua_worker_replacements_total 0$/m);
  // The delivery committed to alice's store, and its WAL was synced (durability = async-fsync, the default).
  const commits = 'roost_storage_commit_duration_seconds_count';
  expect(sample(after.text, commits)).toBeGreaterThan(sample(during.text, commits));
  const fsyncs = (text: string) => sample(text, 'roost_storage_fsync_duration_seconds_count{mode="sync"}') + sample(text, 'roost_storage_fsync_duration_seconds_count{mode="async"}');
  expect(fsyncs(after.text)).toBeGreaterThan(fsyncs(during.text));
  // The message's size as the client sent it in DATA (without the added trace headers).
  expect(sample(after.text, 'roost_lmtp_delivered_bytes_total')).toBe(sample(before.text, 'roost_lmtp_delivered_bytes_total') + message.length);

  // Logins through the auth socket, as Postfix's smtpd makes them (service=smtp): one good, one
  // wrong (from another IP, so 127.0.0.1 gets no penalty from it).
  const auth = await LineClient.connect({ path: join(dir, 'auth') });
  expect((await auth.lines(6)).pop()).toBe('DONE'); // VERSION, MECH PLAIN, SPID, CUID, COOKIE, DONE
  const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');
  auth.send(`VERSION\t1\t2\nCPID\t777\nAUTH\t1\tPLAIN\tservice=smtp\tlip=127.0.0.1\trip=127.0.0.1\tresp=${plain('alice', 'secret')}\n`);
  expect(await auth.lines(1)).toEqual(['OK\t1\tuser=alice']);
  auth.send(`AUTH\t2\tPLAIN\tservice=smtp\tlip=127.0.0.1\trip=192.0.2.7\tresp=${plain('alice', 'wrong')}\n`);
  expect(await auth.lines(1)).toEqual(['FAIL\t2\tuser=alice']);
  auth.close();
  // The same figures over the unix socket.
  const viaUnix = await scrapeUnix(statsSocket);
  expect(viaUnix.status).toBe(200);
  expect(viaUnix.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
  expect(sample(viaUnix.text, 'roost_logins_total{result="success",mechanism="PLAIN",service="smtp"}')).toBe(1);
  expect(sample(viaUnix.text, 'roost_logins_total{result="failure",mechanism="PLAIN",service="smtp"}')).toBe(1);
  expect(sample(viaUnix.text, okLogins)).toBe(sample(after.text, okLogins));
  expect(sample(viaUnix.text, 'roost_connections{service="auth"}')).toBeLessThanOrEqual(1);

  // Only /metrics exists.
  expect((await scrape(statsPort, '/')).status).toBe(404);
  expect((await scrape(statsPort, '/metricsx')).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${statsPort}/metrics`, { method: 'POST' })).status).toBe(405);
});
