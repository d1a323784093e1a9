// quota-status beyond the recording: a unix listener with its mode, the executable check, a
// malformed recipient, an over-long line, and a userdb failure (DEFER_IF_PERMIT).
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { parseConfigText } from '../../src/config/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { checkQuotaStatusExecutable, startQuotaStatusServer } from '../../src/quota-status/server.js';
import { LineClient } from '../auth-server/helpers.js';

let dir: string;
let ctx: CreatedContext;
let logs: ReturnType<typeof captureLogs>;

beforeAll(() => {
  logHub.setDefaultOutput(false);
  logs = captureLogs();
  dir = mkdtempSync(join(tmpdir(), 'roost-qs-'));
  writeFileSync(join(dir, 'auth.lua'), `function auth_userdb_lookup(req)
  if req.user == "broken@example.com" then return dovecot.auth.USERDB_RESULT_INTERNAL_FAILURE, "db down" end
  return dovecot.auth.USERDB_RESULT_OK, { home = "${dir}/home/" .. req.user, quota_rule = "*:messages=5" }
end
`);
  const text = `
data_dir = ${dir}/data
base_dir = ${dir}/run
lua_workers = 1
userdb {
  driver = lua
  args = file=${dir}/auth.lua
}
service quota-status {
  executable = /usr/lib/dovecot/quota-status -p postfix
  unix_listener quota-status {
    mode = 0666
  }
}
`;
  ctx = createServerContext(parseConfigText(text, join(dir, 'roost.conf')).settings);
});
afterAll(async () => {
  await ctx.close();
  logs.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ask = (recipient: string, size = 10) => `request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=${recipient}\nsize=${size}\n\n`;

test('unix listener under base_dir with its mode; answers from a Lua userdb; a userdb failure defers', async () => {
  await ctx.auth.init();
  const qs = await startQuotaStatusServer(ctx);
  try {
    const path = join(dir, 'run', 'quota-status');
    expect(qs.addresses).toEqual([{ path }]);
    expect(statSync(path).mode & 0o777).toBe(0o666);
    const c = await LineClient.connect({ path });
    c.send(ask('<someone@example.com>'));
    expect(await c.lines(2)).toEqual(['action=OK', '']);
    c.send(ask('broken@example.com'));
    expect(await c.lines(2)).toEqual(['action=DEFER_IF_PERMIT Temporary internal error', '']);
    // Only the first recipient= counts (and is checked), as in Dovecot.
    c.send('recipient=someone@example.com\nrecipient=<not an address>\n\n');
    expect(await c.lines(2)).toEqual(['action=OK', '']);
    // Dovecot logs and drops a client that sends a malformed address.
    c.send('recipient=<not an address>\n');
    await c.waitClosed();
    expect(logs.lines.some((l) => l.includes('Client sent invalid recipient address'))).toBe(true);
  } finally {
    await qs.close();
  }
});

test('quota_status_max_line_length: a longer line closes the connection (default 64k)', async () => {
  expect(ctx.settings.quota_status_max_line_length).toBe(64 * 1024);
  const small = parseConfigText(`data_dir = ${dir}/data\nquota_status_max_line_length = 64\n`, join(dir, 'small.conf')).settings;
  const qs = await startQuotaStatusServer({ ...ctx, settings: small }, { unix: [{ path: join(dir, 'small'), mode: 0o600, user: '', group: '' }], inet: [] });
  try {
    const c = await LineClient.connect({ path: join(dir, 'small') });
    c.send(`client_name=${'x'.repeat(100)}\n`);
    await c.waitClosed();
  } finally {
    await qs.close();
  }
});

test('executable must be quota-status -p postfix, as Dovecot requires', () => {
  expect(() => checkQuotaStatusExecutable('quota-status -p postfix')).not.toThrow();
  expect(() => checkQuotaStatusExecutable('quota-status')).toThrow('Missing -p parameter');
  expect(() => checkQuotaStatusExecutable('quota-status -p exim')).toThrow("Unknown -p parameter: 'exim'");
  expect(() => checkQuotaStatusExecutable('script-login /bin/x')).toThrow('Roost runs only quota-status -p postfix');
});
