// The mail-lua plugin (spec §5): runs the user's `mail_lua_script` with one Lua state per mail
// user session (each IMAP login, each LMTP recipient) and calls mail_user_created,
// mail_user_deinit_pre and mail_user_deinit. Attaches through the mail-user hooks, so the
// protocol layers never mention Lua. Dovecot: src/plugins/mail-lua/mail-lua-plugin.c.
import { MailUserInitError } from '../mail-user/hooks.js';
import type { MailUser } from '../mail-user/mail-user.js';
import type { MailUserService } from '../mail-user/service.js';
import { bindingModuleUrl } from './bindings/module-url.js';
import { mailUserBindingData, type MailUserArgData } from './bindings/mail-user-data.js';
import { LuaScriptError, type LuaStateHandle, type LuaWorkerPool } from './pool.js';
import { pushNotificationBindingSpec } from './push-notification/module-url.js';
import { pushNotificationEnabled } from './push-notification/settings.js';
import type { LuaArg, LuaValue } from './types.js';

const PLUGIN = 'mail-lua';

/** Global setting lookup for a user (default: `user.setting(name)`, userdb overrides included). */
export type MailLuaSettingsLookup = (user: MailUser, name: string) => string | undefined;

/** Registers the mail-lua hooks on `mailUsers`; returns the unregister function. */
export function installMailLua(
  mailUsers: MailUserService,
  /** The pool, or a getter that creates it on first use (no worker threads until a script runs). */
  pool: LuaWorkerPool | (() => LuaWorkerPool),
  settingsLookup: MailLuaSettingsLookup = (user, name) => user.setting(name),
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
      let state: LuaStateHandle;
      try {
        state = await (typeof pool === 'function' ? pool() : pool).createState({
          scriptPath,
          context: 'mail',
          logPrefix: user.log.prefix,
          debug: user.settings.mailDebug,
          bindings: [
            {
              module: bindingModuleUrl('mail-user'),
              data: mailUserBindingData(user, (name) => settingsLookup(user, name)),
            },
            // push_notification_lua may reuse this state (spec §12.1): it needs its entry point.
            ...(pushNotificationEnabled(user) ? [pushNotificationBindingSpec()] : []),
          ],
        });
      } catch (e) {
        const msg = errorText(e);
        const phase = e instanceof LuaScriptError ? e.phase : 'load';
        if (phase === 'load') return fail(`dlua_script_create_file(${scriptPath}) failed: ${msg}`);
        if (phase === 'init') return fail(`dlua_script_init(${scriptPath}) failed: ${msg}`);
        return fail(msg);
      }
      // Without mail_user_created the script is unloaded at once and the deinit hooks are
      // never called (spec §5.2 step 5). With mail_debug the debug line must come before the
      // script's own output, so the lookup is a round trip of its own.
      let error: string | null | typeof MISSING;
      if (user.settings.mailDebug) {
        if (!(await state.hasFunction('mail_user_created'))) error = MISSING;
        else {
          // mail_debug is per user: the line is forced through like the script's own debug lines.
          user.log.log('Debug', 'mail-lua: Calling mail_user_created(user)', { forced: 1 });
          error = await callUserHook(state, 'mail_user_created', false);
        }
      } else {
        error = await callUserHook(state, 'mail_user_created', false, true);
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
      try {
        await callLoggedHook(user, state, 'mail_user_deinit', false);
      } finally {
        await closeState(user, state);
      }
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
  if (luaToNumber(res[0] ?? null) >= 0) return null;
  return luaToString(res[1] ?? null) ?? '(null)';
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

/** lua_tonumber semantics then truncation to an integer: nil and non-numeric values are 0. */
export function luaToNumber(v: LuaValue): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v !== 'string') return 0;
  const s = v.trim();
  let n: number;
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) n = (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^[+-]?0[xX]/, ''), 16);
  else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) n = Number(s);
  else return 0;
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** lua_tostring semantics: strings and numbers (floats as Lua prints them); anything else null. */
export function luaToString(v: LuaValue): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return luaFloatToString(v);
  return null;
}

/** Lua 5.4's `%.14g` for floats, with `.0` added when the result looks like an integer. */
function luaFloatToString(v: number): string {
  if (Number.isNaN(v)) return v > 0 ? 'nan' : '-nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  let s = v.toPrecision(14);
  if (s.includes('e')) {
    let [mant, exp] = s.split('e') as [string, string];
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const e = Number(exp);
    s = `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    return s;
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
