// Shared setup of the mail-lua tests: a server context on a temp data_dir, one Lua worker, and
// states bound to a real mail user (storage in the worker, checked from the main thread).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerContext, type CreatedContext } from '../../src/cli/context.js';
import { defaultSettings } from '../../src/config/index.js';
import { LuaWorkerPool, type LuaArg, type LuaStateHandle, type LuaStateOptions } from '../../src/lua/index.js';
import { compiledModuleUrl } from '../../src/threads/compiled-module.js';
import { mailUserBindingData } from '../../src/lua/bindings/mail-user-data.js';
import type { AnyMailUser as MailUser, MailUserParams } from '../../src/mail-user/mail-user.js';
import { scriptFile } from './helpers.js';
import { dropMailLocation, freshMailLocation } from '../backend.js';

export interface MailEnv {
  dir: string;
  ctx: CreatedContext;
  pool: LuaWorkerPool;
  close(): Promise<void>;
}

export async function mailEnv(configure: (s: ReturnType<typeof defaultSettings>) => void = () => {}): Promise<MailEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'roost-mail-lua-'));
  const settings = defaultSettings();
  settings.data_dir = dir;
  settings.mail_home = join(dir, 'home/%n');
  const mailLocation = await freshMailLocation();
  if (mailLocation) settings.mail_location = mailLocation;
  configure(settings);
  const ctx = createServerContext(settings);
  const pool = new LuaWorkerPool({ workers: 1 });
  return {
    dir,
    ctx,
    pool,
    async close() {
      await ctx.close();
      await pool.close();
      await dropMailLocation(mailLocation);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A mail user without a script (storage usable from the main thread). */
export function plainUser(env: MailEnv, params: Partial<MailUserParams> = {}): Promise<MailUser> {
  return env.ctx.mailUsers.createUser({ username: 'alice', service: 'imap', ...params });
}

/** The hook argument building a `struct mail_user`; storage = namespaces exist. */
export function userArg(storage = true): LuaArg {
  return { $binding: 'mail_user', data: { storage } };
}

/** A state running `source` with the mail_user binding of `user`. */
export function userState(env: MailEnv, user: MailUser, source: string, opts: Partial<LuaStateOptions> = {}): Promise<LuaStateHandle> {
  return env.pool.createState({
    scriptPath: scriptFile(source),
    context: 'mail',
    logPrefix: user.log.prefix,
    bindings: [{ module: compiledModuleUrl('lua/bindings/mail-user.js').href, data: mailUserBindingData(user) }],
    ...opts,
  });
}

/** Runs `body` as `function t(user)` and returns `nresults` values. */
export async function withUser(env: MailEnv, user: MailUser, body: string, nresults = 1, storage = true) {
  const h = await userState(env, user, `function t(user)\n${body}\nend\n`);
  try {
    return await h.callHook('t', [userArg(storage)], nresults);
  } finally {
    await h.close();
  }
}

/** The error text of `function t(user) body end`, without the lua_pcall wrapper and traceback. */
export async function userError(env: MailEnv, user: MailUser, body: string, storage = true): Promise<string> {
  try {
    await withUser(env, user, body, 0, storage);
  } catch (e) {
    return stripPcall((e as Error).message);
  }
  throw new Error('expected the call to fail');
}

export function stripPcall(message: string): string {
  return message.replace(/^lua_pcall\(t, 1, \d+\) failed: /, '').replace(/\nstack traceback:[\s\S]*$/, '');
}
