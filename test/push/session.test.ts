// Push notifications driven through a real mail-user session and its store: the exact sequence of
// Lua calls and event tables for each kind of change (spec §12.2-§12.4, §16.5).
import { parseMessage } from '../../src/mime/parser.js';
import type { UserStore } from '../../src/storage/types.js';
import { MESSAGE, pushEnv, RECORDER_LUA, type PushEnv } from './helpers.js';
import { testBackend } from '../backend.js';

/** Tests that reach into the SQLite backend's own transaction (not part of the storage contract). */
const sqliteOnlyTest = testBackend === 'sqlite' ? test : test.skip;

let env: PushEnv;

beforeEach(async () => {
  env = await pushEnv((s, { script }) => {
    s.plugin.push_notification_driver = `lua:file=${script(RECORDER_LUA)}`;
  });
});
afterEach(() => env.close());

async function session<T>(fn: (store: UserStore) => T | Promise<T>, service = 'imap'): Promise<T> {
  const user = await env.ctx.mailUsers.createUser({ username: 'alice', service });
  try {
    return await fn(user.getStore());
  } finally {
    await env.ctx.mailUsers.destroyUser(user);
    await env.settle();
  }
}

const NEW_FIELDS =
  'date=f1741080030.0,flags={},from="\\"Alice Example\\" <alice@example.com>",from_address="alice@example.com",' +
  'from_display_name="Alice Example",keywords={},mailbox="INBOX",message_id="<m1@example.com>",name="%s",' +
  'snippet="Lunch at noon?",subject="Café plans",to="Bob <bob@example.com>",to_address="bob@example.com",' +
  'to_display_name="Bob",tz=f60.0,uid=f1.0,uid_validity=f%d.0';

test('a delivery is MessageNew with header data, an APPEND MessageAppend', async () => {
  const uv = await session(async (store) => {
    await store.append('INBOX', { content: MESSAGE, mimeStructure: parseMessage(MESSAGE), origin: 'delivery' });
    await store.append('INBOX', { content: MESSAGE, flags: ['\\Seen', '$Work'] });
    return (await store.getMailbox('INBOX'))!.uidValidity;
  });
  expect(env.pushLines()).toEqual([
    // The user's first delivery creates INBOX, in a transaction of its own (Dovecot 2.3.19).
    'begin alice',
    'MailboxCreate {mailbox="INBOX",name="MailboxCreate"}',
    'end true 1',
    'begin alice',
    `MessageNew {${NEW_FIELDS.replace('%s', 'MessageNew').replace('%d', String(uv))}}`,
    'end true 1',
    'begin alice',
    `MessageAppend {${NEW_FIELDS.replace('%s', 'MessageAppend').replace('%d', String(uv))
      .replace('flags={}', 'flags={"\\\\Seen"}')
      .replace('keywords={}', 'keywords={"$Work"}')
      .replace('uid=f1.0', 'uid=f2.0')}}`,
    'end true 1',
  ]);
});

