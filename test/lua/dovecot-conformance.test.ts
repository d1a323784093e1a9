// Behaviour of the mail Lua API checked against a real Dovecot 2.3.19.1 (Debian packages, sdbox and
// maildir, scripts run from mail_user_deinit_pre over IMAP): each expectation is what Dovecot did.
// docs/dovecot-differences.md lists these facts and the deliberate differences.
import { join } from 'node:path';
import { logHub } from '../../src/log/logger.js';
import type { AnyMailUser as MailUser } from '../../src/mail-user/mail-user.js';
import { mailEnv, plainUser, withUser, type MailEnv } from './mail-helpers.js';

let env: MailEnv;
let user: MailUser;
beforeAll(async () => {
  logHub.setDefaultOutput(false);
  env = await mailEnv();
  user = await plainUser(env);
  await user.getStore().append('INBOX', { content: Buffer.from('Subject: a\r\n\r\nx\r\n') });
});
afterAll(async () => {
  await env.ctx.mailUsers.destroyUser(user);
  await env.close();
});

const STATUS_FIELDS = `s.messages, s.recent, s.unseen, s.uidvalidity, s.uidnext, s.first_recent_uid, s.highest_modseq, s.no_modseq_tracking`;

describe('mailbox:status', () => {
  test('status(0) fills in nothing and opens nothing (Dovecot 2.3.19: index_storage_get_status)', async () => {
    const r = await withUser(env, user, `local s = user:mailbox("INBOX"):status(0) return ${STATUS_FIELDS}`, 8);
    expect(r).toEqual([0, 0, 0, 0, 0, 0, 0, false]);
    // Nothing is opened, so a missing mailbox is no error either.
    expect(await withUser(env, user, 'return user:mailbox("Nope"):status(0).messages')).toEqual([0]);
  });

  test('any other item fills in messages, uidvalidity, uidnext and first_recent_uid (Dovecot 2.3.19)', async () => {
    const S = 'dovecot.storage';
    const r = await withUser(env, user, `local s = user:mailbox("INBOX"):status(${S}.STATUS_UNSEEN) return ${STATUS_FIELDS}`, 8);
    expect(r[0]).toBe(1);
    expect(r[1]).toBe(0); // recent: not asked
    expect(r[2]).toBe(1);
    expect(r[3]).toBeGreaterThan(0);
    expect(r.slice(4)).toEqual([2, 1, 0, false]);
  });

  test('a message no session has selected is \\Recent, first_recent_uid its UID (Dovecot 2.3.19)', async () => {
    const r = await withUser(env, user, `
      local S = dovecot.storage
      local s = user:mailbox("INBOX"):status(S.STATUS_MESSAGES, S.STATUS_RECENT, S.STATUS_FIRST_RECENT_UID)
      return s.recent, s.first_recent_uid`, 2);
    expect(r).toEqual([1, 1]);
  });

  test('no_modseq_tracking until a CONDSTORE client opens the mailbox; highest_modseq counts either way', async () => {
    const store = user.getStore();
    const inbox = (await store.getMailbox('INBOX'))!;
    const ask = `local s = user:mailbox("INBOX"):status(dovecot.storage.STATUS_HIGHESTMODSEQ) return s.highest_modseq, s.no_modseq_tracking`;
    // Fresh INBOX at 1, one delivery: 2, untracked (Dovecot: hms 2, no_modseq_tracking true).
    expect(await withUser(env, user, ask, 2)).toEqual([2, true]);
    // A mailbox metadata change takes a modseq (Dovecot logs attribute updates in the index).
    await store.setMetadata('INBOX', '/private/comment', Buffer.from('c'));
    await store.enableModseqTracking(inbox.id);
    expect(await withUser(env, user, ask, 2)).toEqual([3, false]);
    expect((await store.status('INBOX')).highestModseq).toBe(3);
  });
});

/** `pcall(f)` inside the script: the error value exactly as the script sees it. */
const caught = (body: string) => withUser(env, user, `local ok, e = pcall(function() ${body} end) return tostring(ok) .. ' ' .. tostring(e)`);

