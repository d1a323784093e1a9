// The mailbox object (spec §8), the mail object (§9) and their error rules (§10).
import { logHub } from '../../src/log/logger.js';
import type { AnyMailUser as MailUser } from '../../src/mail-user/mail-user.js';
import { mailEnv, plainUser, userError, userState, withUser, type MailEnv } from './mail-helpers.js';

let env: MailEnv;
let user: MailUser;
beforeAll(async () => {
  logHub.setDefaultOutput(false);
  env = await mailEnv();
  user = await plainUser(env);
  const store = user.getStore();
  await store.createMailbox('Work');
  await store.append('INBOX', { content: Buffer.from('Subject: a\r\n\r\nx\r\n'), flags: ['\\Seen'] });
  await store.append('INBOX', { content: Buffer.from('Subject: b\r\n\r\ny\r\n'), flags: ['$Important'] });
});
afterAll(async () => {
  await env.ctx.mailUsers.destroyUser(user);
  await env.close();
});

const STATUS_KEYS = ['allow_new_keywords', 'first_recent_uid', 'first_unseen_seq', 'flags', 'have_guids', 'have_only_guid128',
  'have_save_guids', 'highest_modseq', 'highest_pvt_modseq', 'mailbox', 'messages', 'no_modseq_tracking',
  'nonpermanent_modseqs', 'permanent_flags', 'permanent_keywords', 'recent', 'uidnext', 'uidvalidity', 'unseen'];

