// The Lua push-notification driver of one mail user (spec §12.1; Dovecot:
// push-notification-driver-lua.c, init): its own state for `push_notification_lua_script_file` or
// `file=`, else mail-lua's state of the same session. Transactions run through the
// `@push_notification_txn` entry installed by ./binding.ts.
import { mailUserBindingData, type MailUserArgData } from '../bindings/mail-user-data.js';
import { compiledModuleUrl } from '../../threads/compiled-module.js';
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';
import type { LuaStateHandle, LuaWorkerPool } from '../pool.js';
import type { LuaArg } from '../types.js';
import { handlerName, type PushTransaction } from './events.js';
import { SCRIPT_FILE_SETTING, type DriverSetting } from './settings.js';

const ENTRY = '@push_notification_txn';

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
  ): Promise<LuaPushDriver> {
    const file = user.pluginGetenv(SCRIPT_FILE_SETTING) ?? setting.config.file;
    // Only the MessageNew/MessageAppend handlers need the message's headers and snippet.
    const fieldHandlers = [handlerName('MessageNew'), handlerName('MessageAppend')];
    if (file === undefined) {
      if (!sharedState) throw new Error(`No file in config and no ${SCRIPT_FILE_SETTING} set`);
      const wants = (await sharedState.hasFunction(fieldHandlers[0]!)) || (await sharedState.hasFunction(fieldHandlers[1]!));
      return new LuaPushDriver(user, sharedState, false, wants);
    }
    if (user.settings.mailDebug) user.log.log('Debug', `lua: Loading ${file}`, { forced: 1 });
    // Load, init and the handler lookups in one round trip to the worker.
    const { state, defined } = await pool.createStateProbing(
      {
        scriptPath: file,
        context: 'push',
        logPrefix: user.log.prefix,
        debug: user.settings.mailDebug,
        bindings: [
          { module: compiledModuleUrl('lua/bindings/mail-user.js').href, data: mailUserBindingData(user) },
          { module: compiledModuleUrl('lua/push-notification/binding.js').href },
        ],
      },
      fieldHandlers,
    );
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