describe('argument errors and the dovecot table', () => {
  test('__tostring with no argument, var_expand(nil): Dovecot 2.3.19 wording and position', async () => {
    expect(await caught('return getmetatable(user).__tostring()')).toEqual(['false expected 1 arguments, got 0']);
    expect(await caught('local v = user:var_expand(nil) return v')).toEqual([
      expect.stringMatching(/^false \/\S+\.lua:2: bad argument #1 to 'var_expand' \(string expected, got nil\)$/),
    ]);
    // A tail call: the name and number are Dovecot's; Lua keeps no caller line for a tail-called
    // Lua function (Dovecot's is a C function), so the position is that of the next frame up.
    expect(await caught('return user:var_expand(nil)')).toEqual([expect.stringMatching(/bad argument #1 to 'var_expand' \(string expected, got nil\)$/)]);
  });

  test('dovecot.storage holds exactly the constants 2.3.19 defines', async () => {
    const [keys] = await withUser(env, user, 'local k = {} for name in pairs(dovecot.storage) do k[#k+1] = name end table.sort(k) return table.concat(k, ",")');
    expect(keys).toBe([
      'MAILBOX_ATTRIBUTE_PREFIX_DOVECOT', 'MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT', 'MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER',
      'MAILBOX_FLAG_DROP_RECENT', 'MAILBOX_FLAG_IGNORE_ACLS', 'MAILBOX_FLAG_KEEP_LOCKED', 'MAILBOX_FLAG_NO_INDEX_FILES',
      'MAILBOX_FLAG_READONLY', 'MAILBOX_FLAG_SAVEONLY', 'MAILBOX_SYNC_FLAG_EXPUNGE', 'MAILBOX_SYNC_FLAG_FAST',
      'MAILBOX_SYNC_FLAG_FIX_INCONSISTENT', 'MAILBOX_SYNC_FLAG_FORCE_RESYNC', 'MAILBOX_SYNC_FLAG_FULL_READ',
      'MAILBOX_SYNC_FLAG_FULL_WRITE', 'MAILBOX_SYNC_FLAG_NO_EXPUNGES', 'STATUS_FIRST_RECENT_UID', 'STATUS_FIRST_UNSEEN_SEQ',
      'STATUS_HIGHESTMODSEQ', 'STATUS_HIGHESTPVTMODSEQ', 'STATUS_KEYWORDS', 'STATUS_MESSAGES', 'STATUS_PERMANENT_FLAGS',
      'STATUS_RECENT', 'STATUS_UIDNEXT', 'STATUS_UIDVALIDITY', 'STATUS_UNSEEN',
    ].join(','));
  });

  test('restrict_global_variables: the errors carry no file:line prefix (texts as 2.3.19 writes them)', async () => {
    expect(await caught('dovecot.restrict_global_variables(true) local x = undeclared_thing return x')).toEqual([
      'false attempt to write to read undeclared global variable undeclared_thing',
    ]);
    expect(await caught('dovecot.restrict_global_variables(true) newglobal = 1')).toEqual(['false attempt to write to undeclared global variable newglobal']);
  });

  test('plugin_getenv("home") is nil, also when the userdb returns a home; other userdb fields are there', async () => {
    expect(await withUser(env, user, 'return user:plugin_getenv("home")')).toEqual([null]);
    const other = await plainUser(env, { username: 'homer', userdbFields: { home: join(env.dir, 'homer'), uid: '1000', quota_rule: '*:storage=1M' } });
    try {
      expect(await withUser(env, other, 'return user:plugin_getenv("home"), user:plugin_getenv("uid"), user:plugin_getenv("quota_rule"), user.home', 4)).toEqual([
        null, null, '*:storage=1M', join(env.dir, 'homer'),
      ]);
    } finally {
      await env.ctx.mailUsers.destroyUser(other);
    }
  });
});

describe('metadata from Lua', () => {
  test('names with *, %, // or a trailing / are taken, as Dovecot 2.3.19 takes them', async () => {
    const [got, userGot] = await withUser(env, user, `
      local mb = user:mailbox("INBOX")
      mb:open()
      local out = {}
      for _, key in ipairs({ "/private/a*b", "/private/a%b", "/private/a//b", "/private/a/", "/shared/x*" }) do
        mb:metadata_set(key, "v" .. #out)
        out[#out + 1] = mb:metadata_get(key)
      end
      user:metadata_set("/private/u*v", "u")
      return table.concat(out, ","), user:metadata_get("/private/u*v")
    `, 2);
    expect(got).toBe('v0,v1,v2,v3,v4');
    expect(userGot).toBe('u');
  });

  test('an empty name is refused (Dovecot 2.3.19 takes it, then finds its index log corrupted)', async () => {
    expect(await caught('local mb = user:mailbox("INBOX") mb:open() mb:metadata_set("/private/", "v")')).toEqual([
      'false Cannot set attribute: Invalid metadata entry "/private/": the name after /private/ is empty',
    ]);
    expect(await caught('user:metadata_set("/shared/", "v")')).toEqual([
      'false Cannot get attribute: Invalid metadata entry "/shared/": the name after /shared/ is empty',
    ]);
    expect(await withUser(env, user, 'return user:mailbox("INBOX"):metadata_get("/private/") == nil')).toEqual([true]);
  });

  test("INBOX lists the server's entries under Dovecot's raw names too", async () => {
    const [keys] = await withUser(env, user, `
      local t = user:mailbox("INBOX"):metadata_list("/shared/")
      local k = {} for name in pairs(t) do k[#k + 1] = name end table.sort(k) return table.concat(k, ",")`);
    expect((keys as string).split(',')).toEqual(expect.arrayContaining([
      '/shared/comment', '/shared/vendor/vendor.dovecot/pvt/server/admin', '/shared/vendor/vendor.dovecot/pvt/server/comment',
    ]));
  });

  test('metadata_get of a missing key on a mailbox that is not open is nil', async () => {
    expect(await withUser(env, user, 'local v = user:mailbox("INBOX"):metadata_get("/private/nosuchkey") return v == nil')).toEqual([true]);
  });
});
