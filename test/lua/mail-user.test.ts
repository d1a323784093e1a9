// The mail_user object (spec §7): fields and their Lua types, metamethods, plugin_getenv,
// var_expand, mailbox(), user metadata and how it meets IMAP server metadata (§16.6).
import { logHub } from '../../src/log/logger.js';
import type { AnyMailUser as MailUser } from '../../src/mail-user/mail-user.js';
import { mailEnv, plainUser, userError, withUser, type MailEnv } from './mail-helpers.js';

let env: MailEnv;
let user: MailUser;
beforeAll(async () => {
  logHub.setDefaultOutput(false);
  env = await mailEnv((s) => {
    s.plugin = { ...s.plugin, quota: 'count:User quota', mail_lua_script_x: 'x' };
  });
  user = await plainUser(env, { userdbFields: { uid: '1000', gid: '1001', 'plugin/color': 'blue', foo: 'bar' } });
});
afterAll(async () => {
  await env.ctx.mailUsers.destroyUser(user);
  await env.close();
});

describe('fields (§7.1, §14)', () => {
  test('raw fields with Dovecot types', async () => {
    const r = await withUser(env, user, `
      local t = {}
      for _, k in ipairs({'uid','gid','session_create_time'}) do t[#t+1] = k .. '=' .. math.type(user[k]) end
      for _, k in ipairs({'nonexistent','anonymous','autocreated','mail_debug','fuzzy_search','dsyncing','admin','session_restored'}) do
        t[#t+1] = k .. '=' .. tostring(rawget(user, k))
      end
      return table.concat(t, ' '), user.username, user.service, user.home, user.session_id, tostring(user.uid), type(user.item), getmetatable(user).__name
    `, 8);
    expect(r[0]).toBe('uid=float gid=float session_create_time=float nonexistent=false anonymous=false autocreated=false mail_debug=false fuzzy_search=false dsyncing=false admin=false session_restored=false');
    expect(r.slice(1)).toEqual(['alice', 'imap', user.home, user.sessionId, '1000.0', 'userdata', 'struct mail_user']);
  });
  test('session_create_time is the session start', async () => {
    const [t] = await withUser(env, user, 'return user.session_create_time');
    expect(t).toBe(user.createTime);
  });
});

describe('metamethods (§7.2)', () => {
  test('__tostring is the username; __eq/__lt/__le compare usernames', async () => {
    const h = await withUser(env, user, `
      local other = setmetatable({ username = 'bob' }, getmetatable(user))
      return tostring(user), user == user, rawequal(user, other), user < other, user <= other, other < user
    `, 6);
    expect(h).toEqual(['alice', true, false, true, true, false]);
  });
});

