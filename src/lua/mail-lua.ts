// The mail-lua plugin (spec §5): runs the user's `mail_lua_script` with one Lua state per mail
// user session (each IMAP login, each LMTP recipient) and calls mail_user_created,
// mail_user_deinit_pre and mail_user_deinit. Attaches through the mail-user hooks, so the
// protocol layers never mention Lua. Dovecot: src/plugins/mail-lua/mail-lua-plugin.c.
import { MailUserInitError } from '../mail-user/hooks.js';
import type { AnyMailUser as MailUser } from '../mail-user/mail-user.js';
import type { MailUserService } from '../mail-user/service.js';
import type { UserStore } from '../storage/types.js';
import { compiledModuleUrl } from '../threads/compiled-module.js';
import { mailUserBindingData, type MailUserArgData } from './bindings/mail-user-data.js';
import { LuaScriptError, type CompanionRequest, type LuaStateHandle, type LuaWorkerPool } from './pool.js';
import { keepPreparedState } from './push-notification/lua-driver.js';
import { pushMayReuseMailLuaState } from './push-notification/settings.js';
import { mailHookError } from './lua-convert.js';
import type { LuaArg, LuaStateOptions, LuaValue } from './types.js';

export { luaToNumber, luaToString } from './lua-convert.js';

const PLUGIN = 'mail-lua';

/** Global setting lookup for a user (default: `user.setting(name)`, userdb overrides included). */
export type MailLuaSettingsLookup = (user: MailUser, name: string) => string | undefined;

/** Registers the mail-lua hooks on `mailUsers`; returns the unregister function. */
export function installMailLua(
  mailUsers: MailUserService<UserStore>,
  /** The pool, or a getter that creates it on first use (no worker threads until a script runs). */
  pool: LuaWorkerPool | (() => LuaWorkerPool),
  settingsLookup: MailLuaSettingsLookup = (user, name) => user.setting(name),
  opts: {
    /**
     * The state the next plugin's created hook will create (the push plugin's pushCompanionPlan),
     * created in the same round trip as this plugin's own once mail_user_created did not fail.
     */
    companion?: (user: MailUser) => CompanionRequest | null;
  } = {},
): () => void {
  return mailUsers.addHooks(PLUGIN, {
    async created(user) {
      const scriptPath = user.pluginGetenv('mail_lua_script');
      if (!scriptPath) return;
      // The service that created the user logs the failure once (IMAP, LMTP "Failed to initialize
      // user: ..."), as Dovecot sets user->error and leaves the logging to the caller.
      const fail = (message: string): never => {
        throw new MailUserInitError(message);
      };
      const lua = typeof pool === 'function' ? pool() : pool;
      const options: LuaStateOptions = {
        scriptPath,
        context: 'mail',
        logPrefix: user.log.prefix,
        debug: user.settings.mailDebug,
        bindings: [
          {
            module: compiledModuleUrl('lua/bindings/mail-user.js').href,
            data: mailUserBindingData(user, (name) => settingsLookup(user, name)),
          },
          // push_notification_lua may reuse this state (spec §12.1): it needs its entry point then.
          ...(pushMayReuseMailLuaState(user) ? [{ module: compiledModuleUrl('lua/push-notification/binding.js').href }] : []),
        ],
      };
      const createFailed = (e: unknown): never => {
        const msg = errorText(e);
        const phase = e instanceof LuaScriptError ? e.phase : 'load';
        if (phase === 'load') return fail(`dlua_script_create_file(${scriptPath}) failed: ${msg}`);
        if (phase === 'init') return fail(`dlua_script_init(${scriptPath}) failed: ${msg}`);
        return fail(msg);
      };
      if (!user.settings.mailDebug) {
        // Load, init, mail_user_created and (when it is missing or fails) the unload in one
        // round trip to the worker; the log lines keep their order (pool.ts).
        let r: Awaited<ReturnType<LuaWorkerPool['createStateAndCall']>>;
        const companion = opts.companion?.(user) ?? undefined;
        try {
          r = await lua.createStateAndCall(options, 'mail_user_created', [userArg(false)], 2, {
            fullGc: true,
            ifDefined: true,
            ...(companion ? { companion } : {}),
          });
        } catch (e) {
          return createFailed(e);
        }
        if (r.companion) keepPreparedState(user, r.companion);
        if (r.closeError !== undefined) user.log.error(`mail-lua: ${r.closeError}`);
        // Without mail_user_created the script is unloaded at once and the deinit hooks are
        // never called (spec §5.2 step 5).
        if (r.outcome === null) return;
        const error = r.outcome instanceof LuaScriptError ? r.outcome.message : mailHookError(r.outcome);
        if (error !== null) return fail(`mail_user_created(user) failed: ${error}`);
        user.pluginData.set(PLUGIN, r.state);
        return;
      }
      let state: LuaStateHandle;
      try {
        state = await lua.createState(options);
      } catch (e) {
        return createFailed(e);
      }
      // With mail_debug the debug line must come before the script's own output, so the
      // lookup is a round trip of its own.
      let error: string | null | typeof MISSING;
      if (!(await state.hasFunction('mail_user_created'))) error = MISSING;
      else {
        // mail_debug is per user: the line is forced through like the script's own debug lines.
        user.log.log('Debug', 'mail-lua: Calling mail_user_created(user)', { forced: 1 });
        error = await callUserHook(state, 'mail_user_created', false);
      }
      if (error === MISSING) {
        await closeState(user, state);
        return;
      }
      if (error !== null) {
        await closeState(user, state);
        return fail(`mail_user_created(user) failed: ${error}`);
      }
      user.pluginData.set(PLUGIN, state);
    },

    async deinitPre(user) {
      const state = stateOf(user);
      if (!state) return;
      await callLoggedHook(user, state, 'mail_user_deinit_pre', true);
    },

    async deinit(user) {
      const state = stateOf(user);
      if (!state) return;
      user.pluginData.delete(PLUGIN);
      // mail_user_deinit, then the unload (script_deinit, lua_close), in one round trip: the
      // hook's failure is logged before the unload's own lines (spec §5.4).
      const name = 'mail_user_deinit';
      let r: Awaited<ReturnType<LuaStateHandle['callHookAndClose']>>;
      try {
        r = await state.callHookAndClose(name, [userArg(false)], 2, { fullGc: true, ifDefined: true });
      } catch (e) {
        // Only when the state was lost (its worker replaced): nothing left to unload.
        user.log.error(`mail-lua: ${name}(user) failed: ${errorText(e)}`);
        return;
      }
      const error = r.outcome === null ? null : r.outcome instanceof LuaScriptError ? r.outcome.message : mailHookError(r.outcome);
      if (error !== null) user.log.error(`mail-lua: ${name}(user) failed: ${error}`);
      r.closeLogs.flush();
      if (r.closeError !== undefined) user.log.error(`mail-lua: ${r.closeError}`);
    },

    // deinitPre and deinit back to back (nothing else runs between them but the storage release,
    // which the worker's own connection does not see): mail_user_deinit_pre, mail_user_deinit and
    // the unload in one round trip, the log lines in the order the two steps give them.
    async deinitPreAndDeinit(user) {
      const state = stateOf(user);
      if (!state) return;
      user.pluginData.delete(PLUGIN);
      const [pre, post] = ['mail_user_deinit_pre', 'mail_user_deinit'] as const;
      let r: Awaited<ReturnType<LuaStateHandle['callSequenceAndClose']>>;
      try {
        r = await state.callSequenceAndClose([
          { name: pre, args: [userArg(true)], nresults: 2, fullGc: true, ifDefined: true },
          { name: post, args: [userArg(false)], nresults: 2, fullGc: true, ifDefined: true },
        ]);
      } catch (e) {
        // The state was lost: each step reports it, the second as a call on a lost state would.
        const text = errorText(e);
        user.log.error(`mail-lua: ${pre}(user) failed: ${text}`);
        const lost = text === POOL_CLOSED ? text : STATE_LOST;
        user.log.error(`mail-lua: ${post}(user) failed: ${lost}`);
        return;
      }
      const [preError, postError] = r.outcomes.map((o) => (o === null ? null : o instanceof LuaScriptError ? o.message : mailHookError(o)));
      if (preError != null) user.log.error(`mail-lua: ${pre}(user) failed: ${preError}`);
      r.stepLogs[0]?.flush();
      if (postError != null) user.log.error(`mail-lua: ${post}(user) failed: ${postError}`);
      r.stepLogs[1]?.flush();
      if (r.closeError !== undefined) user.log.error(`mail-lua: ${r.closeError}`);
    },
  });
}

