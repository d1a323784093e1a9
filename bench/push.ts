// Push-notification benchmark: deliveries per second through the delivery service (one mail-user
// session and one durable commit per delivery, as LMTP does), without push notifications and with
// a Lua push script (its own state per session, a MessageNew handler building a table), and the
// driver's cost per delivery. "until notified" also waits for the queued Lua calls to finish.
// Run: npm run build && node dist/bench/push.js
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createServerContext } from '../src/cli/context.js';
import { defaultSettings } from '../src/config/index.js';
import { logHub } from '../src/log/logger.js';
import { LuaWorkerPool } from '../src/lua/index.js';
import { installPushNotification } from '../src/lua/push-notification/plugin.js';
import { deliver, prepareMessage } from '../src/mail-user/delivery.js';

logHub.setDefaultOutput(false);
const COUNT = Number(process.env.BENCH_COUNT ?? 300);
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-push-'));
const script = join(dir, 'push.lua');
writeFileSync(
  script,
  `function dovecot_lua_notify_begin_txn(user) return { user = user.username, n = 0 } end
function dovecot_lua_notify_event_message_new(ctx, e) ctx.n = ctx.n + 1; ctx.last = { e.uid, e.subject, e.from_address } end
function dovecot_lua_notify_end_txn(ctx, ok) end
`,
);
const message = prepareMessage(
  Buffer.from(
    'From: "Bench" <bench@example.org>\r\nTo: user@example.org\r\nSubject: bench\r\nDate: Tue, 4 Mar 2025 10:20:30 +0100\r\n' +
      'Message-ID: <bench@example.org>\r\n\r\n' + 'Hello, this is the body of a benchmark message.\r\n'.repeat(20),
  ),
);

async function run(label: string, withPush: boolean): Promise<number> {
  const settings = defaultSettings();
  settings.data_dir = join(dir, label);
  settings.mail_home = join(dir, label, 'home/%n');
  if (withPush) {
    settings.mail_plugins = ['notify', 'push_notification', 'push_notification_lua'];
    settings.plugin.push_notification_driver = `lua:file=${script}`;
  }
  const ctx = createServerContext(settings);
  const pool = new LuaWorkerPool({ workers: 1 });
  const plugin = withPush ? installPushNotification(ctx.mailUsers, pool) : null;
  // Warm up (database creation, worker start).
  await deliver(ctx, { username: 'user', service: 'lmtp', message });
  const start = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const r = await deliver(ctx, { username: 'user', service: 'lmtp', message });
    if (!r.ok) throw new Error(`delivery failed: ${r.failure.text}`);
  }
  const replied = (performance.now() - start) / 1000;
  await plugin?.close();
  const notified = (performance.now() - start) / 1000;
  const rate = COUNT / replied;
  console.log(
    `${label.padEnd(18)} ${Math.round(rate)} deliveries/s (${COUNT} in ${replied.toFixed(2)} s)` +
      (withPush ? `; until notified ${Math.round(COUNT / notified)}/s` : ''),
  );
  plugin?.uninstall();
  await ctx.close();
  await pool.close();
  return replied / COUNT;
}

// Lua workers are unref'd: keep the process alive while it waits for them.
const keepAlive = setInterval(() => {}, 1000);
const plain = await run('without push', false);
const push = await run('with push script', true);
console.log(`push driver cost: ${((push - plain) * 1000).toFixed(2)} ms per delivery (script load, event, worker round trips)`);
rmSync(dir, { recursive: true, force: true });
clearInterval(keepAlive);
