// Push notifications behind the real servers: LMTP deliveries posting to a local web service with
// the example script, a failing handler that must not change the LMTP reply, and an IMAP client's
// APPEND/STORE/COPY/MOVE seen as the right events.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { captureLogs } from '../../src/log/logger.js';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { installPushNotification } from '../../src/lua/push-notification/plugin.js';
import { lmtpEnv, RawClient, type LmtpEnv } from '../lmtp/helpers.js';
import { startTestServer } from '../imap/server/helpers.js';
import { MESSAGE, RECORDER_LUA } from './helpers.js';
import { waitUntil } from '../poll.js';
import { startSignalServer } from '../lua/signal-server.js';
import { Worker } from 'node:worker_threads';

const EXAMPLE = fileURLToPath(new URL('../../config/examples/push-new-mail.lua', import.meta.url));
const PLUGINS = ['mail_lua', 'notify', 'push_notification', 'push_notification_lua'];

let pool: LuaWorkerPool;
beforeAll(() => {
  pool = new LuaWorkerPool({ workers: 1, callTimeoutMs: 2000 });
});
afterAll(() => pool.close());

async function deliver(env: LmtpEnv, rcpts: string[]): Promise<string[]> {
  const c = await RawClient.connect({ port: env.port });
  await c.replies(1);
  c.send('LHLO client.test\r\nMAIL FROM:<alice@example.com>\r\n');
  await c.replies(2);
  for (const r of rcpts) c.send(`RCPT TO:<${r}>\r\n`);
  await c.replies(rcpts.length);
  c.send('DATA\r\n');
  await c.replies(1);
  c.send(Buffer.concat([MESSAGE, Buffer.from('.\r\n')]));
  const replies = await c.replies(rcpts.length);
  c.send('QUIT\r\n');
  return replies;
}

test('the example script POSTs each delivery as JSON; an unreachable one is only logged', async () => {
  const posts: { url: string; type: string; body: Record<string, unknown> }[] = [];
  const web: Server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (d: Buffer) => (data += d.toString('utf8')));
    req.on('end', () => {
      posts.push({ url: req.url ?? '', type: String(req.headers['content-type']), body: JSON.parse(data) as Record<string, unknown> });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const port = (web.address() as { port: number }).port;
  const env = await lmtpEnv({
    users: [
      { username: 'bob@example.com', fields: { push_notification_url: `http://127.0.0.1:${port}/new-mail` } },
      // Nothing listens on port 1: the post fails, the delivery must not notice.
      { username: 'carol@example.com', fields: { push_notification_url: 'http://127.0.0.1:1/new-mail' } },
    ],
    configure: (s) => {
      s.mail_plugins = PLUGINS;
      s.plugin.push_notification_driver = `lua:file=${EXAMPLE}`;
    },
  });
  const plugin = installPushNotification(env.ctx.mailUsers, pool);
  const cap = captureLogs();
  try {
    const replies = await deliver(env, ['bob@example.com', 'carol@example.com']);
    expect(replies.map((r) => r.slice(0, 3))).toEqual(['250', '250']);
    await plugin.close();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.url).toBe('/new-mail');
    expect(posts[0]!.type).toBe('application/json');
    const uidValidity = await env.withStore('bob@example.com', async (s) => (await s.getMailbox('INBOX'))!.uidValidity);
    expect(posts[0]!.body).toEqual({
      user: 'bob@example.com',
      mailbox: 'INBOX',
      uid: 1,
      uid_validity: uidValidity,
      from: 'alice@example.com',
      from_name: 'Alice Example',
      subject: 'Café plans',
      snippet: 'Lunch at noon?',
      date: 1741080030,
    });
    expect(cap.lines.some((l) => /^lmtp\(carol@example\.com\).*Error: push to http:\/\/127\.0\.0\.1:1\/new-mail failed: 9\d{3} connect/.test(l))).toBe(true);
  } finally {
    cap.stop();
    plugin.uninstall();
    await env.close();
    await new Promise((r) => web.close(r));
  }
});

