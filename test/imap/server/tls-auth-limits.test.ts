// TLS (implicit and STARTTLS), AUTHENTICATE, LOGINDISABLED for non-local clients, connection
// limits, and Dovecot's login/logout log lines.
import { captureLogs } from '../../../src/log/logger.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';
import { waitUntil } from '../../poll.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('local (trusted) connections', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer((s) => {
      s.mail_max_userip_connections = 2;
      s.auth_mechanisms = ['plain', 'login'];
      const svc = s.service['imap-login'];
      if (svc) svc.client_limit = 6;
    });
  });
  afterAll(async () => t.stop());

  test('implicit TLS listener', async () => {
    const c = await RawClient.connect(t.tlsPort, true);
    expect(c.greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 .* AUTH=PLAIN AUTH=LOGIN\] Roost ready\.$/);
    expect(c.greeting).not.toContain('STARTTLS');
    expect((await c.command('a', 'LOGIN alice pw')).pop()).toMatch(/^a OK \[CAPABILITY .*\] Logged in$/);
    c.close();
  });

  test('STARTTLS, then no second STARTTLS', async () => {
    const c = await RawClient.connect(t.port);
    expect(await c.command('a', 'STARTTLS')).toEqual(['a OK Begin TLS negotiation now.']);
    await c.startTls();
    const caps = await c.command('b', 'CAPABILITY');
    expect(caps[0]).not.toContain('STARTTLS');
    expect(await c.command('c', 'STARTTLS')).toEqual(['c BAD TLS is already active.']);
    c.close();
  });

  test('AUTHENTICATE PLAIN with SASL-IR, LOGIN by continuation, abort', async () => {
    const logs = captureLogs();
    const c = await RawClient.connect(t.port);
    const r = await c.command('a', `AUTHENTICATE PLAIN ${b64('\0alice\0pw')}`);
    expect(r.pop()).toMatch(/^a OK \[CAPABILITY .*\] Logged in$/);
    expect(await c.command('z', 'LOGOUT')).toEqual(['* BYE Logging out', 'z OK Logout completed.']);
    await c.waitClosed();
    await waitUntil('the logout line', () => logs.lines.some((l) => /^imap\(alice\)<\d+><[^>]+>: Info: Disconnected: Logged out in=\d+ out=\d+ deleted=0 expunged=0/.test(l)));
    logs.stop();
    expect(logs.lines.some((l) => /^imap-login: Info: Login: user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=\d+, secured, session=<[^>]+>$/.test(l))).toBe(true);

    const d = await RawClient.connect(t.port);
    d.send('b AUTHENTICATE LOGIN\r\n');
    expect(await d.readLine()).toBe(`+ ${b64('Username:')}`);
    d.send(`${b64('alice')}\r\n`);
    expect(await d.readLine()).toBe(`+ ${b64('Password:')}`);
    d.send(`${b64('pw')}\r\n`);
    expect(await d.readLine()).toMatch(/^b OK \[CAPABILITY .*\] Logged in$/);
    d.close();

    const e = await RawClient.connect(t.port);
    e.send('c AUTHENTICATE PLAIN\r\n');
    expect(await e.readLine()).toBe('+ ');
    e.send('*\r\n');
    expect(await e.readLine()).toBe('c BAD Authentication aborted by client.');
    expect(await e.command('d', 'AUTHENTICATE NOPE')).toEqual(['d NO Unsupported authentication mechanism.']);
    e.close();
  });

  test('a failed login is logged when the client goes away', async () => {
    const logs = captureLogs();
    const c = await RawClient.connect(t.port);
    expect(await c.command('a', 'LOGIN alice wrong')).toEqual(['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
    c.close();
    const line = /^imap-login: Info: Disconnected \(auth failed, 1 attempts in \d+ secs\): user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, secured, session=<[^>]+>$/;
    await waitUntil('the disconnect line', () => logs.lines.some((l) => line.test(l)));
    logs.stop();
  });

  test('mail_max_userip_connections', async () => {
    const clients = [await RawClient.connect(t.port), await RawClient.connect(t.port), await RawClient.connect(t.port)];
    await clients[0]!.command('a', 'LOGIN bob pw');
    await clients[1]!.command('a', 'LOGIN bob pw');
    clients[2]!.send('a LOGIN bob pw\r\n');
    expect(await clients[2]!.readLine()).toBe('* BYE Maximum number of connections from user+IP exceeded (mail_max_userip_connections=2)');
    await clients[2]!.waitClosed();
    clients[0]!.close();
    await waitUntil('the server to see the close', () => t.server.connectionCount === 1);
    const again = await RawClient.connect(t.port);
    expect((await again.command('b', 'LOGIN bob pw')).pop()).toMatch(/^b OK/);
    again.close();
    clients[1]!.close();
  });

  test('client_limit: a new connection pushes out the oldest one not logged in (Dovecot: Connection queue full)', async () => {
    await waitUntil('earlier connections to be gone', () => t.server.connectionCount === 0);
    const open: RawClient[] = [];
    for (let i = 0; i < 6; i++) open.push(await RawClient.connect(t.port));
    const extra = await RawClient.connect(t.port);
    expect(extra.greeting).toMatch(/^\* OK /);
    await open[0]!.waitClosed();
    expect(open[0]!.lines.at(-1)).toBe('* BYE Connection queue full');
    expect(open[1]!.closed).toBe(false);
    for (const c of [...open, extra]) c.close();
  });
});

describe('a non-local client without TLS (trust check injected)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(() => undefined, { isTrustedConnection: () => false });
  });
  afterAll(async () => t.stop());

  test('LOGINDISABLED until STARTTLS', async () => {
    const c = await RawClient.connect(t.port);
    expect(c.greeting).toBe('* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Roost ready.');
    expect(await c.command('a', 'LOGIN alice pw')).toEqual(['a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.']);
    expect(await c.command('b', `AUTHENTICATE PLAIN ${b64('\0alice\0pw')}`)).toEqual(['b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.']);
    await c.command('c', 'STARTTLS');
    await c.startTls();
    const caps = await c.command('d', 'CAPABILITY');
    expect(caps[0]).toBe('* CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN');
    expect((await c.command('e', 'LOGIN alice pw')).pop()).toMatch(/^e OK \[CAPABILITY .*\] Logged in$/);
    c.close();
  });
});
