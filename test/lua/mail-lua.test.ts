// The mail-lua plugin (spec §5) driven through MailUserService.createUser/destroyUser, as IMAP and
// LMTP do: init failures, mail_user_created results, deinit hooks, one state per session.
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { installMailLua } from '../../src/lua/mail-lua.js';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { MailUserInitError } from '../../src/mail-user/hooks.js';
import type { AnyMailUser as MailUser } from '../../src/mail-user/mail-user.js';
import { scriptFile } from './helpers.js';
import { mailEnv, type MailEnv } from './mail-helpers.js';

let env: MailEnv;
let debugEnv: MailEnv;
beforeAll(async () => {
  logHub.setDefaultOutput(false);
  env = await mailEnv();
  installMailLua(env.ctx.mailUsers, env.pool);
  debugEnv = await mailEnv((s) => {
    s.mail_debug = true;
  });
  installMailLua(debugEnv.ctx.mailUsers, debugEnv.pool);
});
afterAll(async () => {
  await env.close();
  await debugEnv.close();
});

/** Creates an imap user running `source` (or the script at `path`); returns the user or the init error. */
async function login(source: string | null, opts: { path?: string; e?: MailEnv; username?: string } = {}) {
  const path = opts.path ?? scriptFile(source ?? '');
  const e = opts.e ?? env;
  try {
    const user = await e.ctx.mailUsers.createUser({
      username: opts.username ?? 'alice',
      service: 'imap',
      userdbFields: { mail_lua_script: path },
    });
    return { user, path };
  } catch (err) {
    return { error: err as Error, path };
  }
}

async function logsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const cap = captureLogs();
  try {
    await fn();
  } finally {
    cap.stop();
  }
  return cap.lines;
}

const PREFIX = /^imap\(alice\)<\d+><[A-Za-z0-9+/]{22}>: /;

describe('user creation fails (§5.2, §15 items 3-4, §16.3)', () => {
  const cases: Array<[string, string, (path: string) => RegExp | string]> = [
    ['script_init without result', 'function script_init() end function mail_user_created() end',
      (p) => `dlua_script_init(${p}) failed: script_init() returned non-number`],
    ['script_init returns 1', 'function script_init() return 1 end function mail_user_created() end',
      (p) => `dlua_script_init(${p}) failed: Script init failed`],
    ['main chunk error', 'error("top-level")',
      (p) => new RegExp(`^dlua_script_init\\(${p}\\) failed: lua_pcall\\(${p}\\) failed: ${p}:1: top-level\\nstack traceback:`)],
    ['syntax error', 'local x =',
      (p) => `dlua_script_create_file(${p}) failed: lua_load(${p}) failed: ${p}:1: unexpected symbol near <eof>`],
    ['-1 with a message', 'function mail_user_created(user) return -1, "msg" end', () => 'mail_user_created(user) failed: msg'],
    ['-1 alone', 'function mail_user_created(user) return -1 end', () => 'mail_user_created(user) failed: (null)'],
    ['numeric string result', 'function mail_user_created(user) return "-3", "str" end', () => 'mail_user_created(user) failed: str'],
    ['number as message', 'function mail_user_created(user) return -1.5, 2.0 end', () => 'mail_user_created(user) failed: 2.0'],
    ['Lua error', 'function mail_user_created(user) error("boom") end',
      (p) => new RegExp(`^mail_user_created\\(user\\) failed: lua_pcall\\(mail_user_created, 1, 2\\) failed: ${p}:1: boom\\nstack traceback:`)],
    ['storage access inside mail_user_created', 'function mail_user_created(user) user:mailbox("INBOX") end',
      () => /^mail_user_created\(user\) failed: lua_pcall\(mail_user_created, 1, 2\) failed: No namespace found for mailbox INBOX\nstack traceback:/],
  ];
  test.each(cases)('%s', async (_name, source, expected) => {
    let result: Awaited<ReturnType<typeof login>> | undefined;
    const lines = await logsOf(async () => {
      result = await login(source);
    });
    const { error, path } = result!;
    expect(error).toBeInstanceOf(MailUserInitError);
    const want = expected(path);
    if (typeof want === 'string') expect(error!.message).toBe(want);
    else expect(error!.message).toMatch(want);
    // The plugin only reports the error: the service that created the user (IMAP, LMTP, CLI)
    // logs it once with the user's prefix, as Dovecot leaves user->error to its caller
    // (test/e2e/init-failure.test.ts checks that line over IMAP and LMTP).
    expect(lines.filter((l) => /: Error: /.test(l))).toEqual([]);
    expect(env.ctx.mailUsers.liveUsers).toBe(0);
  });
  test('missing script file', async () => {
    const { error } = await login(null, { path: '/nonexistent/user.lua' });
    expect(error!.message).toBe('dlua_script_create_file(/nonexistent/user.lua) failed: access(/nonexistent/user.lua) failed: No such file or directory');
  });
  test('results >= 0, none, nil or non-numeric succeed', async () => {
    for (const ret of ['', 'return 5', 'return 0', 'return nil, "x"', 'return "abc"', 'return -0.5']) {
      const { user, error } = await login(`function mail_user_created(user) ${ret} end`);
      expect(error).toBeUndefined();
      await env.ctx.mailUsers.destroyUser(user!);
    }
  });
});