/** An LMTP server for bob@example.com whose push driver runs `<data_dir>/<file>` (written here). */
async function pushDriverEnv(file: string, lines: string[]): Promise<LmtpEnv> {
  const env = await lmtpEnv({
    users: [{ username: 'bob@example.com' }],
    configure: (s) => {
      s.mail_plugins = PLUGINS;
      s.plugin.push_notification_driver = `lua:file=${join(s.data_dir, file)}`;
    },
  });
  writeFileSync(join(env.dir, file), lines.join('\n'));
  return env;
}

test('a failing or hanging handler is logged; the delivery is still 250', async () => {
  const env = await pushDriverEnv('bad.lua', [
    'function dovecot_lua_notify_begin_txn(user) return {} end',
    'function dovecot_lua_notify_event_message_new(ctx, e) ctx.mail = true error("boom in handler") end',
    // Only the delivery's transaction hangs (INBOX's creation comes first, in its own).
    'function dovecot_lua_notify_end_txn(ctx, ok) while ctx.mail do end end',
  ]);
  const plugin = installPushNotification(env.ctx.mailUsers, pool);
  const cap = captureLogs();
  try {
    expect((await deliver(env, ['bob@example.com']))[0]).toMatch(/^250 /);
    // The reply did not wait for the end_txn loop: its lua_call_timeout error is not logged yet
    // (a pending call's log lines arrive when the call ends).
    expect(cap.lines.some((l) => l.includes('dovecot_lua_notify_end_txn'))).toBe(false);
    await plugin.close();
    const errors = cap.lines.filter((l) => l.includes('Error: lua: '));
    expect(errors[0]).toMatch(
      /^lmtp\(bob@example\.com\)<\d+><[^>]+>: Error: lua: lua_pcall\(dovecot_lua_notify_event_message_new, 2, 0\) failed: .*bad\.lua:2: boom in handler\nstack traceback:/,
    );
    expect(errors[1]).toMatch(/Error: lua: lua_pcall\(dovecot_lua_notify_end_txn, 2, 0\) failed: .*lua_call_timeout/);
    expect(await env.messages('bob@example.com')).toHaveLength(1);
  } finally {
    cap.stop();
    plugin.uninstall();
    await env.close();
  }
});

test("the push state's close follows its last transaction to the worker without waiting for its answer", async () => {
  const signals = await startSignalServer();
  const env = await pushDriverEnv('held.lua', [
    signals.lua,
    'function dovecot_lua_notify_begin_txn(user) return {} end',
    'function dovecot_lua_notify_event_message_new(ctx, e) ctx.mail = true end',
    // The delivery's transaction waits here until the test lets it go.
    'function dovecot_lua_notify_end_txn(ctx, ok) if ctx.mail then signal("meet", "txn") dovecot.i_info("txn done") end end',
    'function script_deinit() dovecot.i_info("push script unloaded") end',
  ]);
  const plugin = installPushNotification(env.ctx.mailUsers, pool);
  const cap = captureLogs();
  const posted: string[] = [];
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: Worker, msg: unknown, ...rest: unknown[]) {
    posted.push(String((msg as { op?: string }).op));
    return (post as (...a: unknown[]) => void).call(this, msg, ...rest);
  };
  try {
    expect((await deliver(env, ['bob@example.com']))[0]).toMatch(/^250 /);
    await waitUntil('the transaction to wait in end_txn', () => signals.reached.has('txn'));
    // Sent while the transaction still runs: the worker takes it as soon as that one answers.
    await waitUntil('the close to be sent', () => posted.includes('close'));
    expect(cap.lines.some((l) => l.includes('txn done'))).toBe(false);
    await signals.meet();
    await plugin.close();
    const lines = cap.lines.filter((l) => /txn done|push script unloaded/.test(l));
    expect(lines).toEqual([expect.stringMatching(/: Info: txn done$/), expect.stringMatching(/: Info: push script unloaded$/)]);
  } finally {
    Worker.prototype.postMessage = post;
    cap.stop();
    plugin.uninstall();
    await signals.close();
    await env.close();
  }
});

