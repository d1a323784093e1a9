// A flood of idle connections that never log in does not lock users out: at the pre-login
// client_limit the oldest connection not logged in is dropped with Dovecot's
// `* BYE Connection queue full` (login-common/client-common.c, client_destroy_oldest), fresh
// LOGIN + NOOP probes get in all the while, and logged-in sessions are never dropped.
import net from 'node:net';
import { LoginQueue } from '../../../src/imap/login-queue.js';
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

test('connections stuck before the end of the TLS handshake (imaps) count too, and are pushed out the same way', async () => {
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setTimeout(r, 10));
  };
  const stuck: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  let probesIn = 0;
  for (let i = 0; i < 4 * LIMIT; i++) {
    const s = net.connect({ port: t.tlsPort, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.on('close', () => closed.add(s));
    await new Promise((r) => s.once('connect', r));
    stuck.push(s);
    if (i % LIMIT === 2) {
      const probe = await RawClient.connect(t.tlsPort, true);
      if ((await probe.command('l', 'LOGIN bob pw')).at(-1)!.startsWith('l OK') && (await probe.command('n', 'NOOP')).at(-1)!.startsWith('n OK')) probesIn++;
      probe.close();
    }
  }
  expect(probesIn).toBe(4);
  // The oldest handshakes were cut; the newest are still waiting.
  await waitFor(() => stuck.slice(0, 2 * LIMIT).every((s) => closed.has(s)));
  expect(stuck.slice(-2).some((s) => closed.has(s))).toBe(false);
  await waitFor(() => t.server.preLoginCount <= LIMIT);
  for (const s of stuck) s.destroy();
});

describe('LoginQueue', () => {
  test('drops the oldest to admit a new one, warns at most once a minute (injected clock)', () => {
    let now = 0;
    const warnings: number[] = [];
    const dropped: string[] = [];
    const q = new LoginQueue(2, (limit) => warnings.push(limit), () => now);
    const leaveA = q.admit(() => dropped.push('a'));
    q.admit(() => dropped.push('b'));
    leaveA(); // logged in: no longer waiting, never dropped
    q.admit(() => dropped.push('c'));
    expect(dropped).toEqual([]);
    q.admit(() => dropped.push('d'));
    now = 59_999;
    q.admit(() => dropped.push('e'));
    expect(dropped).toEqual(['b', 'c']);
    expect(warnings).toEqual([2]);
    now = 60_000;
    q.admit(() => dropped.push('f'));
    expect(warnings).toEqual([2, 2]);
    expect(q.size).toBe(2);
  });
});