describe('plugin_getenv (§7.3)', () => {
  test('plugin block, userdb overrides, unknown → nil, numbers converted', async () => {
    expect(await withUser(env, user, 'return user:plugin_getenv("quota"), user:plugin_getenv("color"), user:plugin_getenv("foo"), user:plugin_getenv("nope"), user:plugin_getenv(5)', 5))
      .toEqual(['count:User quota', 'blue', 'bar', null, null]);
  });
  test('argument count and a non-string name are clean errors (§16.1)', async () => {
    expect(await userError(env, user, 'user:plugin_getenv()')).toBe('expected 2 arguments, got 1');
    expect(await userError(env, user, 'user:plugin_getenv(nil)')).toMatch(/\.lua:2: bad argument #1 to 'plugin_getenv' \(string expected, got nil\)$/);
    expect(await userError(env, user, 'user.plugin_getenv(1, "x")')).toBe('Bad argument #1, expected struct mail_user got number');
  });
});

describe('var_expand (§7.4, §15 item 8)', () => {
  test('mail-user variables', async () => {
    expect(await withUser(env, user, 'return user:var_expand("%u %n %d %s %{session} %i %{gid} %h %%")'))
      .toEqual([`alice alice  imap ${user.sessionId} 1000 1001 ${user.home} %`]);
  });
  test('unknown variables, offsets/widths, functions', async () => {
    expect(await withUser(env, user, 'return user:var_expand("%z"), user:var_expand("%{nope}"), user:var_expand("%3.2u"), user:var_expand("%Uu"), user:var_expand("%{userdb:foo:dflt}"), user:var_expand("%{userdb:zz:dflt}")', 6))
      .toEqual(['UNSUPPORTED_VARIABLE_z', 'UNSUPPORTED_VARIABLE_nope', 'ce', 'ALICE', 'bar', 'dflt']);
    const test = await plainUser(env, { username: 'test' });
    try {
      expect(await withUser(env, test, 'return user:var_expand("%3.2u"), user:var_expand("%{md5:user}")', 2))
        .toEqual(['t', '098f6bcd4621d373cade4e832627b4f6']);
    } finally {
      await env.ctx.mailUsers.destroyUser(test);
    }
  });
  test('hard errors are wrapped', async () => {
    expect(await userError(env, user, 'user:var_expand("%{sha256;rounds=x:user}")'))
      .toBe("var_expand(%{sha256;rounds=x:user}) failed: Cannot parse hash arguments:'x' is not number for rounds");
    expect(await userError(env, user, 'user:var_expand()')).toBe('expected 2 arguments, got 1');
  });
});

describe('mailbox() (§7.5, §5.3)', () => {
  test('returns an unopened mailbox object without checking existence', async () => {
    expect(await withUser(env, user, 'local b = user:mailbox("Nope") return b.vname, b.name, getmetatable(b).__name, type(b.item), user:mailbox("inbox").vname, user:mailbox("inbox/x", dovecot.storage.MAILBOX_FLAG_READONLY).vname', 6))
      .toEqual(['Nope', 'Nope', 'struct mailbox', 'userdata', 'INBOX', 'INBOX/x']);
  });
  test('argument rules', async () => {
    expect(await userError(env, user, 'user:mailbox()')).toBe('expected 2 to 3 arguments, got 1');
    expect(await userError(env, user, 'user:mailbox("a", 1, 2)')).toBe('expected 2 to 3 arguments, got 4');
    expect(await userError(env, user, 'user:mailbox("a", "x")')).toMatch(/\.lua:2: bad argument #2 to 'mailbox' \(number expected, got string\)$/);
  });
  test('no namespaces inside mail_user_created: a clean error (§16.1)', async () => {
    expect(await userError(env, user, 'user:mailbox("INBOX")', false)).toBe('No namespace found for mailbox INBOX');
    expect(await userError(env, user, 'user:metadata_get("/private/a")', false)).toMatch(/^Cannot open INBOX: Mail storage is not available/);
    expect(await userError(env, user, 'user:metadata_list("/private/")', false)).toMatch(/^Cannot open INBOX: /);
    expect(await userError(env, user, 'user:metadata_set("/private/a", "v")', false)).toMatch(/^Cannot open INBOX: /);
    // fields, var_expand and plugin_getenv work there
    expect(await withUser(env, user, 'return user.username, user:var_expand("%u"), user:plugin_getenv("color")', 3, false)).toEqual(['alice', 'alice', 'blue']);
  });
});

describe('user metadata (§7.6, §15 item 7, §16.6)', () => {
  test('set/get/unset/list with Dovecot key rules', async () => {
    const r = await withUser(env, user, `
      user:metadata_set("/private/a/b", "v1")
      user:metadata_set("/shared/c", 42)
      local a, c, zz = user:metadata_get("/private/a/b", "/shared/c", "/private/zz")
      local l = user:metadata_list("/private/", "/shared/")
      local keys = {}
      for k, v in pairs(l) do keys[#keys+1] = k .. '=' .. v end
      table.sort(keys)
      user:metadata_unset("/private/a/b")
      user:metadata_set("/shared/c", nil)
      return a, c, zz, table.concat(keys, ','), user:metadata_get("/private/a/b"), user:metadata_get("/shared/c")
    `, 6);
    expect(r).toEqual(['v1', '42', null, '/private/a/b=v1,/shared/admin=,/shared/c=42,/shared/comment=', null, null]);
  });
  test('list is a string prefix match keeping the given prefix', async () => {
    const r = await withUser(env, user, `
      user:metadata_set("/private/ab", "1") user:metadata_set("/private/a/c", "2") user:metadata_set("/private/x", "3")
      local keys = {}
      for k, v in pairs(user:metadata_list("/private/a")) do keys[#keys+1] = k .. '=' .. v end
      table.sort(keys)
      for _, k in ipairs({"/private/ab", "/private/a/c", "/private/x"}) do user:metadata_unset(k) end
      return table.concat(keys, ',')
    `);
    expect(r).toEqual(['/private/a/c=2,/private/ab=1']);
  });
  test('errors', async () => {
    expect(await userError(env, user, 'user:metadata_get("/foo")')).toBe('Invalid key prefix, must be /private/ or /shared/');
    expect(await userError(env, user, 'user:metadata_set("foo", "x")')).toBe('Invalid key prefix, must be /private/ or /shared/');
    expect(await userError(env, user, 'user:metadata_list("/x/")')).toBe('Invalid key prefix, must be /private/ or /shared/');
    expect(await userError(env, user, 'user:metadata_get()')).toBe('expecting at least 1 parameter');
    expect(await userError(env, user, 'user:metadata_list()')).toBe('expecting at least 1 parameter');
    expect(await userError(env, user, 'user:metadata_get("/private/a", {})')).toBe('expected string at #3');
    expect(await userError(env, user, 'user:metadata_set("/private/a")')).toBe('expected 3 arguments, got 2');
    expect(await userError(env, user, 'user:metadata_unset()')).toBe('expected 2 arguments, got 1');
    expect(await userError(env, user, 'user:metadata_set("/private/a", "x\\0y")')).toBe('Cannot get attribute: Attribute string value has NULs');
  });
  test('what Lua writes is IMAP server metadata (GETMETADATA ""), and the reverse', async () => {
    const store = user.getStore();
    await store.setMetadata('', '/private/from-imap', Buffer.from([0xff, 0x01, 0x41]));
    const [fromImap, len] = await withUser(env, user, `
      user:metadata_set("/private/from-lua", "h\\195\\169 \\1")
      local v = user:metadata_get("/private/from-imap")
      return v, #v
    `, 2);
    expect(Buffer.from(fromImap as string, 'utf8').length).toBeGreaterThan(0);
    expect(len).toBe(3n);
    expect((await store.getMetadata('', ['/private/from-lua']))[0]!.value).toEqual(Buffer.from([0x68, 0xc3, 0xa9, 0x20, 0x01]));
    const [bytes] = await withUser(env, user, 'local v = user:metadata_get("/private/from-imap") return v:byte(1) .. "," .. v:byte(2) .. "," .. v:byte(3)');
    expect(bytes).toBe('255,1,65');
    await store.setMetadata('', '/private/from-imap', null);
    await store.setMetadata('', '/private/from-lua', null);
  });
});
