// Master users over a real IMAP socket: `LOGIN alice*admin <master password>` with
// auth_master_user_separator = * and a master passdb, and AUTHENTICATE PLAIN with an authzid. The
// session is alice's (her INBOX), the auth log names the master (Dovecot's
// `Master user logging in as alice`), the imap-login line names alice.
import { message, startRoost, type Roost } from '../e2e/harness.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let roost: Roost;

beforeAll(async () => {
  roost = await startRoost({
    users: [{ username: 'alice' }, { username: 'bob' }],
    files: { masters: 'admin:{PLAIN}adminpass::::::\n' },
    config: [
      'auth_master_user_separator = *',
      'passdb {',
      '  driver = passwd-file',
      '  master = yes',
      '  args = {DIR}/masters',
      '}',
    ].join('\n'),
  });
  const r = await roost.deliver(['alice'], message('for alice only'));
  expect(r.data).toEqual([expect.stringMatching(/^250 2\.0\.0 /)]);
});
afterAll(() => roost?.stop());
afterEach(() => roost.ctx.auth.penalty.success('127.0.0.1'));

async function inboxSubjects(c: Awaited<ReturnType<Roost['raw']>>): Promise<string[]> {
  const sel = await c.command('s', 'SELECT INBOX');
  expect(sel.at(-1)).toBe('s OK [READ-WRITE] Select completed.');
  const exists = Number(/^\* (\d+) EXISTS$/.exec(sel.find((l) => l.endsWith(' EXISTS'))!)![1]);
  if (exists === 0) return [];
  const f = await c.command('f', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  return f.filter((l) => l.startsWith('Subject: ')).map((l) => l.slice(9));
}

test('LOGIN alice*admin with the master password: alice\'s session, the master in the auth log', async () => {
  const mark = roost.lines.length;
  const c = await roost.raw();
  const r = await c.command('a', 'LOGIN alice*admin adminpass');
  expect(r.at(-1)).toMatch(/^a OK \[CAPABILITY IMAP4rev1 [^\]]*\] Logged in$/);
  expect(await inboxSubjects(c)).toEqual(['for alice only']);
  const lines = roost.lines.slice(mark);
  expect(lines).toContainEqual(expect.stringMatching(/^auth: Info: passdb\(admin,127\.0\.0\.1,[^)]+\): Master user logging in as alice$/));
  expect(lines).toContainEqual(expect.stringMatching(/^imap-login: Info: Login: user=<alice>, method=PLAIN, rip=127\.0\.0\.1, /));
  await c.command('z', 'LOGOUT');
  await roost.waitForLine(/^imap\(alice\)<\d+><[^>]+>: Info: Disconnected: Logged out /);
});

test('AUTHENTICATE PLAIN with authzid alice, authcid admin', async () => {
  const mark = roost.lines.length;
  const c = await roost.raw();
  const r = await c.command('a', `AUTHENTICATE PLAIN ${b64('alice\0admin\0adminpass')}`);
  expect(r.at(-1)).toMatch(/^a OK \[CAPABILITY IMAP4rev1 [^\]]*\] Logged in$/);
  expect(await inboxSubjects(c)).toEqual(['for alice only']);
  expect(roost.lines.slice(mark)).toContainEqual(expect.stringMatching(/Master user logging in as alice$/));
  c.close();

  // The master can become bob just as well (bob's INBOX is empty).
  const d = await roost.raw();
  expect((await d.command('b', `AUTHENTICATE PLAIN ${b64('bob\0admin\0adminpass')}`)).at(-1)).toMatch(/^b OK /);
  expect(await inboxSubjects(d)).toEqual([]);
  d.close();
});

test('refusals: wrong master password, a normal user as master, unknown target user', async () => {
  const c = await roost.raw();
  expect(await c.command('a', 'LOGIN alice*admin wrong')).toEqual(['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  roost.ctx.auth.penalty.success('127.0.0.1');
  // bob's own password does not make bob a master: bob is not in the master passdb.
  expect(await c.command('b', 'LOGIN alice*bob pw')).toEqual(['b NO [AUTHENTICATIONFAILED] Authentication failed.']);
  roost.ctx.auth.penalty.success('127.0.0.1');
  expect(await c.command('c', `AUTHENTICATE PLAIN ${b64('alice\0bob\0pw')}`)).toEqual(['c NO [AUTHENTICATIONFAILED] Authentication failed.']);
  roost.ctx.auth.penalty.success('127.0.0.1');
  // The master is authenticated but there is no such user to become: no userdb entry.
  expect(await c.command('d', 'LOGIN nobody*admin adminpass')).toEqual(['d NO [AUTHENTICATIONFAILED] Authentication failed.']);
  roost.ctx.auth.penalty.success('127.0.0.1');
  // Plain logins still work on the same connection.
  expect((await c.command('e', 'LOGIN alice pw')).at(-1)).toMatch(/^e OK /);
  c.close();
});

test('default auth_mechanisms: CAPABILITY offers AUTH=PLAIN only, others are refused', async () => {
  const c = await roost.raw();
  const caps = (await c.command('a', 'CAPABILITY'))[0]!.split(' ');
  expect(caps.filter((x) => x.startsWith('AUTH='))).toEqual(['AUTH=PLAIN']);
  expect(await c.command('b', 'AUTHENTICATE CRAM-MD5')).toEqual(['b NO Unsupported authentication mechanism.']);
  expect(await c.command('c', 'AUTHENTICATE LOGIN')).toEqual(['c NO Unsupported authentication mechanism.']);
  c.close();
});
