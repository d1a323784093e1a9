// passdb/userdb `driver = lua` (spec §11) through AuthService: return conventions and conversions
// of §11.4 (§15 item 9), schemes §11.5, iteration §11.6, the request object §11.7, Dovecot's own
// src/auth/test-lua.c re-expressed, failure isolation. Log texts were checked against Dovecot 2.3.19.
import { AuthService } from '../../src/auth/service.js';
import { hashPassword } from '../../src/auth/schemes/registry.js';
import { LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { info } from './helpers.js';
import { luaScript, luaService } from './lua-helpers.js';

logHub.setDefaultOutput(false);
let pool: LuaWorkerPool;
beforeAll(() => {
  pool = new LuaWorkerPool({ workers: 1, callTimeoutMs: 300 });
});
afterAll(() => pool.close());

const services: AuthService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});
async function passdb(body: string, extraArgs = '', authDebug = false): Promise<AuthService> {
  const file = luaScript(`function auth_passdb_lookup(req)\n${body}\nend\n`);
  const s = await luaService(pool, { passdbs: [{ driver: 'lua', args: `file=${file} ${extraArgs}` }] }, authDebug);
  services.push(s);
  return s;
}
async function userdb(body: string): Promise<AuthService> {
  const file = luaScript(`function auth_userdb_lookup(req)\n${body}\nend\n`);
  const s = await luaService(pool, { userdbs: [{ driver: 'lua', args: `file=${file}` }] });
  services.push(s);
  return s;
}
const login = (auth: AuthService, password = 'secret', user = 't1') => auth.authenticatePlain({ ...info, user, password });

describe('args (spec §11.1)', () => {
  test.each([
    ['passdb', 'blocking=yes', 'passdb-lua: Missing mandatory file= parameter'],
    ['userdb', '', 'userdb-lua: Missing mandatory file= parameter'],
    ['passdb', 'file=/x.lua blocking=maybe', 'Invalid value maybe. Field blocking must be yes or no'],
    ['passdb', 'file=/x.lua foo=bar', 'Unsupported parameter foo=bar'],
    ['userdb', 'file=/x.lua scheme=SHA1', 'Unsupported parameter scheme=SHA1'],
  ])('%s args "%s" → %s', (kind, args, msg) => {
    const dbs = [{ driver: 'lua', args }];
    const settings = kind === 'passdb' ? { passdbs: dbs, userdbs: [] } : { passdbs: [], userdbs: dbs };
    expect(() => new AuthService(settings, { lua: pool })).toThrow(msg);
  });
  test('load/init failure is fatal at init() and a tempfail for lookups', async () => {
    const file = luaScript('function script_init() end\n');
    const auth = new AuthService({ passdbs: [{ driver: 'lua', args: `file=${file} cache_key= blocking=no` }], userdbs: [], auth_failure_delay: 0 }, { lua: pool });
    await expect(auth.init()).rejects.toThrow('passdb-lua: initialization failed: script_init() returned non-number');
    const logs = captureLogs();
    expect(await login(auth)).toMatchObject({ ok: false, reason: 'tempfail' });
    logs.stop();
    expect(logs.lines).toContain('auth: Error: lua(t1,192.0.2.7): passdb-lua: initialization failed: script_init() returned non-number');
  });
});