test('STORE on several messages: FlagsClear (empty for +FLAGS), FlagsSet, MessageRead, MessageTrash', async () => {
  await session(async (store) => {
    await store.append('INBOX', { content: MESSAGE, flags: ['\\Answered'] });
    await store.append('INBOX', { content: MESSAGE });
  });
  env.lines.length = 0;
  const lines = env.pushLines;
  const before = lines().length;
  const uv = await session(async (store) => {
    const box = (await store.getMailbox('INBOX'))!;
    await store.storeFlags(box.id, { uids: [1, 2], operation: 'add', flags: ['\\Seen', '\\Deleted'], recentUids: [2] });
    await store.storeFlags(box.id, { uids: [1], operation: 'remove', flags: ['\\Answered'] });
    await store.storeFlags(box.id, { uids: [2], operation: 'add', flags: ['$Later'] });
    return box.uidValidity;
  });
  const m = (uid: number) => `mailbox="INBOX",name="%s",uid=f${uid}.0,uid_validity=f${uv}.0`;
  const ev = (name: string, uid: number, extra = '') =>
    `${name} {${extra}${m(uid).replace('%s', name)}}`;
  expect(lines().slice(before)).toEqual([
    'begin alice',
    ev('FlagsClear', 1, 'flags={},flags_old={"\\\\Answered"},keywords={},keywords_old={},'),
    ev('FlagsSet', 1, 'flags={"\\\\Deleted","\\\\Seen"},keywords={},'),
    ev('MessageRead', 1),
    ev('MessageTrash', 1),
    ev('FlagsClear', 2, 'flags={},flags_old={"\\\\Recent"},keywords={},keywords_old={},'),
    ev('FlagsSet', 2, 'flags={"\\\\Deleted","\\\\Seen"},keywords={},'),
    ev('MessageRead', 2),
    ev('MessageTrash', 2),
    'end true 8',
    'begin alice',
    ev('FlagsClear', 1, 'flags={"\\\\Answered"},flags_old={"\\\\Answered","\\\\Deleted","\\\\Seen"},keywords={},keywords_old={},'),
    ev('FlagsSet', 1, 'flags={},keywords={},'),
    'end true 2',
    'begin alice',
    ev('FlagsClear', 2, 'flags={},flags_old={},keywords={},keywords_old={},'),
    ev('FlagsSet', 2, 'flags={},keywords={"$Later"},'),
    'end true 2',
  ]);
});

