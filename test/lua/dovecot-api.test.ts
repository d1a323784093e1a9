// The `dovecot` global (spec §2), events (§3), constants (§6, §11.2), numbers (§14) and
// Dovecot's own test-lua.c checks (§15).
import { LuaWorkerPool } from '../../src/lua/index.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { evalError, evalLua } from './helpers.js';

let pool: LuaWorkerPool;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  pool = new LuaWorkerPool({ workers: 1 });
});
afterAll(() => pool.close());

async function logsOf(body: string, opts = {}): Promise<string[]> {
  const cap = captureLogs();
  await evalLua(pool, body, 0, opts);
  cap.stop();
  return cap.lines;
}

describe('dovecot table (§2)', () => {
  test('pairs lists only sub-tables; functions come from the metatable', async () => {
    const mail = await evalLua(pool, 'local k = {} for n in pairs(dovecot) do k[#k+1] = n end table.sort(k) return table.concat(k, ","), type(dovecot.i_info), dovecot.version', 3);
    expect(mail).toEqual(['http,storage', 'function', null]);
    const auth = await evalLua(pool, 'local k = {} for n in pairs(dovecot) do k[#k+1] = n end table.sort(k) return table.concat(k, ",")', 1, { context: 'auth' });
    expect(auth).toEqual(['auth,http']);
  });
  test('API parts loaded on first use ignore globals the script changed before', async () => {
    const lines = await logsOf([
      'string, table, math, type, select, error, setmetatable = nil, nil, nil, nil, nil, nil, nil',
      'local e = dovecot.event()',
      'e:append_log_prefix("p: "):log_info("late")',
      'dovecot.i_warning(dovecot.has_flag(6, 2) and "flag" or "no flag")',
    ].join('\n'));
    expect(lines).toEqual(['imap(alice): Info: p: late', 'imap(alice): Warning: flag']);
  });
  test('storage and auth constants are floats with named metatables (§6, §11.2, §14)', async () => {
    expect(await evalLua(pool, 'return tostring(dovecot.storage.STATUS_MESSAGES), math.type(dovecot.storage.MAILBOX_FLAG_IGNORE_ACLS), dovecot.storage.MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER, (tostring(dovecot.storage):match("^storage: 0x"))', 4))
      .toEqual(['1.0', 'float', 'vendor/vendor.dovecot/pvt/server/', 'storage: 0x']);
    expect(await evalLua(pool, 'return tostring(dovecot.auth.PASSDB_RESULT_OK), tostring(dovecot.auth.USERDB_RESULT_USER_UNKNOWN), (tostring(dovecot.auth):match("^dovecot_auth: 0x"))', 3, { context: 'auth' }))
      .toEqual(['1.0', '-2.0', 'dovecot_auth: 0x']);
  });
  test('i_* logging: argument rules, coercion, process prefix', async () => {
    expect(await evalError(pool, 'dovecot.i_info()')).toMatch(/^lua_pcall\(t, 0, 0\) failed: expected 1 arguments, got 0\n/);
    expect(await evalError(pool, 'dovecot.i_error({})')).toMatch(/failed: .*\.lua:2: bad argument #1 to 'i_error' \(string expected, got table\)\n/);
    const lines = await logsOf('dovecot.i_warning(123) dovecot.i_info("hi") dovecot.i_debug("dbg")', { processLogPrefix: 'imap(alice)<7><s>: ' });
    expect(lines).toEqual(['imap(alice)<7><s>: Warning: 123', 'imap(alice)<7><s>: Info: hi', 'imap(alice)<7><s>: Debug: dbg']);
  });
  test('flag helpers (§2.2, test-lua.c lua_test_flags)', async () => {
    expect(await evalLua(pool, [
      'local f = dovecot.set_flag(0, 2) f = dovecot.set_flag(f, 4) f = dovecot.set_flag(f, 16)',
      'local a, b = dovecot.has_flag(f, 8), dovecot.has_flag(f, 4)',
      'f = dovecot.clear_flag(f, 4)',
      'return a, b, dovecot.has_flag(f, 4), dovecot.has_flag(f, 16), math.type(f), dovecot.set_flag(1, 4), dovecot.clear_flag(7, 2), dovecot.has_flag(6, 2), dovecot.set_flag("1", 2.0)',
    ].join('\n'), 9)).toEqual([false, true, false, true, 'integer', 5n, 5n, true, 3n]);
    expect(await evalError(pool, 'dovecot.has_flag(1)')).toMatch(/failed: expected 2 arguments, got 1\n/);
    expect(await evalError(pool, 'dovecot.set_flag(1.5, 1)')).toMatch(/\.lua:2: bad argument #1 to 'set_flag' \(number has no integer representation\)/);
    expect(await evalError(pool, 'dovecot.set_flag(1, "x")')).toMatch(/bad argument #2 to 'set_flag' \(number expected, got string\)/);
  });
  test('restrict_global_variables (§2.3)', async () => {
    expect(await evalError(pool, 'dovecot.restrict_global_variables()')).toMatch(/failed: expected 1 arguments, got 0/);
    expect(await evalError(pool, 'dovecot.restrict_global_variables(true) newvar = 1')).toMatch(/failed: attempt to write to undeclared global variable newvar/);
    expect(await evalError(pool, 'dovecot.restrict_global_variables(true) return missing')).toMatch(/failed: attempt to write to read undeclared global variable missing/);
    expect(await evalLua(pool, 'existing = 1 dovecot.restrict_global_variables(true) function newfn() end existing = 2 dovecot.restrict_global_variables(false) fresh = 3 return existing, type(newfn), fresh, missing', 4))
      .toEqual([2n, 'function', 3n, null]);
  });
});

describe('events (§3)', () => {
  test('representation and argument rules', async () => {
    expect(await evalLua(pool, 'local e = dovecot.event() return (tostring(e):match("^struct event: 0x")), type(rawget(e, "item")) ~= "nil", e:add_str("k", "v") == e', 3))
      .toEqual(['struct event: 0x', true, true]);
    expect(await evalError(pool, 'dovecot.event(1, 2)')).toMatch(/failed: expected 0 to 1 arguments, got 2\n/);
    expect(await evalError(pool, 'dovecot.event(5)')).toMatch(/failed: Bad argument #1, expected struct event got number\n/);
    expect(await evalError(pool, 'dovecot.event():add_int("k", 1.5)')).toMatch(/\.lua:2: bad argument #2 to 'add_int' \(number has no integer representation\)/);
    expect(await evalError(pool, 'dovecot.event():log_info()')).toMatch(/failed: expected 2 arguments, got 1\n/);
    expect(await evalError(pool, 'local e = dovecot.event() e.log_info(5, "x")')).toMatch(/failed: Bad argument #1, expected struct event got number\n/);
  });
  test('log line layout: appended and replaced prefixes, parent chain', async () => {
    const lines = await logsOf([
      'local e = dovecot.event()',
      'e:append_log_prefix("pfx: "):log_warning("warn msg")',
      'local c = dovecot.event(e):append_log_prefix("child: ")',
      'c:log_error(42)',
      'dovecot.event():replace_log_prefix("RP: "):log_info("x")',
      'local r = dovecot.event():replace_log_prefix("R2: ")',
      'dovecot.event(r):append_log_prefix("a: "):log_info("y")',
    ].join('\n'));
    expect(lines).toEqual([
      'imap(alice): Warning: pfx: warn msg',
      'imap(alice): Error: pfx: child: 42',
      'RP: Info: x',
      'R2: Info: a: y',
    ]);
  });
  test('log_debug only with debug; source basename:line in fields', async () => {
    expect(await logsOf('dovecot.event():log_debug("hidden")')).toEqual([]);
    const cap = captureLogs();
    await evalLua(pool, 'dovecot.event():add_int("n", 3):set_name("ev"):log_debug("shown")', 0, { debug: true });
    cap.stop();
    expect(cap.lines).toEqual(['imap(alice): Debug: shown']);
    expect(cap.records[0]!.fields).toMatchObject({ n: 3, event: 'ev', script: expect.stringMatching(/\.lua$/), source: expect.stringMatching(/^s\d+\.lua:2$/) });
  });
  test('passthrough events: chainable, finished by log, only one at a time', async () => {
    const lines = await logsOf('local e = dovecot.event() e:passthrough_event():append_log_prefix("pt: "):add_str("a", "b"):log_info("pt info") e:log_info("parent unchanged")');
    expect(lines).toEqual(['imap(alice): Info: pt: pt info', 'imap(alice): Info: parent unchanged']);
    expect(await evalError(pool, 'local e = dovecot.event() local p = e:passthrough_event() e:passthrough_event()'))
      .toMatch(/failed: Can't create multiple passthrough events - finish the earlier with ->event\(\)\n/);
    expect(await evalLua(pool, 'local p = dovecot.event():passthrough_event() return p.passthrough_event, (tostring(p):match("^struct event_passthrough"))', 2))
      .toEqual([null, 'struct event_passthrough']);
  });
});

test('number fidelity (§14) and tointeger compat (test-lua.c)', async () => {
  expect(await evalLua(pool, [
    'local r = {}',
    'for _, s in ipairs({"-1", "0", "1", "2147483648", "-2147483648", "0x123", "0xabcdef", "0123"}) do r[#r+1] = tostring(math.tointeger(tonumber(s))) end',
    'for _, s in ipairs({"0xabcdefg", "abc", "1.525", "52.51"}) do r[#r+1] = tostring(math.tointeger(tonumber(s) or 0.5)) end',
    'return table.concat(r, ","), math.type(1.0), math.type(1)',
  ].join('\n'), 3)).toEqual(['-1,0,1,2147483648,-2147483648,291,11259375,123,nil,nil,nil,nil', 'float', 'integer']);
});
