// Replays the answers of Dovecot 2.3.19's `quota-status -p postfix`, recorded from a real Dovecot
// (test/fixtures/postfix/README.md), against Roost's quota-status service over TCP, request by
// request: with Dovecot's default quota_status_* answers and with every one of them configured.
// The users, quota rules and stored mail are the recording's: full@ holds about 950 bytes of its
// 1 KiB, small@ one message of its one, delivered over Roost's LMTP like Dovecot's.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { parseConfigText } from '../../src/config/index.js';
import { startLmtpServer } from '../../src/lmtp/server.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { startQuotaStatusServer, type QuotaStatusServer } from '../../src/quota-status/server.js';
import { LineClient } from '../auth-server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';

interface Scenario {
  name: string;
  steps: ({ client: string[]; server: string[] } | { closed: boolean })[];
}
const rec = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/postfix/quota-status.json', import.meta.url)), 'utf8')) as {
  dovecot: string;
  passwd: string;
  deliveries: string[];
  default_settings: Scenario[];
  custom_settings: Scenario[];
};

// The messages record.py delivered before asking.
const FILLER = 'Subject: filler\r\n\r\n' + ('x'.repeat(70) + '\r\n').repeat(10);
const ONE = 'Subject: one\r\n\r\nhi\r\n';

const CUSTOM = `plugin {
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full, try later"
  quota_status_toolarge = "552 5.3.4 Message is too large for this mailbox"
}`;

let dir: string;
let ctx: CreatedContext;
const servers: Record<'default' | 'custom', QuotaStatusServer | undefined> = { default: undefined, custom: undefined };
let stopLogs: () => void;

async function deliver(port: number, rcpt: string, body: string): Promise<string> {
  const c = await RawLmtp.connect({ port });
  try {
    await c.replies(1);
    await c.command('LHLO test');
    await c.command('MAIL FROM:<sender@example.net>');
    const r = await c.command(`RCPT TO:<${rcpt}>`);
    if (!r.startsWith('250')) return r;
    await c.command('DATA');
    c.send(body + '.\r\n');
    return (await c.replies(1))[0]!;
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  logHub.setDefaultOutput(false);
  stopLogs = captureLogs().stop;
  dir = mkdtempSync(join(tmpdir(), 'roost-quota-status-'));
  writeFileSync(join(dir, 'passwd'), rec.passwd);
  const config = (extra: string) => `
data_dir = ${dir}/data
base_dir = ${dir}/run
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
  default_fields = home=${dir}/home/%u
}
plugin {
  quota_rule = *:storage=100M
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    address = 127.0.0.1
    port = 0
  }
}
${extra}`;
  ctx = createServerContext(parseConfigText(config(''), join(dir, 'roost.conf')).settings);
  const lmtp = await startLmtpServer(ctx, { inet: [{ host: '127.0.0.1', port: 0 }], unix: [], spoolDir: join(dir, 'spool') });
  const port = (lmtp.addresses[0] as { port: number }).port;
  const delivered = [await deliver(port, 'full@example.com', FILLER), await deliver(port, 'small@example.com', ONE)];
  await lmtp.close();
  // Dovecot stored both; so does Roost (the session ids differ).
  expect(delivered.map((r) => r.replace(/ \S+ Saved$/, ''))).toEqual(rec.deliveries.map((r) => r.replace(/ \S+ Saved$/, '')));
  servers.default = await startQuotaStatusServer(ctx, { inet: [{ host: '127.0.0.1', port: 0 }] });
  // Same users and store, the other answers (plugin settings are per process in Dovecot too).
  const customSettings = parseConfigText(config(CUSTOM), join(dir, 'roost.conf')).settings;
  servers.custom = await startQuotaStatusServer({ ...ctx, settings: customSettings }, { inet: [{ host: '127.0.0.1', port: 0 }] });
});

afterAll(async () => {
  await servers.default?.close();
  await servers.custom?.close();
  await ctx?.close();
  stopLogs();
  rmSync(dir, { recursive: true, force: true });
});

test('the recording comes from Dovecot 2.3.19', () => {
  expect(rec.dovecot).toMatch(/^2\.3\.19/);
});

describe.each([
  ['default answers', 'default', rec.default_settings],
  ['configured answers', 'custom', rec.custom_settings],
] as const)('%s', (_label, which, scenarios) => {
  test.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const port = (servers[which]!.addresses[0] as { port: number }).port;
    const c = await LineClient.connect({ port });
    try {
      for (const step of scenario.steps) {
        if ('closed' in step) {
          expect(step.closed).toBe(false);
          continue;
        }
        // The recorded lines end with the empty line that ends a request.
        c.send(step.client.map((l) => `${l}\n`).join(''));
        expect(await c.lines(step.server.length)).toEqual(step.server);
      }
      // The connection stays open for the next request (Postfix reuses it).
      c.send('request=smtpd_access_policy\nprotocol_state=RCPT\n\n');
      expect(await c.lines(2)).toEqual(['action=DUNNO', '']);
    } finally {
      c.close();
    }
  });
});
