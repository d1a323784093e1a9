// The Lua push-notification driver of one mail user (spec §12.1; Dovecot:
// push-notification-driver-lua.c, init): its own state for `push_notification_lua_script_file` or
// `file=`, else mail-lua's state of the same session. Transactions run through the
// `@push_notification_txn` entry installed by ./binding.ts.
import { mailUserBindingData, type MailUserArgData } from '../bindings/mail-user-data.js';
import { compiledModuleUrl } from '../../threads/compiled-module.js';
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';
import type { CompanionRequest, CompanionState, LuaStateHandle, LuaWorkerPool } from '../pool.js';
import type { LuaArg, LuaStateOptions } from '../types.js';
import { handlerName, type PushTransaction } from './events.js';
import { driverSettings, pushNotificationEnabled, SCRIPT_FILE_SETTING, type DriverSetting } from './settings.js';

const ENTRY = '@push_notification_txn';
/** Only the MessageNew/MessageAppend handlers need the message's headers and snippet. */
const FIELD_HANDLERS = [handlerName('MessageNew'), handlerName('MessageAppend')];
/** user.pluginData key of the driver state mail-lua created for the first driver (preparedState). */
const PREPARED = 'push-notification-prepared-state';

/** The state of a Lua driver with its own script `file`. */
function stateOptions(user: MailUser, file: string): LuaStateOptions {
  return {
    scriptPath: file,
    context: 'push',
    logPrefix: user.log.prefix,
    debug: user.settings.mailDebug,
    bindings: [
      { module: compiledModuleUrl('lua/bindings/mail-user.js').href, data: mailUserBindingData(user) },
      { module: compiledModuleUrl('lua/push-notification/binding.js').href },
    ],
  };
}

/**
 * The state the first push driver will create, when it has a script of its own: mail-lua creates
 * it in the round trip of its own state and mail_user_created (the same worker, the same order:
 * only once that hook did not fail), and hands it over through preparedState. Null when the
 * driver will not create one, and with mail_debug (its "Loading" line comes first then).
 */
export function pushCompanionPlan(user: MailUser): CompanionRequest | null {
  if (user.settings.mailDebug || !pushNotificationEnabled(user)) return null;
  const first = driverSettings(user)[0];
  if (!first || first.driver !== 'lua') return null;
  const file = user.pluginGetenv(SCRIPT_FILE_SETTING) ?? first.config.file;
  return file === undefined ? null : { options: stateOptions(user, file), probe: FIELD_HANDLERS };
}

/** mail-lua keeps the companion state it created for the push plugin (pushCompanionPlan). */
export function keepPreparedState(user: MailUser, prepared: CompanionState): void {
  user.pluginData.set(PREPARED, prepared);
}

/** The state mail-lua prepared for this user's first driver, if any (taken: asked once). */
export function takePreparedState(user: MailUser): CompanionState | undefined {
  const prepared = user.pluginData.get(PREPARED) as CompanionState | undefined;
  user.pluginData.delete(PREPARED);
  return prepared;
}

export class LuaPushDriver {
  private constructor(
    private readonly user: MailUser,
    private readonly state: LuaStateHandle,
    /** False when the state is mail-lua's (it closes it). */
    readonly ownsState: boolean,
    /** Whether MessageNew/MessageAppend handlers exist: only then are headers and snippet read. */
    readonly wantsMessageFields: boolean,
  ) {}

  /**
   * Loads the driver's script; throws an Error whose message Dovecot logs as `lua: <message>`.
   * `sharedState` is mail-lua's state of this session, if it kept one.
   */
  static async init(
    user: MailUser,
    setting: DriverSetting,
    pool: LuaWorkerPool,
    sharedState: LuaStateHandle | undefined,
    /** The state mail-lua created for this driver (pushCompanionPlan), to adopt instead of creating one. */
    prepared?: CompanionState,
  ): Promise<LuaPushDriver> {
    const file = user.pluginGetenv(SCRIPT_FILE_SETTING) ?? setting.config.file;
    if (file === undefined) {
      if (!sharedState) throw new Error(`No file in config and no ${SCRIPT_FILE_SETTING} set`);
      const wants = (await sharedState.hasFunction(FIELD_HANDLERS[0]!)) || (await sharedState.hasFunction(FIELD_HANDLERS[1]!));
      return new LuaPushDriver(user, sharedState, false, wants);
    }
    if (prepared) {
      // Its load and init ran in mail-lua's round trip: their log lines come out here, where
      // they would have come had the state been created now.
      prepared.logs.flush();
      if (prepared.error) throw prepared.error;
      return new LuaPushDriver(user, prepared.state, true, prepared.defined.some(Boolean));
    }
    if (user.settings.mailDebug) user.log.log('Debug', `lua: Loading ${file}`, { forced: 1 });
    // Load, init and the handler lookups in one round trip to the worker.
    const { state, defined } = await pool.createStateProbing(stateOptions(user, file), FIELD_HANDLERS);
    return new LuaPushDriver(user, state, true, defined.some(Boolean));
  }

  /** Runs one transaction; failures are logged, never thrown (they must not reach the command). */
  async run(txn: PushTransaction): Promise<void> {
    const user: LuaArg = { $binding: 'mail_user', data: { storage: true } satisfies MailUserArgData };
    try {
      await this.state.callHook(ENTRY, [user, { events: txn.events, success: txn.success }], 0);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.user.log.error(
        msg === `'${ENTRY}' is not a function`
          ? 'lua: the mail_lua_script state has no push-notification support (mail-lua must load it)'
          : `lua: ${msg}`,
      );
    }
  }

  async close(): Promise<void> {
    if (!this.ownsState) return;
    try {
      await this.state.close();
    } catch (e) {
      this.user.log.error(`lua: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
