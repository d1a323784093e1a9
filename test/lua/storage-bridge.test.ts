// Lua's synchronous storage calls served through the storage sync bridge (src/storage/sync-bridge/),
// as they are for a backend that only answers asynchronously. ROOST_SYNC_BRIDGE=sqlite sends the
// SQLite sync stores through the bridge: first at the Lua layer's per-thread store cache on this
// thread, then in a real Lua worker whose storage calls run through its own helper thread; what
// Lua wrote is checked on the user's store opened directly.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { acquireStore, openStoreCount, releaseStore } from '../../src/lua/bindings/store-cache.js';
import type { AnyMailUser as MailUser } from '../../src/mail-user/mail-user.js';
import { openSyncUserStore } from '../../src/storage/index.js';
import { bridgeHelperThreads } from '../../src/storage/sync-bridge/client.js';
import { waitUntil } from '../poll.js';
import { compiledModuleUrl } from '../../src/threads/compiled-module.js';
import { mailUserBindingData } from '../../src/lua/bindings/mail-user-data.js';
import { REPO_ROOT } from '../storage/helpers/compile-storage.js';
import { scriptFile } from './helpers.js';
import { mailEnv, plainUser, userArg, type MailEnv } from './mail-helpers.js';

const before = process.env.ROOST_SYNC_BRIDGE;
beforeAll(() => {
  logHub.setDefaultOutput(false);
  // read when a store opens (this thread's store cache; the Lua worker gets its own below)
  process.env.ROOST_SYNC_BRIDGE = 'sqlite';
});
afterAll(() => {
  if (before === undefined) delete process.env.ROOST_SYNC_BRIDGE;
  else process.env.ROOST_SYNC_BRIDGE = before;
});

/** The user's store without the bridge. */
function directStore(user: MailUser) {
  delete process.env.ROOST_SYNC_BRIDGE;
  try {
    return openSyncUserStore(user.storeOptions());
  } finally {
    process.env.ROOST_SYNC_BRIDGE = 'sqlite';
  }
}

describe('the Lua store cache', () => {
  test('opens the sync store through the bridge and closes it with the last release', async () => {
    const home = mkdtempSync(join(tmpdir(), 'roost-lua-bridge-'));
    try {
      await waitUntil('no helper thread left by others', () => bridgeHelperThreads() === 0);
      const opts = { username: 'dave', home, location: 'sqlite:~/mail.db', separator: '/', fsync: 'never' as const };
      const store = acquireStore(opts);
      expect(acquireStore(opts)).toBe(store);
      store.createMailbox('Lua');
      expect(bridgeHelperThreads()).toBe(1);
      releaseStore(opts);
      expect(store.status('Lua').messages).toBe(0);
      releaseStore(opts);
      expect(openStoreCount()).toBe(0);
      await waitUntil('the helper thread to exit', () => bridgeHelperThreads() === 0);
      // what it wrote is in the user's store
      delete process.env.ROOST_SYNC_BRIDGE;
      const direct = openSyncUserStore(opts);
      process.env.ROOST_SYNC_BRIDGE = 'sqlite';
      expect(direct.listMailboxes().map((m) => m.name)).toEqual(['INBOX', 'Lua']);
      direct.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('a Lua worker', () => {
  // A Lua worker's process.env is its own copy (and jest's is not the process's): a binding module
  // sets the switch inside the worker, and another one reports the worker's bridge helper threads.
  const client = pathToFileURL(join(REPO_ROOT, 'dist/src/storage/sync-bridge/client.js')).href;
  let env: MailEnv;
  let user: MailUser;
  let switchModule: string;
  let probeModule: string;
  beforeAll(async () => {
    env = await mailEnv();
    user = await plainUser(env);
    switchModule = join(env.dir, 'bridge-switch.mjs');
    writeFileSync(switchModule, `export const binding = { name: 'bridge-switch', install(ctx, schemes) { process.env.ROOST_SYNC_BRIDGE = schemes; } };`);
    probeModule = join(env.dir, 'bridge-probe.mjs');
    writeFileSync(
      probeModule,
      `import { bridgeHelperThreads } from ${JSON.stringify(client)};
      export const binding = { name: 'bridge-probe', install(ctx) { ctx.log('Info', '', 'bridge helper threads: ' + bridgeHelperThreads()); } };`,
    );
  });
  afterAll(async () => {
    await env.ctx.mailUsers.destroyUser(user);
    await env.close();
  });

  function state(source: string, first: { module: string; data?: unknown }) {
    return env.pool.createState({
      scriptPath: scriptFile(source),
      context: 'mail',
      logPrefix: user.log.prefix,
      bindings: [{ module: pathToFileURL(first.module).href, data: first.data as never }, { module: compiledModuleUrl('lua/bindings/mail-user.js').href, data: mailUserBindingData(user) }],
    });
  }

  test('storage calls from Lua are served through the bridge: mailboxes, status, metadata, errors', async () => {
    const h = await state(
      `function t(user)
        local box = user:mailbox("Bridged", 4096) -- MAILBOX_FLAG_AUTO_CREATE
        local s = box:status(dovecot.storage.STATUS_MESSAGES, dovecot.storage.STATUS_UIDNEXT)
        user:metadata_set("/private/bridge", "through the helper")
        box:metadata_set("/shared/comment", "box value")
        local ok, err = pcall(function() return user:mailbox("Nope"):status(1) end)
        return s.messages, s.uidnext, user:metadata_get("/private/bridge"), box:metadata_get("/shared/comment"), err
      end`,
      { module: switchModule, data: 'sqlite' },
    );
    const cap = captureLogs();
    try {
      const r = await h.callHook('t', [userArg()], 5);
      expect(r.slice(0, 4)).toEqual([0, 1, 'through the helper', 'box value']);
      // a StorageError crossed the bridge with its meaning: Lua sees Dovecot's text
      expect(String(r[4])).toMatch(/mailbox_get_status\(Nope, 1\) failed: Mailbox doesn't exist: Nope$/);
      // while that state holds the user's store, the worker runs one bridge helper thread
      const probe = await state('function t() end', { module: probeModule });
      await probe.close();
      expect(cap.records.map((rec) => rec.message)).toContain('bridge helper threads: 1');
    } finally {
      cap.stop();
      await h.close();
    }
    // the user's store, opened directly, has what Lua wrote
    const store = directStore(user);
    try {
      expect(store.getMailbox('Bridged')?.name).toBe('Bridged');
      expect(store.getMetadata('', ['/private/bridge']).map((e) => e.value.toString())).toEqual(['through the helper']);
    } finally {
      store.close();
    }
  });
});
