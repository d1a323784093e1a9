import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { MailUserInitError } from '../../src/mail-user/hooks.js';
import { sqliteOptions } from '../../src/storage/sqlite/index.js';

let dir: string;
let ctx: CreatedContext;

function setup(extra = ''): void {
  const { settings } = parseConfigText(
    `data_dir = ${dir}/data
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Spam {
    special_use = \\Junk
  }
}
plugin {
  mail_lua_script = /etc/global.lua
  quota_rule = *:storage=1G
}
${extra}`,
    'test.conf',
  );
  ctx = createServerContext(settings);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'roost-mu-'));
});
afterEach(async () => {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

test('home comes from mail_home with %d/%n, or from the userdb home field', async () => {
  setup();
  const a = await ctx.mailUsers.createUser({ username: 'alice@example.org', service: 'imap' });
  expect(a.home).toBe(`${dir}/data/home/example.org/alice`);
  expect(a.storeOptions().location).toBe('sqlite:~/mail.db');
  expect(sqliteOptions(a.storeOptions()).dbPath).toBe(`${dir}/data/home/example.org/alice/mail.db`);
  const b = await ctx.mailUsers.createUser({ username: 'bob', service: 'lmtp', userdbFields: { home: `${dir}/custom/%u` } });
  expect(b.home).toBe(`${dir}/custom/bob`);
  expect(b.log.prefix).toMatch(new RegExp(`^lmtp\\(bob\\)<${process.pid}><[A-Za-z0-9+/]{22}>: $`));
  await ctx.mailUsers.destroyUser(a);
  await ctx.mailUsers.destroyUser(b);
});

test('plugin_getenv: userdb fields override the plugin block', async () => {
  setup();
  const u = await ctx.mailUsers.createUser({ username: 'carol', service: 'imap', userdbFields: { mail_lua_script: '/home/carol/own.lua' } });
  expect(u.pluginGetenv('mail_lua_script')).toBe('/home/carol/own.lua');
  expect(u.pluginGetenv('quota_rule')).toBe('*:storage=1G');
  expect(u.pluginGetenv('nope')).toBeUndefined();
  await ctx.mailUsers.destroyUser(u);
});

test('configured mailboxes are autocreated, subscribed and carry their special-use', async () => {
  setup();
  const u = await ctx.mailUsers.createUser({ username: 'dave', service: 'imap' });
  const store = u.getStore();
  const byName = new Map((await store.listMailboxes()).map((m) => [m.name, m]));
  expect([...byName.keys()].sort()).toEqual(['INBOX', 'Sent', 'Trash']);
  expect(byName.get('Sent')!.specialUse).toEqual(['\\Sent']);
  expect(await store.listSubscriptions()).toEqual(['Sent']);
  // A configured but not autocreated mailbox gets its attribute once someone creates it.
  await store.createMailbox('Spam');
  await ctx.mailUsers.destroyUser(u);
  const again = await ctx.mailUsers.createUser({ username: 'dave', service: 'imap' });
  expect((await again.getStore().getMailbox('Spam'))!.specialUse).toEqual(['\\Junk']);
  await ctx.mailUsers.destroyUser(again);
});

test('hooks run in order; a failing created hook fails creation and deinit hooks still run', async () => {
  setup();
  const calls: string[] = [];
  ctx.mailUsers.addHooks('first', {
    created: async (u) => {
      calls.push(`created1:${u.username}`);
      expect(() => u.getStore()).toThrow(/No namespace/);
    },
    deinitPre: async (u) => {
      calls.push(`deinitPre1:${u.getStore().username}`);
    },
    deinit: async () => void calls.push('deinit1'),
  });
  const remove = ctx.mailUsers.addHooks('second', {
    created: async (u) => {
      calls.push('created2');
      if (u.username === 'bad') throw new Error('script says no');
    },
  });
  const ok = await ctx.mailUsers.createUser({ username: 'erin', service: 'imap' });
  ok.getStore();
  await ctx.mailUsers.destroyUser(ok);
  expect(calls).toEqual(['created1:erin', 'created2', 'deinitPre1:erin', 'deinit1']);
  calls.length = 0;
  await expect(ctx.mailUsers.createUser({ username: 'bad', service: 'imap' })).rejects.toThrow(MailUserInitError);
  expect(calls[0]).toBe('created1:bad');
  expect(calls).toContain('deinit1');
  remove();
  expect(ctx.mailUsers.liveUsers).toBe(0);
});

test('sessions of one user share one open store, released with the last session', async () => {
  setup();
  const a = await ctx.mailUsers.createUser({ username: 'frank', service: 'imap' });
  const b = await ctx.mailUsers.createUser({ username: 'frank', service: 'lmtp' });
  await a.getStore().createMailbox('Shared');
  expect(await b.getStore().getMailbox('Shared')).toBeDefined();
  expect(ctx.mailUsers.stores.openCount).toBe(1);
  await ctx.mailUsers.destroyUser(a);
  expect(ctx.mailUsers.stores.openCount).toBe(1);
  await ctx.mailUsers.destroyUser(b);
  expect(ctx.mailUsers.stores.openCount).toBe(0);
});

test('var_expand with the mail-user table', async () => {
  setup();
  const u = await ctx.mailUsers.createUser({ username: 'test@ex.org', service: 'imap', remoteIp: '192.0.2.1' });
  expect(u.expand('%n|%d|%s|%r|%Uu|%3.2u|%z')).toBe('test|ex.org|imap|192.0.2.1|TEST@EX.ORG|t@|UNSUPPORTED_VARIABLE_z');
  expect(u.expand('%h')).toBe(u.home);
  await ctx.mailUsers.destroyUser(u);
});

test('mail_fsync, mail_max_message_size, mailbox_idle_check_interval and mail_index_retain_messages reach the store', async () => {
  for (const [value, durability, retain] of [['always', 'full', ''], ['optimized', 'async-fsync', '0'], ['never', 'normal', '500']] as const) {
    setup(`mail_fsync = ${value}\nmail_max_message_size = 1M\nmailbox_idle_check_interval = 5 secs\n${retain ? `mail_index_retain_messages = ${retain}\n` : ''}`);
    const u = await ctx.mailUsers.createUser({ username: 'gina', service: 'imap' });
    expect(u.storeOptions().fsync).toBe(value);
    expect(u.storeOptions().settings).toEqual({ maxMessageBytes: 1024 * 1024, changePollIntervalMs: 5000, indexRetainMessages: retain ? Number(retain) : 1_000_000 });
    expect(sqliteOptions(u.storeOptions()).settings?.durability).toBe(durability);
    await ctx.mailUsers.destroyUser(u);
    await ctx.close();
  }
  setup();
  expect(() => parseConfigText('mail_fsync = sometimes\n', 'bad.conf')).toThrow(/bad\.conf line 1: .*mail_fsync/);
});
