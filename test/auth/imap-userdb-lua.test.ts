// Over a real IMAP socket: passwd-file userdb extra fields flowing into the session
// (`userdb_mail_lua_script=` gives one user their own mail script, `userdb_quota_rule=` their own
// quota, seen as `NO [OVERQUOTA]` on APPEND), auth_username_format = %Ln with auth_default_realm,
// and a Lua passdb whose script loops or raises for one user: that login alone fails with
// `NO [UNAVAILABLE] Temporary authentication failure.`, other logins go on meanwhile.
import { re, startRoost, type RawImapClient, type Roost } from '../e2e/harness.js';

const MAIL_SCRIPT = String.raw`
function mail_user_created(user)
  dovecot.i_info('dave-script created ' .. user.username)
  return 0
end
`;

const AUTH_LUA = String.raw`
function auth_passdb_lookup(req)
  if req.user == "loopy" then
    while true do end
  elseif req.user == "broken" then
    error("no database today")
  elseif req.user == "frank" then
    return dovecot.auth.PASSDB_RESULT_OK, "password=frankpw"
  end
  return dovecot.auth.PASSDB_RESULT_USER_UNKNOWN, ""
end
function auth_userdb_lookup(req)
  if req.user == "frank" then return dovecot.auth.USERDB_RESULT_OK, "" end
  return dovecot.auth.USERDB_RESULT_USER_UNKNOWN, ""
end
`;

let roost: Roost;

beforeAll(async () => {
  roost = await startRoost({
    users: [{ username: 'alice' }],
    files: {
      'dave.lua': MAIL_SCRIPT,
      'auth.lua': AUTH_LUA,
    },
    config: [
      // Long enough that the logins shown to complete while a script loops do so on a busy machine.
      'lua_call_timeout = 3s',
      'mail_plugins = $mail_plugins mail_lua',
      'auth_username_format = %Ln',
      'auth_default_realm = example.com',
      'passdb {',
      '  driver = passwd-file',
      '  args = {DIR}/passwd',
      '}',
      'passdb {',
      '  driver = lua',
      '  args = file={DIR}/auth.lua',
      '}',
      'userdb {',
      '  driver = passwd-file',
      '  args = {DIR}/passwd',
      '}',
      'userdb {',
      '  driver = lua',
      '  args = file={DIR}/auth.lua',
      '}',
    ].join('\n'),
  });
  roost.file(
    'passwd',
    [
      `dave:{PLAIN}davepw::::::userdb_mail_lua_script=${roost.dir}/dave.lua userdb_quota_rule=*:storage=1K`,
      'erin:{PLAIN}erinpw::::::userdb_quota_rule=*:messages=1',
      '',
    ].join('\n'),
  );
});
afterAll(() => roost?.stop());
afterEach(() => roost.ctx.auth.penalty.success('127.0.0.1'));

const msg = (subject: string, bodyBytes = 10) =>
  `From: a@example.net\r\nSubject: ${subject}\r\n\r\n${'x'.repeat(bodyBytes)}\r\n`;

async function append(c: RawImapClient, tag: string, text: string): Promise<string> {
  c.send(`${tag} APPEND INBOX {${Buffer.byteLength(text)}+}\r\n${text}\r\n`);
  return (await c.until((l) => l.startsWith(`${tag} `))).at(-1)!;
}

async function statusSize(c: RawImapClient): Promise<string> {
  return (await c.command('st', 'STATUS INBOX (MESSAGES SIZE)'))[0]!;
}