describe('lifecycle (§5.2 step 5, §5.4, §15 item 5, §16.4)', () => {
  const SCRIPT = `
    function script_init() dovecot.i_info("init") return 0 end
    function script_deinit() dovecot.i_info("script_deinit") end
    function mail_user_created(user) dovecot.i_info("created " .. user.username .. " " .. tostring(user.session_id)) end
    function mail_user_deinit_pre(user)
      user:metadata_set("/private/seen-by-lua", user:mailbox("INBOX"):status(dovecot.storage.STATUS_MESSAGES).mailbox)
      dovecot.i_info("deinit_pre")
    end
    function mail_user_deinit(user)
      local ok, err = pcall(user.mailbox, user, "INBOX")
      dovecot.i_info("deinit " .. err)
    end
  `;
  test('init → created → deinit_pre (storage usable) → deinit (no storage) → script_deinit', async () => {
    const path = scriptFile(SCRIPT);
    let user: MailUser | undefined;
    const lines = await logsOf(async () => {
      user = (await login(null, { path })).user;
      await env.ctx.mailUsers.destroyUser(user!);
    });
    const msgs = lines.map((l) => l.replace(PREFIX, ''));
    expect(msgs).toEqual([
      'Info: init',
      `Info: created alice ${user!.sessionId}`,
      'Info: deinit_pre',
      'Info: deinit No namespace found for mailbox INBOX',
      'Info: script_deinit',
    ]);
    expect(lines.every((l) => PREFIX.test(l))).toBe(true);
    // The worker's store connection closes with the last state of the user (and the main one too).
    expect(openFilesUnder(user!.home)).toEqual([]);
    const again = await env.ctx.mailUsers.createUser({ username: 'alice', service: 'imap' });
    expect((await again.getStore().getMetadata('', ['/private/seen-by-lua']))[0]!.value.toString()).toBe('INBOX');
    await env.ctx.mailUsers.destroyUser(again);
  });
  test('each session has its own state and cycle', async () => {
    const path = scriptFile('n = 0 function mail_user_created(user) n = n + 1 dovecot.i_info("n=" .. n) end function script_deinit() dovecot.i_info("bye") end');
    const lines = await logsOf(async () => {
      const a = (await login(null, { path })).user!;
      const b = (await login(null, { path })).user!;
      await env.ctx.mailUsers.destroyUser(a);
      await env.ctx.mailUsers.destroyUser(b);
    });
    expect(lines.map((l) => l.replace(PREFIX, ''))).toEqual(['Info: n=1', 'Info: n=1', 'Info: bye', 'Info: bye']);
  });
  test('without mail_user_created: unloaded at once, deinit hooks never called', async () => {
    const lines = await logsOf(async () => {
      const { user } = await login('function mail_user_deinit(u) dovecot.i_info("deinit") end function mail_user_deinit_pre(u) dovecot.i_info("pre") end function script_deinit() dovecot.i_info("unloaded") end');
      expect(user!.pluginData.has('mail-lua')).toBe(false);
      dovecot_marker();
      await env.ctx.mailUsers.destroyUser(user!);
    });
    expect(lines.map((l) => l.replace(PREFIX, ''))).toEqual(['Info: unloaded', 'roost: Info: marker']);
  });
  test('deinit hook failures are logged with the user prefix', async () => {
    const lines = await logsOf(async () => {
      const { user } = await login('function mail_user_created() end function mail_user_deinit_pre(u) return -1, "nope" end function mail_user_deinit(u) error("bad") end');
      await env.ctx.mailUsers.destroyUser(user!);
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(PREFIX);
    expect(lines[0]!.replace(PREFIX, '')).toBe('Error: mail-lua: mail_user_deinit_pre(user) failed: nope');
    expect(lines[1]!.replace(PREFIX, '')).toMatch(/^Error: mail-lua: mail_user_deinit\(user\) failed: lua_pcall\(mail_user_deinit, 1, 2\) failed: .*:1: bad\nstack traceback:/);
  });
  test('deinit hooks, their failures and the unload keep their order in the log', async () => {
    const lines = await logsOf(async () => {
      const { user } = await login(
        'function mail_user_created() end ' +
          'function mail_user_deinit_pre(u) dovecot.i_info("pre") return -1, "nope" end ' +
          'function mail_user_deinit(u) dovecot.i_info("post") error("bad") end ' +
          'function script_deinit() dovecot.i_info("bye") error("worse") end',
      );
      await env.ctx.mailUsers.destroyUser(user!);
    });
    const text = lines.map((l) => l.replace(PREFIX, '').split('\n')[0]);
    expect(text).toEqual([
      'Info: pre',
      'Error: mail-lua: mail_user_deinit_pre(user) failed: nope',
      'Info: post',
      expect.stringMatching(/^Error: mail-lua: mail_user_deinit\(user\) failed: lua_pcall\(mail_user_deinit, 1, 2\) failed: .*:1: bad$/),
      'Info: bye',
      expect.stringMatching(/^Error: script_deinit\(\) failed: .*worse/),
    ]);
  });
  test('no mail_lua_script: nothing happens', async () => {
    const user = await env.ctx.mailUsers.createUser({ username: 'alice', service: 'imap' });
    expect(user.pluginData.has('mail-lua')).toBe(false);
    await env.ctx.mailUsers.destroyUser(user);
  });
});

describe('debug log (§5.2 step 4)', () => {
  test('"Calling mail_user_created(user)" only with mail_debug', async () => {
    const source = 'function mail_user_created(user) end';
    const quiet = await logsOf(async () => {
      const { user } = await login(source);
      await env.ctx.mailUsers.destroyUser(user!);
    });
    expect(quiet).toEqual([]);
    const loud = await logsOf(async () => {
      const { user } = await login(source, { e: debugEnv });
      await debugEnv.ctx.mailUsers.destroyUser(user!);
    });
    expect(loud.map((l) => l.replace(PREFIX, ''))).toEqual(['Debug: mail-lua: Calling mail_user_created(user)']);
  });
});

function dovecot_marker(): void {
  logHub.emit({ time: new Date(), level: 'Info', prefix: 'roost: ', message: 'marker' });
}

/** Files of this process (all threads) open under `dir` (Linux /proc; [] elsewhere). */
function openFilesUnder(dir: string): string[] {
  if (!existsSync('/proc/self/fd')) return [];
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
