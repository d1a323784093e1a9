// Driver set-up (spec §12.1, §12.2): which script runs, what an init failure logs (the login goes
// on), missing begin/end functions, scripts without handlers, numbered drivers.
import { existsSync, rmSync } from 'node:fs';
import { pushEnv, RECORDER_LUA, type PushEnv, type TestSettings } from './helpers.js';

let env: PushEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function createMailbox(e: PushEnv, fields: Record<string, string> = {}): Promise<void> {
  const user = await e.ctx.mailUsers.createUser({ username: 'alice', service: 'imap', userdbFields: fields });
  await user.getStore().createMailbox('Box');
  await e.ctx.mailUsers.destroyUser(user);
  await e.settle();
}

async function setup(configure: (s: TestSettings, script: (src: string, name?: string) => string) => void, mailLua = false): Promise<PushEnv> {
  env = await pushEnv((s, { script }) => configure(s, script), { mailLua });
  return env;
}

test('no file and no mail-lua state: the error is logged and the session works', async () => {
  const e = await setup((s) => {
    s.plugin.push_notification_driver = 'lua';
  });
  await createMailbox(e);
  expect(e.lines.filter((l) => l.includes('Error'))).toEqual([
    expect.stringMatching(/^imap\(alice\)<\d+><[^>]+>: Error: lua: No file in config and no push_notification_lua_script_file set$/),
  ]);
});

test('a script that fails to load logs "lua: <error>"; later drivers are not set up', async () => {
  const e = await setup((s, script) => {
    s.plugin.push_notification_driver = `lua:file=${script('function broken(')}`;
    s.plugin.push_notification_driver2 = `lua:file=${script(RECORDER_LUA)}`;
  });
  await createMailbox(e);
  expect(e.pushLines()).toEqual([expect.stringMatching(/^Error: lua: lua_load\(.*push1\.lua\) failed: .*push1\.lua:1: .*near <eof>$/)]);
});

test('push_notification_lua_script_file wins over file=; numbered drivers each run', async () => {
  const e = await setup((s, script) => {
    s.plugin.push_notification_driver = `lua:file=${script('error("not this one")')}`;
    s.plugin.push_notification_driver2 = 'lua:file=/nonexistent.lua';
    s.plugin.push_notification_lua_script_file = script(RECORDER_LUA);
  });
  await createMailbox(e);
  const one = ['begin alice', 'MailboxCreate {mailbox="Box",name="MailboxCreate"}', 'end true 1'];
  expect(e.pushLines()).toEqual([...one, ...one]);
});

test('missing begin_txn or end_txn, and a script without handlers', async () => {
  const e = await setup((s, script) => {
    s.plugin.push_notification_driver = `lua:file=${script('function dovecot_lua_notify_event_mailbox_create(c, e) dovecot.i_info("created " .. e.mailbox) end')}`;
    s.plugin.push_notification_driver2 = `lua:file=${script(
      'function dovecot_lua_notify_begin_txn(u) return 7 end\nfunction dovecot_lua_notify_event_mailbox_create(c, e) dovecot.i_info("ctx " .. c) end',
    )}`;
    s.plugin.push_notification_driver3 = `lua:file=${script('function dovecot_lua_notify_begin_txn(u) dovecot.i_info("never") end')}`;
  });
  await createMailbox(e);
  expect(e.pushLines()).toEqual([
    'Error: lua: Missing function dovecot_lua_notify_begin_txn',
    'ctx 7',
    'Error: lua: Missing function dovecot_lua_notify_end_txn',
  ]);
});

test('without a push script file the mail_lua_script state is reused (same globals)', async () => {
  const e = await setup((s, script) => {
    s.plugin.push_notification_driver = 'lua';
    s.plugin.mail_lua_script = script(
      `${RECORDER_LUA}\nlocal created = 0\nfunction mail_user_created(user) created = created + 1 end\n` +
        'local begin = dovecot_lua_notify_begin_txn\n' +
        'function dovecot_lua_notify_begin_txn(u) dovecot.i_info("state created " .. created .. " time(s)") return begin(u) end',
    );
  }, true);
  await createMailbox(e);
  expect(e.pushLines()).toContain('state created 1 time(s)');
});

// With mail-lua, the driver's own state is created in the round trip of mail-lua's state and
// mail_user_created (src/cli/plugins.ts): what scripts and logs show stays Dovecot's order.
describe('with mail-lua and a push script of its own', () => {
  const LOADED = 'dovecot.i_info("push script loaded")\n';

  test('the push script loads after mail_user_created ran, then sees the events', async () => {
    const e = await setup((s, script) => {
      s.plugin.mail_lua_script = script('function mail_user_created(user) dovecot.i_info("mail-lua created") return 0 end', 'hooks.lua');
      s.plugin.push_notification_driver = `lua:file=${script(LOADED + RECORDER_LUA)}`;
    }, true);
    await createMailbox(e);
    expect(e.pushLines()).toEqual([
      'mail-lua created',
      'push script loaded',
      'begin alice',
      'MailboxCreate {mailbox="Box",name="MailboxCreate"}',
      'end true 1',
    ]);
  });

  test('without mail_user_created (mail-lua unloads its state) the push script still runs', async () => {
    const e = await setup((s, script) => {
      s.plugin.mail_lua_script = script('dovecot.i_info("mail-lua loaded")', 'hooks.lua');
      s.plugin.push_notification_driver = `lua:file=${script(LOADED + RECORDER_LUA)}`;
    }, true);
    await createMailbox(e);
    expect(e.pushLines()).toEqual(['mail-lua loaded', 'push script loaded', 'begin alice', 'MailboxCreate {mailbox="Box",name="MailboxCreate"}', 'end true 1']);
  });

  test('when mail_user_created fails, the user is not created and the push script never runs', async () => {
    let marker = '';
    const e = await setup((s, script) => {
      marker = script('', 'marker');
      rmSync(marker);
      s.plugin.mail_lua_script = script('function mail_user_created(user) return -1, "refused" end', 'hooks.lua');
      // Its main chunk leaves a file behind if it ever runs.
      s.plugin.push_notification_driver = `lua:file=${script(`assert(io.open(${JSON.stringify(marker)}, "w")):close()\n${RECORDER_LUA}`)}`;
    }, true);
    await expect(e.ctx.mailUsers.createUser({ username: 'alice', service: 'imap' })).rejects.toThrow('mail_user_created(user) failed: refused');
    await e.settle();
    expect(existsSync(marker)).toBe(false);
    // The same script does run once mail_user_created lets the session go on.
    e.script('function mail_user_created(user) return 0 end', 'hooks.lua');
    await createMailbox(e);
    expect(existsSync(marker)).toBe(true);
  });

  test('a push script that fails to load logs "lua: <error>" after mail-lua\'s lines; the session works', async () => {
    const e = await setup((s, script) => {
      s.plugin.mail_lua_script = script('function mail_user_created(user) dovecot.i_info("mail-lua created") return 0 end', 'hooks.lua');
      s.plugin.push_notification_driver = `lua:file=${script('dovecot.i_info("half loaded")\nerror("no push today")')}`;
    }, true);
    await createMailbox(e);
    expect(e.pushLines()).toEqual([
      'mail-lua created',
      'half loaded',
      expect.stringMatching(/^Error: lua: lua_pcall\(.*push1\.lua\) failed: .*no push today/),
    ]);
  });
});