describe("Dovecot's src/auth/test-lua.c", () => {
  test('passdb_lookup: log_debug + var_expand("password=pass") → OK', async () => {
    const auth = await passdb('req:log_debug("user " .. req.user)\nreturn dovecot.auth.PASSDB_RESULT_OK, req:var_expand("password=pass")', '', true);
    const logs = captureLogs();
    expect(await login(auth, 'pass', 'testuser')).toMatchObject({ ok: true, user: 'testuser' });
    logs.stop();
    expect(logs.lines).toContain('auth: Debug: lua(testuser,192.0.2.7): db-lua: user testuser');
  });
  test('passdb_lookup numberish value: {user="01234"} keeps the string', async () => {
    const auth = await passdb('return dovecot.auth.PASSDB_RESULT_OK, { user = "01234", password = "secret" }');
    expect(await login(auth)).toMatchObject({ ok: true, user: '01234' });
  });
  test('password_verify: req:password_verify("{SHA256-CRYPT}...", pass) in auth_password_verify', async () => {
    const crypted = await hashPassword('password', 'SHA256-CRYPT');
    const file = luaScript(`
function auth_password_verify(req, pass)
  local code, err = req:password_verify("${crypted}", pass)
  if code == 1 then return dovecot.auth.PASSDB_RESULT_OK, {} end
  return dovecot.auth.PASSDB_RESULT_PASSWORD_MISMATCH, err or "mismatch"
end`);
    const auth = await luaService(pool, { passdbs: [{ driver: 'lua', args: `file=${file}` }] });
    services.push(auth);
    expect(await login(auth, 'password')).toMatchObject({ ok: true });
    const logs = captureLogs();
    expect(await login(auth, 'wrong')).toMatchObject({ ok: false, reason: 'mismatch' });
    logs.stop();
    expect(logs.lines).toContain('auth: Info: lua(t1,192.0.2.7): Password mismatch');
  });
});

describe('return convention (spec §11.4)', () => {
  test('returning only a code is a temp failure with the doubled db-lua prefix', async () => {
    const auth = await passdb('return dovecot.auth.PASSDB_RESULT_OK');
    const logs = captureLogs();
    expect(await login(auth)).toEqual({ ok: false, reason: 'tempfail', message: 'Temporary authentication failure.', user: 't1' });
    logs.stop();
    expect(logs.lines).toContain('auth: Error: lua(t1,192.0.2.7): db-lua: db-lua: auth_passdb_lookup(req) invalid return value (expected string or table, got nil)');
  });
  test('first value must be a number or numeric string', async () => {
    const ok = await passdb('return "1", "password=secret"');
    expect(await login(ok)).toMatchObject({ ok: true });
    const bad = await passdb('return {}, "password=secret"');
    const logs = captureLogs();
    expect(await login(bad)).toMatchObject({ reason: 'tempfail' });
    logs.stop();
    expect(logs.lines).toContain('auth: Error: lua(t1,192.0.2.7): db-lua: db-lua: auth_passdb_lookup(req) invalid return value (expected number got table)');
  });
  test('string result: key=value without %-expansion, bare keys, userdb_ fields', async () => {
    const auth = await passdb('return dovecot.auth.PASSDB_RESULT_OK, "password=secret home=/srv/mail/%u nopw userdb_quota_rule=*:storage=1G"');
    expect(await login(auth)).toMatchObject({ ok: true, passdbFields: { home: '/srv/mail/%u', nopw: '' }, userdbFields: { quota_rule: '*:storage=1G' } });
  });
  test('table result: 1.5 → "0", 2.0 → "2", true/false → yes/no, invalid type → warning and empty field', async () => {
    const auth = await passdb('return dovecot.auth.PASSDB_RESULT_OK, { password = "secret", num = 1.5, two = 2.0, int = 7, t = true, f = false, tbl = {} }');
    const logs = captureLogs();
    const r = await login(auth);
    logs.stop();
    expect(r).toMatchObject({ ok: true, passdbFields: { num: '0', two: '2', int: '7', t: 'yes', f: 'no', tbl: '' } });
    expect(logs.lines).toContain("auth: Warning: lua(t1,192.0.2.7): db-lua: 'tbl' has invalid value type no value - ignoring");
  });
  test('failure codes: message logged only for INTERNAL_FAILURE; table → "passb failed"', async () => {
    const logs = captureLogs();
    expect(await login(await passdb('return dovecot.auth.PASSDB_RESULT_USER_UNKNOWN, "no such user"'))).toMatchObject({ reason: 'unknown' });
    expect(await login(await passdb('return dovecot.auth.PASSDB_RESULT_PASSWORD_MISMATCH, "bad"'))).toMatchObject({ reason: 'mismatch' });
    expect(await login(await passdb('return dovecot.auth.PASSDB_RESULT_USER_DISABLED, ""'))).toMatchObject({ reason: 'disabled' });
    expect(await login(await passdb('return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, "db down"'))).toMatchObject({ reason: 'tempfail' });
    expect(await login(await passdb('return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, {}'))).toMatchObject({ reason: 'tempfail' });
    logs.stop();
    expect(logs.lines.filter((l) => l.includes('Error'))).toEqual([
      'auth: Error: lua(t1,192.0.2.7): db-lua: db down',
      'auth: Error: lua(t1,192.0.2.7): db-lua: passb failed',
    ]);
    expect(logs.lines.join('\n')).not.toContain('no such user');
  });
  test('a Lua error is an internal failure logged with lua_pcall text and traceback', async () => {
    const auth = await passdb('error("boom")');
    const logs = captureLogs();
    expect(await login(auth)).toMatchObject({ reason: 'tempfail' });
    logs.stop();
    expect(logs.lines[0]).toMatch(/^auth: Error: lua\(t1,192\.0\.2\.7\): db-lua: lua_pcall\(auth_passdb_lookup, 1, 2\) failed: .*auth\d+\.lua:2: boom\nstack traceback:/);
  });
  test('nopassword / empty password rules', async () => {
    const logs = captureLogs();
    expect(await login(await passdb('return 1, "nopassword"'), 'anything')).toMatchObject({ ok: true });
    expect(await login(await passdb('return 1, "nopassword password=x"'), 'x')).toMatchObject({ reason: 'mismatch' });
    expect(await login(await passdb('return 1, {}'))).toMatchObject({ reason: 'mismatch' });
    logs.stop();
    expect(logs.lines).toContain('auth: Info: lua(t1,192.0.2.7): nopassword given and password is not empty');
    expect(logs.lines).toContain('auth: Info: lua(t1,192.0.2.7): No password returned (and no nopassword)');
  });
});