test('IMAP APPEND, STORE, COPY and MOVE from a real client', async () => {
  const t = await startTestServer((s) => {
    s.mail_plugins = PLUGINS;
    s.plugin.push_notification_driver = `lua:file=${join(s.data_dir, 'rec.lua')}`;
  });
  writeFileSync(join(t.dataDir, 'rec.lua'), RECORDER_LUA);
  const plugin = installPushNotification(t.ctx.mailUsers, pool);
  const cap = captureLogs();
  try {
    const c = new ImapFlow({ host: '127.0.0.1', port: t.port, secure: false, auth: { user: 'alice', pass: 'pw' }, logger: false, tls: { rejectUnauthorized: false } });
    await c.connect();
    await c.mailboxCreate('Archive');
    await c.append('INBOX', MESSAGE);
    await c.append('INBOX', MESSAGE);
    await c.mailboxOpen('INBOX');
    await c.messageFlagsAdd('1:2', ['\\Seen']);
    await c.messageCopy('1', 'Archive');
    await c.messageMove('2', 'Archive');
    await c.logout();
    // The server ends the session after LOGOUT.
    await waitUntil('the session to end', () => t.server.connectionCount === 0 && cap.lines.some((l) => /^imap\(alice\).*Disconnected: Logged out/.test(l)));
    await plugin.close();
    const calls = cap.records
      .filter((r) => r.prefix.startsWith('imap(alice)') && r.level === 'Info' && /^(begin|end|[A-Z]\w+ \{)/.test(r.message))
      .map((r) => r.message.replace(/ \{.*?(mailbox="[^"]*").*?(uid=f\d+\.0)?,uid_validity.*/, ' $1 $2').replace(/ \{.*(mailbox="[^"]*").*/, ' $1').trim());
    expect(calls).toEqual([
      'begin alice', 'MailboxCreate mailbox="Archive"', 'end true 1',
      'begin alice', 'MailboxSubscribe mailbox="Archive"', 'end true 1', // imapflow subscribes what it creates
      // INBOX is created by its first opening, in a transaction of its own (Dovecot 2.3.19).
      'begin alice', 'MailboxCreate mailbox="INBOX"', 'end true 1',
      'begin alice', 'MessageAppend mailbox="INBOX" uid=f1.0', 'end true 1',
      'begin alice', 'MessageAppend mailbox="INBOX" uid=f2.0', 'end true 1',
      'begin alice',
      'FlagsClear mailbox="INBOX" uid=f1.0', 'FlagsSet mailbox="INBOX" uid=f1.0', 'MessageRead mailbox="INBOX" uid=f1.0',
      'FlagsClear mailbox="INBOX" uid=f2.0', 'FlagsSet mailbox="INBOX" uid=f2.0', 'MessageRead mailbox="INBOX" uid=f2.0',
      'end true 6',
      'begin alice', 'MessageAppend mailbox="Archive" uid=f1.0', 'end true 1',
      'begin alice', 'MessageAppend mailbox="Archive" uid=f2.0', 'end true 1',
      'begin alice', 'MessageExpunge mailbox="INBOX" uid=f2.0', 'end true 1',
    ]);
    // The session that selected INBOX owns \Recent for both messages: it shows in flags_old (§16.5).
    const clears = cap.records.filter((r) => r.prefix.startsWith('imap(alice)') && r.message.startsWith('FlagsClear {'));
    expect(clears).toHaveLength(2);
    for (const r of clears) expect(r.message).toContain('flags_old={"\\\\Recent"}');
  } finally {
    cap.stop();
    plugin.uninstall();
    await t.stop();
  }
});
