// `roost deliver` (an MTA's LDA, in its own process) and `roost restore` of the running server:
// deliver asks the server for a delivery hold over the admin socket (`deliver-lock`), so while a
// restore holds the user it exits 75 (EX_TEMPFAIL, the MTA retries) and stores nothing, and a
// restore that comes while it stores waits for it, as for LMTP deliveries in progress. Without a
// server it delivers as before; a server that does not know deliver-lock gets a warning.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { waitUntil } from '../poll.js';
import { buildCli, roost } from './built-roost.js';
import { startServeChild } from './serve-child.js';

const dirs: string[] = [];
/** Admin connections still open; a server does not stop while one is (a failed test releases them). */
const openHolds = new Set<net.Socket>();

beforeAll(() => buildCli(), 180_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'roost-deliver-hold-'));
  dirs.push(d);
  return d;
}

function message(subject: string): string {
  return `From: sender@example.net\nTo: alice@example.com\nSubject: ${subject}\n\nHello.\n`;
}

/** INBOX's message count, read from the store by the CLI (works also while the server holds the user). */
async function inboxCount(conf: string, user: string): Promise<number> {
  const r = await roost(['-c', conf, 'mailbox', 'status', '-u', user, 'messages', 'INBOX']);
  expect(r.code).toBe(0);
  return Number(/^INBOX messages=(\d+)$/m.exec(r.stdout)![1]);
}

/** A raw client of the admin socket: one request line; the reply, when it comes; the connection kept. */
function adminHold(dir: string, cmd: string, args: string[]): { reply: Promise<unknown>; release(): void } {
  const socket = net.connect(join(dir, 'data/run/roost-admin'));
  let data = '';
  socket.setEncoding('utf8');
  const reply = new Promise<unknown>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (d: string) => {
      data += d;
      if (data.includes('\n')) resolve(JSON.parse(data.slice(0, data.indexOf('\n'))));
    });
  });
  socket.write(JSON.stringify({ cmd, args }) + '\n');
  openHolds.add(socket);
  return {
    reply,
    release: () => {
      openHolds.delete(socket);
      socket.end();
    },
  };
}

test('while a restore holds the user, roost deliver exits 75 and stores nothing; released, it delivers', async () => {
  const dir = tempDir();
  const serve = await startServeChild(dir, ['alice', 'bob']);
  try {
    const held = adminHold(dir, 'restore-lock', ['alice']);
    expect(await held.reply).toEqual({ ok: true, result: { user: 'alice', kicked: 0 } });
    const refused = await roost(['-c', serve.conf, 'deliver', '-u', 'alice'], { input: message('during-restore') });
    expect(refused).toEqual({ code: 75, stdout: '', stderr: 'roost: Temporary failure: alice: the mail store is being restored\n' });
    expect(await inboxCount(serve.conf, 'alice')).toBe(0);
    // Another user is not held.
    expect((await roost(['-c', serve.conf, 'deliver', '-u', 'bob'], { input: message('to-bob') })).code).toBe(0);
    expect(await inboxCount(serve.conf, 'bob')).toBe(1);

    held.release();
    // The server sees the disconnect a moment later: the MTA's retry succeeds once it has.
    let retry = { code: -1, stdout: '', stderr: '' };
    await waitUntil('the retry to be accepted', async () => {
      retry = await roost(['-c', serve.conf, 'deliver', '-u', 'alice'], { input: message('retried') });
      return retry.code !== 75;
    });
    expect(retry.code).toBe(0);
    expect(retry.stderr).not.toMatch(/roost: /);
    expect(await inboxCount(serve.conf, 'alice')).toBe(1);
  } finally {
    for (const socket of openHolds) socket.destroy();
    openHolds.clear();
    await serve.stop();
  }
}, 180_000);

