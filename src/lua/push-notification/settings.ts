// Push-notification settings as Dovecot reads them (spec §12.1; Dovecot: push-notification-plugin.c,
// push-notification-drivers.c): `push_notification_driver`, then `push_notification_driver2`, 3, ...
// until one is missing; each `<driver>[:<config>]` with space-separated `key=value` config.
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';

/** The plugin setting that names the Lua driver's script, before any driver's `file=`. */
export const SCRIPT_FILE_SETTING = 'push_notification_lua_script_file';

export interface DriverSetting {
  /** The setting it came from, e.g. `push_notification_driver2`. */
  setting: string;
  driver: string;
  /** `key=value` pairs; a token without `=` has an empty value. */
  config: Record<string, string>;
}

export function parseDriverSetting(setting: string, value: string): DriverSetting {
  const colon = value.indexOf(':');
  const driver = (colon < 0 ? value : value.slice(0, colon)).trim();
  const config: Record<string, string> = {};
  if (colon >= 0) {
    for (const token of value.slice(colon + 1).split(' ')) {
      if (token === '') continue;
      const eq = token.indexOf('=');
      if (eq < 0) config[token] = '';
      else config[token.slice(0, eq)] = token.slice(eq + 1);
    }
  }
  return { setting, driver, config };
}

export function driverSettings(user: MailUser): DriverSetting[] {
  const out: DriverSetting[] = [];
  for (let i = 1; ; i++) {
    const name = i === 1 ? 'push_notification_driver' : `push_notification_driver${i}`;
    const value = user.pluginGetenv(name);
    if (value === undefined || value === '') return out;
    out.push(parseDriverSetting(name, value));
  }
}

/** `mail_plugins` (per user: a userdb field may override it) lists both push plugins. */
export function pushNotificationEnabled(user: MailUser): boolean {
  const plugins = (user.setting('mail_plugins') ?? '').split(/[\s,]+/);
  return plugins.includes('push_notification') && plugins.includes('push_notification_lua');
}

/**
 * Whether a Lua driver of this user would reuse mail-lua's state (§12.1: no
 * push_notification_lua_script_file and no `file=`): only then does that state need the driver's
 * entry point installed.
 */
export function pushMayReuseMailLuaState(user: MailUser): boolean {
  if (!pushNotificationEnabled(user)) return false;
  if (user.pluginGetenv(SCRIPT_FILE_SETTING) !== undefined) return false;
  return driverSettings(user).some((d) => d.driver === 'lua' && d.config.file === undefined);
}