test('COPY and MOVE are MessageAppend in the target; MOVE then expunges in the source', async () => {
  const lines = env.pushLines;
  const ids = await session(async (store) => {
    await store.append('INBOX', { content: MESSAGE, flags: ['$Work'] });
    await store.createMailbox('Archive');
    const inbox = (await store.getMailbox('INBOX'))!;
    await store.copy(inbox.id, [1], 'Archive');
    await store.move(inbox.id, [1], 'Archive');
    return { inbox: inbox.uidValidity, archive: (await store.getMailbox('Archive'))!.uidValidity };
  });
  const got = lines().slice(lines().indexOf('end true 1', lines().indexOf('MailboxCreate {mailbox="Archive",name="MailboxCreate"}')) + 1);
  expect(got.filter((l) => !l.startsWith('begin') && !l.startsWith('end')).map((l) => l.replace(/ \{.*(uid=f\d\.0).*/, ' $1'))).toEqual([
    'MessageAppend uid=f1.0',
    'MessageAppend uid=f2.0',
    'MessageExpunge uid=f1.0',
  ]);
  expect(got).toContain(`MessageExpunge {mailbox="INBOX",name="MessageExpunge",uid=f1.0,uid_validity=f${ids.inbox}.0}`);
  expect(got.filter((l) => l.startsWith('begin')).length).toBe(3); // copy, move target, move source
  expect(got.find((l) => l.startsWith('MessageAppend'))).toContain('keywords={"$Work"}');
  expect(got.find((l) => l.startsWith('MessageAppend'))).toContain('subject="Café plans"');
});

test('mailbox create, subscribe, rename, unsubscribe and delete are one-event transactions', async () => {
  await session(async (store) => {
    await store.createMailbox('Work/Old');
    await store.setSubscribed('Work/Old', true);
    await store.renameMailbox('Work/Old', 'Archive');
    await store.setSubscribed('Archive', false);
    await store.append('Archive', { content: MESSAGE });
    await store.append('Archive', { content: MESSAGE });
    await store.deleteMailbox('Archive');
  });
  const lines = env.pushLines().filter((l) => !l.startsWith('MessageAppend'));
  const uv = /uid_validity=(f\d+\.0)/.exec(lines.find((l) => l.startsWith('MessageExpunge'))!)![1];
  const exp = (uid: number) => `MessageExpunge {mailbox="Archive",name="MessageExpunge",uid=f${uid}.0,uid_validity=${uv}}`;
  expect(lines).toEqual([
    'begin alice', 'MailboxCreate {mailbox="Work/Old",name="MailboxCreate"}', 'end true 1',
    'begin alice', 'MailboxSubscribe {mailbox="Work/Old",name="MailboxSubscribe"}', 'end true 1',
    'begin alice', 'MailboxRename {mailbox="Archive",mailbox_old="Work/Old",name="MailboxRename"}', 'end true 1',
    'begin alice', 'MailboxUnsubscribe {mailbox="Archive",name="MailboxUnsubscribe"}', 'end true 1',
    'begin alice', 'end true 1',
    'begin alice', 'end true 1',
    'begin alice', exp(1), exp(2), 'end true 2',
    'begin alice', 'MailboxDelete {mailbox="Archive",name="MailboxDelete"}', 'end true 1',
  ]);
});

sqliteOnlyTest('a rolled-back transaction ends with end_txn(ctx, false) and no events; other sessions see nothing', async () => {
  const other = await env.ctx.mailUsers.createUser({ username: 'alice', service: 'imap' });
  await session((store) => {
    // The SQLite backend's own transaction (not part of the contract): a rollback after events.
    const backend = store as unknown as { transaction<T>(fn: () => T): T };
    expect(() =>
      backend.transaction(() => {
        store.createMailbox('Tmp');
        throw new Error('client went away');
      }),
    ).toThrow('client went away');
    expect(store.getMailbox('Tmp')).toBeUndefined();
  });
  await env.ctx.mailUsers.destroyUser(other);
  await env.settle();
  expect(env.pushLines()).toEqual(['begin alice', 'end false 0']);
});

describe('driver log lines', () => {
  const SCRIPT = `
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, event) event.mailbox = "changed" error("handler failed") end
function dovecot_lua_notify_end_txn(ctx, success) end
`;
  async function deliverOnce(e: PushEnv): Promise<void> {
    const user = await e.ctx.mailUsers.createUser({ username: 'alice', service: 'lmtp' });
    try {
      const store = user.getStore();
      await store.append('INBOX', { content: MESSAGE, mimeStructure: parseMessage(MESSAGE), origin: 'delivery' });
    } finally {
      await e.ctx.mailUsers.destroyUser(user);
      await e.settle();
    }
  }
  const driverLines = (e: PushEnv) =>
    e.lines.filter((l) => l.includes(': lua: ')).map((l) => l.replace(/^lmtp\(alice\)<\d+><[^>]+>: /, '').split('\n')[0]);

  test('a failing handler is logged with the fields its event had before it ran; Debug lines only with mail_debug', async () => {
    for (const debug of [false, true]) {
      const e = await pushEnv((s, { script }) => {
        s.mail_debug = debug;
        s.plugin.push_notification_driver = `lua:file=${script(SCRIPT)}`;
      });
      try {
        await deliverOnce(e);
        const error = e.records.find((r) => r.level === 'Error' && r.message.includes('handler failed'));
        expect(error?.fields).toMatchObject({ function_name: 'dovecot_lua_notify_event_message_new', event_name: 'MessageNew', mailbox: 'INBOX', uid: 1 });
        const lines = driverLines(e).filter((l) => !l.startsWith("Debug: lua: Loading "));
        const failed = expect.stringMatching(/^Error: lua: lua_pcall\(dovecot_lua_notify_event_message_new, 2, 0\) failed: .*handler failed$/);
        expect(lines).toEqual(
          debug
            ? [
                // The first delivery creates INBOX in a transaction of its own (no handler for it).
                'Debug: lua: Found dovecot_lua_notify_event_message_new, handling MessageNew event',
                'Debug: lua: Calling dovecot_lua_notify_begin_txn(alice)',
                'Debug: lua: Calling dovecot_lua_notify_end_txn',
                'Debug: lua: Found dovecot_lua_notify_event_message_new, handling MessageNew event',
                'Debug: lua: Calling dovecot_lua_notify_begin_txn(alice)',
                failed,
                'Debug: lua: Calling dovecot_lua_notify_end_txn',
              ]
            : [failed],
        );
      } finally {
        await e.close();
      }
    }
  });
});