describe('passwd-file userdb fields', () => {
  test('%Ln and the default realm: Dave, DAVE@example.com, dave@other.org are all user dave', async () => {
    for (const [i, name] of ['Dave', 'DAVE@example.com', 'dave@other.org'].entries()) {
      const mark = roost.lines.length;
      const c = await roost.raw();
      expect((await c.command(`l${i}`, `LOGIN ${name} davepw`)).at(-1)).toMatch(/ OK \[CAPABILITY /);
      await roost.waitForLine(/^imap-login: Info: Login: user=<dave>, method=PLAIN, /);
      expect(roost.lines.slice(mark)).toContainEqual(expect.stringMatching(/^imap-login: Info: Login: user=<dave>, /));
      await c.command('z', 'LOGOUT');
    }
  });

  test('userdb_mail_lua_script: dave runs his own script, alice none', async () => {
    const mark = roost.lines.length;
    const alice = await roost.raw({ username: 'alice' });
    const dave = await roost.raw({ username: 'dave', password: 'davepw' });
    await roost.waitForLine(/^imap\(dave\)<\d+><[^>]+>: Info: dave-script created dave$/);
    await alice.command('n', 'NOOP');
    expect(roost.lines.slice(mark).filter((l) => l.includes('dave-script'))).toEqual([
      expect.stringMatching(new RegExp(`^imap\\(dave\\)<\\d+><[^>]+>: Info: ${re('dave-script created dave')}$`)),
    ]);
    alice.close();
    dave.close();
  });

  test('userdb_quota_rule: storage=1K for dave, messages=1 for erin, no limit for alice', async () => {
    const big = msg('big', 2000);
    const dave = await roost.raw({ username: 'dave', password: 'davepw' });
    expect(await statusSize(dave)).toBe('* STATUS INBOX (MESSAGES 0 SIZE 0)');
    expect(await append(dave, 'a', msg('small'))).toMatch(/^a OK \[APPENDUID \d+ 1\] Append completed\.$/);
    const after = await statusSize(dave);
    expect(after).toMatch(/^\* STATUS INBOX \(MESSAGES 1 SIZE \d+\)$/);
    expect(await append(dave, 'b', big)).toBe('b NO [OVERQUOTA] Quota exceeded (mailbox for user is full).');
    expect(await statusSize(dave)).toBe(after);
    dave.close();

    const erin = await roost.raw({ username: 'erin', password: 'erinpw' });
    expect(await append(erin, 'a', msg('one'))).toMatch(/^a OK /);
    expect(await append(erin, 'b', msg('two'))).toBe('b NO [OVERQUOTA] Quota exceeded (mailbox for user is full).');
    erin.close();

    const alice = await roost.raw({ username: 'alice' });
    expect(await append(alice, 'a', big)).toMatch(/^a OK /);
    expect(await append(alice, 'b', big)).toMatch(/^b OK /);
    alice.close();
  });
});

describe('a failing Lua passdb costs only that login', () => {
  test('a looping script: NO [UNAVAILABLE] for that user, other logins succeed meanwhile', async () => {
    const mark = roost.lines.length;
    const loopy = await roost.raw();
    const pending = loopy.command('a', 'LOGIN loopy secret');
    let loopEnded = false;
    void pending.finally(() => (loopEnded = true));

    // Meanwhile, on another connection, a roost user logs in and selects at once: no Lua involved.
    const alice = await roost.raw();
    expect((await alice.command('b', 'LOGIN alice pw')).at(-1)).toMatch(/^b OK /);
    expect((await alice.command('c', 'SELECT INBOX')).at(-1)).toBe('c OK [READ-WRITE] Select completed.');
    expect(loopEnded).toBe(false);
    // Logins that need Lua meanwhile (dave's mail script, frank through the same Lua passdb, whose
    // other copy runs on the other worker) succeed before the loop's lua_call_timeout ends.
    const dave = await roost.raw();
    const frank = await roost.raw();
    const [d, f] = await Promise.all([dave.command('d', 'LOGIN dave davepw'), frank.command('f', 'LOGIN frank frankpw')]);
    expect(d.at(-1)).toMatch(/^d OK \[CAPABILITY /);
    expect(f.at(-1)).toMatch(/^f OK \[CAPABILITY /);
    expect(loopEnded).toBe(false);

    expect(await pending).toEqual(['a NO [UNAVAILABLE] Temporary authentication failure.']);
    const errors = roost.lines.slice(mark).filter((l) => l.startsWith('auth: Error: '));
    expect(errors).toEqual([
      expect.stringMatching(/^auth: Error: lua\(loopy,127\.0\.0\.1,[^)]+\): db-lua: lua_pcall\(auth_passdb_lookup, 1, 2\) failed: Lua script exceeded lua_call_timeout \(3000 ms\)\nstack traceback:\n\t[^\n]*auth\.lua:4: in function 'auth_passdb_lookup'/),
    ]);
    // A temporary failure does not count as guessing: no penalty.
    expect(roost.ctx.auth.penalty.lookup('127.0.0.1')).toBe(0);

    // The connection stays usable, and the Lua passdb still serves its users afterwards.
    expect((await loopy.command('e', 'LOGIN frank frankpw')).at(-1)).toMatch(/^e OK \[CAPABILITY /);
    for (const c of [loopy, alice, dave, frank]) c.close();
  });

  test('a script error: NO [UNAVAILABLE], the Lua error logged, frank still logs in', async () => {
    const mark = roost.lines.length;
    const c = await roost.raw();
    expect(await c.command('a', 'LOGIN broken secret')).toEqual(['a NO [UNAVAILABLE] Temporary authentication failure.']);
    const err = await roost.waitForLine(/^auth: Error: lua\(broken,/);
    expect(err).toMatch(/db-lua: lua_pcall\(auth_passdb_lookup, 1, 2\) failed: .*no database today/);
    expect(roost.lines.slice(mark).filter((l) => l.startsWith('auth: Error: '))).toHaveLength(1);
    const d = await roost.raw();
    expect((await d.command('b', 'LOGIN frank frankpw')).at(-1)).toMatch(/^b OK /);
    c.close();
    d.close();
  });
});
