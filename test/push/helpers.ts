// Shared setup of the push-notification tests: a server context on a temp data_dir with the push
// plugins enabled, one Lua worker, and a recording script whose calls are read back from the log.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { defaultSettings } from '../../src/config/index.js';
import { captureLogs, logHub, type LogRecord } from '../../src/log/logger.js';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { installMailLua } from '../../src/lua/mail-lua.js';
import { pushCompanionPlan } from '../../src/lua/push-notification/lua-driver.js';
import { installPushNotification } from '../../src/lua/push-notification/plugin.js';
import { dropMailLocation, freshMailLocation } from '../backend.js';

export type TestSettings = ReturnType<typeof defaultSettings>;

/**
 * Logs every push call with `i_info` as one line: `begin <user>`, `<EventName> <fields>`,
 * `end <success> <events seen by ctx>`. Fields are sorted, numbers shown with their Lua subtype.
 */
export const RECORDER_LUA = String.raw`
local function show(v)
  if type(v) == 'table' then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do
      if type(k) == 'number' then parts[#parts + 1] = show(v[k])
      else parts[#parts + 1] = k .. '=' .. show(v[k]) end
    end
    return '{' .. table.concat(parts, ',') .. '}'
  elseif type(v) == 'number' then
    return (math.type(v) == 'float' and 'f' or 'i') .. tostring(v)
  elseif type(v) == 'string' then
    return string.format('%q', v)
  end
  return tostring(v)
end

function dovecot_lua_notify_begin_txn(user)
  dovecot.i_info('begin ' .. user.username)
  return { seen = 0 }
end

local function handler(ctx, event)
  ctx.seen = ctx.seen + 1
  dovecot.i_info(event.name .. ' ' .. show(event))
end
for _, name in ipairs({ 'flags_clear', 'flags_set', 'mailbox_create', 'mailbox_delete', 'mailbox_rename',
    'mailbox_subscribe', 'mailbox_unsubscribe', 'message_append', 'message_expunge', 'message_new',
    'message_read', 'message_trash' }) do
  _G['dovecot_lua_notify_event_' .. name] = handler
end

function dovecot_lua_notify_end_txn(ctx, success)
  dovecot.i_info('end ' .. tostring(success) .. ' ' .. ctx.seen)
end
`;

export interface PushEnv {
  dir: string;
  ctx: CreatedContext;
  pool: LuaWorkerPool;
  /** Log lines (`<prefix>Level: message`) since the env started. */
  lines: string[];
  /** The same, as records (with their fields). */
  records: LogRecord[];
  /** The messages of Info/Error lines logged by push scripts, without the session prefix. */
  pushLines(): string[];
  script(source: string, name?: string): string;
  /** Waits until every queued push transaction ran (sessions must be destroyed first). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function pushEnv(
  configure: (s: TestSettings, env: { script: (src: string, name?: string) => string }) => void,
  opts: { mailLua?: boolean } = {},
): Promise<PushEnv> {
  logHub.setDefaultOutput(false);
  const dir = mkdtempSync(join(tmpdir(), 'roost-push-'));
  let n = 0;
  const script = (source: string, name = `push${++n}.lua`) => {
    const p = join(dir, name);
    writeFileSync(p, source);
    return p;
  };
  const settings = defaultSettings();
  settings.data_dir = dir;
  settings.base_dir = join(dir, 'run');
  settings.mail_home = join(dir, 'home/%n');
  settings.hostname = 'mx.test';
  const mailLocation = await freshMailLocation();
  if (mailLocation) settings.mail_location = mailLocation;
  settings.mail_plugins = ['mail_lua', 'notify', 'push_notification', 'push_notification_lua'];
  configure(settings, { script });
  const ctx = createServerContext(settings);
  const pool = new LuaWorkerPool({ workers: 1 });
  // A server registers mail-lua first: push may reuse its state (spec §12.1).
  // As `roost serve` wires them (src/cli/plugins.ts): mail-lua creates the push driver's own state.
  const uninstallMailLua = opts.mailLua ? installMailLua(ctx.mailUsers, pool, undefined, { companion: pushCompanionPlan }) : () => {};
  const plugin = installPushNotification(ctx.mailUsers, pool);
  const cap = captureLogs();
  return {
    dir,
    ctx,
    pool,
    lines: cap.lines,
    records: cap.records,
    pushLines: () =>
      cap.records
        .filter((r) => r.level !== 'Debug' && !r.prefix.startsWith('storage'))
        .map((r) => (r.level === 'Info' ? r.message : `${r.level}: ${r.message}`)),
    script,
    settle: () => plugin.close(),
    async close() {
      cap.stop();
      plugin.uninstall();
      uninstallMailLua();
      await ctx.close();
      await pool.close();
      await dropMailLocation(mailLocation);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const MESSAGE = Buffer.from(
  'From: "Alice Example" <alice@example.com>\r\n' +
    'To: Bob <bob@example.com>\r\n' +
    'Subject: =?UTF-8?Q?Caf=C3=A9?= plans\r\n' +
    'Date: Tue, 4 Mar 2025 10:20:30 +0100\r\n' +
    'Message-ID: <m1@example.com>\r\n' +
    '\r\n' +
    'Lunch at noon?\r\n',
);