describe('schemes (spec §11.5)', () => {
  test('string result without {SCHEME} is PLAIN even with scheme=; table result uses scheme=', async () => {
    const sha = (await hashPassword('secret', 'SHA256')).slice('{SHA256}'.length);
    expect(await login(await passdb('return 1, "password=secret"', 'scheme=SHA256'))).toMatchObject({ ok: true });
    expect(await login(await passdb(`return 1, { password = "${sha}" }`, 'scheme=SHA256'))).toMatchObject({ ok: true });
    expect(await login(await passdb(`return 1, { password = "${sha}" }`))).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(await login(await passdb(`return 1, "password={SHA256}${sha}"`))).toMatchObject({ ok: true });
  });
});

describe('auth_password_verify vs auth_passdb_lookup (spec §11.3)', () => {
  test('plaintext logins use auth_password_verify only; password is an ordinary field there', async () => {
    const file = luaScript(`
function auth_passdb_lookup(req) dovecot.i_info("lookup called") return 1, "password=secret" end
function auth_password_verify(req, pass)
  if pass == "right" then return dovecot.auth.PASSDB_RESULT_OK, { password = "kept", n = 3 } end
  return dovecot.auth.PASSDB_RESULT_PASSWORD_MISMATCH, ""
end`);
    const auth = await luaService(pool, { passdbs: [{ driver: 'lua', args: `file=${file}` }] });
    services.push(auth);
    const logs = captureLogs();
    expect(await login(auth, 'right')).toMatchObject({ ok: true, passdbFields: { password: 'kept', n: '3' } });
    expect(await login(auth, 'secret')).toMatchObject({ ok: false, reason: 'mismatch' });
    logs.stop();
    expect(logs.lines).not.toContain('auth: Info: lookup called');
  });
  test('verify errors are prefixed passdb-lua:', async () => {
    const file = luaScript('function auth_password_verify(req, pass) return nil, {} end');
    const auth = await luaService(pool, { passdbs: [{ driver: 'lua', args: `file=${file}` }] });
    services.push(auth);
    const logs = captureLogs();
    expect(await login(auth)).toMatchObject({ reason: 'tempfail' });
    logs.stop();
    expect(logs.lines).toContain('auth: Error: lua(t1,192.0.2.7): passdb-lua: db-lua: auth_password_verify invalid return value (expected number got nil)');
  });
});

