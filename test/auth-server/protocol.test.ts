// The auth service beyond the recorded exchanges: the auth penalty it shares with IMAP, the
// `no-penalty` parameter, a challenge-response mechanism over CONT, limits, and the owner and
// mode of the unix listener.
import { createHmac } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { AuthPenalty } from '../../src/auth/index.js';
import { parseConfigText } from '../../src/config/index.js';
import { tabEscape, tabUnescape } from '../../src/auth-server/protocol.js';
import { LineClient, startAuthRoost } from './helpers.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const HELLO = 'VERSION\t1\t2\nCPID\t4242\n';
const plain = (id: number, user: string, pass: string, params = 'service=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.10') =>
  `AUTH\t${id}\tPLAIN\t${params}\tresp=${b64(`\0${user}\0${pass}`)}\n`;

async function connect(path: string): Promise<LineClient> {
  const c = await LineClient.connect({ path });
  const greeting = await c.lines(12); // VERSION, 7 MECH, SPID, CUID, COOKIE, DONE
  expect(greeting.at(-1)).toBe('DONE');
  c.send(HELLO);
  return c;
}

test('a failed SMTP login raises the penalty of its IP: the next AUTH from it waits, as IMAP logins do', async () => {
  const sleeps: number[] = [];
  const penalty = new AuthPenalty();
  const roost = await startAuthRoost('', { sleep: async (ms) => void sleeps.push(ms), penalty });
  try {
    const c = await connect(roost.socketPath);
    c.send(plain(1, 'alice@example.com', 'wrong'));
    expect(await c.lines(1)).toEqual(['FAIL\t1\tuser=alice@example.com']);
    expect(penalty.lookup('192.0.2.10')).toBe(1);
    expect(sleeps).toEqual([]);
    c.send(plain(2, 'alice@example.com', 'secret'));
    expect(await c.lines(1)).toEqual(['OK\t2\tuser=alice@example.com']);
    // Waited 4 s (auth_penalty_to_secs(1): 2 s doubled once) before checking; success cleared it.
    expect(sleeps).toEqual([4000]);
    expect(penalty.lookup('192.0.2.10')).toBe(0);

    // no-penalty (Dovecot's AUTH parameter): neither delayed nor counted.
    c.send(plain(3, 'alice@example.com', 'wrong', 'service=smtp\tno-penalty\trip=192.0.2.11'));
    expect(await c.lines(1)).toEqual(['FAIL\t3\tuser=alice@example.com']);
    expect(penalty.lookup('192.0.2.11')).toBe(0);
    c.close();
  } finally {
    await roost.stop();
  }
});

test('auth_failure_delay delays a FAIL before it is sent', async () => {
  const sleeps: number[] = [];
  const roost = await startAuthRoost('auth_failure_delay = 2 secs', { sleep: async (ms) => void sleeps.push(ms) });
  try {
    const c = await connect(roost.socketPath);
    c.send(plain(1, 'nobody@example.com', 'x', 'service=smtp\tno-penalty'));
    expect(await c.lines(1)).toEqual(['FAIL\t1\tuser=nobody@example.com']);
    expect(sleeps).toEqual([2000]);
    c.close();
  } finally {
    await roost.stop();
  }
});

test('CRAM-MD5 runs over CONT: challenge, then the HMAC answer', async () => {
  const roost = await startAuthRoost();
  try {
    // passwd-file holds {PLAIN} passwords, so CRAM-MD5 credentials can be derived.
    const c = await connect(roost.socketPath);
    c.send('AUTH\t9\tCRAM-MD5\tservice=smtp\n');
    const [cont] = await c.lines(1);
    const m = /^CONT\t9\t(.+)$/.exec(cont!);
    expect(m).not.toBeNull();
    const challenge = Buffer.from(m![1]!, 'base64').toString();
    expect(challenge).toMatch(/^<\d+\.\d+@.+>$/);
    const digest = createHmac('md5', 'secret').update(challenge).digest('hex');
    c.send(`CONT\t9\t${b64(`alice@example.com ${digest}`)}\n`);
    expect(await c.lines(1)).toEqual(['OK\t9\tuser=alice@example.com']);
    // A second CONT for a finished request: Dovecot's "timed out" FAIL.
    c.send(`CONT\t9\t${b64('x')}\n`);
    expect(await c.lines(1)).toEqual(['FAIL\t9\treason=Authentication request timed out']);
    c.close();
  } finally {
    await roost.stop();
  }
});

