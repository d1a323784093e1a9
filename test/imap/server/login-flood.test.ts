// A flood of idle connections that never log in does not lock users out: at the pre-login
// client_limit the oldest connection not logged in is dropped with Dovecot's
// `* BYE Connection queue full` (login-common/client-common.c, client_destroy_oldest), fresh
// LOGIN + NOOP probes get in all the while, and logged-in sessions are never dropped.
import { captureLogs } from '../../../src/log/logger.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const LIMIT = 5;
const FLOOD = 60;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.service['imap-login']!.client_limit = LIMIT;
    s.mail_max_userip_connections = 0;
  });
});
afterAll(async () => t.stop());

test(`${FLOOD} idle connections against client_limit = ${LIMIT}: every probe logs in, logged-in sessions stay`, async () => {
  const logs = captureLogs();
  try {
    // Logged in before the flood, and more than client_limit of them.
    const before: RawClient[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      const c = await RawClient.connect(t.port);
      expect((await c.command('a', 'LOGIN alice pw')).at(-1)).toMatch(/^a OK /);
      expect((await c.command('s', 'SELECT INBOX')).at(-1)).toMatch(/^s OK /);
      before.push(c);
    }
    const flood: RawClient[] = [];
    const probes: string[] = [];
    for (let i = 0; i < FLOOD; i++) {
      flood.push(await RawClient.connect(t.port));
      if (i % 10 === 4) {
        // A fresh user arriving in the middle of the flood.
        const probe = await RawClient.connect(t.port);
        probes.push(probe.greeting.slice(0, 4));
        probes.push((await probe.command('l', 'LOGIN bob pw')).at(-1)!.slice(0, 4));
        probes.push((await probe.command('n', 'NOOP')).at(-1)!.slice(0, 4));
        await probe.command('z', 'LOGOUT');
        probe.close();
      }
    }
    expect(probes).toEqual(Array.from({ length: FLOOD / 10 }, () => ['* OK', 'l OK', 'n OK']).flat());
    // The oldest idle connections went, with Dovecot's words; at most client_limit are left.
    for (const c of flood.slice(0, FLOOD - LIMIT)) {
      await c.waitClosed();
      expect(c.lines.at(-1)).toBe('* BYE Connection queue full');
    }
    expect(flood.slice(FLOOD - LIMIT).every((c) => !c.closed)).toBe(true);
    expect(t.server.preLoginCount).toBe(LIMIT);
    // Every session logged in before the flood still answers.
    for (const c of before) {
      expect(c.closed).toBe(false);
      expect((await c.command('n', 'NOOP')).at(-1)).toMatch(/^n OK /);
    }
    expect(logs.lines.filter((l) => l.includes('client_limit (5) reached, client connections are being dropped'))).toHaveLength(1);
    expect(logs.lines.some((l) => /imap-login: Info: Disconnected: Connection queue full \(no auth attempts in \d+ secs\): user=<>, rip=127\.0\.0\.1, /.test(l))).toBe(true);
    for (const c of [...before, ...flood]) c.close();
  } finally {
    logs.stop();
  }
});