describe('userdb (spec §11.4) and iteration (spec §11.6)', () => {
  test('lookupUser: table conversions, string fields, unknown user', async () => {
    const auth = await userdb(`
if req.user == "tbl" then return dovecot.auth.USERDB_RESULT_OK, { uid = 1000.0, x = 2.5, y = true } end
if req.user == "str" then return 1, "home=/srv/%u nopw" end
return dovecot.auth.USERDB_RESULT_USER_UNKNOWN, "nope"`);
    expect(await auth.lookupUser('tbl', 'lmtp')).toEqual({ found: true, user: 'tbl', fields: { uid: '1000', x: '0', y: 'yes' } });
    expect(await auth.lookupUser('str', 'lmtp')).toEqual({ found: true, user: 'str', fields: { home: '/srv/%u', nopw: '' } });
    expect(await auth.lookupUser('other', 'lmtp')).toEqual({ found: false, reason: 'unknown' });
  });
  test('userdb failures log userdb-lua: texts (as Dovecot 2.3.19 does)', async () => {
    const auth = await userdb(`
if req.user == "bad" then return "x" end
if req.user == "int" then return dovecot.auth.USERDB_RESULT_INTERNAL_FAILURE, "my msg" end
if req.user == "intt" then return -1, {} end
error("boom")`);
    const logs = captureLogs();
    for (const u of ['bad', 'int', 'intt', 'err']) expect(await auth.lookupUser(u, 'lmtp')).toEqual({ found: false, reason: 'tempfail' });
    logs.stop();
    const errors = logs.lines.filter((l) => l.includes(': userdb-lua: '));
    expect(errors.slice(0, 3)).toEqual([
      'auth: Error: lua(bad): userdb-lua: db-lua: auth_userdb_lookup(req) invalid return value (expected number got string)',
      'auth: Error: lua(int): userdb-lua: my msg',
      'auth: Error: lua(intt): userdb-lua: userdb failed',
    ]);
    expect(errors[3]).toMatch(/^auth: Error: lua\(err\): userdb-lua: lua_pcall\(auth_userdb_lookup, 1, 2\) failed: .*: boom\nstack traceback:/);
  });
  test('iterate takes every value of the table, keys ignored', async () => {
    const file = luaScript('function auth_userdb_iterate() return { "a", "b", x = "c" } end');
    const auth = await luaService(pool, { userdbs: [{ driver: 'lua', args: `file=${file}` }] });
    services.push(auth);
    const users: string[] = [];
    for await (const u of auth.iterateUsers()) users.push(u);
    expect(users.sort()).toEqual(['a', 'b', 'c']);
  });
  test.each([
    ['return "x"', 'auth: Error: lua(*): db-lua: Cannot iterate, return value is not table'],
    ['return { "a", {} }', 'auth: Error: lua(*): db-lua: Value is not string'],
  ])('iterate %s fails with %s', async (body, line) => {
    const file = luaScript(`function auth_userdb_iterate() ${body} end`);
    const auth = await luaService(pool, { userdbs: [{ driver: 'lua', args: `file=${file}` }] });
    services.push(auth);
    const logs = captureLogs();
    await expect(async () => {
      for await (const u of auth.iterateUsers()) void u;
    }).rejects.toThrow('userdb-lua: iteration failed');
    logs.stop();
    expect(logs.lines).toContain(line);
  });
});