function stateOf(user: MailUser): LuaStateHandle | undefined {
  const s = user.pluginData.get(PLUGIN);
  return s && typeof (s as LuaStateHandle).callHook === 'function' ? (s as LuaStateHandle) : undefined;
}

function userArg(storage: boolean): LuaArg {
  return { $binding: 'mail_user', data: { storage } satisfies MailUserArgData };
}

const MISSING = Symbol('missing hook');
// pool.ts's texts for a call on a state that is gone.
const STATE_LOST = 'Lua state was lost (its worker was replaced) or closed';
const POOL_CLOSED = 'Lua worker pool closed';

/**
 * Calls `name(user)` with 2 results and a full GC afterwards (spec §5.2 step 4); returns null on
 * success, else the error text: the Lua error, or the second result when the first is < 0.
 * With `ifDefined`, MISSING when `name` is not a global function (looked up in the same round trip).
 */
async function callUserHook(state: LuaStateHandle, name: string, storage: boolean): Promise<string | null>;
async function callUserHook(state: LuaStateHandle, name: string, storage: boolean, ifDefined: true): Promise<string | null | typeof MISSING>;
async function callUserHook(state: LuaStateHandle, name: string, storage: boolean, ifDefined = false): Promise<string | null | typeof MISSING> {
  let res: LuaValue[];
  try {
    const args = [userArg(storage)];
    const opts = { fullGc: true };
    if (ifDefined) {
      const r = await state.callHookIfDefined(name, args, 2, opts);
      if (r === null) return MISSING;
      res = r;
    } else {
      res = await state.callHook(name, args, 2, opts);
    }
  } catch (e) {
    return errorText(e);
  }
  return mailHookError(res);
}

/** Deinit hooks: a missing function is a no-op, errors are only logged (spec §5.4). */
async function callLoggedHook(user: MailUser, state: LuaStateHandle, name: string, storage: boolean): Promise<void> {
  let error: string | null | typeof MISSING;
  try {
    error = await callUserHook(state, name, storage, true);
  } catch (e) {
    error = errorText(e);
  }
  if (error !== null && error !== MISSING) user.log.error(`mail-lua: ${name}(user) failed: ${error}`);
}

async function closeState(user: MailUser, state: LuaStateHandle): Promise<void> {
  try {
    await state.close();
  } catch (e) {
    user.log.error(`mail-lua: ${errorText(e)}`);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