describe('status (§8.3, §15 item 6)', () => {
  test('every key for any item set, floats, keywords only with STATUS_KEYWORDS', async () => {
    const [keys, types, kw] = await withUser(env, user, `
      local s = user:mailbox("INBOX"):status(dovecot.storage.STATUS_MESSAGES)
      local keys, types = {}, {}
      for k, v in pairs(s) do keys[#keys+1] = k; if type(v) == 'number' then types[math.type(v)] = true end end
      table.sort(keys)
      local t = {} for k in pairs(types) do t[#t+1] = k end
      return table.concat(keys, ','), table.concat(t, ','), s.keywords == nil
    `, 3);
    expect(keys).toBe(STATUS_KEYS.join(','));
    expect(types).toBe('float');
    expect(kw).toBe(true);
  });
  test('values agree with SyncUserStore.status', async () => {
    const st = await user.getStore().status('INBOX');
    const r = await withUser(env, user, `
      local S = dovecot.storage
      local s = user:mailbox("INBOX"):status(S.STATUS_MESSAGES, S.STATUS_UNSEEN, S.STATUS_RECENT, S.STATUS_KEYWORDS,
        S.STATUS_HIGHESTMODSEQ, S.STATUS_FIRST_UNSEEN_SEQ, S.STATUS_PERMANENT_FLAGS)
      return s.mailbox, s.messages, s.unseen, s.recent, s.uidvalidity, s.uidnext, s.first_unseen_seq, s.first_recent_uid,
        s.highest_modseq, s.permanent_flags, s.flags, s.permanent_keywords, s.allow_new_keywords, table.concat(s.keywords, ' '),
        s.have_guids, s.have_save_guids, s.have_only_guid128, s.highest_pvt_modseq
    `, 18);
    expect(r).toEqual(['INBOX', st.messages, st.unseen, st.recent, st.uidValidity, st.uidNext, st.firstUnseenSeq, st.firstRecentUid,
      Math.max(1, st.highestModseq), 31, 31, true, true, st.keywords.join(' '), true, true, false, 0]);
    expect(r[1]).toBe(2);
    expect(r[2]).toBe(1);
  });
  test('items not asked are 0/false; READONLY mailboxes have no permanent flags', async () => {
    const r = await withUser(env, user, `
      local s = user:mailbox("INBOX"):status(dovecot.storage.STATUS_UIDNEXT)
      local ro = user:mailbox("INBOX", dovecot.storage.MAILBOX_FLAG_READONLY):status(dovecot.storage.STATUS_PERMANENT_FLAGS)
      return s.unseen, s.recent, s.highest_modseq, s.permanent_flags, s.permanent_keywords, s.first_unseen_seq, ro.permanent_flags, ro.flags, ro.permanent_keywords
    `, 9);
    expect(r).toEqual([0, 0, 0, 0, false, 0, 0, 31, false]);
  });
  test('errors', async () => {
    expect(await userError(env, user, 'user:mailbox("INBOX"):status("messages")')).toMatch(/\.lua:2: bad argument #1 to 'status' \(number expected, got string\)$/);
    expect(await userError(env, user, 'user:mailbox("INBOX"):status()')).toBe('expecting at least 1 parameter');
    expect(await userError(env, user, 'user:mailbox("Nope"):status(1)')).toBe("mailbox_get_status(Nope, 1) failed: Mailbox doesn't exist: Nope");
    expect(await userError(env, user, 'user:mailbox("Nope"):status(1, 64)')).toBe("mailbox_get_status(Nope, 65) failed: Mailbox doesn't exist: Nope");
  });
});

describe('open/close/free/sync (§8.2)', () => {
  test('open of a missing mailbox, AUTO_CREATE creates it', async () => {
    expect(await userError(env, user, 'user:mailbox("Nope"):open()')).toBe("mailbox_open(Nope) failed: Mailbox doesn't exist: Nope");
    expect(await userError(env, user, 'user:mailbox("Nope"):sync()')).toBe("mailbox_sync(Nope) failed: Mailbox doesn't exist: Nope");
    const r = await withUser(env, user, `
      -- MAILBOX_FLAG_AUTO_CREATE + MAILBOX_FLAG_AUTO_SUBSCRIBE: lib-storage's values; 2.3.19's Lua has no names for them.
      local b = user:mailbox("Auto", 4096 + 8192)
      local n = select('#', b:open())
      b:close() b:open() b:sync(dovecot.storage.MAILBOX_SYNC_FLAG_FULL_READ) b:free() b:free()
      return n
    `);
    expect(r).toEqual([0n]);
    expect(await user.getStore().getMailbox('Auto')).toBeDefined();
    expect(await user.getStore().listSubscriptions()).toContain('Auto');
  });
  test('use after free and bad self are clean errors (§10)', async () => {
    expect(await userError(env, user, 'local b = user:mailbox("INBOX") b:free() b:open()')).toBe('Mailbox INBOX was already freed: it cannot be used after free()');
    expect(await userError(env, user, 'local b = user:mailbox("INBOX") b:free() b:status(1)')).toBe('Mailbox INBOX was already freed: it cannot be used after free()');
    expect(await userError(env, user, 'user:mailbox("INBOX").open(5)')).toBe('Bad argument #1, expected struct mailbox got number');
    expect(await userError(env, user, 'user:mailbox("INBOX").open({})')).toBe('Bad argument #1, expected struct mailbox got table');
    expect(await userError(env, user, 'user:mailbox("INBOX"):open(1)')).toBe('expected 1 arguments, got 2');
    expect(await userError(env, user, 'user:mailbox("INBOX"):sync(1, 2)')).toBe('expected 1 to 2 arguments, got 3');
  });
  test('metamethods (§8.1)', async () => {
    expect(await withUser(env, user, `
      local a, b, w = user:mailbox("INBOX"), user:mailbox("inbox"), user:mailbox("Work")
      return tostring(a), a == b, rawequal(a, b), a == w, a < w, w <= a
    `, 6)).toEqual(['INBOX', true, false, false, true, false]);
  });
});

describe('mailbox metadata (§8.4)', () => {
  test('set needs an open mailbox; get/list work unopened; keys keep their prefix', async () => {
    const r = await withUser(env, user, `
      local b = user:mailbox("Work")
      local ok, err = pcall(b.metadata_set, b, "/private/x", "y")
      b:open()
      b:metadata_set("/private/x", "y")
      b:metadata_set("/shared/n", 7)
      local w = user:mailbox("Work")
      local x, n, z = w:metadata_get("/private/x", "/shared/n", "/private/zz")
      local keys = {}
      for k, v in pairs(w:metadata_list("/private/", "/shared/")) do keys[#keys+1] = k .. '=' .. v end
      table.sort(keys)
      b:metadata_unset("/private/x")
      return err, x, n, z, table.concat(keys, ','), w:metadata_get("/private/x")
    `, 6);
    expect(r).toEqual(['Cannot set attribute: Mailbox Work is not open (call open() first)', 'y', '7', null,
      // /shared/comment: Dovecot 2.3.19 lists the built-in comment in both scopes.
      '/private/comment=,/private/specialuse=,/private/x=y,/shared/comment=,/shared/n=7', null]);
    expect((await user.getStore().getMetadata('Work', ['/shared/n']))[0]!.value.toString()).toBe('7');
  });
  test('INBOX lists the raw Dovecot keys of user metadata', async () => {
    const [keys] = await withUser(env, user, `
      user:metadata_set("/private/a/b", "v1")
      local keys = {}
      for k, v in pairs(user:mailbox("INBOX"):metadata_list("/private/vendor/")) do keys[#keys+1] = k .. '=' .. v end
      local direct = user:mailbox("INBOX"):metadata_get("/private/vendor/vendor.dovecot/pvt/server/a/b")
      user:metadata_unset("/private/a/b")
      return table.concat(keys, ',') .. ';' .. direct
    `);
    expect(keys).toBe('/private/vendor/vendor.dovecot/pvt/server/a/b=v1;v1');
  });
  test('errors', async () => {
    expect(await userError(env, user, 'local b = user:mailbox("INBOX") b:open() b:metadata_set("/foo", "x")')).toBe('Cannot set attribute: Invalid key prefix, must be /private/ or /shared/');
    expect(await userError(env, user, 'local b = user:mailbox("INBOX") b:open() b:metadata_unset("/foo")')).toBe('Cannot unset attribute: Invalid key prefix, must be /private/ or /shared/');
    expect(await userError(env, user, 'user:mailbox("INBOX"):metadata_get("/foo")')).toBe('Invalid key prefix, must be /private/ or /shared/');
    expect(await userError(env, user, 'user:mailbox("INBOX"):metadata_get()')).toBe('expecting at least 1 parameter');
    expect(await userError(env, user, 'user:mailbox("INBOX"):metadata_list()')).toBe('expecting at least 1 parameter');
    expect(await userError(env, user, 'user:mailbox("INBOX"):metadata_get(true)')).toBe('expected string at #2');
    expect(await userError(env, user, 'user:mailbox("Nope"):metadata_get("/private/x")')).toBe("Mailbox doesn't exist: Nope");
    expect(await userError(env, user, 'user:mailbox("INBOX"):metadata_set("/private/x")')).toBe('expected 3 arguments, got 2');
  });
});

describe('mail object (§9)', () => {
  test('fields, types and Dovecot metamethods', async () => {
    const h = await userState(env, user, `function t(a, b, c)
      return tostring(a), math.type(a.uid), math.type(a.seq), a.expunged, getmetatable(a.mailbox).__name, a.mailbox.vname,
        a == b, a < b, a <= b, pcall(function() return a < c end)
    end`);
    const mail = (uid: number, mailbox = 'INBOX') => ({ $binding: 'mail', data: { mailbox, uid, seq: 1, expunged: false } });
    try {
      const r = await h.callHook('t', [mail(5), mail(7), mail(5, 'Work')], 11);
      expect(r.slice(0, 10)).toEqual(['<INBOX:UID 5>', 'float', 'float', false, 'struct mailbox', 'INBOX', true, true, true, false]);
      expect(r[10]).toBe('For lt, Mail can only be compared within same mailbox');
    } finally {
      await h.close();
    }
  });
});