describe('the request object (spec §11.7)', () => {
  test('variables, raw fields, var_expand, response_from_template, password_verify, event', async () => {
    const auth = await passdb(`
local out = {}
local function add(k, v) out[#out + 1] = k .. "=" .. (v == nil and "NIL" or tostring(v)) end
for _, n in ipairs({ "user", "username", "domain", "service", "home", "lip", "rip", "password", "mech", "secured", "lport", "cert", "session", "orig_user", "auth_user" }) do add(n, req[n]) end
add("skip", req.skip_password_check)
add("ve", req:var_expand("%u|%l|%a|%{passdb:x:dd}|%z"))
local t = req:response_from_template("a=%u b c=%{lip}")
add("tpl", t.a .. "," .. tostring(t.b) .. "," .. t.c)
local c1, e1 = req:password_verify("{FOO}x", "x")
local c2, e2 = req:password_verify("{SHA256}x", "x")
local c3, e3 = req:password_verify("x", "x")
add("pv", tostring(c1) .. " " .. e1 .. "|" .. tostring(c2) .. " " .. e2 .. "|" .. tostring(c3) .. " " .. tostring(e3))
req:log_info(table.concat(out, " "))
req:event():log_warning("from req event")
return 1, "password=secret"`);
    const logs = captureLogs();
    expect(await auth.authenticatePlain({ service: 'imap', remoteIp: '1.2.3.4', mech: 'PLAIN', user: 't1@ex.org', password: 'secret' })).toMatchObject({ ok: true });
    logs.stop();
    expect(logs.lines).toContain(
      'auth: Info: lua(t1@ex.org,1.2.3.4): db-lua: user=t1@ex.org username=t1 domain=ex.org service=imap home=NIL lip=NIL rip=1.2.3.4 ' +
        'password=secret mech=PLAIN secured= lport=0 cert= session=NIL orig_user=t1@ex.org auth_user=t1@ex.org skip=false ' +
        've=t1@ex.org||0|dd|UNSUPPORTED_VARIABLE_z tpl=t1@ex.org,nil, ' +
        "pv=0.0 Unknown scheme FOO|-1.0 Password data is not valid for scheme SHA256: Input isn't valid base64 encoded data|1.0 nil",
    );
    expect(logs.lines).toContain('auth: Warning: lua(t1@ex.org,1.2.3.4): from req event');
  });
});

describe('the request object across lookups (one state per userdb, as db-lua keeps it)', () => {
  test('globals persist from lookup to lookup; a req kept in a global keeps its variables, even 100 lookups later', async () => {
    // Dovecot's db-lua loads the script once per userdb and keeps the state across requests.
    const auth = await userdb(`
calls = (calls or 0) + 1
if calls == 1 then first = req end
local kinds = {}
for _, k in ipairs({ 1, true, "username\0x", "nonexistent_var", "__index", "constructor", "toString" }) do
  kinds[#kinds + 1] = tostring(req[k])
end
return 1, { calls = calls, first_user = first.user, first_username = first.username, first_home = tostring(first.home),
  this_user = req.user, odd_keys = table.concat(kinds, ","), method = type(req.var_expand) }`);
    let last: unknown;
    for (let i = 1; i <= 100; i++) last = await auth.lookupUser(`u${i}@ex.org`, 'lmtp');
    expect(last).toEqual({
      found: true,
      user: 'u100@ex.org',
      fields: {
        calls: '100',
        first_user: 'u1@ex.org',
        first_username: 'u1',
        first_home: 'nil',
        this_user: 'u100@ex.org',
        odd_keys: 'nil,nil,nil,nil,nil,nil,nil',
        method: 'function',
      },
    });
  });

  test('a req kept past the call still refuses var_expand once 64 newer requests came (as before)', async () => {
    const auth = await userdb(`
calls = (calls or 0) + 1
if calls == 1 then first = req end
local ok, err = pcall(first.var_expand, first, "%u")
return 1, { first_user = first.user, ve = ok and err or ("error: " .. tostring(err)) }`);
    expect((await auth.lookupUser('a1', 'lmtp')) as unknown).toMatchObject({ fields: { first_user: 'a1', ve: 'a1' } });
    let last: unknown;
    for (let i = 2; i <= 70; i++) last = await auth.lookupUser(`a${i}`, 'lmtp');
    expect(last).toMatchObject({ fields: { first_user: 'a1', ve: expect.stringContaining('error: ') } });
  });
});

describe('isolation', () => {
  test('a looping script fails only that login (tempfail), the next logins work', async () => {
    const auth = await passdb('if req.user == "loop" then while true do end end\nreturn 1, "password=secret"');
    const logs = captureLogs();
    const [looped, fine] = await Promise.all([login(auth, 'secret', 'loop'), login(auth, 'secret', 'ok1')]);
    logs.stop();
    expect(looped).toMatchObject({ ok: false, reason: 'tempfail' });
    expect(fine).toMatchObject({ ok: true });
    expect(await login(auth, 'secret', 'ok2')).toMatchObject({ ok: true });
    expect(logs.lines.find((l) => l.includes('loop'))).toMatch(/^auth: Error: lua\(loop,192\.0\.2\.7\): db-lua: lua_pcall\(auth_passdb_lookup, 1, 2\) failed: .*exceeded lua_call_timeout \(300 ms\)/);
  });
});
