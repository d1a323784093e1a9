// What the mail_user binding needs from the main thread, as plain data (it crosses into a Lua
// worker): the field snapshot of spec §7.1, the plugin environment (§7.3), the var_expand table
// (§7.4) and the options to open the user's store in the worker (§7.5, §7.6, §8).
import type { VarExpandContext } from '../../config/var-expand.js';
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';
import { mailUserVarContext } from '../../mail-user/variables.js';
import type { UserStoreOptions } from '../../storage/types.js';

/** Raw fields of the `struct mail_user` table; numbers become Lua floats (spec §14). */
export interface MailUserFields {
  home: string | null;
  username: string;
  uid: number;
  gid: number;
  service: string;
  session_id: string | null;
  session_create_time: number;
  nonexistent: boolean;
  anonymous: boolean;
  autocreated: boolean;
  mail_debug: boolean;
  fuzzy_search: boolean;
  dsyncing: boolean;
  admin: boolean;
  session_restored: boolean;
}

export interface MailUserBindingData {
  fields: MailUserFields;
  /** The user's merged plugin settings (what MailUser.pluginGetenv answers). */
  pluginEnv: Readonly<Record<string, string>>;
  varTable: VarExpandContext;
  /** Options for the worker's own connection, or the reason the store cannot be opened. */
  store: Readonly<UserStoreOptions> | { error: string };
  /** Dovecot's built-in server attributes `/shared/admin` and `/shared/comment` (spec §7.6). */
  serverAdmin: string;
  serverComment: string;
}

/** Argument of a hook call: builds a fresh `struct mail_user` (spec §5.5) in the worker. */
export interface MailUserArgData {
  /** Whether namespaces exist: false in mail_user_created and mail_user_deinit (spec §5.3, §5.4). */
  storage: boolean;
}

/**
 * The var_expand table of a session, built once: mail-lua's and push's states each carry it, and
 * one object crosses to the worker once when both go in one message (structured clone keeps
 * identity). Nothing in it changes during a session.
 */
const varTables = new WeakMap<MailUser, VarExpandContext>();
function varTableOf(user: MailUser): VarExpandContext {
  let table = varTables.get(user);
  if (!table) varTables.set(user, (table = mailUserVarContext(user)));
  return table;
}

export function mailUserBindingData(
  user: MailUser,
  lookup: (name: string) => string | undefined = (name) => user.setting(name),
): MailUserBindingData {
  const pluginEnv = user.pluginEnvironment();
  let store: MailUserBindingData['store'];
  try {
    store = user.storeOptions();
  } catch (e) {
    store = { error: e instanceof Error ? e.message : String(e) };
  }
  return {
    fields: {
      home: user.home || null,
      username: user.username,
      uid: user.uid,
      gid: user.gid,
      service: user.service,
      session_id: user.sessionId,
      session_create_time: user.createTime,
      nonexistent: user.flags.nonexistent,
      anonymous: user.flags.anonymous,
      autocreated: user.flags.autocreated,
      mail_debug: user.settings.mailDebug,
      fuzzy_search: false,
      dsyncing: user.flags.dsyncing,
      admin: user.flags.admin,
      session_restored: false,
    },
    pluginEnv,
    varTable: varTableOf(user),
    store,
    serverAdmin: lookup('mail_server_admin') ?? '',
    serverComment: lookup('mail_server_comment') ?? '',
  };
}
