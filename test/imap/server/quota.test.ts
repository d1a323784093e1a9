// QUOTA (RFC 9208 GETQUOTAROOT / GETQUOTA / SETQUOTA) over a raw socket, with the replies Dovecot
// 2.3.19's imap_quota plugin gives for `quota = count:User quota` and a `*` quota_rule.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.plugin.quota = 'count:User quota';
    s.plugin.quota_rule = '*:storage=10M:messages=3';
  });
});
afterAll(async () => t.stop());

async function login(user = 'alice'): Promise<RawClient> {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', `LOGIN ${user} pw`)).pop()).toMatch(/^l OK .*QUOTA/);
  return c;
}

async function append(c: RawClient, tag: string, size: number): Promise<string> {
  const body = `Subject: q\r\n\r\n${'x'.repeat(size)}\r\n`;
  c.send(`${tag} APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
  return (await c.until((l) => l.startsWith(`${tag} `))).pop()!;
}

test('GETQUOTAROOT and GETQUOTA report usage against the quota_rule; SETQUOTA and unknown roots are refused', async () => {
  const c = await login();
  expect(await c.command('a', 'GETQUOTAROOT INBOX')).toEqual(['* QUOTAROOT INBOX "User quota"', '* QUOTA "User quota" (STORAGE 0 10240 MESSAGE 0 3)', 'a OK Getquotaroot completed.']);
  expect(await append(c, 'p1', 3000)).toMatch(/^p1 OK/);
  expect(await append(c, 'p2', 3000)).toMatch(/^p2 OK/);
  // 2 × 3,017 bytes = 5 KiB (rounded down, as Dovecot does).
  expect(await c.command('b', 'GETQUOTA "User quota"')).toEqual(['* QUOTA "User quota" (STORAGE 5 10240 MESSAGE 2 3)', 'b OK Getquota completed.']);
  // Any mailbox name, even one that does not exist, is under the one root.
  expect((await c.command('c', 'GETQUOTAROOT "No such"'))[0]).toBe('* QUOTAROOT "No such" "User quota"');
  expect(await c.command('d', 'GETQUOTA bogus')).toEqual(["d NO Quota root doesn't exist."]);
  expect(await c.command('e', 'SETQUOTA "User quota" (STORAGE 100)')).toEqual(['e NO Quota can be changed only by admin.']);
  expect(await c.command('f', 'GETQUOTAROOT')).toEqual(['f BAD Error in IMAP command GETQUOTAROOT: Missing arguments.']);
  // The message limit is the one storage enforces.
  expect(await append(c, 'p3', 10)).toMatch(/^p3 OK/);
  expect(await append(c, 'p4', 10)).toMatch(/^p4 NO \[OVERQUOTA\]/);
  expect((await c.command('g', 'GETQUOTA "User quota"'))[0]).toBe('* QUOTA "User quota" (STORAGE 5 10240 MESSAGE 3 3)');
  c.close();
});

test('a user whose userdb quota_rule has no limits gets an empty resource list', async () => {
  const s = await startTestServer((settings) => {
    settings.plugin.quota_rule = '*:ignore';
  });
  const c = await RawClient.connect(s.port);
  await c.command('l', 'LOGIN bob pw');
  expect(await c.command('a', 'GETQUOTAROOT INBOX')).toEqual(['* QUOTAROOT INBOX "User quota"', '* QUOTA "User quota" ()', 'a OK Getquotaroot completed.']);
  c.close();
  await s.stop();
});