test('a CONT before the mechanism asked for one fails the request ("Unexpected continuation")', async () => {
  const roost = await startAuthRoost();
  try {
    const c = await connect(roost.socketPath);
    // LOGIN with an initial response: the server is busy answering; a CONT right behind it is early.
    c.send(`AUTH\t4\tLOGIN\tservice=smtp\tresp=${b64('alice@example.com')}\nCONT\t4\t${b64('secret')}\n`);
    // The CONT arrives while the request still works on its first step: the request is dropped.
    expect(await c.lines(1)).toEqual(['FAIL\t4\treason=Unexpected continuation']);
    c.send('CONT\t4000000\tAAAA\n');
    expect(await c.lines(1)).toEqual(['FAIL\t4000000\treason=Authentication request timed out']);
    c.close();
  } finally {
    await roost.stop();
  }
});

test('auth_client_max_line_length: a longer line disconnects the client (default 16k, Dovecot\'s limit)', async () => {
  const roost = await startAuthRoost('auth_client_max_line_length = 150');
  try {
    const c = await connect(roost.socketPath);
    c.send(plain(1, 'alice@example.com', 'secret'));
    expect(await c.lines(1)).toEqual(['OK\t1\tuser=alice@example.com']);
    c.send(`AUTH\t2\tPLAIN\tservice=smtp\tresp=${'A'.repeat(300)}\n`);
    await c.waitClosed();
    expect(roost.lines.some((l) => l.includes('BUG: Authentication client sent too long line'))).toBe(true);
  } finally {
    await roost.stop();
  }
  expect(parseConfigText('', 'd.conf').settings.auth_client_max_line_length).toBe(16384);
});

test('service auth { client_limit } bounds connections', async () => {
  const roost = await startAuthRoost('service auth {\n  client_limit = 1\n}');
  try {
    const first = await connect(roost.socketPath);
    const second = await LineClient.connect({ path: roost.socketPath });
    await second.waitClosed();
    first.send(plain(1, 'alice@example.com', 'secret'));
    expect(await first.lines(1)).toEqual(['OK\t1\tuser=alice@example.com']);
    first.close();
  } finally {
    await roost.stop();
  }
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot('unix_listener user and group own the socket (root only, as in Dovecot)', async () => {
  const roost = await startAuthRoost(`service auth {\n  unix_listener ${'{DIR}'}/owned {\n    mode = 0660\n    user = nobody\n    group = nogroup\n  }\n}`.replace('{DIR}', '/tmp/roost-owned-' + process.pid));
  try {
    const st = statSync(`/tmp/roost-owned-${process.pid}/owned`);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([65534, 65534, 0o660]);
  } finally {
    await roost.stop();
    rmSync(`/tmp/roost-owned-${process.pid}`, { recursive: true, force: true });
  }
});

test('an unknown unix_listener user stops the service with a message naming the listener', async () => {
  await expect(startAuthRoost('service auth {\n  unix_listener /tmp/roost-nouser.sock {\n    user = no-such-user-here\n  }\n}')).rejects.toThrow(
    "service(auth) unix_listener /tmp/roost-nouser.sock: User doesn't exist: no-such-user-here",
  );
});

test('auth-userdb / auth-master listeners (Dovecot\'s master protocol) are skipped with a warning', async () => {
  const roost = await startAuthRoost('service auth {\n  unix_listener auth-userdb {\n    mode = 0600\n  }\n}');
  try {
    expect(roost.server.addresses).toEqual([{ path: roost.socketPath }]);
    expect(roost.lines.some((l) => /unix_listener auth-userdb: Roost serves only the auth client protocol/.test(l))).toBe(true);
  } finally {
    await roost.stop();
  }
});

test('tab-escaping round-trips TAB, LF, CR and \\001 (Dovecot str_tabescape)', () => {
  const raw = 'a\tb\nc\rd\x01e';
  expect(tabEscape(raw)).toBe('a\x01tb\x01nc\x01rd\x011e');
  expect(tabUnescape(tabEscape(raw))).toBe(raw);
});

test('auth_mechanisms Roost lacks are left out of the MECH lines, with a warning', async () => {
  const roost = await startAuthRoost('auth_mechanisms = plain digest-md5 login');
  try {
    const c = await LineClient.connect({ path: roost.socketPath });
    const greeting = await c.lines(7);
    expect(greeting.slice(0, 3)).toEqual(['VERSION\t1\t2', 'MECH\tPLAIN\tplaintext', 'MECH\tLOGIN\tplaintext']);
    expect(greeting.at(-1)).toBe('DONE');
    expect(roost.lines).toContain('auth: Warning: auth_mechanisms: DIGEST-MD5 is not supported by Roost (not offered)');
    c.close();
  } finally {
    await roost.stop();
  }
});