test('a restore-lock that comes while roost deliver stores a message waits until that delivery is done', async () => {
  // The delivery waits inside its mail_user_created hook (run in the deliver process) on an HTTP
  // request the test answers when it wants: the message is being stored.
  let held: ServerResponse | null = null;
  const hook = createServer((_req, res) => (held = res));
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`;
  const dir = tempDir();
  writeFileSync(
    join(dir, 'user.lua'),
    `function mail_user_created(user)
  if user.service == 'lda' then
    dovecot.http.client({ request_timeout_msecs = 120000 }):request({ url = "${hookUrl}" }):submit()
  end
  return 0
end
`,
  );
  const serve = await startServeChild(dir, ['alice'], ['lua_call_timeout = 2 min', `plugin {\n  mail_lua_script = ${dir}/user.lua\n}`]);
  try {
    const delivering = roost(['-c', serve.conf, 'deliver', '-u', 'alice'], { input: message('in-progress') });
    await waitUntil('the delivery to reach the hook', () => held !== null);

    const restore = adminHold(dir, 'restore-lock', ['alice']);
    let hookAnswered = false;
    const grantedAfterHook = restore.reply.then((reply) => ({ reply, hookAnswered }));
    // The restore-lock has arrived (LMTP already refuses alice) but is not granted yet.
    const lmtp = await RawLmtp.connect({ port: serve.lmtpPort });
    await lmtp.replies(1);
    await lmtp.command('LHLO mta.test');
    await lmtp.command('MAIL FROM:<sender@example.net>');
    await waitUntil('the restore-lock to arrive', async () => (await lmtp.command('RCPT TO:<alice@example.com>')).startsWith('451 '));
    lmtp.socket.destroy();

    hookAnswered = true;
    held!.end('ok');
    // Granted only once the delivery in progress has finished, with its message in the store.
    expect(await grantedAfterHook).toEqual({ reply: { ok: true, result: { user: 'alice', kicked: 0 } }, hookAnswered: true });
    expect(await delivering).toMatchObject({ code: 0 });
    expect(await inboxCount(serve.conf, 'alice')).toBe(1);
    // While the restore holds alice, the next deliver is refused.
    expect((await roost(['-c', serve.conf, 'deliver', '-u', 'alice'], { input: message('later') })).code).toBe(75);
    restore.release();
  } finally {
    for (const socket of openHolds) socket.destroy();
    openHolds.clear();
    await serve.stop();
    hook.closeAllConnections();
    await new Promise((resolve) => hook.close(resolve));
  }
}, 180_000);

test('without a running server roost deliver stores as before; a server without deliver-lock gets a warning', async () => {
  const dir = tempDir();
  const conf = join(dir, 'roost.conf');
  writeFileSync(conf, [`data_dir = ${dir}/data`, 'passdb {\n  driver = roost\n}', 'userdb {\n  driver = roost\n}', ''].join('\n'));
  expect((await roost(['-c', conf, 'user', 'add', 'alice', '-p', 'secret'])).code).toBe(0);
  const alone = await roost(['-c', conf, 'deliver', '-u', 'alice'], { input: message('no-server') });
  expect(alone.code).toBe(0);
  expect(alone.stderr).not.toMatch(/roost: /);
  expect(await inboxCount(conf, 'alice')).toBe(1);

  // An older server on the admin socket answers an unknown command: delivered, with a warning.
  mkdirSync(join(dir, 'data/run'), { recursive: true });
  const older = net.createServer((socket) => {
    socket.once('data', () => socket.end(JSON.stringify({ ok: false, error: 'Unknown command: deliver-lock' }) + '\n'));
  });
  await new Promise<void>((resolve) => older.listen(join(dir, 'data/run/roost-admin'), resolve));
  try {
    const warned = await roost(['-c', conf, 'deliver', '-u', 'alice'], { input: message('older-server') });
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/^roost: Warning: the running server does not know deliver-lock \(older version\); delivering without a hold/m);
    expect(await inboxCount(conf, 'alice')).toBe(2);
  } finally {
    await new Promise((resolve) => older.close(resolve));
  }
}, 180_000);
