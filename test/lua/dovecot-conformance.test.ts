// Behaviour of the mail Lua API checked against a real Dovecot 2.3.19.1 (Debian packages, sdbox and
// maildir, scripts run from mail_user_deinit_pre over IMAP): each expectation is what Dovecot did.
// docs/dovecot-differences.md lists these facts and the deliberate differences.
import { logHub } from '../../src/log/logger.js';
import type { MailUser } from '../../src/mail-user/mail-user.js';
import { mailEnv, plainUser, withUser, type MailEnv } from './mail-helpers.js';

let env: MailEnv;
let user: MailUser;
beforeAll(async () => {
  logHub.setDefaultOutput(false);
  env = mailEnv();
  user = await plainUser(env);
  user.getStore().append('INBOX', { content: Buffer.from('Subject: a\r\n\r\nx\r\n') });
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
    const inbox = store.getMailbox('INBOX')!;
    const ask = `local s = user:mailbox("INBOX"):status(dovecot.storage.STATUS_HIGHESTMODSEQ) return s.highest_modseq, s.no_modseq_tracking`;
    // Fresh INBOX at 1, one delivery: 2, untracked (Dovecot: hms 2, no_modseq_tracking true).
    expect(await withUser(env, user, ask, 2)).toEqual([2, true]);
    // A mailbox metadata change takes a modseq (Dovecot logs attribute updates in the index).
    store.setMetadata('INBOX', '/private/comment', Buffer.from('c'));
    store.enableModseqTracking(inbox.id);
    expect(await withUser(env, user, ask, 2)).toEqual([3, false]);
    expect(store.status('INBOX').highestModseq).toBe(3);
  });
});
